/*
 * stats.c
 *	  Counters since server start and each worker's status, in shared memory
 *	  so that reading them costs nothing but a few atomic reads.  Exposed as
 *	  candystore.stats and candystore.worker_status().
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "settings.h"
#include "shmem_area.h"
#include "status.h"

typedef struct WorkerStatus
{
	slock_t		mutex;
	int			pid;
	char		state[64];
	char		broker[WORKER_TEXT_LEN];
	TimestampTz connected_since;	/* 0 when not connected */
	char		last_error[WORKER_TEXT_LEN];
	TimestampTz last_error_at;
	char		last_sqlstate[6];	/* of last_error, when the database raised it */
	char		synchronous_commit[16]; /* what the worker's commits use */
} WorkerStatus;

typedef struct WorkerShared
{
	pg_atomic_uint64 counters[WC_COUNT];
	WorkerStatus status[WORKER_MAX_INGEST + 1];	/* + the publisher */
} WorkerShared;

static WorkerShared *shared = NULL;

static void
stats_shmem_init(void *area)
{
	WorkerShared *s = area;

	for (int i = 0; i < WC_COUNT; i++)
		pg_atomic_init_u64(&s->counters[i], 0);
	for (int i = 0; i < WORKER_MAX_INGEST + 1; i++)
	{
		memset(&s->status[i], 0, sizeof(WorkerStatus));
		SpinLockInit(&s->status[i].mutex);
		strlcpy(s->status[i].state, "not started", sizeof(s->status[i].state));
	}
}

/* Called from _PG_init while shared_preload_libraries is processed. */
void
worker_stats_request_shmem(void)
{
	shmem_area_register("candystore worker", sizeof(WorkerShared), (void **) &shared,
						stats_shmem_init);
}

void
worker_stats_add(WorkerCounter counter, uint64 n)
{
	if (shared != NULL && n > 0)
		pg_atomic_fetch_add_u64(&shared->counters[counter], n);
}

void
worker_status_set(int slot, const char *state, const char *broker, bool connected_now)
{
	WorkerStatus *s;

	if (shared == NULL)
		return;
	s = &shared->status[slot];
	SpinLockAcquire(&s->mutex);
	s->pid = MyProcPid;
	strlcpy(s->state, state, sizeof(s->state));
	if (broker != NULL)
		strlcpy(s->broker, broker, sizeof(s->broker));
	if (connected_now)
		s->connected_since = GetCurrentTimestamp();
	else if (broker == NULL)
		s->connected_since = 0;
	SpinLockRelease(&s->mutex);
}

void
worker_status_error(int slot, const char *error)
{
	worker_status_db_error(slot, error, 0);
}

/* An error and, when the database raised it (sqlerrcode not 0), its SQLSTATE. */
void
worker_status_db_error(int slot, const char *error, int sqlerrcode)
{
	WorkerStatus *s;

	if (shared == NULL)
		return;
	s = &shared->status[slot];
	SpinLockAcquire(&s->mutex);
	strlcpy(s->last_error, error, sizeof(s->last_error));
	s->last_error_at = GetCurrentTimestamp();
	if (sqlerrcode != 0)
		strlcpy(s->last_sqlstate, unpack_sql_state(sqlerrcode), sizeof(s->last_sqlstate));
	else
		s->last_sqlstate[0] = '\0';
	SpinLockRelease(&s->mutex);
}

/* The synchronous_commit the worker's transactions commit with. */
void
worker_status_durability(int slot, const char *synchronous_commit)
{
	WorkerStatus *s;

	if (shared == NULL)
		return;
	s = &shared->status[slot];
	SpinLockAcquire(&s->mutex);
	strlcpy(s->synchronous_commit, synchronous_commit, sizeof(s->synchronous_commit));
	SpinLockRelease(&s->mutex);
}

/* Counters [first, end) as the function's result row. */
static Datum
counters_row(FunctionCallInfo fcinfo, int first, int end)
{
	TupleDesc	tupdesc;
	Datum		values[WC_COUNT];
	bool		nulls[WC_COUNT] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (tupdesc->natts != end - first)
		elog(ERROR, "return type must have %d columns", end - first);
	for (int i = first; i < end; i++)
		values[i - first] = Int64GetDatum(shared ? (int64) pg_atomic_read_u64(&shared->counters[i]) : 0);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

PG_FUNCTION_INFO_V1(candystore_worker_stats);
Datum
candystore_worker_stats(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(counters_row(fcinfo, 0, WC_INGEST_COUNT));
}

PG_FUNCTION_INFO_V1(candystore_publisher_stats);
Datum
candystore_publisher_stats(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(counters_row(fcinfo, WC_INGEST_COUNT, WC_COUNT));
}

PG_FUNCTION_INFO_V1(candystore_worker_status);
Datum
candystore_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (shared == NULL)
		return (Datum) 0;
	if (rsinfo->setDesc->natts != 8 && rsinfo->setDesc->natts != 10)
		elog(ERROR, "return type must have 8 or 10 columns");
	for (int i = 0; i < worker_ingest_workers + 1; i++)
	{
		int			slot = i < worker_ingest_workers ? i : WORKER_PUBLISHER_SLOT;
		WorkerStatus copy;
		Datum		values[10];
		bool		nulls[10] = {0};

		if (slot == WORKER_PUBLISHER_SLOT && !publisher_registered())
			break;

		SpinLockAcquire(&shared->status[slot].mutex);
		memcpy(&copy, &shared->status[slot], sizeof(copy));
		SpinLockRelease(&shared->status[slot].mutex);

		values[0] = Int32GetDatum(slot == WORKER_PUBLISHER_SLOT ? 1 : i + 1);
		values[1] = Int32GetDatum(copy.pid);
		nulls[1] = copy.pid == 0;
		values[2] = CStringGetTextDatum(copy.state);
		values[3] = CStringGetTextDatum(copy.broker);
		nulls[3] = copy.broker[0] == '\0';
		values[4] = TimestampTzGetDatum(copy.connected_since);
		nulls[4] = copy.connected_since == 0;
		values[5] = CStringGetTextDatum(copy.last_error);
		nulls[5] = copy.last_error[0] == '\0';
		values[6] = TimestampTzGetDatum(copy.last_error_at);
		nulls[6] = copy.last_error_at == 0;
		values[7] = CStringGetTextDatum(slot == WORKER_PUBLISHER_SLOT ? "publisher" : "ingest");
		/* 0.1.0's signature ends here: its result rows take the first 8 */
		values[8] = CStringGetTextDatum(copy.last_sqlstate);
		nulls[8] = copy.last_sqlstate[0] == '\0';
		values[9] = CStringGetTextDatum(copy.synchronous_commit);
		nulls[9] = copy.synchronous_commit[0] == '\0';
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
