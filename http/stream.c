/*
 * stream.c — placeholder until the stream hub lands: /v1/stream answers 501.
 */
#include "stream.h"

bool
stream_start(const cs_config *cfg)
{
	(void) cfg;
	return true;
}

void
stream_stop(void)
{
}

enum MHD_Result
stream_handle(cs_request *r)
{
	return cs_respond_problem(r, 501, NULL, "Not Implemented",
							  "The event stream is not built into this server yet.", NULL, NULL);
}
