/*
 * health.h — GET /health/live and /health/ready (owned by the http-stream work).
 */
#ifndef CS_HTTP_HEALTH_H
#define CS_HTTP_HEALTH_H

#include "request.h"

/*
 * The role the operational reads (/health/ready, /metrics, the stream's
 * reader) run as when no token names one (--public-ready): the
 * authenticator is NOINHERIT, so it must be granted this role.
 */
#define HEALTH_DEFAULT_ROLE "candystore_reader"

enum MHD_Result health_live(cs_request *r);
enum MHD_Result health_ready(cs_request *r);

/* the request's role, or HEALTH_DEFAULT_ROLE without a token */
const char *health_role(const cs_request *r);

#endif
