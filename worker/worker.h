/*
 * worker.h
 *	  The ingest worker: background workers that consume RabbitMQ into the
 *	  event store.  One concern per file:
 *	    guc.c        settings
 *	    stats.c      shared-memory counters and status, and the SQL views
 *	    amqp_link.c  broker connection, topology, reconnect
 *	    outcome.c    one batch: stored, duplicate or dead letter, in one txn
 *	    ingest.c     registration and the consume loop with batching
 */
#ifndef CANDYSTORE_WORKER_H
#define CANDYSTORE_WORKER_H

#include "postgres.h"

#include <amqp.h>

#include "port/atomics.h"
#include "storage/spin.h"

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
	WC_COUNT
} WorkerCounter;

extern void worker_stats_request_shmem(void);
extern void worker_stats_add(WorkerCounter counter, uint64 n);
extern void worker_status_set(int slot, const char *state, const char *broker,
							  bool connected_now);
extern void worker_status_error(int slot, const char *error);

/* amqp_link.c */
typedef struct AmqpLink
{
	amqp_connection_state_t conn;
	char	   *broker;			/* the URL connected to, password removed */
	int			next_url;		/* where the next connection attempt starts */
} AmqpLink;

extern bool amqp_link_open(AmqpLink *link, char **error);
extern void amqp_link_close(AmqpLink *link);
extern int	amqp_link_socket(AmqpLink *link);
extern bool amqp_link_ack_upto(AmqpLink *link, uint64 delivery_tag, char **error);
extern char *amqp_link_headers_json(amqp_basic_properties_t *props);

/* outcome.c */
typedef struct Delivery
{
	uint64		delivery_tag;
	bool		redelivered;
	char	   *routing_key;
	char	   *body;			/* NUL-terminated copy */
	size_t		body_len;
	char	   *headers_json;	/* message headers as JSON text, or NULL */
} Delivery;

extern void outcome_record_batch(Delivery *batch, int n);

/* Registers the settings, shared memory and ingest workers (from _PG_init). */
extern void worker_init(void);

#endif
