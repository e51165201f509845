/*
 * lookup_queue.h — single-statement reads of many requests, run in batches
 * on a few pooled connections while the requests' HTTP connections wait
 * suspended.  A libmicrohttpd thread never blocks on the database for them,
 * so requests do not queue behind another connection's query on the same
 * thread, and a batch costs the backend one wake-up for many lookups.
 */
#ifndef CS_HTTP_LOOKUP_QUEUE_H
#define CS_HTTP_LOOKUP_QUEUE_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "request.h"

/* starts `workers` threads, each running one batch at a time on a pooled connection */
void		lookup_queue_start(int workers);
/* runs what is queued, then stops the threads (no request may be submitted after) */
void		lookup_queue_stop(void);

/*
 * Suspends r's connection and queues sql (as r's role, with the request
 * statement_timeout); values must live as long as r.  When its result is
 * in, the connection is resumed and libmicrohttpd calls the handler again,
 * which takes it with lookup_queue_result().  false: not queued (the queue
 * is not running); the connection is then not suspended.
 */
bool		lookup_queue_submit(cs_request *r, const char *sql, int nparams,
								const char *const *values);

/*
 * On the call after the resume: true, with *res the result (NULL when no
 * database connection could be had: *error says why).  false: nothing was
 * queued for r.
 */
bool		lookup_queue_result(cs_request *r, PGresult **res, const char **error);

/* frees a job (request_free()); NULL: nothing */
void		lookup_queue_job_free(lookup_job *job);

#endif
