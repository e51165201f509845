/*
 * publisher.c
 *	  The outbox publisher: a background worker that sends committed rows of
 *	  candystore.outbox to RabbitMQ and marks them published once the broker
 *	  has confirmed them.  At least once: a row confirmed but not yet marked
 *	  when PostgreSQL stops is sent again.
 *
 *	  It reads due rows in batches (candystore.outbox_batch_size) and
 *	  publishes each batch at once; while up to MAX_INFLIGHT batches await
 *	  their confirms it goes on reading and publishing, and it records the
 *	  batches the broker has settled, oldest first, all in one transaction,
 *	  once nothing more can be sent for now and every batch in flight is
 *	  settled, when the window is full, or when a row failed.  It sleeps on
 *	  its latch, which a transaction that enqueued rows sets when it commits
 *	  (src/notify.c, through src/outbox_wake.c), and on the broker socket,
 *	  with candystore.outbox_poll_ms as the longest sleep.
 *	  It runs in worker_loop.c's loop (start-up, reloads, the broker link and
 *	  its backoff); this file keeps what is the publisher's own.
 *
 *	  Failures: a lost broker link is dropped and reopened with capped
 *	  exponential backoff (candystore.reconnect_max_ms), which starts again
 *	  from its minimum only once a batch has been confirmed or a connection
 *	  has lasted longer than that cap: a connection that is lost again
 *	  before anything got through does not reset it.
 *	  Meanwhile the rows that would be sent record the error.  A row the
 *	  broker refuses (basic.nack, or a channel it closes: a missing exchange,
 *	  a message over its size limit) is tried again after a backoff of its
 *	  own (candystore.outbox_retry_max_ms), and holds back the later rows of
 *	  its routing key; after candystore.outbox_max_attempts failures, or at
 *	  once when AMQP cannot carry it, it is parked (publisher_batch.c).  A
 *	  closed channel is opened again on the same connection.  When the broker
 *	  closes it with several rows unconfirmed, which of them caused it is
 *	  unknown: those rows are then sent one at a time, so that a second close
 *	  names its row.  A database error (reading or marking rows) is the
 *	  environment's: worker_loop.c logs it and shows it, the batches in
 *	  flight are forgotten (their rows, unmarked, are sent again: at least
 *	  once), and the turn is tried again after a backoff.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "amqp_link.h"
#include "outbox_wake.h"
#include "publisher.h"
#include "settings.h"
#include "status.h"
#include "worker.h"
#include "worker_loop.h"
#include "workers_init.h"

PGDLLEXPORT void candystore_publisher_main(Datum arg);

/* Registers the worker when preloaded with a database to publish from. */
void
publisher_init(void)
{
	BackgroundWorker bgw;

	if (!process_shared_preload_libraries_in_progress || !publisher_registered())
		return;
	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 1;
	strlcpy(bgw.bgw_library_name, "candystore", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "candystore_publisher_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, "candystore outbox publisher", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "candystore outbox publisher", BGW_MAXLEN);
	RegisterBackgroundWorker(&bgw);
}

/* The settings whose change needs a new connection. */
static char *
connection_settings(void)
{
	return psprintf("%s|%s|%d|%s", worker_amqp_url, worker_amqp_cacert, worker_amqp_heartbeat,
					worker_exchange);
}

static void
withdraw_latch(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	outbox_wake_set_latch(NULL);
}

static bool
any_confirmed(OutboxRow *rows, int n)
{
	for (int i = 0; i < n; i++)
	{
		if (rows[i].outcome == ROW_CONFIRMED)
			return true;
	}
	return false;
}

static bool
all_confirmed(OutboxRow *rows, int n)
{
	for (int i = 0; i < n; i++)
	{
		if (rows[i].outcome != ROW_CONFIRMED)
			return false;
	}
	return true;
}

/*
 * The batches in flight, oldest first, and the routing keys that failed
 * while they were sent.  Up to MAX_INFLIGHT batches are published before the
 * oldest is confirmed, so that neither throughput nor a commit's latency
 * waits for the broker's confirms: a broker confirms persistent messages
 * once they are on its disk, and a window of a few batches is sent faster.
 * Beyond MIN_INFLIGHT batches, only while fewer than WINDOW_ROWS rows are
 * in flight: a batch in flight keeps its rows' ids, keys and outcomes (a
 * few hundred bytes a row; the bodies are freed once sent), and every row
 * in flight is sent again should PostgreSQL stop before it is marked.
 */
#define MAX_INFLIGHT 64
#define MIN_INFLIGHT 4			/* however large the batches */
#define WINDOW_ROWS 32768		/* beyond MIN_INFLIGHT batches, rows in flight */

static OutboxBatch inflight[MAX_INFLIGHT];
static int	ninflight = 0;
static List *failed_keys = NIL;
static MemoryContext keys_cxt = NULL;

/* rows may be due that were not read yet */
static bool maybe_due = true;

/*
 * In a burst, each batch is read on from the last row of the one before
 * (read_after), rather than from the first pending row past every row in
 * flight, which would make a burst quadratic.  A row that this skips (a
 * transaction that took its id earlier but committed later, a retry that
 * came due) is read by the next read from the start: when a read finds
 * fewer rows than a batch, after any row fails or the link is lost, on the
 * poll, and at least every FULL_READ_EVERY reads.
 */
#define FULL_READ_EVERY 16
static int64 read_after = 0;	/* 0: read from the start */
static int	reads_after = 0;

/* rows still to be sent one at a time after an unexplained channel close */
static int	isolate_rows = 0;

/* when the next held-back row is due (ms), -1: none */
static long next_due_ms = -1;

/*
 * The loop (worker_loop.c).  Its reconnect backoff is reset by a confirmed
 * batch or a connection that lasted longer than the backoff's cap, not by a
 * connect that the same failure follows.
 */
static WorkerLoop loop;
static MemoryContext batches_cxt;

/*
 * Records the outcome of the count oldest batches, in one transaction (one
 * commit for all of them), and forgets them.
 */
static void
record_oldest(int count)
{
	bool		confirmed = false;

	for (int i = 0; i < count; i++)
	{
		/* rows left pending are due again, or say when they will be */
		if (!all_confirmed(inflight[i].rows, inflight[i].n))
		{
			maybe_due = true;
			read_after = 0;
		}
		confirmed |= any_confirmed(inflight[i].rows, inflight[i].n);
	}
	if (worker_outbox_test_mark_delay_ms > 0 && confirmed)
	{
		worker_loop_status(&loop, "delaying mark (test)");
		worker_loop_sleep(worker_outbox_test_mark_delay_ms);
	}
	publisher_record_outcomes(inflight, count, &failed_keys, keys_cxt);
	if (confirmed)
		worker_loop_progress(&loop);
	worker_stats_add(WC_OUTBOX_BATCHES, count);
	for (int i = 0; i < count; i++)
	{
		isolate_rows = Max(0, isolate_rows - inflight[i].n);
		MemoryContextDelete(inflight[i].cxt);
	}
	memmove(&inflight[0], &inflight[count], sizeof(OutboxBatch) * (ninflight - count));
	ninflight -= count;
	if (ninflight == 0)
	{
		/* every row sent after a failure has been recorded */
		MemoryContextReset(keys_cxt);
		failed_keys = NIL;
	}
}

/* Whether no more batches may be in flight. */
static bool
window_full(void)
{
	int			rows = 0;

	if (ninflight >= MAX_INFLIGHT)
		return true;
	for (int i = 0; i < ninflight; i++)
		rows += inflight[i].n;
	return ninflight >= MIN_INFLIGHT && rows >= WINDOW_ROWS;
}

/* Whether another batch may be read and sent now. */
static bool
room_to_send(WorkerLoop *l)
{
	return maybe_due && !window_full() && !worker_loop_reconnect_pending(l) &&
		!(isolate_rows > 0 && ninflight > 0);
}

/* Whether every row of the count oldest batches was confirmed. */
static bool
batches_confirmed(int count)
{
	for (int i = 0; i < count; i++)
	{
		if (!all_confirmed(inflight[i].rows, inflight[i].n))
			return false;
	}
	return true;
}

/* The link is lost: record what the broker settled, drop the rest, close. */
static void
drop_link(const char *error)
{
	read_after = 0;
	if (ninflight > 0)
		record_oldest(ninflight);
	worker_loop_link_lost(&loop, error);
}

/*
 * The broker closed the channel.  Unless the row that caused it is known
 * (refused), the cause is the one row sent and unconfirmed, if there is one;
 * with several, the next rows go one at a time until it shows.  Records the
 * batches in flight (their unconfirmed rows are sent again) and opens the
 * channel again.
 */
static void
channel_closed(AmqpLink *link, char *error, bool refused)
{
	OutboxRow  *suspect = NULL;
	int			suspects = 0;

	worker_status_error(WORKER_PUBLISHER_SLOT, error);
	read_after = 0;
	for (int i = 0; i < ninflight && !refused; i++)
	{
		for (int k = 0; k < inflight[i].sent; k++)
		{
			OutboxRow  *r = &inflight[i].rows[inflight[i].sent_rows[k]];

			if (r->outcome == ROW_UNSENT)
			{
				suspect = r;
				suspects++;
			}
		}
	}
	ereport(LOG,
			(errmsg("candystore outbox publisher: the broker closed the channel: %s", error),
			 refused ? 0 :
			 errdetail("%d sent rows were unconfirmed%s.", suspects,
					   suspects > 1 ? "; they are sent again one at a time" : "")));
	if (suspects == 1)
	{
		suspect->outcome = ROW_FAILED;
		suspect->error = error;
	}
	if (ninflight > 0)
		record_oldest(ninflight);
	if (suspects > 1)
		isolate_rows = Max(isolate_rows, suspects);
	if (!publisher_reopen_channel(link, &error))
		drop_link(error);
}

/* Acts on what publishing or reading confirms found; false when not OK. */
static bool
link_result_ok(AmqpLink *link, OutboxLinkResult res, char *error)
{
	switch (res)
	{
		case OUTBOX_LINK_OK:
			return true;
		case OUTBOX_ROW_REFUSED:
			channel_closed(link, error, true);
			break;
		case OUTBOX_CHANNEL_CLOSED:
			channel_closed(link, error, false);
			break;
		case OUTBOX_LINK_LOST:
			drop_link(error);
			break;
	}
	return false;
}

/* Reopening the link now sends nothing twice: nothing is in flight. */
static bool
publisher_link_idle(void *arg pg_attribute_unused())
{
	return ninflight == 0;
}

/* The batch size may have changed. */
static void
publisher_reloaded(void *arg pg_attribute_unused())
{
	maybe_due = true;
}

/* The rows that would be sent record the error. */
static void
publisher_connect_failed(void *arg pg_attribute_unused(), const char *error)
{
	publisher_record_outage(error);
}

static void
publisher_connected(void *arg pg_attribute_unused())
{
	maybe_due = true;
}

/*
 * One turn: settle confirms and record finished batches, read and publish
 * the next batch, then sleep until a commit, the broker, a deadline or the
 * poll.
 */
static void
publisher_turn(WorkerLoop *l, void *arg pg_attribute_unused())
{
	AmqpLink   *link = &l->link;
	char	   *error = NULL;
	OutboxLinkResult res;
	long		timeout_ms;
	int			rc;
	int			settled;
	bool		can_send;

	/* settle what the broker confirmed */
	res = publisher_read_confirms(link, inflight, ninflight, &error);
	if (!link_result_ok(link, res, error))
		return;
	settled = 0;
	while (settled < ninflight && inflight[settled].settled >= inflight[settled].sent)
		settled++;
	can_send = room_to_send(l);

	/*
	 * Record the finished batches, oldest first, in one transaction: when a
	 * row failed (at once, so that its key is held back), when the window is
	 * full, or when nothing more can be sent and every batch in flight is
	 * settled.  In a burst the marks thus wait until the burst is confirmed
	 * (or the window full) instead of holding up each next batch, and take
	 * no CPU from the broker while it still delivers the burst.
	 */
	if (settled > 0 && (!batches_confirmed(settled) || window_full() ||
						(!can_send && settled == ninflight)))
	{
		record_oldest(settled);
		settled = 0;
		if (ninflight == 0)
			worker_loop_status(l, "idle");
		can_send = room_to_send(l);
	}
	if (settled < ninflight && GetCurrentTimestamp() >= inflight[settled].deadline)
	{
		drop_link(psprintf("%s: no publisher confirm within %d ms", link->broker,
								 worker_outbox_confirm_timeout_ms));
		return;
	}

	/* read and publish the next batch while earlier ones await confirms */
	if (can_send)
	{
		OutboxBatch *b = &inflight[ninflight];
		Datum	   *exclude;
		int			nexclude = 0;
		int			limit = isolate_rows > 0 ? 1 : worker_outbox_batch_size;
		bool		read_on;
		MemoryContext old;

		memset(b, 0, sizeof(*b));
		b->cxt = AllocSetContextCreate(batches_cxt, "candystore outbox batch",
									   ALLOCSET_DEFAULT_SIZES);
		old = MemoryContextSwitchTo(b->cxt);
		if (isolate_rows > 0 || reads_after >= FULL_READ_EVERY)
			read_after = 0;
		reads_after = read_after > 0 ? reads_after + 1 : 0;
		/* reading from the start: past the rows in flight */
		for (int i = 0; i < ninflight && read_after == 0; i++)
			nexclude += inflight[i].n;
		exclude = palloc(sizeof(Datum) * Max(1, nexclude));
		nexclude = 0;
		for (int i = 0; i < ninflight && read_after == 0; i++)
			for (int j = 0; j < inflight[i].n; j++)
				exclude[nexclude++] = Int64GetDatum(inflight[i].rows[j].id);
		b->rows = palloc(sizeof(OutboxRow) * limit);
		b->messages_cxt = AllocSetContextCreate(b->cxt, "candystore outbox messages",
												ALLOCSET_DEFAULT_SIZES);
		read_on = read_after > 0;
		b->n = publisher_fetch_due(b->rows, limit, exclude, nexclude, read_after, b->messages_cxt,
								   &next_due_ms);
		MemoryContextSwitchTo(old);
		/* a full batch: more are waiting after its last row */
		read_after = b->n == limit ? b->rows[b->n - 1].id : 0;
		if (b->n > 0)
		{
			ninflight++;
			/* the end of a burst: read from the start for the rows it skipped */
			maybe_due = b->n == limit || read_on;
			worker_loop_status(l, "publishing");
			res = publisher_publish(link, inflight, ninflight, &error);
			/* sent or not, no message is sent again from memory: a row is read again */
			MemoryContextDelete(b->messages_cxt);
			b->messages_cxt = NULL;
			(void) link_result_ok(link, res, error);
			return;
		}
		MemoryContextDelete(b->cxt);
		maybe_due = read_on;
		if (read_on)
			return;
		/* nothing more to send: once all of it is settled, record it before sleeping */
		if (settled > 0 && settled == ninflight)
		{
			record_oldest(settled);
			settled = 0;
		}
		if (ninflight == 0 && b->n == OUTBOX_NO_EXTENSION)
			worker_loop_retrying(l, EXTENSION_MISSING_CAUSE);
		else if (ninflight == 0 && b->n == OUTBOX_OLD_EXTENSION)
			worker_loop_retrying(l, EXTENSION_NOT_UPDATED_CAUSE);
		else if (ninflight == 0)
			worker_loop_status(l, "idle");
	}

	/*
	 * Sleep until a commit, the broker (confirms, heartbeats, a close), the
	 * oldest batch's confirm deadline or the next held-back row.
	 */
	timeout_ms = worker_outbox_poll_ms;
	if (next_due_ms >= 0)
		timeout_ms = Max(1, Min(timeout_ms, next_due_ms));
	if (settled < ninflight)
		timeout_ms = Max(1, Min(timeout_ms,
								TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
																inflight[settled].deadline)));
	rc = worker_loop_wait(l, timeout_ms);
	if (rc & (WL_LATCH_SET | WL_TIMEOUT))
		maybe_due = true;
	if (rc & WL_TIMEOUT)
		read_after = 0;			/* the poll, or a held-back row came due */
}

/*
 * A database error ended the turn: forget the batches in flight (their rows
 * stay unmarked and are sent again) and, if any were, the link, whose
 * confirms for them would now match no batch.
 */
static void
publisher_fault(WorkerLoop *l, void *arg pg_attribute_unused())
{
	bool		had_inflight = ninflight > 0;

	MemoryContextReset(batches_cxt);	/* every batch's context */
	ninflight = 0;
	read_after = 0;
	MemoryContextReset(keys_cxt);
	failed_keys = NIL;
	isolate_rows = 0;
	maybe_due = true;
	if (had_inflight)
	{
		amqp_link_close(&l->link);
		worker_status_set(WORKER_PUBLISHER_SLOT, "disconnected", NULL, false);
	}
}

static const WorkerLoopOps publisher_ops = {
	.connection_settings = connection_settings,
	.link_idle = publisher_link_idle,
	.reloaded = publisher_reloaded,
	.connect_failed = publisher_connect_failed,
	.connected = publisher_connected,
	.turn = publisher_turn,
	.fault = publisher_fault,
};

void
candystore_publisher_main(Datum arg pg_attribute_unused())
{
	loop.slot = WORKER_PUBLISHER_SLOT;
	loop.who = "candystore outbox publisher";
	loop.connected_state = "idle";
	loop.connected_verb = "publishing to";
	loop.reconnect_counter = WC_OUTBOX_RECONNECTS;
	loop.reset_backoff_on_connect = false;
	loop.ops = &publisher_ops;
	loop.link.publishing = true;
	worker_loop_start(&loop, "candystore outbox publisher");

	/*
	 * Every query of the publisher walks an index in order or probes it by
	 * id.  The outbox's statistics are nearly always stale (a burst of rows
	 * arrives and leaves between two analyses), and without them the
	 * planner takes the pending rows to be a handful: it then reads all of
	 * them in a bitmap scan, probes each for a held-back row of its key and
	 * sorts them, for every batch, which is quadratic in a burst.  Without
	 * bitmap scans and sorts it walks the pending index in id order and
	 * stops at the batch's last row.
	 */
	SetConfigOption("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("enable_sort", "off", PGC_USERSET, PGC_S_SESSION);

	batches_cxt = AllocSetContextCreate(TopMemoryContext, "candystore outbox batches",
										ALLOCSET_DEFAULT_SIZES);
	keys_cxt = AllocSetContextCreate(TopMemoryContext, "candystore outbox failed keys",
									 ALLOCSET_SMALL_SIZES);
	before_shmem_exit(withdraw_latch, (Datum) 0);
	outbox_wake_set_latch(MyLatch);
	worker_loop_run(&loop);
}
