/*
 * api.h — the handlers of the REST endpoints (http/openapi.json describes
 * each), and what they share.
 */
#ifndef CS_HTTP_API_H
#define CS_HTTP_API_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "request.h"

/* api_events.c */
enum MHD_Result api_list_events(cs_request *r);
enum MHD_Result api_get_event(cs_request *r);
enum MHD_Result api_post_events(cs_request *r);
/* api_trace.c */
enum MHD_Result api_get_trace(cs_request *r);
enum MHD_Result api_get_trace_svg(cs_request *r);
enum MHD_Result api_get_ancestors(cs_request *r);
enum MHD_Result api_get_descendants(cs_request *r);
enum MHD_Result api_get_session_timeline(cs_request *r);
/* api_schemas.c */
enum MHD_Result api_list_schemas(cs_request *r);
enum MHD_Result api_get_schema(cs_request *r);
enum MHD_Result api_register_schema(cs_request *r);
/* api_ops.c */
enum MHD_Result api_list_dead_letters(cs_request *r);
enum MHD_Result api_redrive_dead_letters(cs_request *r);
enum MHD_Result api_get_stats(cs_request *r);
/* openapi.c */
enum MHD_Result api_get_openapi(cs_request *r);

/* ---- api_common.c ---- */

/*
 * Runs sql (one row, one column: the JSON or text to send) in the request
 * role's transaction and answers it with content_type.  A NULL value is a
 * 404 with not_found as detail.  invalid_input_status: see problem_from_result().
 */
enum MHD_Result api_query_one(cs_request *r, const char *sql, int nparams,
							  const char *const *values, const char *content_type,
							  const char *not_found, unsigned invalid_input_status);

/*
 * Runs sql in the request's transaction; returns the result (caller
 * PQclear()s) or NULL after queuing the problem in *ret.
 */
PGresult   *api_query(cs_request *r, const char *sql, int nparams, const char *const *values,
					  unsigned invalid_input_status, enum MHD_Result *ret);

/*
 * api_query() through the lookup queue (lookup_queue.h), for a lookup that
 * may wait in a batch: the first call queues it, suspends the connection
 * and returns NULL with *ret MHD_YES; libmicrohttpd calls the handler again
 * once the result is in, and this call returns it as api_query() would.
 * The handler must do nothing between (nothing queued, no header added)
 * when it gets NULL and *ret is MHD_YES without a response queued.
 */
PGresult   *api_query_batched(cs_request *r, const char *sql, int nparams,
							  const char *const *values, unsigned invalid_input_status,
							  enum MHD_Result *ret);

/* a canonical UUID (8-4-4-4-12 hex digits) */
bool		api_is_uuid(const char *s);

/*
 * Query parameter `name` checked as text: valid UTF-8, no NUL, at most
 * maxlen bytes.  Returns false after queuing a 400 into *ret.
 */
bool		api_query_text(cs_request *r, const char *name, size_t maxlen,
						   const char **value, enum MHD_Result *ret);
/* an integer query parameter in [min, max]; absent: dflt */
bool		api_query_int(cs_request *r, const char *name, long min, long max, long dflt,
						  long *value, enum MHD_Result *ret);
/* the {event_id} path parameter, 400 if it is no UUID */
bool		api_event_id(cs_request *r, const char **id, enum MHD_Result *ret);

#endif
