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

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "outbox_wake.h"
#include "pg_compat.h"		/* shmem_request_hook: 15 and later */

typedef struct OutboxWakeShared
{
	slock_t		mutex;
	Latch	   *latch;			/* NULL while no publisher runs */
} OutboxWakeShared;

static OutboxWakeShared *wake_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
outbox_wake_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(OutboxWakeShared)));
}

static void
outbox_wake_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	wake_shared = ShmemInitStruct("candystore outbox wake-up", sizeof(OutboxWakeShared), &found);
	if (!found)
	{
		SpinLockInit(&wake_shared->mutex);
		wake_shared->latch = NULL;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
outbox_wake_request_shmem(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = outbox_wake_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = outbox_wake_shmem_startup;
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
