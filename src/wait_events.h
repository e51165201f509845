/*
 * wait_events.h
 *	  candystore.wait_for_events(): readers sleep on a condition variable in
 *	  shared memory that every transaction that appended broadcasts when it
 *	  ends.
 */
#ifndef CANDYSTORE_WAIT_EVENTS_H
#define CANDYSTORE_WAIT_EVENTS_H

/* From _PG_init: asks for the shared memory when preloaded. */
extern void wait_events_request_shmem(void);
/* From the end of a transaction that appended: wakes the waiting readers. */
extern void wait_events_wake(void);
/* From the end of any other transaction that held an xid: wakes the waiting
 * readers if one of them is held behind the read horizon. */
extern void wait_events_wake_if_behind(void);

#endif
