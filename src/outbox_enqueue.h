/*
 * outbox_enqueue.h
 *	  One row into candystore.outbox (src/outbox_enqueue.c), for publish().
 */
#ifndef CANDYSTORE_OUTBOX_ENQUEUE_H
#define CANDYSTORE_OUTBOX_ENQUEUE_H

#include "postgres.h"

/* From _PG_init: the table's lookup is dropped when it changes. */
extern void outbox_enqueue_init(void);

/*
 * Enqueues the event at position for routing_key on exchange (NULL: the
 * publisher's candystore.exchange), in the current transaction.
 */
extern void outbox_enqueue(int64 position, text *routing_key, text *exchange);

#endif
