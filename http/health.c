/*
 * health.c — placeholder until the health checks land: both answer 501.
 */
#include "health.h"

enum MHD_Result
health_live(cs_request *r)
{
	return cs_respond_problem(r, 501, NULL, "Not Implemented",
							  "Health checks are not built into this server yet.", NULL, NULL);
}

enum MHD_Result
health_ready(cs_request *r)
{
	return health_live(r);
}
