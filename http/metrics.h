/*
 * metrics.h — GET /metrics in Prometheus' text format, and the request
 * counters and latency histograms the server feeds (owned by the
 * http-stream work).
 */
#ifndef CS_HTTP_METRICS_H
#define CS_HTTP_METRICS_H

#include "request.h"

/* route: the route template, never the raw path (a bounded label set) */
void		metrics_observe_request(const char *route, const char *method, unsigned status,
									double seconds);
enum MHD_Result metrics_handle(cs_request *r);	/* GET /metrics */

#endif
