/*
 * worker.h
 *	  The ingest worker: background workers that consume RabbitMQ into the
 *	  event store.  One concern per file:
 *	    guc.c        settings
 *	    stats.c      shared-memory counters and status, and the SQL views
 *	    amqp_link.c  broker connection, topology, reconnect
 *	    amqp_tls.c   amqps://: the broker's certificate verified, failing closed
 *	    outcome.c    one batch: stored, duplicate or dead letter, in one txn
 *	    error_cause.c  whether an error is the message's or the environment's
 *	    extension_version.c  whether the SQL objects are the library's version
 *	    durability.c the workers' synchronous_commit, pinned to at least on
 *	    amqp_headers.c  headers and properties as JSON, invalid text escaped
 *	    message_identity.c  the event id of a body that is not an event
 *	    ingest.c     registration and the consume loop with batching
 *	    process_memory.c  malloc settings for the workers' batch memory
 *	  and the outbox publisher, which sends committed outbox rows:
 *	    publisher.c        registration, wake-up and the publish loop
 *	    publisher_batch.c  the outbox rows: due batch, marks, retries (SQL)
 *	    publisher_send.c   one batch to the broker with publisher confirms
 */
#ifndef CANDYSTORE_WORKER_H
#define CANDYSTORE_WORKER_H

#include "postgres.h"

#include <amqp.h>

#include "nodes/pg_list.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "workers_init.h"

#define WORKER_MAX_INGEST 16
#define WORKER_TEXT_LEN 256		/* status strings are truncated to this */
#define WORKER_MAX_BATCH 100000	/* upper bound of candystore.batch_size */

/* guc.c */
extern char *worker_database;
extern char *worker_amqp_url;
extern char *worker_amqp_cacert;
extern char *worker_exchange;
extern char *worker_queue;
extern char *worker_binding_keys;
extern char *worker_dlx_exchange;
extern char *worker_dlq;
extern int	worker_queue_type;
extern int	worker_batch_size;
extern int	worker_batch_timeout_ms;
extern int	worker_prefetch;
extern int	worker_ingest_workers;
extern int	worker_max_deliveries;
extern int	worker_reconnect_max_ms;
extern bool worker_outbox_publisher;
extern int	worker_outbox_batch_size;
extern int	worker_outbox_poll_ms;
extern int	worker_outbox_retry_max_ms;
extern int	worker_outbox_confirm_timeout_ms;
extern int	worker_outbox_test_mark_delay_ms;
extern int	worker_max_message_failures;
extern int	worker_max_message_bytes;
extern int	worker_outbox_max_attempts;

/* process_memory.c */
extern void worker_keep_freed_memory(void);

enum
{
	QUEUE_TYPE_CLASSIC,
	QUEUE_TYPE_QUORUM
};

extern void worker_define_gucs(void);

/* stats.c */
typedef enum WorkerCounter
{
	WC_DELIVERED,
	WC_STORED,
	WC_DUPLICATES,
	WC_DEAD_LETTERED,
	WC_REDELIVERED,
	WC_BATCHES,
	WC_RECONNECTS,
	/* the outbox publisher */
	WC_OUTBOX_PUBLISHED,		/* rows marked published */
	WC_OUTBOX_CONFIRMS,			/* messages the broker confirmed (basic.ack) */
	WC_OUTBOX_NACKS,			/* messages the broker refused (basic.nack) */
	WC_OUTBOX_RETRIES,			/* rows that failed and were scheduled again */
	WC_OUTBOX_BATCHES,
	WC_OUTBOX_RECONNECTS,
	WC_COUNT
} WorkerCounter;

#define WC_INGEST_COUNT WC_OUTBOX_PUBLISHED	/* the ingest worker's counters come first */

/* worker_status slot of the outbox publisher, after the ingest workers' */
#define WORKER_PUBLISHER_SLOT WORKER_MAX_INGEST

extern void worker_stats_request_shmem(void);
extern void worker_stats_add(WorkerCounter counter, uint64 n);
extern void worker_status_set(int slot, const char *state, const char *broker,
							  bool connected_now);
extern void worker_status_error(int slot, const char *error);
extern void worker_status_db_error(int slot, const char *error, int sqlerrcode);
extern void worker_status_durability(int slot, const char *synchronous_commit);

/* amqp_link.c */
typedef struct AmqpLink
{
	amqp_connection_state_t conn;
	char	   *broker;			/* the URL connected to, password removed */
	int			next_url;		/* where the next connection attempt starts */
	bool		publishing;		/* set before opening: the publisher's link */
	uint64		next_tag;		/* publishing: delivery tag of the next publish */
	List	   *exchanges_ok;	/* publishing: exchanges known to exist */
} AmqpLink;

extern bool amqp_link_open(AmqpLink *link, char **error);
extern void amqp_link_close(AmqpLink *link);
extern int	amqp_link_socket(AmqpLink *link);
extern bool amqp_link_ack_upto(AmqpLink *link, uint64 delivery_tag, char **error);
extern char *amqp_link_headers_json(amqp_basic_properties_t *props);
extern bool amqp_link_exchange_exists(AmqpLink *link, const char *exchange, char **error);
extern char *amqp_link_frame_error(AmqpLink *link, amqp_frame_t *frame);

/* amqp_tls.c */
extern char *amqp_tls_prepare(amqp_socket_t *sock, const char *host);
extern char *amqp_tls_failure(int status, const char *host);

/* outcome.c */
typedef struct Delivery
{
	uint64		delivery_tag;
	bool		redelivered;
	char	   *routing_key;
	char	   *body;			/* NUL-terminated copy */
	size_t		body_len;
	char	   *headers_json;	/* message headers as JSON text, or NULL */
	/* while its batch is retried (outcome.c); zero for a new delivery */
	int			failures;		/* tries it failed, blamed on it */
	bool		suspect;		/* it failed the last try: tried last */
	int			last_sqlerrcode;	/* its last failure */
	char	   *last_error;
	/* what identifies the message and what to record with a dead letter */
	bool		routing_key_valid;	/* else routing_key is its escaped form */
	amqp_bytes_t exchange;		/* copies, rendered only for a dead letter */
	amqp_basic_properties_t properties; /* (all but the headers) */
} Delivery;

/* Why a batch could not be recorded (nothing of it committed). */
typedef struct BatchFault
{
	int			sqlerrcode;
	const char *cause;			/* error_cause()'s label */
	char	   *message;
	bool		blamed;			/* a failure was counted against a message */
} BatchFault;

extern bool outcome_record_batch(Delivery *batch, int n, bool *isolate, BatchFault *fault);

/* extension_version.c */
/* candystore's SQLSTATE for "the extension is not at the library's version" */
#define ERRCODE_EXTENSION_NOT_UPDATED MAKE_SQLSTATE('5','5','V','0','1')
extern void worker_require_extension(const char *who);

/* error_cause.c */
typedef enum ErrorCause
{
	CAUSE_MESSAGE,				/* dead-letter the message */
	CAUSE_ENVIRONMENT			/* retry the batch */
} ErrorCause;

extern ErrorCause error_cause(int sqlerrcode, const char **label);

/* durability.c */
extern void worker_pin_durability(int slot);

/* message_identity.c */
extern char *message_event_id(char *body, size_t len);

/* publisher_batch.c */
typedef enum OutboxRowOutcome
{
	ROW_UNSENT,					/* not sent, or sent without a confirm */
	ROW_CONFIRMED,				/* the broker confirmed it */
	ROW_FAILED					/* refused or unsendable: retry later */
} OutboxRowOutcome;

typedef struct OutboxRow
{
	int64		id;
	char	   *exchange;		/* the row's, or candystore.exchange (UTF-8) */
	char	   *routing_key;	/* UTF-8 */
	char	   *event_id;
	char	   *body;			/* the stored envelope, as jsonb text (UTF-8) */
	size_t		body_len;
	amqp_table_t headers;		/* from the row's headers jsonb */
	OutboxRowOutcome outcome;
	char	   *error;			/* ROW_FAILED: why */
	bool		unsendable;		/* ROW_FAILED: AMQP cannot carry it; park now */
} OutboxRow;

/* A batch of rows published and waiting for (or holding) its confirms. */
typedef struct OutboxBatch
{
	MemoryContext cxt;			/* the batch's rows live here */
	OutboxRow  *rows;
	int			n;				/* rows read */
	int		   *sent_rows;		/* publish k of the batch carried rows[sent_rows[k]] */
	int			sent;			/* publishes made */
	int			settled;		/* of those, acked or nacked */
	uint64		first_tag;		/* delivery tag of publish 0 */
	TimestampTz deadline;		/* when its confirms are overdue */
} OutboxBatch;

/* What became of the broker link while publishing or reading confirms. */
typedef enum OutboxLinkResult
{
	OUTBOX_LINK_OK,
	OUTBOX_ROW_REFUSED,			/* the broker closed the channel over a row now failed */
	OUTBOX_CHANNEL_CLOSED,		/* the broker closed the channel; which row is unknown */
	OUTBOX_LINK_LOST			/* the connection is gone or unusable */
} OutboxLinkResult;

/* publisher_fetch_due() finds no rows to read: */
#define OUTBOX_NO_EXTENSION (-1)	/* candystore is not created in the database */
#define OUTBOX_OLD_EXTENSION (-2)	/* an older version, before ALTER EXTENSION UPDATE */

extern int	publisher_fetch_due(OutboxRow *rows, int max, Datum *exclude, int nexclude,
								long *next_due_ms);
extern void publisher_record_outcomes(OutboxRow *rows, int n, List **failed_keys,
									  MemoryContext keys_cxt);
extern void publisher_record_outage(const char *error);

/* publisher_send.c */
extern OutboxLinkResult publisher_publish(AmqpLink *link, OutboxBatch *inflight, int ninflight,
										  char **error);
extern OutboxLinkResult publisher_read_confirms(AmqpLink *link, OutboxBatch *inflight,
												int ninflight, char **error);
extern bool publisher_reopen_channel(AmqpLink *link, char **error);

extern bool publisher_registered(void);

#endif
