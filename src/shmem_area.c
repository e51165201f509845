/*
 * shmem_area.c
 *	  The shared-memory areas of candystore's units (shmem_area.h): the
 *	  workers' counters and status (worker/stats.c), the readers' wake-up
 *	  (wait_events.c) and the publisher's latch (outbox_wake.c).  The hooks
 *	  are chained once, on the first registration, and serve every area.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "pg_compat.h"			/* shmem_request_hook: 15 and later */
#include "shmem_area.h"

#define MAX_AREAS 8

typedef struct ShmemArea
{
	const char *name;
	Size		size;
	void	  **area;
	ShmemAreaInit init;
} ShmemArea;

static ShmemArea areas[MAX_AREAS];
static int	nareas = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
areas_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	for (int i = 0; i < nareas; i++)
		RequestAddinShmemSpace(MAXALIGN(areas[i].size));
}

static void
areas_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	for (int i = 0; i < nareas; i++)
	{
		bool		found;

		*areas[i].area = ShmemInitStruct(areas[i].name, areas[i].size, &found);
		if (!found)
			areas[i].init(*areas[i].area);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
shmem_area_register(const char *name, Size size, void **area, ShmemAreaInit init)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	if (nareas == MAX_AREAS)
		elog(ERROR, "candystore: too many shared memory areas (raise MAX_AREAS in shmem_area.c)");
	if (nareas == 0)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = areas_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = areas_startup;
	}
	areas[nareas].name = name;
	areas[nareas].size = size;
	areas[nareas].area = area;
	areas[nareas].init = init;
	nareas++;
}
