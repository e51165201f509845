/*
 * stream.h — GET /v1/stream: Server-Sent Events, one database reader
 * fanning out to every client (owned by the http-stream work).
 */
#ifndef CS_HTTP_STREAM_H
#define CS_HTTP_STREAM_H

#include <stdbool.h>

#include "config.h"
#include "request.h"

bool		stream_start(const cs_config *cfg);	/* starts the reader thread */
void		stream_stop(void);	/* SIGTERM: end all streams cleanly */
enum MHD_Result stream_handle(cs_request *r);	/* GET /v1/stream (after auth) */

#endif
