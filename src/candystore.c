/*
 * candystore.c
 *	  Module entry point: registers what the extension needs in every backend.
 */
#include "postgres.h"

#include "fmgr.h"

#include "jsonschema/jsonschema.h"
#include "notify.h"
#include "worker/worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	notify_init();
	jsonschema_register_gucs();
	worker_init();
	publisher_init();
}
