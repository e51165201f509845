/*
 * shmem_area.h
 *	  A named area of shared memory for a unit of candystore: asked for
 *	  while shared_preload_libraries is processed, created (and initialised
 *	  once) when the server sets up shared memory, attached by every
 *	  process.  One place chains PostgreSQL's shmem_request_hook and
 *	  shmem_startup_hook for all of them (src/shmem_area.c).
 */
#ifndef CANDYSTORE_SHMEM_AREA_H
#define CANDYSTORE_SHMEM_AREA_H

/* Fills a newly created area (called once, by the postmaster). */
typedef void (*ShmemAreaInit) (void *area);

/*
 * From _PG_init: reserves size bytes under name; once shared memory exists,
 * *area points to them in every process.  When the library is not being
 * preloaded this does nothing and *area stays NULL: callers treat NULL as
 * "no shared memory" (their feature is then off or degraded).
 */
extern void shmem_area_register(const char *name, Size size, void **area,
								ShmemAreaInit init);

#endif
