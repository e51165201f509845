/*
 * workers_init.h
 *	  What _PG_init (src/candystore.c) calls of the background workers.
 *	  Free of <amqp.h>: the SQL side does not compile against rabbitmq-c.
 */
#ifndef CANDYSTORE_WORKERS_INIT_H
#define CANDYSTORE_WORKERS_INIT_H

/*
 * settings.c: define the settings, the connection's and the ingest
 * worker's, and the outbox publisher's; before worker_init().
 */
extern void ingest_define_settings(void);
extern void outbox_define_settings(void);

/* Registers the shared memory and the ingest workers (ingest.c). */
extern void worker_init(void);
/* Registers the outbox publisher, after worker_init (publisher.c). */
extern void publisher_init(void);

#endif
