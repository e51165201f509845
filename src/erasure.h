/*
 * erasure.h
 *	  Erasure by tombstone (erasure.c): candystore.erase(), erase_subject(),
 *	  and what the append path needs to know about tombstones.
 */
#ifndef CANDYSTORE_ERASURE_H
#define CANDYSTORE_ERASURE_H

#include "postgres.h"
#include "utils/jsonb.h"

/*
 * True only while erase() runs its own UPDATE of event_log: the one change
 * the immutability trigger lets through.  A C variable, so no SQL can set it.
 */
extern bool erasure_in_progress;

/* Whether the envelope is a tombstone: its payload is {"candystore_erasure": {...}}. */
extern bool erasure_is_tombstone(Jsonb *envelope);

/*
 * Whether stored is the tombstone of incoming: the SHA-256 it keeps is
 * incoming's (a redelivered original, a duplicate rather than a conflict).
 */
extern bool erasure_tombstone_of(Jsonb *stored, Jsonb *incoming);

#endif
