/*
 * outbox_wake.c
 *	  The outbox publisher's latch, in shared memory of its own, so that a
 *	  committing transaction that enqueued outbox rows (notify.c) can wake
 *	  the publisher (worker/publisher.c) without waiting for its poll.
 *
 * Without preloading there is no publisher and no shared memory: waking
 * does nothing.
 */
#include "postgres.h"

#include "storage/latch.h"
#include "storage/spin.h"

#include "outbox_wake.h"
#include "shmem_area.h"

typedef struct OutboxWakeShared
{
	slock_t		mutex;
	Latch	   *latch;			/* NULL while no publisher runs */
} OutboxWakeShared;

static OutboxWakeShared *wake_shared = NULL;

static void
outbox_wake_shmem_init(void *area)
{
	OutboxWakeShared *s = area;

	SpinLockInit(&s->mutex);
	s->latch = NULL;
}

void
outbox_wake_request_shmem(void)
{
	shmem_area_register("candystore outbox wake-up", sizeof(OutboxWakeShared),
						(void **) &wake_shared, outbox_wake_shmem_init);
}

void
outbox_wake_set_latch(Latch *latch)
{
	if (wake_shared == NULL)
		return;
	SpinLockAcquire(&wake_shared->mutex);
	wake_shared->latch = latch;
	SpinLockRelease(&wake_shared->mutex);
}

void
outbox_wake_publisher(void)
{
	Latch	   *latch;

	if (wake_shared == NULL)
		return;
	SpinLockAcquire(&wake_shared->mutex);
	latch = wake_shared->latch;
	SpinLockRelease(&wake_shared->mutex);
	if (latch != NULL)
		SetLatch(latch);
}
