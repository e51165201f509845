/*
 * worker.h
 *	  What every candystore background-worker process does, whichever
 *	  worker it is; and the map of worker/.
 *
 *	  Two background workers: the ingest worker, which consumes RabbitMQ
 *	  into the event store, and the outbox publisher, which sends committed
 *	  outbox rows.  One concern per file (its header in parentheses):
 *	  shared by both
 *	    worker_loop.c  the main loop: start-up, reloads, the broker link
 *	                 with backoff, status, the latch wait; a database error
 *	                 of the publisher's retried (worker_loop.h)
 *	    error_cause.c  whether a database error is the message's or the
 *	                 environment's, and its label (worker.h)
 *	    settings.c   their settings (settings.h; defined through
 *	                 workers_init.h's functions, from _PG_init)
 *	    stats.c      shared-memory counters and status, and the SQL views
 *	                 (status.h)
 *	    amqp_link.c  broker connection, topology, reconnect, and the one
 *	                 decoding of the broker's close methods (amqp_link.h)
 *	    amqp_tls.c   amqps://: the broker's certificate verified, failing
 *	                 closed (amqp_link.h)
 *	    extension_version.c  whether the SQL objects are the library's
 *	                 version (worker.h)
 *	    durability.c the workers' synchronous_commit, pinned to at least on
 *	                 (worker.h)
 *	    process_memory.c  malloc settings for the workers' batch memory
 *	                 (worker.h)
 *	  the ingest worker
 *	    ingest.c     registration and the turn of the loop: consume, batch,
 *	                 record, ack (workers_init.h)
 *	    outcome.c    one batch: stored, duplicate or dead letter, in one txn
 *	                 (ingest.h)
 *	    message_identity.c  the event id of a body that is not an event
 *	                 (ingest.h)
 *	    amqp_headers.c  headers and properties as JSON, invalid text escaped
 *	                 (amqp_headers.h)
 *	  the outbox publisher
 *	    publisher.c        registration, wake-up and the turn of the loop:
 *	                       claim, send, confirm, mark (workers_init.h; woken
 *	                       through src/outbox_wake.c)
 *	    publisher_batch.c  the outbox rows: due batch, marks, retries (SQL)
 *	                       (publisher.h)
 *	    publisher_send.c   one batch to the broker with publisher confirms
 *	                       (publisher.h)
 */
#ifndef CANDYSTORE_WORKER_H
#define CANDYSTORE_WORKER_H

/* process_memory.c */
extern void worker_keep_freed_memory(void);

/* extension_version.c */
/* candystore's SQLSTATE for "the extension is not at the library's version" */
#define ERRCODE_EXTENSION_NOT_UPDATED MAKE_SQLSTATE('5','5','V','0','1')
typedef enum ExtensionState
{
	EXTENSION_READY,			/* created, at the library's version */
	EXTENSION_MISSING,			/* not created in this database */
	EXTENSION_OTHER_VERSION		/* created, ALTER EXTENSION UPDATE not yet run */
} ExtensionState;
extern ExtensionState worker_extension_state(char **installed);
/*
 * Why both workers wait while the extension is not at the library's
 * version, as worker_status() shows it ("retrying: extension missing"):
 * the ingest worker through error_cause.c, the publisher directly.
 */
#define EXTENSION_MISSING_CAUSE "extension missing"
#define EXTENSION_NOT_UPDATED_CAUSE "extension not updated"
extern void worker_require_extension(const char *who);

/* error_cause.c: whose fault a database error is, and its label */
typedef enum ErrorCause
{
	CAUSE_MESSAGE,				/* ingest: dead-letter the message */
	CAUSE_ENVIRONMENT			/* retry */
} ErrorCause;
extern ErrorCause error_cause(int sqlerrcode, const char **label);

/* durability.c */
extern void worker_pin_durability(int slot);

#endif
