/*
 * problem.h — errors as RFC 9457 problem documents (application/problem+json),
 * from PostgreSQL's error fields: the SQLSTATE decides the HTTP status
 * (docs/reference.md has the mapping), the message, detail and hint pass
 * through, and the JSON pointer of the refused field is read off the
 * message when append() names one.  cs_respond_problem() is in request.h.
 */
#ifndef CS_HTTP_PROBLEM_H
#define CS_HTTP_PROBLEM_H

#include <libpq-fe.h>

#include "request.h"

/* HTTP status for a SQLSTATE (NULL: the connection failed: 503) */
unsigned	problem_status_for_sqlstate(const char *sqlstate);

/*
 * Answers a failed result.  invalid_input_status: the status for data
 * exceptions (class 22), 422 for a body, 400 when only query or path
 * parameters went in.  pointer_prefix (may be NULL) goes in front of the
 * pointer found, e.g. "/3" for the fourth element of an array.
 */
enum MHD_Result problem_from_result(cs_request *r, const PGresult *res,
									unsigned invalid_input_status,
									const char *pointer_prefix);

/* 503 with Retry-After: no database connection came free or could be opened */
enum MHD_Result problem_unavailable(cs_request *r, const char *why);

/* the JSON pointer an error message names ("/payload/x", "/source"), or NULL; malloc'd */
char	   *problem_pointer_from_message(const char *message);

#endif
