/*
 * candystore.c
 *	  Module entry point: registers what the extension needs in every backend.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "dead_letter_alert.h"
#include "event_type_grants.h"
#include "jsonschema/jsonschema.h"
#include "notify.h"
#include "outbox_enqueue.h"
#include "outbox_wake.h"
#include "pg_compat.h"		/* the PostgreSQL versions it builds against */
#include "schema_registry.h"
#include "signing.h"
#include "wait_events.h"
#include "worker/workers_init.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/* the settings, one function per area */
	jsonschema_define_settings();
	registry_define_settings();
	signing_define_settings();
	ingest_define_settings();
	outbox_define_settings();
	dead_letter_alert_define_settings();

	notify_init();
	dead_letter_alert_init();
	wait_events_request_shmem();
	outbox_wake_request_shmem();
	registry_init();
	signing_init();
	event_type_grants_init();
	outbox_enqueue_init();
	worker_init();
	publisher_init();

	/*
	 * Every candystore.* setting is defined by now: a misspelt one in
	 * postgresql.conf (candystore.amqp_ulr) is warned about and dropped,
	 * and SET of one is an error, instead of being silently kept.
	 */
	MarkGUCPrefixReserved("candystore");
}
