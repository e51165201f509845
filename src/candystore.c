/*
 * candystore.c
 *	  Module entry point: registers what the extension needs in every backend.
 */
#include "postgres.h"

#include "fmgr.h"

#include "notify.h"

PG_MODULE_MAGIC;

void		_PG_init(void);
extern void worker_init(void);

void
_PG_init(void)
{
	notify_init();
	worker_init();
}
