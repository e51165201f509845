/*
 * notify.h
 *	  One NOTIFY per committing transaction that appended events, on channel
 *	  candystore_events, carrying the highest position it appended.
 */
#ifndef CANDYSTORE_NOTIFY_H
#define CANDYSTORE_NOTIFY_H

#define CANDYSTORE_NOTIFY_CHANNEL "candystore_events"

extern void notify_init(void);
extern void notify_note_position(int64 position);
/* Wake the outbox publisher when the current transaction commits. */
extern void notify_outbox_enqueued(void);

#endif
