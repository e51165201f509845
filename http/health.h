/*
 * health.h — GET /health/live and /health/ready (owned by the http-stream work).
 */
#ifndef CS_HTTP_HEALTH_H
#define CS_HTTP_HEALTH_H

#include "request.h"

enum MHD_Result health_live(cs_request *r);
enum MHD_Result health_ready(cs_request *r);

#endif
