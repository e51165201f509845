/*
 * cors.h — Cross-Origin Resource Sharing for browser clients (Candybar's
 * webview, a dashboard): the origins of --cors-origins may call the API
 * from a page; others get no CORS headers, so the browser keeps the answer
 * from them.  Tokens still decide what a call may do.
 */
#ifndef CS_HTTP_CORS_H
#define CS_HTTP_CORS_H

#include <stdbool.h>

#include "request.h"

/* the request's Origin, if --cors-origins allows it (or "*" allows all) */
const char *cors_allowed_origin(const cs_request *r);
/* the response headers for an allowed origin (called for every response) */
void		cors_add_headers(const cs_request *r, struct MHD_Response *resp);
/* OPTIONS on a known path: 204 with Allow, and the preflight's answers */
enum MHD_Result cors_options(cs_request *r, const char *allow);

#endif
