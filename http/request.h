/*
 * request.h — one HTTP request as the handlers see it, and the ways to answer it.
 *
 * A cs_request lives from the first call of the access handler to the
 * connection's "request completed" notification; it carries the connection,
 * the method and path, the route matched (its template and the values of its
 * {parameters}), the request id, the role the bearer token maps to, the body
 * received and the status answered (for the log line and the metrics).
 */
#ifndef CS_HTTP_REQUEST_H
#define CS_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>
#include <microhttpd.h>

typedef struct cs_request cs_request;

/* query parameter `name` (first occurrence) or NULL */
const char *cs_request_query(const cs_request *r, const char *name);
/* every occurrence of query parameter `name`, in order; returns how many */
size_t		cs_request_query_all(const cs_request *r, const char *name,
								 const char **values, size_t max);
/* request header (case-insensitive) or NULL */
const char *cs_request_header(const cs_request *r, const char *name);
/* role the bearer token maps to, or NULL before/without authentication */
const char *cs_request_role(const cs_request *r);
struct MHD_Connection *cs_request_connection(const cs_request *r);
/* value of the route's {name} parameter (URL-decoded) or NULL */
const char *cs_request_param(const cs_request *r, const char *name);
const char *cs_request_method(const cs_request *r);
const char *cs_request_path(const cs_request *r);
const char *cs_request_id(const cs_request *r);
/* the request body (NUL-terminated; len excludes the NUL) */
const char *cs_request_body(const cs_request *r, size_t *len);

/* a header to send with the response queued next (copied) */
void		cs_request_add_header(cs_request *r, const char *name, const char *value);

/* queue a JSON body / any body / a problem (RFC 9457) */
enum MHD_Result cs_respond_json(cs_request *r, unsigned status, const char *body, size_t len);
/* JSON from one value of a result, not copied: the response takes res (PQclear()ed once sent) */
enum MHD_Result cs_respond_json_result(cs_request *r, unsigned status, PGresult *res, int row, int col);
enum MHD_Result cs_respond(cs_request *r, unsigned status, const char *content_type,
						   const char *body, size_t len);
enum MHD_Result cs_respond_problem(cs_request *r, unsigned status, const char *sqlstate,
								   const char *title, const char *detail, const char *hint,
								   const char *pointer);
/* queue a response made elsewhere (e.g. a callback response for a stream);
 * adds X-Request-Id and the headers added with cs_request_add_header */
enum MHD_Result cs_respond_with(cs_request *r, unsigned status, struct MHD_Response *resp);


/* ---- the request's life, for main.c, router.c and auth.c ---- */
#define CS_MAX_ROUTE_PARAMS 4

cs_request *request_new(struct MHD_Connection *conn, const char *method, const char *url);
void		request_free(cs_request *r);
/* false when the body would exceed max (nothing appended then) */
bool		request_append_body(cs_request *r, const char *data, size_t len, size_t max);
void		request_set_role(cs_request *r, const char *role);
void		request_set_route(cs_request *r, const char *route_template);
/* route template ("/v1/events/{event_id}"), "unmatched" before routing */
const char *request_route(const cs_request *r);
bool		request_add_param(cs_request *r, const char *name, size_t namelen,
							  const char *value, size_t len);
/* status queued (0: none yet), seconds since the request began */
unsigned	request_status(const cs_request *r);
double		request_elapsed(const cs_request *r);
/* set once the handler has run (or a response was queued early) */
bool		request_responded(const cs_request *r);
/*
 * The request's job in the lookup queue (lookup_queue.c): size > 0 makes it
 * (zeroed) if need be; 0 only looks.  Freed with the request.
 */
typedef struct lookup_job lookup_job;
lookup_job *request_lookup_job(cs_request *r, size_t size);

#endif
