/*
 * metrics.c — placeholder until the metrics land: /metrics answers 501.
 */
#include "metrics.h"

void
metrics_observe_request(const char *route, const char *method, unsigned status, double seconds)
{
	(void) route;
	(void) method;
	(void) status;
	(void) seconds;
}

enum MHD_Result
metrics_handle(cs_request *r)
{
	return cs_respond_problem(r, 501, NULL, "Not Implemented",
							  "Metrics are not built into this server yet.", NULL, NULL);
}
