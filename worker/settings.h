/*
 * settings.h
 *	  The workers' settings (candystore.*), defined in settings.c: the
 *	  broker connection both workers share, the ingest worker's, and the
 *	  outbox publisher's.  The functions that define them are declared in
 *	  workers_init.h, for _PG_init.
 */
#ifndef CANDYSTORE_WORKER_SETTINGS_H
#define CANDYSTORE_WORKER_SETTINGS_H

#define WORKER_MAX_INGEST 16		/* upper bound of candystore.ingest_workers */
#define WORKER_MAX_BATCH 100000	/* upper bound of candystore.batch_size */

enum
{
	QUEUE_TYPE_CLASSIC,
	QUEUE_TYPE_QUORUM
};

/* the database and the broker connection (both workers) */
extern char *worker_database;
extern char *worker_amqp_url;
extern char *worker_amqp_cacert;
extern char *worker_exchange;
extern int	worker_reconnect_max_ms;
extern int	worker_amqp_heartbeat;

/* the ingest worker */
extern char *worker_queue;
extern char *worker_binding_keys;
extern char *worker_dlx_exchange;
extern char *worker_dlq;
extern bool worker_consume_dlq;
extern int	worker_queue_type;
extern int	worker_dlq_type;
extern int	worker_batch_size;
extern int	worker_batch_timeout_ms;
extern int	worker_prefetch;
extern int	worker_ingest_workers;
extern int	worker_max_deliveries;
extern int	worker_max_message_failures;
extern int	worker_max_message_bytes;
extern bool worker_require_sync_standby;
extern int	worker_debug_ack_delay_ms;

/* cells (48_cells.sql reads candystore.cell_id) */
#define CELL_ID_MAX_LEN 63
extern char *worker_cell_id;
extern char *worker_cell_exchange;
extern char *worker_cell_hash_header;
extern int	worker_cell_weight;

/* the outbox publisher */
extern bool worker_outbox_publisher;
extern int	worker_outbox_batch_size;
extern int	worker_outbox_poll_ms;
extern int	worker_outbox_retry_max_ms;
extern int	worker_outbox_confirm_timeout_ms;
extern int	worker_outbox_test_mark_delay_ms;
extern int	worker_outbox_max_attempts;

/* Whether the settings have the outbox publisher run (it is registered). */
extern bool publisher_registered(void);

#endif
