/*
 * pool.c — the connection pool (pool.h).  Connections open lazily, on first
 * use, and are reopened after a failure, so the server starts and stays up
 * while the database is away (requests then get 503).
 */
#include "pool.h"

#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/*
 * Statements are prepared on each connection on first use and kept: a
 * lookup then costs the server no parse and plan.  Keyed by the SQL and the
 * role it runs as, so that no plan made for one role serves another
 * (privileges are checked at each execution anyway; a GRANT or REVOKE
 * invalidates the plans that depend on it).
 */
#define MAX_PREPARED 128
#define NAMEDATALEN_HTTP 64

typedef struct
{
	uint64_t	hash;
	char	   *sql;
	char	   *role;
} prepared_stmt;

/*
 * The role and statement_timeout a connection's session holds (set at
 * session level by the last request that succeeded).  role_known false: not
 * known (a new connection, or the last pipeline failed: a set_config made in
 * a transaction that rolled back is undone, so the session may hold the one
 * before), and the next request sets both whatever they are.
 */
typedef struct
{
	PGconn	   *conn;
	bool		busy;
	bool		role_known;
	char		role[NAMEDATALEN_HTTP];
	int			timeout_ms;
	int			nprepared;
	prepared_stmt prepared[MAX_PREPARED];
} pool_slot;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freed;
static pool_slot *slots;
static int	nslots;
static char *conninfo_saved;
static __thread char acquire_error[512];

static void
forget_session(pool_slot *slot)
{
	for (int i = 0; i < slot->nprepared; i++)
	{
		free(slot->prepared[i].sql);
		free(slot->prepared[i].role);
	}
	slot->nprepared = 0;
	slot->role_known = false;
}

/* the slot of a connection in use (its owner is the only one to touch it) */
static pool_slot *
slot_of(PGconn *conn)
{
	for (int i = 0; i < nslots; i++)
		if (slots[i].conn == conn)
			return &slots[i];
	return NULL;
}

static uint64_t
stmt_hash(const char *sql, const char *role)
{
	uint64_t	h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *) sql; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0xFF) * 1099511628211ULL;
	for (const unsigned char *p = (const unsigned char *) (role ? role : ""); *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* index of the prepared statement, -1 if not prepared */
static int
find_prepared(pool_slot *slot, const char *sql, const char *role, uint64_t h)
{
	if (slot == NULL)
		return -1;
	for (int i = 0; i < slot->nprepared; i++)
		if (slot->prepared[i].hash == h && strcmp(slot->prepared[i].sql, sql) == 0 &&
			strcmp(slot->prepared[i].role, role ? role : "") == 0)
			return i;
	return -1;
}

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
			forget_session(&slots[i]);
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
	{
		forget_session(&slots[slot]);
		slots[slot].conn = connect_one();
	}
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
				forget_session(&slots[i]);
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
		snprintf(sql, sizeof(sql), "BEGIN; SET LOCAL ROLE NONE; SET LOCAL statement_timeout = %d",
				 statement_timeout_ms);
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

/* what each command of a pipeline was, to read its results in turn */
typedef enum
{
	CMD_PREPARE,
	CMD_SETTINGS,
	CMD_STATEMENT
} cmd_kind;

typedef struct
{
	cmd_kind	kind;
	int			step;			/* CMD_PREPARE, CMD_STATEMENT: which statement (-1: the settings) */
	bool		fresh;			/* CMD_PREPARE: record it once it succeeded */
	char		name[16];
} pipeline_cmd;

/*
 * Queues one statement: prepared on this connection (preparing it first if
 * need be) or, when the connection's cache is full, unnamed.
 */
static bool
send_statement(PGconn *conn, pool_slot *slot, const char *sql, const char *role,
			   int nparams, const char *const *values, int step,
			   pipeline_cmd *cmds, int *ncmds, int *pending)
{
	uint64_t	h = stmt_hash(sql, role);
	int			idx = find_prepared(slot, sql, role, h);
	pipeline_cmd *c;

	if (idx < 0 && slot != NULL && slot->nprepared + *pending < MAX_PREPARED)
	{
		idx = slot->nprepared + (*pending)++;
		c = &cmds[(*ncmds)++];
		c->kind = CMD_PREPARE;
		c->step = step;
		c->fresh = true;
		snprintf(c->name, sizeof(c->name), "cs%d", idx);
		if (!PQsendPrepare(conn, c->name, sql, nparams, NULL))
			return false;
	}
	c = &cmds[(*ncmds)++];
	c->kind = step < 0 ? CMD_SETTINGS : CMD_STATEMENT;
	c->step = step;
	c->fresh = false;
	if (idx < 0)
		return PQsendQueryParams(conn, sql, nparams, NULL, values, NULL, NULL, 0);
	snprintf(c->name, sizeof(c->name), "cs%d", idx);
	return PQsendQueryPrepared(conn, c->name, nparams, values, NULL, NULL, 0);
}

PGresult *
pool_exec_steps_as(PGconn *conn, const char *role, int statement_timeout_ms,
				   const char *const *sqls, int nsql, int nparams, const char *const *values)
{
	/*
	 * The role and statement_timeout are set at session level
	 * (set_config(..., false)), in the same pipeline as the statements, and
	 * only when the connection's session is not known to hold them already:
	 * setting them costs the server about as much as the lookup itself.  Safe
	 * because every statement on a pooled connection goes through here or
	 * pool_begin_as(), which set the request's role first when it differs;
	 * and because the cache is trusted only after a pipeline that succeeded
	 * as a whole (a failure rolls back, and with it a set_config of the same
	 * transaction: then nothing is trusted and the next request sets both).
	 */
	static const char settings_sql[] =
		"SELECT set_config('statement_timeout', $1, false), set_config('role', $2, false)";
	pool_slot  *slot = slot_of(conn);
	const char *want_role = role ? role : "none";	/* none: the authenticator itself */
	bool		need_settings;
	char		timeout[16];
	const char *settings[2];
	pipeline_cmd cmds[2 * (1 + 8)];
	int			ncmds = 0,
				pending = 0;
	PGresult   *first_failure = NULL;
	PGresult   *result = NULL;
	bool		ok = true;

	if (nsql < 1 || nsql > 8)
		return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	snprintf(timeout, sizeof(timeout), "%d", statement_timeout_ms);
	settings[0] = timeout;
	settings[1] = want_role;
	if (strlen(want_role) >= NAMEDATALEN_HTTP)
		return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	need_settings = slot == NULL || !slot->role_known ||
		slot->timeout_ms != statement_timeout_ms || strcmp(slot->role, want_role) != 0;
	if (slot != NULL)
		slot->role_known = false;	/* until this pipeline has succeeded */
	if (!PQenterPipelineMode(conn))
		return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	/* the settings first: what follows is parsed and run as the role */
	if (need_settings)
		ok = send_statement(conn, slot, settings_sql, NULL, 2, settings, -1,
							cmds, &ncmds, &pending);
	for (int i = 0; ok && i < nsql; i++)
		ok = send_statement(conn, slot, sqls[i], role, nparams, values, i, cmds, &ncmds, &pending);
	if (!ok || !PQpipelineSync(conn))
	{
		PQexitPipelineMode(conn);
		return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	}

	/* each command's results end with a NULL; then comes the Sync */
	for (int c = 0; c <= ncmds; c++)
	{
		PGresult   *res;
		int			guard = 0;

		while ((res = PQgetResult(conn)) != NULL)
		{
			ExecStatusType st = PQresultStatus(res);

			if (st == PGRES_PIPELINE_SYNC)
			{
				PQclear(res);
				c = ncmds + 1;	/* done */
				break;
			}
			if ((st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) && c < ncmds)
			{
				if (cmds[c].kind == CMD_PREPARE && slot != NULL)
				{
					/* prepared: the cache now holds it, in the order of the names */
					prepared_stmt *p = &slot->prepared[slot->nprepared++];
					const char *sql = cmds[c].step < 0 ? settings_sql : sqls[cmds[c].step];
					const char *prole = cmds[c].step < 0 ? NULL : role;

					p->hash = stmt_hash(sql, prole);
					p->sql = strdup(sql);
					p->role = strdup(prole ? prole : "");
				}
				if (cmds[c].kind == CMD_STATEMENT && cmds[c].step == nsql - 1 && result == NULL)
				{
					result = res;
					continue;
				}
				PQclear(res);
				continue;
			}
			if (st == PGRES_PIPELINE_ABORTED)
			{
				PQclear(res);
				continue;
			}
			/* a failure */
			if (first_failure == NULL)
				first_failure = res;
			else
				PQclear(res);
			if (PQstatus(conn) != CONNECTION_OK || ++guard > 4)
				break;
		}
		if (PQstatus(conn) != CONNECTION_OK)
			break;
	}
	PQexitPipelineMode(conn);

	/*
	 * A prepare that failed or was skipped is not recorded, and one that
	 * succeeded is, in name order, so the cache stays true.  A statement
	 * whose tables or functions changed shape ("cached plan must not change
	 * result type", after an extension update) is dropped with the others.
	 */
	if (first_failure != NULL && slot != NULL &&
		strcmp(PQresultErrorField(first_failure, PG_DIAG_SQLSTATE) ?
			   PQresultErrorField(first_failure, PG_DIAG_SQLSTATE) : "", "0A000") == 0 &&
		PQpipelineStatus(conn) == PQ_PIPELINE_OFF && PQstatus(conn) == CONNECTION_OK)
	{
		PQclear(PQexec(conn, "DEALLOCATE ALL"));
		forget_session(slot);
	}
	if (first_failure != NULL || result == NULL)
	{
		PQclear(result);
		return first_failure ? first_failure : PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	}
	/* committed: the session now holds the request's role and timeout */
	if (slot != NULL && PQstatus(conn) == CONNECTION_OK &&
		PQtransactionStatus(conn) == PQTRANS_IDLE)
	{
		slot->role_known = true;
		snprintf(slot->role, sizeof(slot->role), "%s", want_role);
		slot->timeout_ms = statement_timeout_ms;
	}
	return result;
}

/* whether the session holds role and timeout with sql prepared for role: its name, else -1 */
static int
ready_for(pool_slot *slot, const char *role, int statement_timeout_ms, const char *sql)
{
	const char *want_role = role ? role : "none";

	if (slot == NULL || !slot->role_known || slot->timeout_ms != statement_timeout_ms ||
		strcmp(slot->role, want_role) != 0)
		return -1;
	return find_prepared(slot, sql, role, stmt_hash(sql, role));
}

void
pool_exec_batch_as(PGconn *conn, const char *role, int statement_timeout_ms,
				   const char *sql, int nparams, const char *const *const *values,
				   int n, PGresult **results)
{
	pool_slot  *slot = slot_of(conn);
	char		name[16];
	int			idx = -1,
				i = 0;

	for (int j = 0; j < n; j++)
		results[j] = NULL;
	while (i < n && PQstatus(conn) == CONNECTION_OK)
	{
		int			sent,
					aborted = -1,
					nulls = 0;

		/* one by one until the session holds the settings and the statement is prepared */
		if ((idx = ready_for(slot, role, statement_timeout_ms, sql)) < 0)
		{
			results[i] = pool_exec_as(conn, role, statement_timeout_ms, sql, nparams, values[i]);
			i++;
			continue;
		}
		if (!PQenterPipelineMode(conn))
			break;
		snprintf(name, sizeof(name), "cs%d", idx);
		for (sent = i; sent < n; sent++)
			if (!PQsendQueryPrepared(conn, name, nparams, values[sent], NULL, NULL, 0))
				break;
		if (sent == i || !PQpipelineSync(conn))
		{
			PQexitPipelineMode(conn);
			break;
		}
		/* each one's result and a NULL, then the Sync; after a failure, the rest aborted */
		for (int j = i; j <= sent;)
		{
			PGresult   *res = PQgetResult(conn);

			if (res == NULL)
			{
				if (PQstatus(conn) != CONNECTION_OK || ++nulls > 2)
					break;
				continue;
			}
			nulls = 0;
			switch (PQresultStatus(res))
			{
				case PGRES_PIPELINE_SYNC:
					PQclear(res);
					j = sent + 1;
					break;
				case PGRES_PIPELINE_ABORTED:
					PQclear(res);
					if (aborted < 0)
						aborted = j;
					j++;
					break;
				default:
					if (j < sent && results[j] == NULL)
						results[j] = res;
					else
						PQclear(res);
					j++;
					break;
			}
		}
		PQexitPipelineMode(conn);
		if (PQpipelineStatus(conn) != PQ_PIPELINE_OFF)
			break;
		/* a statement whose tables changed shape: drop the cache, as pool_exec_steps_as() does */
		for (int j = i; j < sent; j++)
		{
			const char *state = results[j] ? PQresultErrorField(results[j], PG_DIAG_SQLSTATE) : NULL;

			if (state != NULL && strcmp(state, "0A000") == 0 && slot != NULL &&
				PQstatus(conn) == CONNECTION_OK)
			{
				PQclear(PQexec(conn, "DEALLOCATE ALL"));
				forget_session(slot);
				break;
			}
		}
		/* the ones a failure aborted go again, in a transaction of their own */
		i = aborted >= 0 ? aborted : sent;
	}
	for (int j = 0; j < n; j++)
		if (results[j] == NULL)
			results[j] = PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
}
