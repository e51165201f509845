/*
 * settings.c
 *	  The workers' settings: the database and broker connection both
 *	  workers use and the ingest worker's (ingest_define_settings), and the
 *	  outbox publisher's (outbox_define_settings).  Connection, batching and
 *	  publishing settings reload on SIGHUP; the database, the number of
 *	  ingest workers and whether the publisher runs need a restart (the
 *	  workers are registered at postmaster start).
 */
#include "postgres.h"

#include "miscadmin.h"

#include "utils/guc.h"
#include "utils/memutils.h"

#include "outbox_limits.h"
#include "settings.h"
#include "workers_init.h"

char	   *worker_database = NULL;
char	   *worker_amqp_url = NULL;
char	   *worker_amqp_cacert = NULL;
char	   *worker_exchange = NULL;
char	   *worker_queue = NULL;
char	   *worker_binding_keys = NULL;
char	   *worker_dlx_exchange = NULL;
char	   *worker_dlq = NULL;
bool		worker_consume_dlq = false;
int			worker_queue_type = QUEUE_TYPE_CLASSIC;
int			worker_dlq_type = QUEUE_TYPE_CLASSIC;
int			worker_amqp_heartbeat = 60;
int			worker_batch_size = 500;
int			worker_batch_timeout_ms = 20;
int			worker_prefetch = 2000;
int			worker_ingest_workers = 1;
int			worker_max_deliveries = 5;
int			worker_reconnect_max_ms = 30000;
bool		worker_outbox_publisher = false;	/* exists only when preloaded */
int			worker_outbox_batch_size = 500;
int			worker_outbox_poll_ms = 1000;
int			worker_outbox_retry_max_ms = 60000;
int			worker_outbox_confirm_timeout_ms = 30000;
int			worker_outbox_test_mark_delay_ms = 0;
int			worker_max_message_failures = 5;
int			worker_max_message_bytes = 16 * 1024 * 1024;
bool		worker_require_sync_standby = false;
int			worker_debug_ack_delay_ms = 0;
char	   *worker_cell_id = NULL;
char	   *worker_cell_exchange = NULL;
char	   *worker_cell_hash_header = NULL;
int			worker_cell_weight = 1;
int			worker_outbox_max_attempts = 10;
int			outbox_max_message_bytes = 16 * 1024 * 1024;

/* The publisher runs when enabled and given a database to publish from. */
bool
publisher_registered(void)
{
	return worker_outbox_publisher && worker_database != NULL && worker_database[0] != '\0';
}

static const struct config_enum_entry queue_type_options[] = {
	{"classic", QUEUE_TYPE_CLASSIC, false},
	{"quorum", QUEUE_TYPE_QUORUM, false},
	{NULL, 0, false}
};

/*
 * A cell id names this installation in the cursors readers merge cells with
 * (read_cell(), 48_cells.sql): '<cell>:<cursor>' entries joined by ','.  So
 * it holds neither, nor anything a reader would have to quote.
 */
static bool
check_cell_id(char **newval, void **extra pg_attribute_unused(),
			  GucSource source pg_attribute_unused())
{
	size_t		len = strlen(*newval);

	if (len > CELL_ID_MAX_LEN)
	{
		GUC_check_errdetail("A cell id is at most %d characters.", CELL_ID_MAX_LEN);
		return false;
	}
	for (const char *c = *newval; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
		{
			GUC_check_errdetail("A cell id consists of letters, digits, '_' and '-'.");
			return false;
		}
	return true;
}

/* The database, the broker connection and the ingest worker's settings. */
void
ingest_define_settings(void)
{
	/*
	 * Settings fixed at server start exist only when candystore is preloaded:
	 * PostgreSQL refuses to create them later, and without preloading there
	 * are no workers for them to configure.
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomStringVariable("candystore.database",
								   "Database the ingest worker stores into; empty disables the worker.",
								   NULL, &worker_database, "",
								   PGC_POSTMASTER, 0, NULL, NULL, NULL);
		DefineCustomIntVariable("candystore.ingest_workers",
								"Number of competing ingest workers.",
								NULL, &worker_ingest_workers, 1, 0, WORKER_MAX_INGEST,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	}
	DefineCustomStringVariable("candystore.amqp_url",
							   "RabbitMQ URL(s), comma-separated for a cluster, tried in turn.",
							   "amqps:// URLs verify the broker's certificate and host name.",
							   &worker_amqp_url, "amqp://guest:guest@localhost:5672/",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.amqp_heartbeat",
							"AMQP heartbeat interval asked of the broker, in seconds; 0 turns heartbeats off.",
							"A broker node that stops answering is given up after about twice this.",
							&worker_amqp_heartbeat, 60, 0, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomStringVariable("candystore.amqp_cacert",
							   "CA certificate file (PEM) amqps:// brokers are verified against.",
							   "Empty: the system's trusted CA certificates.",
							   &worker_amqp_cacert, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("candystore.exchange",
							   "Topic exchange the ingest queue is bound to.",
							   NULL, &worker_exchange, "bloodbank.events.v1",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("candystore.queue",
							   "Durable queue the ingest worker consumes.",
							   NULL, &worker_queue, "event_store_manager_queue",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("candystore.binding_keys",
							   "Comma-separated binding keys of the ingest queue.",
							   NULL, &worker_binding_keys, "#",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("candystore.dead_letter_exchange",
							   "Exchange RabbitMQ dead-letters undeliverable messages to.",
							   NULL, &worker_dlx_exchange, "event_store_manager_dlx",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("candystore.dead_letter_queue",
							   "Queue bound to the dead-letter exchange.",
							   NULL, &worker_dlq, "event_store_manager_dlq",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("candystore.consume_dead_letter_queue",
							 "Whether the ingest worker also consumes candystore.dead_letter_queue into candystore.dead_letters.",
							 "Each message RabbitMQ dead-lettered is recorded with SQLSTATE 58V01 and its x-death header, so that it can be redriven.",
							 &worker_consume_dlq, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("candystore.queue_type",
							 "Type of the ingest queue when it is declared: classic or quorum.",
							 NULL, &worker_queue_type, QUEUE_TYPE_CLASSIC, queue_type_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("candystore.dead_letter_queue_type",
							 "Type of the dead-letter queue when it is declared: classic or quorum.",
							 "quorum replicates it across a RabbitMQ cluster.",
							 &worker_dlq_type, QUEUE_TYPE_CLASSIC, queue_type_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.batch_size",
							"Most deliveries stored in one transaction.",
							NULL, &worker_batch_size, 500, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.batch_timeout_ms",
							"Longest a delivery waits for its batch to fill before the batch commits.",
							NULL, &worker_batch_timeout_ms, 20, 0, 60000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.prefetch",
							"Unacknowledged deliveries RabbitMQ may send ahead (basic.qos).",
							NULL, &worker_prefetch, 2000, 1, 65535,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.max_deliveries",
							"Deliveries of one message before RabbitMQ dead-letters it (quorum queues: x-delivery-limit).",
							NULL, &worker_max_deliveries, 5, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.reconnect_max_ms",
							"Cap of the exponential backoff between broker connection attempts and between retries of a batch the database refused.",
							NULL, &worker_reconnect_max_ms, 30000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.max_message_failures",
							"Failed tries of one message, while the other messages of its batch are stored, before the ingest worker dead-letters it.",
							"Only errors not known to be the message's count (class 22, 23 and 54 dead-letter it at once); a fault that fails every message counts against none.",
							&worker_max_message_failures, 5, 1, 1000,
							PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);

	/*
	 * What a message may hold.  Larger bodies are dead-lettered unparsed.
	 * The cap keeps every body the worker parses inside jsonb's own limits
	 * (256MB per container, MaxAllocSize while building it: a JSON text can
	 * grow about 6 times as jsonb, and 32 bytes per element while parsed).
	 * Superuser-only: a writer must not widen what the worker takes in.
	 */
	DefineCustomIntVariable("candystore.max_message_bytes",
							"Largest message body the ingest worker parses; larger ones are dead-lettered (54000).",
							NULL, &worker_max_message_bytes, 16 * 1024 * 1024, 1, 32 * 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE | GUC_SUPERUSER_ONLY, NULL, NULL, NULL);

	/* an ack must survive a failover: sync_standby.c */
	DefineCustomBoolVariable("candystore.require_sync_standby",
							 "The ingest worker acks nothing while no synchronous standby is connected.",
							 "It holds its batch uncommitted and unacked, and says so in worker_status(), while synchronous_standby_names is empty or fewer standbys than it asks for are connected.",
							 &worker_require_sync_standby, false,
							 PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);

	/*
	 * For the failover tests: a committed batch waits this long before its
	 * ack, so that a test can lose the primary between the two (PostgreSQL
	 * 15 has no injection points).  Never for production.
	 */
	DefineCustomIntVariable("candystore.debug_ack_delay_ms",
							"Developer option: the ingest worker waits this long between a batch's commit and its ack.",
							"For tests that kill the server in that window; worker_status() says 'committed, ack delayed' meanwhile.",
							&worker_debug_ack_delay_ms, 0, 0, 600000,
							PGC_SIGHUP, GUC_UNIT_MS | GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);
	/* cells: independent installations behind one consistent-hash exchange */
	DefineCustomStringVariable("candystore.cell_id",
							   "Name of this cell (installation) in the cursors of read_cell(); empty: not a cell.",
							   "Letters, digits, '_' and '-'; unique among the cells a reader merges.",
							   &worker_cell_id, "",
							   PGC_SIGHUP, 0, check_cell_id, NULL, NULL);
	DefineCustomStringVariable("candystore.cell_exchange",
							   "x-consistent-hash exchange the ingest queue is bound to instead of candystore.exchange; empty: no cells.",
							   "It is bound to candystore.exchange with candystore.binding_keys and splits the messages between the cells' queues by their flow key.",
							   &worker_cell_exchange, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("candystore.cell_hash_header",
							   "Message header the cell exchange hashes (the flow key); empty: the correlation_id property.",
							   "Every cell must declare the exchange alike.",
							   &worker_cell_hash_header, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.cell_weight",
							"This cell's share of the flow keys, relative to the other cells' weights.",
							"The binding key of the ingest queue on candystore.cell_exchange (points on the hash ring).",
							&worker_cell_weight, 1, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
}

/*
 * The outbox publisher's settings, and what publish() accepts into the
 * outbox.  The connection is ingest_define_settings()'s.
 */
void
outbox_define_settings(void)
{
	/* like candystore.database: only when preloaded */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomBoolVariable("candystore.outbox_publisher",
								 "Runs the outbox publisher worker (with candystore.database set).",
								 NULL, &worker_outbox_publisher, true,
								 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.outbox_batch_size",
							"Most outbox rows published and confirmed as one batch.",
							NULL, &worker_outbox_batch_size, 500, 1, WORKER_MAX_BATCH,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.outbox_poll_ms",
							"Longest the outbox publisher sleeps without a wake-up from a commit.",
							NULL, &worker_outbox_poll_ms, 1000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.outbox_retry_max_ms",
							"Cap of the exponential backoff before a failed outbox row is tried again.",
							NULL, &worker_outbox_retry_max_ms, 60000, 100, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.outbox_confirm_timeout_ms",
							"Longest the outbox publisher waits for the broker to confirm a batch.",
							NULL, &worker_outbox_confirm_timeout_ms, 30000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.outbox_max_attempts",
							"Failed attempts (refused or unsendable) after which an outbox row is parked.",
							"A parked row waits for candystore.retry_outbox().",
							&worker_outbox_max_attempts, 10, 1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	/* it decides what publish() accepts: a writer must not raise it */
	DefineCustomIntVariable("candystore.outbox_max_message_bytes",
							"Largest message body (envelope as JSON text) the outbox accepts and sends.",
							"Keep it at or below the broker's max_message_size.",
							&outbox_max_message_bytes, 16 * 1024 * 1024, 1024, MaxAllocSize,
							PGC_SUSET, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.outbox_test_mark_delay_ms",
							"Testing only: pause between a batch's confirms and marking it published.",
							NULL, &worker_outbox_test_mark_delay_ms, 0, 0, 600000,
							PGC_SIGHUP, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							NULL, NULL, NULL);
}
