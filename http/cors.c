/*
 * cors.c — CORS (cors.h).
 */
#include "cors.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

/* what a browser may send and read besides the simple headers */
#define ALLOW_HEADERS "Authorization, Content-Type, If-None-Match, Last-Event-ID, X-Request-Id"
#define EXPOSE_HEADERS "ETag, Link, Location, Retry-After, X-Request-Id"

const char *
cors_allowed_origin(const cs_request *r)
{
	const char *list = config_current()->cors_origins;
	const char *origin;
	size_t		n;

	if (list == NULL || list[0] == '\0')
		return NULL;
	origin = cs_request_header(r, "Origin");
	if (origin == NULL || origin[0] == '\0')
		return NULL;
	n = strlen(origin);
	for (const char *p = list; *p;)
	{
		size_t		len;

		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ", ");
		if (len == 1 && p[0] == '*')
			return origin;
		if (len == n && strncmp(p, origin, n) == 0)
			return origin;
		p += len;
	}
	return NULL;
}

void
cors_add_headers(const cs_request *r, struct MHD_Response *resp)
{
	const char *origin = cors_allowed_origin(r);

	if (config_current()->cors_origins != NULL && config_current()->cors_origins[0] != '\0')
		MHD_add_response_header(resp, "Vary", "Origin");
	if (origin == NULL)
		return;
	MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
	MHD_add_response_header(resp, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
}

enum MHD_Result
cors_options(cs_request *r, const char *allow)
{
	char		methods[80];

	snprintf(methods, sizeof(methods), "%s, OPTIONS", allow);
	cs_request_add_header(r, "Allow", methods);
	if (cors_allowed_origin(r) != NULL)
	{
		cs_request_add_header(r, "Access-Control-Allow-Methods", methods);
		cs_request_add_header(r, "Access-Control-Allow-Headers", ALLOW_HEADERS);
		cs_request_add_header(r, "Access-Control-Max-Age", "600");
	}
	return cs_respond(r, 204, NULL, "", 0);
}
