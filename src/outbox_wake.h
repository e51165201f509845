/*
 * outbox_wake.h
 *	  The outbox publisher's wake-up: the publisher announces its latch in
 *	  shared memory, and a transaction that enqueued outbox rows sets it
 *	  when it commits.  Used by both sides (src/notify.c and
 *	  worker/publisher.c), so neither depends on the other.
 */
#ifndef CANDYSTORE_OUTBOX_WAKE_H
#define CANDYSTORE_OUTBOX_WAKE_H

#include "storage/latch.h"

/* From _PG_init: asks for the shared memory when preloaded. */
extern void outbox_wake_request_shmem(void);
/* The publisher announces (or, with NULL, withdraws) the latch to wake it by. */
extern void outbox_wake_set_latch(Latch *latch);
/* Wakes the publisher, if one runs; from the end of a committed transaction. */
extern void outbox_wake_publisher(void);

#endif
