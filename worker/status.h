/*
 * status.h
 *	  Counters since server start and each worker's status, in shared
 *	  memory (stats.c): candystore.stats and candystore.worker_status().
 */
#ifndef CANDYSTORE_WORKER_STATUS_H
#define CANDYSTORE_WORKER_STATUS_H

#include "settings.h"

#define WORKER_TEXT_LEN 256		/* status strings are truncated to this */

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

#endif
