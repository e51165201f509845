/*
 * request.c — the request context (request.h): what the access handler
 * learns of a request, and the responses queued for it.
 */
#include "request.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "cors.h"
#include "json.h"
#include "lookup_queue.h"

typedef struct header
{
	char	   *name;
	char	   *value;
	struct header *next;
} header;

struct cs_request
{
	struct MHD_Connection *conn;
	char	   *method;
	char	   *path;
	char		id[33];
	char	   *role;
	const char *route;
	int			nparams;
	char	   *param_names[CS_MAX_ROUTE_PARAMS];
	char	   *param_values[CS_MAX_ROUTE_PARAMS];
	jbuf		body;
	header	   *headers;
	unsigned	status;
	struct timespec start;
	lookup_job *lookup;
};

/* an X-Request-Id a client or proxy sent is kept when it is short and plain */
static bool
usable_request_id(const char *s)
{
	size_t		n = 0;

	if (s == NULL)
		return false;
	for (; s[n]; n++)
		if (n >= 32 || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
						 (s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '_' || s[n] == '.'))
			return false;
	return n > 0;
}

/*
 * A request id: 64 bits from a per-thread generator seeded once from the
 * kernel (splitmix64), not a getrandom(2) call per request.  Ids need to
 * be unique in practice, not secret.
 */
static uint64_t
next_request_id(void)
{
	static __thread uint64_t state;
	static __thread bool seeded;
	uint64_t	z;

	if (!seeded)
	{
		if (getrandom(&state, sizeof(state), 0) != (ssize_t) sizeof(state))
			state = (uint64_t) time(NULL) ^ (uint64_t) (uintptr_t) &state;
		seeded = true;
	}
	z = (state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

cs_request *
request_new(struct MHD_Connection *conn, const char *method, const char *url)
{
	cs_request *r = calloc(1, sizeof(*r));
	const char *given;

	if (r == NULL)
		abort();
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	r->conn = conn;
	r->method = strdup(method);
	r->path = strdup(url);
	r->route = "unmatched";
	jbuf_init(&r->body);
	given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	if (usable_request_id(given))
		snprintf(r->id, sizeof(r->id), "%s", given);
	else
		snprintf(r->id, sizeof(r->id), "%016llx", (unsigned long long) next_request_id());
	return r;
}

void
request_free(cs_request *r)
{
	header	   *h,
			   *next;

	if (r == NULL)
		return;
	for (h = r->headers; h; h = next)
	{
		next = h->next;
		free(h);
	}
	for (int i = 0; i < r->nparams; i++)
	{
		free(r->param_names[i]);
		free(r->param_values[i]);
	}
	jbuf_free(&r->body);
	lookup_queue_job_free(r->lookup);
	free(r->role);
	free(r->method);
	free(r->path);
	free(r);
}

bool
request_append_body(cs_request *r, const char *data, size_t len, size_t max)
{
	if (r->body.len + len > max)
		return false;
	jbuf_append(&r->body, data, len);
	return true;
}

void
request_set_role(cs_request *r, const char *role)
{
	free(r->role);
	r->role = role ? strdup(role) : NULL;
}

void
request_set_route(cs_request *r, const char *route_template)
{
	r->route = route_template;
}

const char *
request_route(const cs_request *r)
{
	return r->route;
}

bool
request_add_param(cs_request *r, const char *name, size_t namelen, const char *value, size_t len)
{
	if (r->nparams >= CS_MAX_ROUTE_PARAMS)
		return false;
	r->param_names[r->nparams] = strndup(name, namelen);
	r->param_values[r->nparams] = strndup(value, len);
	r->nparams++;
	return true;
}

unsigned
request_status(const cs_request *r)
{
	return r->status;
}

bool
request_responded(const cs_request *r)
{
	return r->status != 0;
}

lookup_job *
request_lookup_job(cs_request *r, size_t size)
{
	if (r->lookup == NULL && size > 0 && (r->lookup = calloc(1, size)) == NULL)
		abort();
	return r->lookup;
}

double
request_elapsed(const cs_request *r)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double) (now.tv_sec - r->start.tv_sec) + (now.tv_nsec - r->start.tv_nsec) / 1e9;
}

const char *
cs_request_query(const cs_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct
{
	const char *name;
	const char **values;
	size_t		max;
	size_t		n;
} query_collect;

static enum MHD_Result
collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	query_collect *q = cls;

	(void) kind;
	if (key != NULL && strcmp(key, q->name) == 0)
	{
		if (q->n < q->max)
			q->values[q->n] = value ? value : "";
		q->n++;
	}
	return MHD_YES;
}

size_t
cs_request_query_all(const cs_request *r, const char *name, const char **values, size_t max)
{
	query_collect q = {name, values, max, 0};

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_query, &q);
	return q.n;
}

const char *
cs_request_header(const cs_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
cs_request_role(const cs_request *r)
{
	return r->role;
}

struct MHD_Connection *
cs_request_connection(const cs_request *r)
{
	return r->conn;
}

const char *
cs_request_param(const cs_request *r, const char *name)
{
	for (int i = 0; i < r->nparams; i++)
		if (strcmp(r->param_names[i], name) == 0)
			return r->param_values[i];
	return NULL;
}

const char *
cs_request_method(const cs_request *r)
{
	return r->method;
}

const char *
cs_request_path(const cs_request *r)
{
	return r->path;
}

const char *
cs_request_id(const cs_request *r)
{
	return r->id;
}

const char *
cs_request_body(const cs_request *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	return r->body.data;
}

/* one allocation a header: the node, then its name and value */
void
cs_request_add_header(cs_request *r, const char *name, const char *value)
{
	size_t		nlen = strlen(name) + 1,
				vlen = strlen(value) + 1;
	header	   *h = malloc(sizeof(*h) + nlen + vlen),
			  **tail = &r->headers;

	if (h == NULL)
		abort();
	h->name = (char *) (h + 1);
	h->value = h->name + nlen;
	memcpy(h->name, name, nlen);
	memcpy(h->value, value, vlen);
	h->next = NULL;
	while (*tail)
		tail = &(*tail)->next;
	*tail = h;
}

enum MHD_Result
cs_respond_with(cs_request *r, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "X-Request-Id", r->id);
	cors_add_headers(r, resp);
	for (header *h = r->headers; h; h = h->next)
		MHD_add_response_header(resp, h->name, h->value);
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		r->status = status;
	return ret;
}

enum MHD_Result
cs_respond(cs_request *r, unsigned status, const char *content_type, const char *body, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *) body, MHD_RESPMEM_MUST_COPY);

	if (resp == NULL)
		return MHD_NO;
	if (content_type != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	return cs_respond_with(r, status, resp);
}

enum MHD_Result
cs_respond_json(cs_request *r, unsigned status, const char *body, size_t len)
{
	return cs_respond(r, status, "application/json", body, len);
}

static void
clear_result(void *cls)
{
	PQclear(cls);
}

enum MHD_Result
cs_respond_json_result(cs_request *r, unsigned status, PGresult *res, int row, int col)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback_cls((size_t) PQgetlength(res, row, col),
															   PQgetvalue(res, row, col),
															   clear_result, res);

	if (resp == NULL)
	{
		PQclear(res);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	return cs_respond_with(r, status, resp);
}
