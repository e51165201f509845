/*
 * candystore.c
 *	  Module entry point: registers what the extension needs in every backend.
 */
#include "postgres.h"

#include "fmgr.h"

#include "jsonschema/jsonschema.h"
#include "jsonschema/registry.h"
#include "notify.h"
#include "wait_events.h"
#include "worker/worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	notify_init();
	wait_events_request_shmem();
	jsonschema_register_gucs();
	registry_init();
	worker_init();
	publisher_init();
}
