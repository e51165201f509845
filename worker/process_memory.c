/*
 * process_memory.c
 *	  How the workers' processes hand memory back to the kernel.
 *
 *	  A worker allocates a few megabytes for each batch and frees them when
 *	  the batch's transaction ends.  glibc's malloc gives such memory back
 *	  to the kernel on every free (it trims the top of the heap, unmaps the
 *	  large blocks), and the next batch faults it in again, page by page: in
 *	  bench/ingest.sh that was 1.9 page faults per message, and half of the
 *	  ingest worker's CPU time on a virtual machine, where a fault is
 *	  expensive.  A worker keeps what it freed instead, up to a bound; its
 *	  memory then stays at that of its largest batch.
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "worker.h"

/* freed memory above this at the top of the heap goes back to the kernel */
#define KEEP_FREED_BYTES (64 * 1024 * 1024)
/* allocations above this get their own mapping, returned when freed */
#define OWN_MAPPING_BYTES (32 * 1024 * 1024)

void
worker_keep_freed_memory(void)
{
#ifdef __GLIBC__
	/* fixed values also stop glibc from adjusting them as it goes */
	if (mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES) != 1 ||
		mallopt(M_MMAP_THRESHOLD, OWN_MAPPING_BYTES) != 1)
		ereport(LOG,
				(errmsg("candystore: could not set malloc's trim and mmap thresholds"),
				 errdetail("The worker runs, with more page faults per batch.")));
#endif
}
