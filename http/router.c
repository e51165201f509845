/*
 * router.c — the route table and the matching (router.h).
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "health.h"
#include "json.h"
#include "metrics.h"
#include "stream.h"
#include "../src/hex_digit.h"

static const cs_route routes[] = {
	{"GET", "/v1/events", api_list_events, ACCESS_TOKEN, false},
	{"POST", "/v1/events", api_post_events, ACCESS_TOKEN, true},
	{"GET", "/v1/events/{event_id}", api_get_event, ACCESS_TOKEN, false},
	{"GET", "/v1/events/{event_id}/trace", api_get_trace, ACCESS_TOKEN, false},
	{"GET", "/v1/events/{event_id}/trace.svg", api_get_trace_svg, ACCESS_TOKEN, false},
	{"GET", "/v1/events/{event_id}/ancestors", api_get_ancestors, ACCESS_TOKEN, false},
	{"GET", "/v1/events/{event_id}/descendants", api_get_descendants, ACCESS_TOKEN, false},
	{"GET", "/v1/sessions/{session_id}/timeline", api_get_session_timeline, ACCESS_TOKEN, false},
	{"GET", "/v1/stream", stream_handle, ACCESS_TOKEN, false},
	{"GET", "/v1/schemas", api_list_schemas, ACCESS_TOKEN, false},
	{"GET", "/v1/schemas/{event_type}", api_get_schema, ACCESS_TOKEN, false},
	{"POST", "/v1/schemas/{event_type}", api_register_schema, ACCESS_TOKEN, true},
	{"GET", "/v1/dead-letters", api_list_dead_letters, ACCESS_TOKEN, false},
	{"POST", "/v1/dead-letters/redrive", api_redrive_dead_letters, ACCESS_TOKEN, true},
	{"GET", "/v1/stats", api_get_stats, ACCESS_TOKEN, false},
	{"GET", "/openapi.json", api_get_openapi, ACCESS_TOKEN, false},
	{"GET", "/metrics", metrics_handle, ACCESS_READY, false},
	{"GET", "/health/live", health_live, ACCESS_PUBLIC, false},
	{"GET", "/health/ready", health_ready, ACCESS_READY, false},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* does path match template?  fills r's parameters when store is set */
static bool
match(const char *tmpl, const char *path, cs_request *r, bool store, bool *bad_param)
{
	const char *t = tmpl,
			   *p = path;

	while (*t && *p)
	{
		if (*t != '/' || *p != '/')
			return false;
		t++, p++;
		{
			const char *tend = strchr(t, '/');
			const char *pend = strchr(p, '/');
			size_t		tlen = tend ? (size_t) (tend - t) : strlen(t);
			size_t		plen = pend ? (size_t) (pend - p) : strlen(p);

			if (tlen >= 2 && t[0] == '{' && t[tlen - 1] == '}')
			{
				if (plen == 0)
					return false;
				if (store)
				{
					if (!utf8_valid(p, plen))
						*bad_param = true;
					request_add_param(r, t + 1, tlen - 2, p, plen);
				}
			}
			else if (tlen != plen || memcmp(t, p, tlen) != 0)
				return false;
			t += tlen;
			p += plen;
		}
	}
	return *t == '\0' && *p == '\0';
}

route_outcome
router_match(cs_request *r, const char *method, const char *path,
			 const cs_route **route, char *allow, size_t allowlen)
{
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
	bool		path_known = false;
	bool		bad = false;

	allow[0] = '\0';
	for (size_t i = 0; i < N_ROUTES; i++)
	{
		if (!match(routes[i].template, path, r, false, &bad))
			continue;
		if (strcmp(routes[i].method, m) == 0)
		{
			match(routes[i].template, path, r, true, &bad);
			request_set_route(r, routes[i].template);
			*route = &routes[i];
			return bad ? ROUTE_BAD_PARAMETER : ROUTE_FOUND;
		}
		if (path_known)
			strncat(allow, ", ", allowlen - strlen(allow) - 1);
		strncat(allow, routes[i].method, allowlen - strlen(allow) - 1);
		path_known = true;
	}
	return path_known ? ROUTE_METHOD_NOT_ALLOWED : ROUTE_NOT_FOUND;
}

size_t
router_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char	   *in = s,
			   *out = s;

	(void) cls;
	(void) c;
	while (*in)
	{
		int			hi,
					lo;

		if (in[0] == '%' && (hi = hex_digit_value(in[1])) >= 0 && (lo = hex_digit_value(in[2])) >= 0)
		{
			int			v = hi * 16 + lo;

			/* a NUL would silently cut the value short: make it invalid UTF-8 instead */
			*out++ = (char) (v == 0 ? 0xFF : v);
			in += 3;
		}
		else
			*out++ = *in++;
	}
	*out = '\0';
	return (size_t) (out - s);
}
