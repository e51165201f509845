/*
 * worker_loop.c
 *	  The main loop of both background workers (worker_loop.h): what the
 *	  ingest worker and the outbox publisher do alike, so that ingest.c and
 *	  publisher.c keep only what is their own.
 *
 *	  Each turn: answer interrupts, apply a SIGHUP reload (a changed
 *	  connection setting reopens the link once nothing is pending on it),
 *	  open the link if it is closed (with capped exponential backoff,
 *	  candystore.reconnect_max_ms, while it cannot be opened), then hand
 *	  the turn to the worker, which waits on the latch and the socket.
 *
 *	  A database error that escapes a turn of the publisher (a lock
 *	  timeout, a read-only or full database, the extension dropped) is an
 *	  environment fault: it is logged and shown, and the turn tried again
 *	  after a backoff, never fatal.  (The ingest worker retries its own, in
 *	  place: ingest.c.)
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "settings.h"
#include "worker.h"
#include "worker_loop.h"

#define RECONNECT_MIN_MS 100

void
worker_loop_start(WorkerLoop *loop, const char *appname)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	/* a reload signalled before the handler existed was ignored: read now */
	ConfigReloadPending = true;
	worker_keep_freed_memory();
	BackgroundWorkerInitializeConnection(worker_database, NULL, 0);
	pgstat_report_appname(appname);
	/* a commit lost in a crash would be a message acked, or sent twice */
	worker_pin_durability(loop->slot);

	loop->link_cxt = AllocSetContextCreate(TopMemoryContext, "candystore worker link",
										   ALLOCSET_DEFAULT_SIZES);
	loop->turn_cxt = AllocSetContextCreate(TopMemoryContext, "candystore worker turn",
										   ALLOCSET_DEFAULT_SIZES);
	loop->settings = MemoryContextStrdup(TopMemoryContext, loop->ops->connection_settings());
	loop->backoff_ms = RECONNECT_MIN_MS;
	loop->fault_backoff_ms = RECONNECT_MIN_MS;
	worker_status_set(loop->slot, "starting", NULL, false);
}

bool
worker_loop_reload(WorkerLoop *loop)
{
	char	   *now;

	if (!ConfigReloadPending)
		return false;
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	worker_pin_durability(loop->slot);
	now = loop->ops->connection_settings();
	if (strcmp(now, loop->settings) != 0)
		loop->reconnect_pending = true;
	pfree(now);
	if (loop->ops->reloaded)
		loop->ops->reloaded(loop->arg);
	return true;
}

bool
worker_loop_reconnect_pending(WorkerLoop *loop)
{
	return loop->reconnect_pending;
}

void
worker_loop_status(WorkerLoop *loop, const char *state)
{
	worker_status_set(loop->slot, state, loop->link.conn != NULL ? loop->link.broker : NULL,
					  false);
}

void
worker_loop_retrying(WorkerLoop *loop, const char *cause)
{
	worker_loop_status(loop, psprintf("retrying: %s", cause));
}

void
worker_loop_progress(WorkerLoop *loop)
{
	loop->progressed = true;
	loop->backoff_ms = RECONNECT_MIN_MS;
	loop->fault_backoff_ms = RECONNECT_MIN_MS;
}

void
worker_loop_link_lost(WorkerLoop *loop, const char *error)
{
	ereport(LOG, (errmsg("%s lost RabbitMQ: %s", loop->who, error)));
	worker_status_error(loop->slot, error);
	worker_status_set(loop->slot, "disconnected", NULL, false);
	amqp_link_close(&loop->link);
	/* a cluster: the next attempt starts at the node after the lost one */
	loop->link.next_url++;
	if (loop->reset_backoff_on_connect)
		return;
	if (loop->progressed ||
		TimestampDifferenceExceeds(loop->connected_at, GetCurrentTimestamp(),
								   worker_reconnect_max_ms))
		loop->backoff_ms = RECONNECT_MIN_MS;
	else
		loop->wait_before_connect = true;	/* lost again before anything got through */
}

long
worker_loop_keepalive_ms(long timeout_ms)
{
	long		half = worker_amqp_heartbeat * 1000L / 2;

	if (worker_amqp_heartbeat > 0 && (timeout_ms < 0 || timeout_ms > half))
		return half;
	return timeout_ms;
}

int
worker_loop_wait(WorkerLoop *loop, long timeout_ms)
{
	long		wait_ms = worker_loop_keepalive_ms(timeout_ms);
	int			rc;

	if (amqp_data_in_buffer(loop->link.conn) || amqp_frames_enqueued(loop->link.conn))
		return 0;
	rc = WaitLatchOrSocket(MyLatch,
						   WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						   amqp_link_socket(&loop->link), wait_ms, PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
		ResetLatch(MyLatch);
	/*
	 * Woken only to keep the link alive: the caller's next read sends our
	 * heartbeat when due and notices a broker silent for two intervals.
	 * That is not the caller's timeout.
	 */
	if (wait_ms != timeout_ms)
		rc &= ~WL_TIMEOUT;
	return rc;
}

void
worker_loop_sleep(long ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
	long		left;

	while (!ConfigReloadPending &&
		   (left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until)) > 0)
	{
		int			rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								   left, PG_WAIT_EXTENSION);

		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Waits out the backoff, doubling it up to candystore.reconnect_max_ms. */
static void
back_off(WorkerLoop *loop)
{
	worker_status_set(loop->slot, "waiting to reconnect", NULL, false);
	worker_loop_sleep(loop->backoff_ms);
	loop->backoff_ms = Min(loop->backoff_ms * 2, worker_reconnect_max_ms);
}

/* Opens the link; false (having backed off) when it cannot. */
static bool
open_link(WorkerLoop *loop)
{
	MemoryContext old;
	char	   *error = NULL;
	bool		ok;

	if (loop->wait_before_connect)
	{
		back_off(loop);
		loop->wait_before_connect = false;
	}
	MemoryContextReset(loop->link_cxt);
	old = MemoryContextSwitchTo(loop->link_cxt);
	worker_status_set(loop->slot, "connecting", NULL, false);
	ok = amqp_link_open(&loop->link, &error);
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		ereport(LOG,
				(errmsg("%s cannot reach RabbitMQ: %s", loop->who, error),
				 errdetail("Retrying in %d ms.", loop->backoff_ms)));
		worker_status_error(loop->slot, error);
		if (loop->ops->connect_failed)
			loop->ops->connect_failed(loop->arg, error);
		back_off(loop);
		return false;
	}
	if (loop->reset_backoff_on_connect)
		loop->backoff_ms = RECONNECT_MIN_MS;
	loop->progressed = false;
	loop->connected_at = GetCurrentTimestamp();
	if (loop->ever_connected)
		worker_stats_add(loop->reconnect_counter, 1);
	loop->ever_connected = true;
	if (loop->ops->connected)
		loop->ops->connected(loop->arg);
	worker_status_set(loop->slot, loop->connected_state, loop->link.broker, true);
	ereport(LOG, (errmsg("%s %s %s", loop->who, loop->connected_verb, loop->link.broker)));
	return true;
}

/* A reload changed the connection's settings and nothing is pending: reopen. */
static void
reconfigure(WorkerLoop *loop)
{
	char	   *now = loop->ops->connection_settings();

	loop->reconnect_pending = false;
	if (strcmp(now, loop->settings) != 0)
	{
		amqp_link_close(&loop->link);
		pfree(loop->settings);
		loop->settings = MemoryContextStrdup(TopMemoryContext, now);
		worker_status_set(loop->slot, "reconfiguring", NULL, false);
	}
	pfree(now);
}

/* One turn: reload, reopen the link if needed, the worker's work. */
static pg_attribute_always_inline void
turn(WorkerLoop *loop)
{
	if (ConfigReloadPending)
		(void) worker_loop_reload(loop);
	if (loop->reconnect_pending && loop->ops->link_idle(loop->arg))
		reconfigure(loop);
	if (loop->link.conn == NULL && !open_link(loop))
		return;
	loop->ops->turn(loop, loop->arg);
}

/* A database error escaped the turn: report it, let the worker forget, wait. */
static void
fault(WorkerLoop *loop, ErrorData *edata)
{
	const char *cause;

	(void) error_cause(edata->sqlerrcode, &cause);
	/* the backoff starts anew after progress or a long time without fault */
	if (TimestampDifferenceExceeds(loop->fault_at, GetCurrentTimestamp(), worker_reconnect_max_ms))
		loop->fault_backoff_ms = RECONNECT_MIN_MS;
	loop->fault_at = GetCurrentTimestamp();
	ereport(LOG,
			(errmsg("%s cannot use the database: %s", loop->who, edata->message),
			 errdetail("SQLSTATE %s (%s). Retrying in %d ms.",
					   unpack_sql_state(edata->sqlerrcode), cause, loop->fault_backoff_ms)));
	worker_status_db_error(loop->slot, psprintf("SQLSTATE %s: %s",
												unpack_sql_state(edata->sqlerrcode),
												edata->message),
						   edata->sqlerrcode);
	loop->ops->fault(loop, loop->arg);
	worker_loop_retrying(loop, cause);
	worker_loop_sleep(loop->fault_backoff_ms);
	loop->fault_backoff_ms = Min(loop->fault_backoff_ms * 2, worker_reconnect_max_ms);
}

void
worker_loop_run(WorkerLoop *loop)
{
	for (;;)
	{
		ErrorData  *volatile edata = NULL;

		MemoryContextSwitchTo(loop->turn_cxt);
		/* most of the ingest worker's turns (one per delivery) allocate nothing */
		if (!loop->turn_cxt->isReset || loop->turn_cxt->firstchild != NULL)
			MemoryContextReset(loop->turn_cxt);
		CHECK_FOR_INTERRUPTS();

		if (loop->ops->fault == NULL)
		{
			turn(loop);
			continue;
		}
		PG_TRY();
		{
			turn(loop);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(loop->turn_cxt);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(loop->turn_cxt);
			pgstat_report_activity(STATE_IDLE, NULL);
		}
		PG_END_TRY();
		if (edata != NULL)
			fault(loop, edata);
	}
}
