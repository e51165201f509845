/*
 * router.h — which handler answers a method and path, and whether it needs
 * a token.  Templates have literal segments and {parameter} segments; the
 * template, not the path, names the route in logs and metrics.
 */
#ifndef CS_HTTP_ROUTER_H
#define CS_HTTP_ROUTER_H

#include <stddef.h>

#include "request.h"

typedef enum MHD_Result (*cs_handler) (cs_request *r);

typedef enum
{
	ACCESS_TOKEN,				/* a bearer token is needed */
	ACCESS_PUBLIC,				/* never needs one */
	ACCESS_READY				/* public with --public-ready, else a token */
} cs_access;

typedef struct cs_route
{
	const char *method;
	const char *template;
	cs_handler	handler;
	cs_access	access;
	bool		has_body;		/* POST: the body is read before the handler runs */
} cs_route;

typedef enum
{
	ROUTE_FOUND,
	ROUTE_NOT_FOUND,
	ROUTE_METHOD_NOT_ALLOWED,
	ROUTE_BAD_PARAMETER			/* a {parameter} is not valid UTF-8 or holds NUL */
} route_outcome;

/*
 * Matches method and path (HEAD as GET); on ROUTE_FOUND stores the route
 * template and the parameters in r.  On ROUTE_METHOD_NOT_ALLOWED, allow
 * gets the methods the path has ("GET, POST").
 */
route_outcome router_match(cs_request *r, const char *method, const char *path,
						   const cs_route **route, char *allow, size_t allowlen);

/* MHD_OPTION_UNESCAPE_CALLBACK: %-decoding that turns %00 into an invalid byte */
size_t		router_unescape(void *cls, struct MHD_Connection *c, char *s);

#endif
