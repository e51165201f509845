/*
 * ingest.c
 *	  Registration of the ingest workers and their main loop: consume with
 *	  manual acks, gather deliveries into a batch (candystore.batch_size or
 *	  candystore.batch_timeout_ms, whichever comes first), record the batch
 *	  in one transaction, and only then ack everything up to its last
 *	  delivery tag.  It runs in worker_loop.c's loop (start-up, reloads,
 *	  the broker link and its backoff), which sleeps on the latch and the
 *	  broker socket.
 *
 *	  Failures: a broker error drops the connection (the broker redelivers
 *	  what was not acked) and reconnects with capped exponential backoff.  A
 *	  batch the database cannot record (outcome.c, error_cause.c) is kept in
 *	  memory, unacked, with the broker link open, and retried in place with
 *	  capped exponential backoff: nothing is redelivered, so no delivery
 *	  attempt is counted against its messages however long the fault lasts.
 *	  While it waits the worker answers SIGTERM and SIGHUP, keeps the link
 *	  alive (heartbeats) and appends what the broker sends (within the
 *	  prefetch window) to the batch.  Redeliveries are deduplicated by event
 *	  id.  A lost link drops the batch but not the failures counted against
 *	  its messages (outcome.c's cap): the redeliveries get them back.
 */
#include "postgres.h"

#include <sys/time.h>

#include "access/xlog.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "amqp_headers.h"
#include "amqp_link.h"
#include "ingest.h"
#include "settings.h"
#include "status.h"
#include "sync_standby.h"
#include "traceparent.h"
#include "worker.h"
#include "worker_loop.h"
#include "workers_init.h"

#define RETRY_MIN_MS 100
#define IDLE_WAKEUP_MS 1000		/* lets rabbitmq-c send heartbeats */
/* our consumer of the broker's dead-letter queue (candystore.consume_dead_letter_queue) */
#define DLQ_CONSUMER_TAG "candystore-dead-letter-queue"

PGDLLEXPORT void candystore_ingest_main(Datum arg);

/* Registers the shared memory and, with a database, the workers when preloaded. */
void
worker_init(void)
{
	BackgroundWorker bgw;

	if (!process_shared_preload_libraries_in_progress)
		return;
	worker_stats_request_shmem();
	if (worker_database[0] == '\0')
		return;

	for (int i = 0; i < worker_ingest_workers; i++)
	{
		memset(&bgw, 0, sizeof(bgw));
		bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
		bgw.bgw_restart_time = 1;
		strlcpy(bgw.bgw_library_name, "candystore", BGW_MAXLEN);
		strlcpy(bgw.bgw_function_name, "candystore_ingest_main", BGW_MAXLEN);
		snprintf(bgw.bgw_name, BGW_MAXLEN, "candystore ingest worker %d", i + 1);
		strlcpy(bgw.bgw_type, "candystore ingest worker", BGW_MAXLEN);
		bgw.bgw_main_arg = Int32GetDatum(i);
		RegisterBackgroundWorker(&bgw);
	}
}

/* The settings whose change needs a new connection. */
static char *
connection_settings(void)
{
	return psprintf("%s|%s|%d|%s|%s|%s|%s|%s|%d|%d|%d|%d|%d", worker_amqp_url, worker_amqp_cacert,
					worker_amqp_heartbeat, worker_exchange, worker_queue, worker_binding_keys,
					worker_dlx_exchange, worker_dlq, worker_queue_type, worker_dlq_type,
					worker_prefetch, worker_max_deliveries, worker_consume_dlq);
}

/*
 * The delivery's method and properties, copied out of rabbitmq-c's buffers
 * (the body follows, read_body()).  Nothing here throws for what a
 * publisher sent: text that is not valid is kept escaped (and
 * check_message() dead-letters a message whose routing key is not valid).
 */
static void
copy_delivery(Delivery *d, amqp_basic_deliver_t *deliver, amqp_basic_properties_t *props)
{
	d->delivery_tag = deliver->delivery_tag;
	d->from_broker_dlq = deliver->consumer_tag.len == strlen(DLQ_CONSUMER_TAG) &&
		memcmp(deliver->consumer_tag.bytes, DLQ_CONSUMER_TAG, deliver->consumer_tag.len) == 0;
	d->redelivered = deliver->redelivered;
	d->routing_key = amqp_text(deliver->routing_key.bytes, deliver->routing_key.len, &d->routing_key_valid);
	d->headers_json = amqp_link_headers_json(props);
	if (props->_flags & AMQP_BASIC_HEADERS_FLAG)
		d->trace_context_json = trace_context_from_headers(&props->headers);
	/* the rest only a dead letter needs: copied, rendered then */
	amqp_properties_copy(&d->properties, &d->exchange, props, deliver->exchange);
}

/*
 * The next frame of the delivery under way, which the broker sends right
 * after its method: a content header, or a body frame; NULL if it is one,
 * else why not (the link is then unusable).
 */
static char *
next_content_frame(AmqpLink *link, amqp_frame_t *frame, uint8_t type)
{
	int			rc = amqp_simple_wait_frame(link->conn, frame);

	if (rc != AMQP_STATUS_OK)
		return psprintf("%s: %s", link->broker, amqp_error_string2(rc));
	if (frame->frame_type != type || frame->channel != AMQP_LINK_CHANNEL)
	{
		char	   *closed = amqp_link_frame_error(link, frame);

		return closed ? closed : psprintf("%s: a delivery's content was interrupted by a frame of type %d",
										  link->broker, frame->frame_type);
	}
	return NULL;
}

/* The body, a body frame at a time, kept whole whatever its size (for the dead letter). */
static char *
read_body(AmqpLink *link, Delivery *d, uint64_t size)
{
	size_t		got = 0;

	if (size > MaxAllocHugeSize - 1)
		return psprintf("%s: a message body of %llu bytes", link->broker, (unsigned long long) size);
	d->body_len = (size_t) size;
	d->body = palloc_extended(d->body_len + 1, MCXT_ALLOC_HUGE);
	while (got < d->body_len)
	{
		amqp_frame_t frame;
		char	   *error = next_content_frame(link, &frame, AMQP_FRAME_BODY);

		if (error != NULL)
			return error;
		if (frame.payload.body_fragment.len > d->body_len - got)
			return psprintf("%s: a message body longer than its header said", link->broker);
		memcpy(d->body + got, frame.payload.body_fragment.bytes, frame.payload.body_fragment.len);
		got += frame.payload.body_fragment.len;
	}
	d->body[d->body_len] = '\0';
	return NULL;
}

/* The deliveries in hand, not yet acked. */
typedef struct Batch
{
	Delivery   *d;
	int			n;
	int			capacity;		/* deliveries d has room for */
	bool		isolate;		/* outcome.c: try each message alone */
	MemoryContext cxt;			/* the deliveries live here */
	TimestampTz started;		/* when its first delivery came */
	bool		cancelled;		/* the broker cancelled our consumer */
	char	   *link_error;		/* the link cannot be used as configured */
	bool		awaiting_standby;	/* held for candystore.require_sync_standby */
	/* the last batch committed, when its ack waits for its WAL's flush */
	bool		unacked;
	uint64		unacked_tag;	/* its last delivery */
	XLogRecPtr	unacked_flush_to;
} Batch;

/*
 * The failure counts (outcome.c's cap, candystore.max_message_failures) of
 * messages whose batch was dropped with a lost link, kept until the broker
 * redelivers them: otherwise a message that fails alone would get its tries
 * anew at every reconnect.  Keyed by a digest of routing key and body (a
 * redelivery has both unchanged); at most MAX_CARRIED, beyond which counting
 * starts over as it did before.
 */
#define MAX_CARRIED 1024
#define CARRIED_ERROR_LEN 1024

typedef struct CarriedFailures
{
	uint64		key;
	int			failures;
	int			last_sqlerrcode;
	char		last_error[CARRIED_ERROR_LEN];
} CarriedFailures;

static HTAB *carried = NULL;

static void ack_committed(WorkerLoop *loop, Batch *batch, bool wait, char **error);

/* the worker's loop, for ingest_connected() */
static WorkerLoop *batch_loop = NULL;

static uint64
delivery_key(Delivery *d)
{
	uint64		seed = hash_bytes_extended((const unsigned char *) d->routing_key,
										   (int) strlen(d->routing_key), 0);

	return hash_bytes_extended((const unsigned char *) d->body,
							   (int) Min(d->body_len, (size_t) PG_INT32_MAX), seed);
}

/* The batch is dropped: keep the counts of its messages that failed. */
static void
carry_failures(Batch *batch)
{
	for (int i = 0; i < batch->n; i++)
	{
		Delivery   *d = &batch->d[i];
		uint64		key;
		CarriedFailures *c;

		if (d->failures == 0 || d->last_error == NULL)
			continue;
		if (carried == NULL)
		{
			HASHCTL		ctl = {.keysize = sizeof(uint64),.entrysize = sizeof(CarriedFailures)};

			carried = hash_create("candystore ingest carried failures", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS);
		}
		if (hash_get_num_entries(carried) >= MAX_CARRIED)
			return;
		key = delivery_key(d);
		c = hash_search(carried, &key, HASH_ENTER, NULL);
		c->failures = d->failures;
		c->last_sqlerrcode = d->last_sqlerrcode;
		strlcpy(c->last_error, d->last_error, sizeof(c->last_error));
	}
}

/* A redelivery: give it back the failures counted before the link was lost. */
static void
restore_failures(Batch *batch, Delivery *d)
{
	uint64		key = delivery_key(d);
	CarriedFailures *c = hash_search(carried, &key, HASH_FIND, NULL);

	if (c == NULL)
		return;
	d->failures = c->failures;
	d->last_sqlerrcode = c->last_sqlerrcode;
	d->last_error = MemoryContextStrdup(batch->cxt, c->last_error);
	(void) hash_search(carried, &key, HASH_REMOVE, NULL);
}

/*
 * Room for one more delivery, when candystore.batch_size was raised by a
 * reload.  The array is sized by the setting, not by its upper bound
 * (WORKER_MAX_BATCH): a Delivery is ~300 bytes, 100,000 of them 30 MB.
 * It never shrinks: a lowered setting leaves the larger array in place.
 */
static void
grow_batch(Batch *batch)
{
	int			limit = Min(worker_batch_size, WORKER_MAX_BATCH);

	batch->capacity = Min(Max(limit, batch->capacity * 2), WORKER_MAX_BATCH);
	batch->d = repalloc(batch->d, sizeof(Delivery) * batch->capacity);
}

/*
 * Takes a complete delivery from the link; false when none is ready, or when
 * the link is lost (*error set) or the broker cancelled our consumer (its
 * queue deleted, say: *cancelled set; the batch in hand can still be acked
 * on the open channel before the link is reopened, which declares the queue
 * again).  The delivery is read frame by frame and copied straight into the
 * batch: amqp_consume_message() would copy it into memory of its own first
 * (a pool page zeroed per message, the body, the names), then we would copy
 * it again.  Once its method has come, the rest of a delivery is waited for
 * (the broker sends it at once), as amqp_consume_message() waits for it.
 */
static bool
take_delivery(AmqpLink *link, Batch *batch, bool *cancelled, char **error)
{
	amqp_frame_t frame;
	struct timeval zero = {0, 0};
	amqp_basic_deliver_t *deliver;
	Delivery   *d;
	MemoryContext old;
	int			rc;

	amqp_maybe_release_buffers(link->conn);
	rc = amqp_simple_wait_frame_noblock(link->conn, &frame, &zero);
	if (rc == AMQP_STATUS_TIMEOUT)
		return false;			/* nothing complete to read yet */
	if (rc != AMQP_STATUS_OK)
	{
		*error = psprintf("%s: %s", link->broker, amqp_error_string2(rc));
		return false;
	}
	if (frame.frame_type != AMQP_FRAME_METHOD || frame.payload.method.id != AMQP_BASIC_DELIVER_METHOD)
	{
		/* a method other than a delivery: a close, or a basic.cancel */
		if ((*error = amqp_link_frame_error(link, &frame)) == NULL &&
			frame.frame_type == AMQP_FRAME_METHOD &&
			frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD)
			*cancelled = true;
		return false;
	}
	/* the method's memory is rabbitmq-c's until the next release of its buffers */
	deliver = frame.payload.method.decoded;
	if ((*error = next_content_frame(link, &frame, AMQP_FRAME_HEADER)) != NULL)
		return false;
	if (batch->n == batch->capacity)
		grow_batch(batch);
	old = MemoryContextSwitchTo(batch->cxt);
	d = &batch->d[batch->n];
	memset(d, 0, sizeof(Delivery));
	copy_delivery(d, deliver, frame.payload.properties.decoded);
	*error = read_body(link, d, frame.payload.properties.body_size);
	MemoryContextSwitchTo(old);
	if (*error != NULL)
		return false;			/* not in the batch: the link is dropped */
	batch->n++;
	if (carried != NULL && d->redelivered && hash_get_num_entries(carried) > 0)
		restore_failures(batch, d);
	worker_stats_add(WC_DELIVERED, 1);
	if (d->redelivered)
		worker_stats_add(WC_REDELIVERED, 1);
	return true;
}

/*
 * Waits ms before the batch is tried again, answering interrupts and
 * reloads, and keeping the broker link alive: while the batch has room, what
 * the broker sends is appended to it (rabbitmq-c sends its heartbeats as it
 * reads); when it is full, a heartbeat is sent each wake-up, and the
 * deliveries wait in the socket (prefetch bounds them).  Returns false, with
 * *error set, when the link is lost: the batch must then be dropped.
 */
static bool
wait_to_retry(WorkerLoop *loop, Batch *batch, long ms, char **error)
{
	AmqpLink   *link = &loop->link;
	bool	   *cancelled = &batch->cancelled;
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
	long		left;

	while ((left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until)) > 0)
	{
		int			limit = Min(worker_batch_size, WORKER_MAX_BATCH);
		int			rc;

		if (*cancelled)
			limit = 0;			/* nothing more will come */
		if (batch->n < limit && (amqp_data_in_buffer(link->conn) || amqp_frames_enqueued(link->conn)))
			rc = 0;
		else
			rc = WaitLatchOrSocket(MyLatch,
								   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH |
								   (batch->n < limit ? WL_SOCKET_READABLE : 0),
								   amqp_link_socket(link),
								   worker_loop_keepalive_ms(Min(left, IDLE_WAKEUP_MS)),
								   PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		(void) worker_loop_reload(loop);
		if (batch->n < limit)
		{
			while (batch->n < limit && take_delivery(link, batch, cancelled, error))
				;
		}
		else
		{
			amqp_frame_t heartbeat = {.frame_type = AMQP_FRAME_HEARTBEAT,.channel = 0};
			int			hrc = amqp_send_frame(link->conn, &heartbeat);

			if (hrc != AMQP_STATUS_OK)
				*error = psprintf("%s: sending a heartbeat: %s", link->broker, amqp_error_string2(hrc));
		}
		if (*error != NULL)
			return false;
	}
	return true;
}

/*
 * Records the batch, retrying in place while the database cannot: returns
 * true once it is committed, false (with *error) if the broker link was lost
 * meanwhile.
 */
static bool
record_until_done(WorkerLoop *loop, Batch *batch, XLogRecPtr *flush_to, char **error)
{
	static MemoryContext retry_cxt = NULL;
	MemoryContext caller = CurrentMemoryContext;
	long		retry_ms = RETRY_MIN_MS;
	bool		retried = false;
	bool		done;

	if (retry_cxt == NULL)
		retry_cxt = AllocSetContextCreate(TopMemoryContext, "candystore ingest retry",
										  ALLOCSET_SMALL_SIZES);
	for (;;)
	{
		BatchFault	fault;
		bool		ok;

		/* what a try allocates outside its transaction: gone at the next */
		MemoryContextReset(retry_cxt);
		MemoryContextSwitchTo(retry_cxt);
		if (outcome_record_batch(batch->d, batch->n, &batch->isolate, &fault, flush_to))
		{
			done = true;
			break;
		}
		retried = true;
		ereport(LOG,
				(errmsg("%s cannot record a batch of %d messages: %s",
						loop->who, batch->n, fault.message),
				 errdetail("SQLSTATE %s (%s). Nothing is acknowledged; retrying in %ld ms.",
						   unpack_sql_state(fault.sqlerrcode), fault.cause,
						   fault.blamed ? 0 : retry_ms)));
		worker_status_db_error(loop->slot, psprintf("SQLSTATE %s: %s",
													unpack_sql_state(fault.sqlerrcode), fault.message),
							   fault.sqlerrcode);
		worker_loop_retrying(loop, fault.cause);
		if (fault.blamed)
		{
			/* the database works: a message failed alone; try again now */
			retry_ms = RETRY_MIN_MS;
			continue;
		}
		MemoryContextSwitchTo(caller);
		/* the batch before is not held unacked for as long as this one fails */
		ack_committed(loop, batch, true, error);
		ok = *error == NULL && wait_to_retry(loop, batch, retry_ms, error);
		if (!ok)
		{
			done = false;
			break;
		}
		retry_ms = Min(retry_ms * 2, worker_reconnect_max_ms);
	}
	MemoryContextSwitchTo(caller);
	MemoryContextReset(retry_cxt);
	if (done && retried)
		worker_loop_status(loop, "consuming");
	return done;
}

/*
 * The link is open: with candystore.consume_dead_letter_queue, also consume
 * the dead-letter queue the link declared, on the same channel (one
 * prefetch window, and the batch's ack-up-to covers both queues).  The
 * deliveries are told apart by consumer tag.  A failure is reported by the
 * next turn, which drops the link and reconnects with backoff.
 */
static void
ingest_connected(void *arg)
{
	Batch	   *batch = arg;
	AmqpLink   *link = &batch_loop->link;
	amqp_rpc_reply_t reply;

	if (!worker_consume_dlq)
		return;
	amqp_basic_consume(link->conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_dlq),
					   amqp_cstring_bytes(DLQ_CONSUMER_TAG), 0, 0, 0, amqp_empty_table);
	reply = amqp_get_rpc_reply(link->conn);
	if (reply.reply_type != AMQP_RESPONSE_NORMAL)
		batch->link_error = MemoryContextStrdup(TopMemoryContext,
												psprintf("%s: starting the consumer of dead-letter queue \"%s\" failed",
														 link->broker, worker_dlq));
}

/*
 * Closing the link now loses nothing: no batch is in hand, and the one
 * committed last is acked (now, if its ack still waited for its flush).
 */
static bool
ingest_link_idle(void *arg)
{
	Batch	   *batch = arg;
	char	   *error = NULL;

	if (batch->n > 0)
		return false;
	ack_committed(batch_loop, batch, true, &error);
	if (error != NULL && batch->link_error == NULL)
		batch->link_error = MemoryContextStrdup(TopMemoryContext, error);
	return error == NULL;
}

/*
 * candystore.require_sync_standby: true when the batch may be recorded now;
 * otherwise the batch is held, unacked, for a while (taking what the broker
 * sends, up to the batch size, and keeping the link alive), and false: the
 * next turn asks again.  *error is set if the link was lost meanwhile.
 */
static bool
standby_allows_commit(WorkerLoop *loop, Batch *batch, char **error)
{
	const char *why;

	if (!worker_require_sync_standby || sync_standby_ready(&why))
	{
		if (batch->awaiting_standby)
		{
			ereport(LOG, (errmsg("%s: a synchronous standby is connected, recording again", loop->who)));
			worker_loop_status(loop, "consuming");
			batch->awaiting_standby = false;
		}
		return true;
	}
	if (!batch->awaiting_standby)
	{
		ereport(LOG,
				(errmsg("%s holds its batch of %d messages unacknowledged: %s", loop->who, batch->n, why),
				 errdetail("candystore.require_sync_standby is on."),
				 errhint("Connect a standby named in synchronous_standby_names, or turn candystore.require_sync_standby off.")));
		worker_loop_status(loop, psprintf("waiting: %s", why));
		batch->awaiting_standby = true;
	}
	(void) wait_to_retry(loop, batch, RETRY_MIN_MS, error);
	return false;
}

/*
 * candystore.debug_ack_delay_ms: the window between a batch's commit and its
 * ack, held open for a test that loses the server in it.  Nothing is read
 * from the broker meanwhile: what came now would be acked unrecorded.
 */
static void
delay_ack_for_tests(WorkerLoop *loop)
{
	TimestampTz until;
	long		left;

	if (worker_debug_ack_delay_ms <= 0)
		return;
	worker_loop_status(loop, "committed, ack delayed");
	until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), worker_debug_ack_delay_ms);
	while ((left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until)) > 0)
	{
		int			rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								   left, PG_WAIT_EXTENSION);

		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	worker_loop_status(loop, "consuming");
}

/*
 * Acks the batch committed last, if its ack is still due: at once when its
 * WAL is flushed (the WAL writer flushes an asynchronous commit's WAL while
 * the next batch is read and checked), else only if wait, after flushing it
 * here.  Nothing is acked before its outcome is on disk.
 */
static void
ack_committed(WorkerLoop *loop, Batch *batch, bool wait, char **error)
{
	if (!batch->unacked || *error != NULL)
		return;
	if (!wait && GetFlushRecPtr(NULL) < batch->unacked_flush_to)
		return;
	/* the test window: after the commit, before the flush (if not flushed yet) and the ack */
	delay_ack_for_tests(loop);
	XLogFlush(batch->unacked_flush_to);
	if (!amqp_link_ack_upto(&loop->link, batch->unacked_tag, error))
		*error = psprintf("%s: %s", loop->link.broker, *error);
	batch->unacked = false;
}

/*
 * Waits for a delivery or the timeout.  A committed batch whose ack waits
 * for its flush is acked first if nothing has come: the broker is not kept
 * waiting for acks while the worker sleeps.
 */
static void
wait_for_delivery(WorkerLoop *loop, Batch *batch, long timeout_ms, char **error)
{
	if (batch->unacked && (worker_loop_wait(loop, 0) & WL_TIMEOUT))
		ack_committed(loop, batch, true, error);
	if (*error == NULL)
		(void) worker_loop_wait(loop, timeout_ms);
}

/*
 * One turn: wait for a delivery (or the batch's timeout), take it, and once
 * the batch is full, timed out or its consumer cancelled, record it and ack.
 * A batch committed asynchronously (outcome.c) is acked once its WAL is
 * flushed: by the next turn that finds it flushed, before the worker would
 * sleep, or before the next batch's ack, whichever comes first.
 */
static void
ingest_turn(WorkerLoop *loop, void *arg)
{
	Batch	   *batch = arg;
	AmqpLink   *link = &loop->link;
	long		timeout_ms = IDLE_WAKEUP_MS;
	int			batch_limit = Min(worker_batch_size, WORKER_MAX_BATCH);
	bool		flush = false;
	char	   *error = NULL;
	XLogRecPtr	flush_to = InvalidXLogRecPtr;

	ack_committed(loop, batch, false, &error);
	if (batch->n > 0)
	{
		long		waited = (GetCurrentTimestamp() - batch->started) / 1000;

		timeout_ms = Max(0, worker_batch_timeout_ms - waited);
		flush = timeout_ms == 0 || batch->n >= batch_limit;
	}

	if (!flush && error == NULL)
		wait_for_delivery(loop, batch, timeout_ms, &error);

	if (!flush && !batch->cancelled && error == NULL)
	{
		int			before = batch->n;

		if (take_delivery(link, batch, &batch->cancelled, &error))
		{
			if (before == 0)
			{
				batch->started = GetCurrentTimestamp();
				batch->isolate = false;
			}
			flush = batch->n >= batch_limit;
		}
		else if (batch->cancelled)
			flush = true;
	}

	if (flush)
		ack_committed(loop, batch, false, &error);
	if (flush && error == NULL && batch->n > 0 && standby_allows_commit(loop, batch, &error) &&
		record_until_done(loop, batch, &flush_to, &error))
	{
		/* the batch before is acked first (acks cover every earlier tag) */
		ack_committed(loop, batch, true, &error);
		batch->unacked = true;
		batch->unacked_tag = batch->d[batch->n - 1].delivery_tag;
		batch->unacked_flush_to = flush_to;
		/* committed (and flushed, unless asynchronous): now the broker may forget them */
		if (XLogRecPtrIsInvalid(flush_to))
			ack_committed(loop, batch, true, &error);
		batch->n = 0;
		MemoryContextReset(batch->cxt);
	}
	if (batch->link_error != NULL && error == NULL)
	{
		error = pstrdup(batch->link_error);
		pfree(batch->link_error);
		batch->link_error = NULL;
	}
	if (batch->cancelled && error == NULL)
		error = psprintf("%s: the broker cancelled the consumer of queue \"%s\" (was it deleted?)",
						 link->broker, worker_queue);

	if (error != NULL)
	{
		/* unacked deliveries return to the queue when the link closes */
		worker_loop_link_lost(loop, error);
		carry_failures(batch);
		/* a committed batch not acked yet is redelivered: its duplicates are recognised */
		batch->unacked = false;
		batch->cancelled = false;
		batch->awaiting_standby = false;
		batch->n = 0;
		MemoryContextReset(batch->cxt);
	}
}

static const WorkerLoopOps ingest_ops = {
	.connection_settings = connection_settings,
	.link_idle = ingest_link_idle,
	.connected = ingest_connected,
	.turn = ingest_turn,
};

void
candystore_ingest_main(Datum arg)
{
	int			slot = DatumGetInt32(arg);
	Batch		batch = {0};
	WorkerLoop	loop = {0};

	loop.slot = slot;
	loop.who = MemoryContextStrdup(TopMemoryContext,
								   psprintf("candystore ingest worker %d", slot + 1));
	loop.connected_state = "consuming";
	loop.connected_verb = "consuming from";
	loop.reconnect_counter = WC_RECONNECTS;
	loop.reset_backoff_on_connect = true;
	loop.ops = &ingest_ops;
	loop.arg = &batch;
	batch_loop = &loop;
	worker_loop_start(&loop, "candystore ingest worker");

	batch.cxt = AllocSetContextCreate(TopMemoryContext, "candystore ingest batch",
									  ALLOCSET_DEFAULT_SIZES);
	batch.capacity = Min(worker_batch_size, WORKER_MAX_BATCH);
	batch.d = MemoryContextAlloc(TopMemoryContext, sizeof(Delivery) * batch.capacity);
	worker_loop_run(&loop);
}
