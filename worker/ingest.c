/*
 * ingest.c
 *	  Registration of the ingest workers and their main loop: consume with
 *	  manual acks, gather deliveries into a batch (candystore.batch_size or
 *	  candystore.batch_timeout_ms, whichever comes first), record the batch
 *	  in one transaction, and only then ack everything up to its last
 *	  delivery tag.  The loop sleeps on the latch and the broker socket.
 *
 *	  Failures: a broker error drops the connection (the broker redelivers
 *	  what was not acked) and reconnects with capped exponential backoff; a
 *	  database error ends the process before anything is acked, and the
 *	  postmaster restarts it.  Redeliveries are deduplicated by event id.
 */
#include "postgres.h"

#include <sys/time.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "amqp_headers.h"
#include "worker.h"

#define RECONNECT_MIN_MS 100
#define IDLE_WAKEUP_MS 1000		/* lets rabbitmq-c send heartbeats */

PGDLLEXPORT void candystore_ingest_main(Datum arg);

/* Defines the settings; registers the workers when preloaded. */
void
worker_init(void)
{
	BackgroundWorker bgw;

	worker_define_gucs();
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
	return psprintf("%s|%s|%s|%s|%s|%s|%s|%d|%d|%d", worker_amqp_url, worker_amqp_cacert,
					worker_exchange, worker_queue, worker_binding_keys,
					worker_dlx_exchange, worker_dlq, worker_queue_type,
					worker_prefetch, worker_max_deliveries);
}

/*
 * The delivery, copied out of rabbitmq-c's buffers.  Nothing here throws for
 * what a publisher sent: text that is not valid is kept escaped (and
 * check_message() dead-letters a message whose routing key is not valid);
 * a body of any size is kept whole, for the dead letter.
 */
static void
copy_delivery(Delivery *d, amqp_envelope_t *env)
{
	amqp_basic_properties_t *props = &env->message.properties;

	d->delivery_tag = env->delivery_tag;
	d->redelivered = env->redelivered;
	d->routing_key = amqp_text(env->routing_key.bytes, env->routing_key.len, &d->routing_key_valid);
	d->body_len = env->message.body.len;
	d->body = palloc_extended(d->body_len + 1, MCXT_ALLOC_HUGE);
	if (d->body_len > 0)
		memcpy(d->body, env->message.body.bytes, d->body_len);
	d->body[d->body_len] = '\0';
	d->headers_json = amqp_link_headers_json(props);
	/* the rest only a dead letter needs: copied, rendered then */
	amqp_properties_copy(&d->properties, &d->exchange, props, env->exchange);
}

void
candystore_ingest_main(Datum arg)
{
	int			slot = DatumGetInt32(arg);
	AmqpLink	link = {0};
	MemoryContext batch_cxt;
	MemoryContext link_cxt;
	Delivery   *batch;
	int			nbatch = 0;
	TimestampTz batch_started = 0;
	int			backoff_ms = RECONNECT_MIN_MS;
	bool		ever_connected = false;
	char	   *settings;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	worker_keep_freed_memory();
	BackgroundWorkerInitializeConnection(worker_database, NULL, 0);
	pgstat_report_appname("candystore ingest worker");

	batch_cxt = AllocSetContextCreate(TopMemoryContext, "candystore ingest batch",
									  ALLOCSET_DEFAULT_SIZES);
	link_cxt = AllocSetContextCreate(TopMemoryContext, "candystore ingest link",
									 ALLOCSET_DEFAULT_SIZES);
	batch = MemoryContextAlloc(TopMemoryContext, sizeof(Delivery) * WORKER_MAX_BATCH);
	settings = MemoryContextStrdup(TopMemoryContext, connection_settings());
	worker_status_set(slot, "starting", NULL, false);

	for (;;)
	{
		amqp_envelope_t env;
		amqp_rpc_reply_t res;
		struct timeval zero = {0, 0};
		long		timeout_ms = IDLE_WAKEUP_MS;
		int			batch_limit = Min(worker_batch_size, WORKER_MAX_BATCH);
		bool		flush = false;
		bool		cancelled = false;	/* the broker cancelled our consumer */
		char	   *error = NULL;

		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending && nbatch == 0)
		{
			char	   *now;

			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			now = connection_settings();
			if (strcmp(now, settings) != 0)
			{
				/* nothing is pending: reconnecting loses nothing */
				amqp_link_close(&link);
				pfree(settings);
				settings = MemoryContextStrdup(TopMemoryContext, now);
				worker_status_set(slot, "reconfiguring", NULL, false);
			}
			pfree(now);
		}

		if (link.conn == NULL)
		{
			MemoryContext old;
			bool		ok;

			MemoryContextReset(link_cxt);
			old = MemoryContextSwitchTo(link_cxt);
			worker_status_set(slot, "connecting", NULL, false);
			ok = amqp_link_open(&link, &error);
			MemoryContextSwitchTo(old);
			if (!ok)
			{
				ereport(LOG,
						(errmsg("candystore ingest worker %d cannot reach RabbitMQ: %s", slot + 1, error),
						 errdetail("Retrying in %d ms.", backoff_ms)));
				worker_status_error(slot, error);
				worker_status_set(slot, "waiting to reconnect", NULL, false);
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 backoff_ms, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				backoff_ms = Min(backoff_ms * 2, worker_reconnect_max_ms);
				continue;
			}
			backoff_ms = RECONNECT_MIN_MS;
			if (ever_connected)
				worker_stats_add(WC_RECONNECTS, 1);
			ever_connected = true;
			worker_status_set(slot, "consuming", link.broker, true);
			ereport(LOG, (errmsg("candystore ingest worker %d consuming from %s", slot + 1, link.broker)));
		}

		if (nbatch > 0)
		{
			long		waited = (GetCurrentTimestamp() - batch_started) / 1000;

			timeout_ms = Max(0, worker_batch_timeout_ms - waited);
			flush = timeout_ms == 0 || nbatch >= batch_limit;
		}

		if (!flush && !amqp_data_in_buffer(link.conn) && !amqp_frames_enqueued(link.conn))
		{
			int			rc = WaitLatchOrSocket(MyLatch,
											   WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
											   amqp_link_socket(&link), timeout_ms,
											   PG_WAIT_EXTENSION);

			if (rc & WL_LATCH_SET)
				ResetLatch(MyLatch);
		}

		if (!flush)
		{
			amqp_maybe_release_buffers(link.conn);
			res = amqp_consume_message(link.conn, &env, &zero, 0);
			if (res.reply_type == AMQP_RESPONSE_NORMAL)
			{
				MemoryContext old = MemoryContextSwitchTo(batch_cxt);

				if (nbatch == 0)
					batch_started = GetCurrentTimestamp();
				copy_delivery(&batch[nbatch++], &env);
				MemoryContextSwitchTo(old);
				worker_stats_add(WC_DELIVERED, 1);
				if (env.redelivered)
					worker_stats_add(WC_REDELIVERED, 1);
				amqp_destroy_envelope(&env);
				flush = nbatch >= batch_limit;
			}
			else if (res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
					 res.library_error == AMQP_STATUS_TIMEOUT)
				 /* nothing complete to read yet */ ;
			else if (res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
					 res.library_error == AMQP_STATUS_UNEXPECTED_STATE)
			{
				amqp_frame_t frame;

				/*
				 * A method other than a delivery: a close means the link is
				 * gone; a basic.cancel that the broker cancelled our consumer
				 * (its queue deleted, say).  The batch in hand is still
				 * stored and acked on the open channel, then the link is
				 * reopened, which declares the queue again.
				 */
				if (amqp_simple_wait_frame_noblock(link.conn, &frame, &zero) == AMQP_STATUS_OK &&
					frame.frame_type == AMQP_FRAME_METHOD)
				{
					if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
						frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)
						error = psprintf("%s: the broker closed the %s", link.broker,
										 frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ? "channel" : "connection");
					else if (frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD)
					{
						cancelled = true;
						flush = true;
					}
				}
			}
			else
				error = psprintf("%s: %s", link.broker,
								 res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ?
								 amqp_error_string2(res.library_error) : "broker exception");
		}

		if (flush && error == NULL && nbatch > 0)
		{
			outcome_record_batch(batch, nbatch);
			/* committed: now, and only now, the broker may forget them */
			if (!amqp_link_ack_upto(&link, batch[nbatch - 1].delivery_tag, &error))
				error = psprintf("%s: %s", link.broker, error);
			nbatch = 0;
			MemoryContextReset(batch_cxt);
		}
		if (cancelled && error == NULL)
			error = psprintf("%s: the broker cancelled the consumer of queue \"%s\" (was it deleted?)",
							 link.broker, worker_queue);

		if (error != NULL)
		{
			/* unacked deliveries return to the queue when the link closes */
			ereport(LOG, (errmsg("candystore ingest worker %d lost RabbitMQ: %s", slot + 1, error)));
			worker_status_error(slot, error);
			worker_status_set(slot, "disconnected", NULL, false);
			amqp_link_close(&link);
			nbatch = 0;
			MemoryContextReset(batch_cxt);
		}
	}
}
