/*
 * wait_events.c
 *	  candystore.wait_for_events(after, timeout): returns true as soon as an
 *	  event after the cursor is readable by read_all(), false at the timeout.
 *
 * Every transaction that appended broadcasts a condition variable in shared
 * memory when it ends (notify.c's end-of-transaction callback, which runs
 * after the transaction has left the proc array, so a woken reader's next
 * snapshot sees it).  A waiter checks, sleeps on the condition variable,
 * and checks again when woken.
 *
 * One case needs more: an event is committed after the cursor but is not
 * yet readable, because another transaction holding an older xid is still
 * open (the read horizon, 45_read_all.sql), and that transaction appends
 * nothing.  A waiter in that state says so in shared memory (behind_until, a
 * time it keeps pushing ahead while it waits so), and while it is set every
 * transaction that held an xid broadcasts when it ends, whatever it wrote
 * (every backend runs notify.c's callback: the library is preloaded).  So
 * unrelated writes wake nobody unless a reader is held behind one of them.
 * The waiter still re-checks every WAIT_RECHECK_MS, for what ends without a
 * callback of ours (COMMIT PREPARED); and without shared memory (candystore
 * not in shared_preload_libraries) it re-checks at that interval throughout.
 * So it does on a hot standby: events arrive there by WAL replay, which runs
 * no callback of ours, so no broadcast would ever come.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "shmem_area.h"
#include "wait_events.h"

#define WAIT_RECHECK_MS 50

typedef struct WaitEventsShared
{
	ConditionVariable appended;
	/* until when (TimestampTz) a waiter is held behind the horizon; 0: none */
	pg_atomic_uint64 behind_until;
} WaitEventsShared;

static WaitEventsShared *wait_shared = NULL;

static void
wait_events_shmem_init(void *area)
{
	WaitEventsShared *s = area;

	ConditionVariableInit(&s->appended);
	pg_atomic_init_u64(&s->behind_until, 0);
}

void
wait_events_request_shmem(void)
{
	shmem_area_register("candystore wait_for_events", sizeof(WaitEventsShared),
						(void **) &wait_shared, wait_events_shmem_init);
}

void
wait_events_wake(void)
{
	if (wait_shared != NULL)
		ConditionVariableBroadcast(&wait_shared->appended);
}

void
wait_events_wake_if_behind(void)
{
	uint64		until;

	if (wait_shared == NULL)
		return;
	until = pg_atomic_read_u64(&wait_shared->behind_until);
	if (until != 0 && GetCurrentTimestamp() < (TimestampTz) until)
		ConditionVariableBroadcast(&wait_shared->appended);
}

typedef enum
{
	AFTER_NOTHING,				/* no event after the cursor is committed */
	AFTER_READABLE,				/* read_all(after) returns something */
	AFTER_BEHIND_HORIZON		/* committed, not readable until an older xid ends */
} AfterState;

/* What a fresh snapshot sees after the cursor; raises for a bad cursor. */
static AfterState
events_after(SPIPlanPtr plan, Datum after, bool after_isnull)
{
	bool		isnull;
	AfterState	state = AFTER_NOTHING;
	int			rc;

	/* not read-only: each execution takes a new snapshot */
	rc = SPI_execute_plan(plan, &after, after_isnull ? "n" : " ", false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading candystore.event_log failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
		state = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull))
			? AFTER_READABLE : AFTER_BEHIND_HORIZON;
	SPI_freetuptable(SPI_tuptable);
	return state;
}

PG_FUNCTION_INFO_V1(candystore_wait_for_events);

/* candystore.wait_for_events(after text, timeout interval) RETURNS boolean */
Datum
candystore_wait_for_events(PG_FUNCTION_ARGS)
{
	Datum		after = PG_GETARG_DATUM(0);
	bool		after_isnull = PG_ARGISNULL(0);
	Interval   *timeout;
	int64		timeout_ms;
	TimestampTz deadline;
	Oid			types[] = {TEXTOID};
	SPIPlanPtr	plan;
	bool		readable = false;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("timeout must not be NULL")));
	timeout = PG_GETARG_INTERVAL_P(1);
	if (timeout->month != 0 || timeout->day < 0 || timeout->time < 0 ||
		timeout->day > 24 || (timeout->day == 24 && timeout->time > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must be between 0 and 24 days"),
				 errhint("For example candystore.wait_for_events(cursor, '30 seconds').")));
	timeout_ms = (timeout->day * USECS_PER_DAY + timeout->time) / 1000;
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("wait_for_events() cannot wait in a transaction that reads one snapshot"),
				 errdetail("Its transaction is REPEATABLE READ or SERIALIZABLE, so it would never see a new event."),
				 errhint("Call it in a READ COMMITTED transaction, or outside a transaction block.")));

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	SPI_connect();
	/*
	 * The cursor's parts as expressions, not a function in FROM: so they are
	 * the index scan's start key.  Joined to a function scan, the first row
	 * after the cursor was found by scanning the index from its beginning,
	 * and each check cost time in proportion to the store's size.
	 */
	plan = SPI_prepare("SELECT e.xid < candystore.read_horizon_xid()"
					   "  FROM candystore.event_log e"
					   " WHERE (e.xid, e.position) > ((candystore.cursor_decode($1)).xid,"
					   "                              (candystore.cursor_decode($1)).position)"
					   "   AND candystore.event_type_visible(e.event_type)"
					   " ORDER BY e.xid, e.position LIMIT 1", 1, types);
	if (plan == NULL)
		elog(ERROR, "preparing the wait_for_events query failed: %s", SPI_result_code_string(SPI_result));

	/* on the wait list before the first check, so no broadcast falls between */
	if (wait_shared != NULL)
		ConditionVariablePrepareToSleep(&wait_shared->appended);
	for (;;)
	{
		AfterState	state;
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		state = events_after(plan, after, after_isnull);
		if (state == AFTER_READABLE)
		{
			readable = true;
			break;
		}
		sleep_ms = (long) Min((int64) LONG_MAX,
							  TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline));
		if (sleep_ms <= 0)
			break;
		if (state == AFTER_BEHIND_HORIZON || wait_shared == NULL || RecoveryInProgress())
			sleep_ms = Min(sleep_ms, WAIT_RECHECK_MS);
		/* ask the ends of all xid-holding transactions for a wake-up, for a while */
		if (state == AFTER_BEHIND_HORIZON && wait_shared != NULL)
			pg_atomic_write_u64(&wait_shared->behind_until,
								(uint64) TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																	 2 * WAIT_RECHECK_MS));
		if (wait_shared != NULL)
			ConditionVariableTimedSleep(&wait_shared->appended, sleep_ms, PG_WAIT_EXTENSION);
		else
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 sleep_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	if (wait_shared != NULL)
		ConditionVariableCancelSleep();
	SPI_finish();
	PG_RETURN_BOOL(readable);
}
