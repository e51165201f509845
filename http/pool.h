/*
 * pool.h — a fixed number of libpq connections, logged in as the
 * authenticator role, shared by the handler threads.  Each request runs in
 * its own transaction on one of them, as the role its token maps to, with
 * the request's statement_timeout.  A connection keeps the role and timeout
 * of its last request (set_config at session level, in the same pipeline
 * as the statement) and sends them again only when the next request's
 * differ or when its last pipeline failed (the rollback undid that
 * pipeline's set_config: what the session holds is then not known);
 * prepared statements are kept per connection and role.
 */
#ifndef CS_HTTP_POOL_H
#define CS_HTTP_POOL_H

#include <stdbool.h>
#include <libpq-fe.h>

/* conninfo: a libpq connection string or URI (multi-host allowed) */
void		pool_init(const char *conninfo, int size);
/* closes every connection (none may be in use) */
void		pool_shutdown(void);

/*
 * A connection, connected, in no transaction; NULL when none came free
 * within timeout_ms or the database could not be reached (then
 * pool_acquire_error() says why, for this thread).
 */
PGconn	   *pool_acquire(int timeout_ms);
const char *pool_acquire_error(void);
/* gives it back; broken (or found broken): it is closed and reopened on next use */
void		pool_release(PGconn *conn, bool broken);

/*
 * BEGIN; SET LOCAL ROLE role (NULL: the authenticator); SET LOCAL statement_timeout.
 * Returns NULL on success, else the failed result (the caller PQclear()s it
 * and calls pool_rollback()).
 */
PGresult   *pool_begin_as(PGconn *conn, const char *role, int statement_timeout_ms);
/* one parameterised statement (text parameters, text results) */
PGresult   *pool_exec(PGconn *conn, const char *sql, int nparams, const char *const *values);
/* COMMIT: NULL on success, else the failed result */
PGresult   *pool_commit(PGconn *conn);
void		pool_rollback(PGconn *conn);

/*
 * The whole transaction around one statement, in one round trip (a libpq
 * pipeline), as role (NULL: the authenticator): the statement's result when
 * all went well (PGRES_TUPLES_OK / PGRES_COMMAND_OK), else the first failed
 * result (PGRES_FATAL_ERROR; rolled back).  Never NULL.  Caller PQclear()s.
 */
PGresult   *pool_exec_as(PGconn *conn, const char *role, int statement_timeout_ms,
						 const char *sql, int nparams, const char *const *values);

/*
 * The same for several statements, each given the same parameters, in one
 * transaction: the last one's result, or the first failure.
 */
PGresult   *pool_exec_steps_as(PGconn *conn, const char *role, int statement_timeout_ms,
								const char *const *sqls, int nsql, int nparams,
								const char *const *values);

/*
 * One read-only statement for each of n requests of the same role and
 * timeout, in one round trip: a libpq pipeline of the n executions and one
 * Sync, so they share one transaction (and the backend one wake-up, one
 * read and one commit).  A failure aborts the ones after it, which are then
 * run again, from the first of them, in a transaction of their own.  The
 * batch is pipelined only on a session known to hold the role and timeout,
 * with the statement prepared (until then requests go one by one through
 * pool_exec_as(), which sets both): nothing in a batch changes a setting.
 * results[i] is each one's result (as pool_exec_as()'s; never NULL; the
 * caller PQclear()s them).
 */
void		pool_exec_batch_as(PGconn *conn, const char *role, int statement_timeout_ms,
							   const char *sql, int nparams, const char *const *const *values,
							   int n, PGresult **results);

/* whether a result is a success */
bool		pool_result_ok(const PGresult *res);

#endif
