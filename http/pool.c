/*
 * pool.c — the connection pool (pool.h).  Connections open lazily, on first
 * use, and are reopened after a failure, so the server starts and stays up
 * while the database is away (requests then get 503).
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

typedef struct
{
	PGconn	   *conn;
	bool		busy;
} pool_slot;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freed;
static pool_slot *slots;
static int	nslots;
static char *conninfo_saved;
static __thread char acquire_error[512];

void
pool_init(const char *conninfo, int size)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&freed, &attr);
	pthread_condattr_destroy(&attr);
	slots = calloc((size_t) size, sizeof(pool_slot));
	if (slots == NULL)
		abort();
	nslots = size;
	conninfo_saved = strdup(conninfo);
}

void
pool_shutdown(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nslots; i++)
		if (slots[i].conn != NULL)
		{
			PQfinish(slots[i].conn);
			slots[i].conn = NULL;
		}
	pthread_mutex_unlock(&lock);
}

const char *
pool_acquire_error(void)
{
	return acquire_error;
}

/* connects, and sets what every request relies on: UTC times in the JSON */
static PGconn *
connect_one(void)
{
	const char *const keys[] = {"dbname", "fallback_application_name", NULL};
	const char *const vals[] = {conninfo_saved, "candystore-http", NULL};
	PGconn	   *c = PQconnectdbParams(keys, vals, 1);
	PGresult   *res;

	if (PQstatus(c) != CONNECTION_OK)
	{
		snprintf(acquire_error, sizeof(acquire_error), "%s", PQerrorMessage(c));
		acquire_error[strcspn(acquire_error, "\n")] = '\0';
		PQfinish(c);
		return NULL;
	}
	res = PQexec(c, "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO'");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		snprintf(acquire_error, sizeof(acquire_error), "%s", PQerrorMessage(c));
		PQclear(res);
		PQfinish(c);
		return NULL;
	}
	PQclear(res);
	return c;
}

PGconn *
pool_acquire(int timeout_ms)
{
	struct timespec deadline;
	int			slot = -1;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&lock);
	for (;;)
	{
		/* prefer an open connection */
		for (int i = 0; i < nslots && slot < 0; i++)
			if (!slots[i].busy && slots[i].conn != NULL)
				slot = i;
		for (int i = 0; i < nslots && slot < 0; i++)
			if (!slots[i].busy)
				slot = i;
		if (slot >= 0)
			break;
		if (pthread_cond_timedwait(&freed, &lock, &deadline) == ETIMEDOUT)
		{
			pthread_mutex_unlock(&lock);
			snprintf(acquire_error, sizeof(acquire_error),
					 "all %d database connections are busy", nslots);
			return NULL;
		}
	}
	slots[slot].busy = true;
	pthread_mutex_unlock(&lock);

	if (slots[slot].conn != NULL && PQstatus(slots[slot].conn) != CONNECTION_OK)
	{
		PQfinish(slots[slot].conn);
		slots[slot].conn = NULL;
	}
	if (slots[slot].conn == NULL)
		slots[slot].conn = connect_one();
	if (slots[slot].conn == NULL)
	{
		pthread_mutex_lock(&lock);
		slots[slot].busy = false;
		pthread_cond_signal(&freed);
		pthread_mutex_unlock(&lock);
		return NULL;
	}
	return slots[slot].conn;
}

void
pool_release(PGconn *conn, bool broken)
{
	if (conn == NULL)
		return;
	/* a connection left inside a transaction is no good to the next request */
	if (PQpipelineStatus(conn) != PQ_PIPELINE_OFF)
		broken = true;
	if (!broken && PQstatus(conn) == CONNECTION_OK &&
		PQtransactionStatus(conn) != PQTRANS_IDLE)
	{
		pool_rollback(conn);
		broken = PQtransactionStatus(conn) != PQTRANS_IDLE;
	}
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nslots; i++)
		if (slots[i].conn == conn)
		{
			if (broken || PQstatus(conn) != CONNECTION_OK)
			{
				PQfinish(conn);
				slots[i].conn = NULL;
			}
			slots[i].busy = false;
			break;
		}
	pthread_cond_signal(&freed);
	pthread_mutex_unlock(&lock);
}

bool
pool_result_ok(const PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);

	return s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
}

PGresult *
pool_begin_as(PGconn *conn, const char *role, int statement_timeout_ms)
{
	char		sql[256];
	PGresult   *res;

	if (role != NULL)
	{
		char	   *quoted = PQescapeIdentifier(conn, role, strlen(role));

		if (quoted == NULL)
			return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
		/* a role name is at most 63 bytes, 129 quoted */
		snprintf(sql, sizeof(sql), "BEGIN; SET LOCAL ROLE %s; SET LOCAL statement_timeout = %d",
				 quoted, statement_timeout_ms);
		PQfreemem(quoted);
	}
	else
		snprintf(sql, sizeof(sql), "BEGIN; SET LOCAL statement_timeout = %d", statement_timeout_ms);
	res = PQexec(conn, sql);
	if (pool_result_ok(res))
	{
		PQclear(res);
		return NULL;
	}
	return res;
}

PGresult *
pool_exec(PGconn *conn, const char *sql, int nparams, const char *const *values)
{
	return PQexecParams(conn, sql, nparams, NULL, values, NULL, NULL, 0);
}

PGresult *
pool_commit(PGconn *conn)
{
	PGresult   *res = PQexec(conn, "COMMIT");

	if (PQresultStatus(res) == PGRES_COMMAND_OK)
	{
		PQclear(res);
		return NULL;
	}
	return res;
}

void
pool_rollback(PGconn *conn)
{
	PQclear(PQexec(conn, "ROLLBACK"));
}

/*
 * One round trip: the role and timeout settings and the statement go out
 * together in a libpq pipeline ended by one Sync.  Statements before a Sync
 * share one transaction, so set_config(..., true) (SET LOCAL, the role as a
 * parameter, not spliced into SQL) holds for the statement and ends with
 * it; an error aborts the rest and rolls everything back at the Sync.
 */
PGresult *
pool_exec_as(PGconn *conn, const char *role, int statement_timeout_ms,
			 const char *sql, int nparams, const char *const *values)
{
	return pool_exec_steps_as(conn, role, statement_timeout_ms, &sql, 1, nparams, values);
}

PGresult *
pool_exec_steps_as(PGconn *conn, const char *role, int statement_timeout_ms,
				   const char *const *sqls, int nsql, int nparams, const char *const *values)
{
	char		timeout[16];
	const char *settings[2];
	PGresult   *first_failure = NULL;
	PGresult   *result = NULL;
	PGresult   *res;
	int			stage = 0;		/* 0: settings, 1..nsql: statements, then the sync */
	int			idle = 0;

	snprintf(timeout, sizeof(timeout), "%d", statement_timeout_ms);
	settings[0] = timeout;
	settings[1] = role;
	if (!PQenterPipelineMode(conn) ||
		!PQsendQueryParams(conn, role != NULL
						   ? "SELECT set_config('statement_timeout', $1, true), set_config('role', $2, true)"
						   : "SELECT set_config('statement_timeout', $1, true)",
						   role != NULL ? 2 : 1, NULL, settings, NULL, NULL, 0))
	{
		PQexitPipelineMode(conn);
		return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	}
	for (int i = 0; i < nsql; i++)
		if (!PQsendQueryParams(conn, sqls[i], nparams, NULL, values, NULL, NULL, 0))
		{
			PQexitPipelineMode(conn);
			return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
		}
	if (!PQpipelineSync(conn))
	{
		PQexitPipelineMode(conn);
		return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	}
	while (stage <= nsql + 1)
	{
		res = PQgetResult(conn);
		if (res == NULL)
		{
			/* the end of one statement's results; a lost connection ends here too */
			if (stage <= nsql)
			{
				stage++;
				continue;
			}
			if (PQstatus(conn) != CONNECTION_OK || ++idle > 8)
				break;
			continue;
		}
		switch (PQresultStatus(res))
		{
			case PGRES_PIPELINE_SYNC:
				PQclear(res);
				stage = nsql + 2;
				break;
			case PGRES_TUPLES_OK:
			case PGRES_COMMAND_OK:
				if (stage == nsql && result == NULL)
					result = res;
				else
					PQclear(res);
				break;
			case PGRES_PIPELINE_ABORTED:
				PQclear(res);
				break;
			default:
				if (first_failure == NULL)
					first_failure = res;
				else
					PQclear(res);
				if (PQstatus(conn) != CONNECTION_OK)
					stage = nsql + 2;
				break;
		}
	}
	PQexitPipelineMode(conn);
	if (first_failure != NULL || result == NULL)
	{
		PQclear(result);
		return first_failure ? first_failure : PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	}
	return result;
}
