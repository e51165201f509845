/*
 * schema_registry.c
 *	  Payload validation on append against the schema registry
 *	  (candystore.schemas), and the settings that govern it.
 *
 * The latest schema of each event type is looked up once per backend and
 * kept in a small map; the compiled form lives in the engine's cache, keyed
 * by the schema's content.  The map is dropped whenever candystore.schemas
 * changes (table_watch.h).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "envelope.h"
#include "erasure.h"
#include "jsonschema/jsonschema.h"
#include "schema_registry.h"
#include "table_watch.h"
#include "spi_plans.h"

/* SQLSTATEs of the registry: class 22, implementation-defined subclass V. */
#define ERRCODE_PAYLOAD_SCHEMA_MISMATCH	MAKE_SQLSTATE('2','2','V','0','1')
#define ERRCODE_UNKNOWN_EVENT_TYPE		MAKE_SQLSTATE('2','2','V','0','2')

/* Errors listed in DETAIL; the rest are counted. */
#define REPORTED_ERRORS 5
/* More event types than this in the map: start over (bounds memory). */
#define MAX_CACHED_TYPES 1024

typedef enum ValidationMode
{
	VALIDATION_OFF,
	VALIDATION_ENVELOPE,
	VALIDATION_FULL
} ValidationMode;

static const struct config_enum_entry validation_options[] = {
	{"full", VALIDATION_FULL, false},
	{"envelope", VALIDATION_ENVELOPE, false},
	{"off", VALIDATION_OFF, false},
	{NULL, 0, false}
};

static int	validation_mode = VALIDATION_FULL;
static bool accept_unknown_event_types = true;

typedef struct LatestSchema
{
	char		event_type[ENVELOPE_MAX_EVENT_TYPE_LEN + 1];	/* hash key */
	int32		version;		/* 0: no schema registered */
	Jsonb	   *schema;			/* in map_cxt; NULL when version is 0 */
} LatestSchema;

static HTAB *latest_map = NULL;
static MemoryContext map_cxt = NULL;
static TableWatch registry_tables = {.name = "candystore schema registry", .tables = {"schemas"}};
static SPIPlanPtr latest_plan = NULL;

void
registry_define_settings(void)
{
	DefineCustomEnumVariable("candystore.validation",
							 "What append checks: full (envelope and payload), envelope (envelope only) or off (no registry lookup at all).",
							 "The envelope is always checked: the store is built on its fields.",
							 &validation_mode,
							 VALIDATION_FULL, validation_options, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("candystore.accept_unknown_event_types",
							 "Whether append accepts event types with no schema in candystore.schemas.",
							 "When off, such events are refused with SQLSTATE 22V02 (unless candystore.validation is off).",
							 &accept_unknown_event_types,
							 true, PGC_SUSET, 0, NULL, NULL, NULL);
}

void
registry_init(void)
{
	table_watch_register(&registry_tables);
}

/* An empty map, replacing a stale one. */
static void
reset_map(void)
{
	HASHCTL		ctl;
	bool		emptied;

	map_cxt = table_watch_context(&registry_tables, true, &emptied);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = ENVELOPE_MAX_EVENT_TYPE_LEN + 1;
	ctl.entrysize = sizeof(LatestSchema);
	ctl.hcxt = map_cxt;
	latest_map = hash_create("candystore latest schemas", 64, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/*
 * Reads the latest registered schema of event_type into entry (the schema
 * copied into the caller's memory context).  Read with the latest snapshot,
 * as a catalog is: the statement's own snapshot may predate a registration
 * whose invalidation this backend has already processed, and caching what it
 * shows would keep the old version after the invalidation.
 */
static void
load_latest(LatestSchema *entry, text *event_type)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	MemoryContext caller = CurrentMemoryContext;
	int			rc;

	entry->version = 0;
	entry->schema = NULL;
	SPI_connect();
	if (latest_plan == NULL)
		latest_plan = spi_prepare_kept("SELECT version, schema FROM candystore.schemas"
									   " WHERE event_type = $1 ORDER BY version DESC LIMIT 1",
									   1, argtypes, 0);
	args[0] = PointerGetDatum(event_type);
	rc = SPI_execute_snapshot(latest_plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot,
							  true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading candystore.schemas failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d;
		Jsonb	   *jb;

		entry->version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc, 1, &isnull));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		jb = DatumGetJsonbP(d);
		entry->schema = MemoryContextAlloc(caller, VARSIZE(jb));
		memcpy(entry->schema, jb, VARSIZE(jb));
	}
	SPI_finish();
}

/* The latest schema of event_type: version 0 when none is registered. */
static void
latest_schema(text *event_type, int32 *version, Jsonb **schema)
{
	char	   *key = text_to_cstring(event_type);
	LatestSchema *entry;

	if (latest_map == NULL || registry_tables.stale ||
		hash_get_num_entries(latest_map) >= MAX_CACHED_TYPES)
		reset_map();
	table_watch_resolve(&registry_tables);
	entry = hash_search(latest_map, key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		LatestSchema loaded;

		/*
		 * Read aside (an error leaves no entry behind), and again if the
		 * registry changed meanwhile: invalidations are sent after commit,
		 * so the next read sees the change.
		 */
		for (;;)
		{
			load_latest(&loaded, event_type);
			if (!registry_tables.stale)
				break;
			reset_map();
			CHECK_FOR_INTERRUPTS();
		}
		entry = hash_search(latest_map, key, HASH_ENTER, NULL);
		entry->version = loaded.version;
		entry->schema = NULL;
		if (loaded.schema != NULL)
		{
			entry->schema = MemoryContextAlloc(map_cxt, VARSIZE(loaded.schema));
			memcpy(entry->schema, loaded.schema, VARSIZE(loaded.schema));
			pfree(loaded.schema);
		}
	}
	*version = entry->version;
	*schema = entry->schema;
	pfree(key);
}

void
registry_raise(const RegistryFailure *f)
{
	StringInfoData detail;
	JsError    *first;
	ListCell   *lc;
	int			n = 0;

	if (f->unknown_type)
		ereport(ERROR,
				(errcode(ERRCODE_UNKNOWN_EVENT_TYPE),
				 errmsg("event type \"%s\" has no registered schema", f->event_type),
				 errhint("Register one with candystore.register_schema(), or set candystore.accept_unknown_event_types = on.")));

	/* the first errors, with paths from the envelope's root */
	initStringInfo(&detail);
	foreach(lc, f->errors)
	{
		JsError    *e = lfirst(lc);

		if (n == REPORTED_ERRORS)
		{
			appendStringInfo(&detail, "\n... and %d more.", list_length(f->errors) - n);
			break;
		}
		appendStringInfo(&detail, "%s/payload%s: %s (schema %s)",
						 n > 0 ? "\n" : "", e->instance_path, e->message, e->schema_path);
		n++;
	}
	first = f->errors != NIL ? linitial(f->errors) : NULL;
	ereport(ERROR,
			(errcode(ERRCODE_PAYLOAD_SCHEMA_MISMATCH),
			 errmsg("invalid payload for event type \"%s\": /payload%s: %s",
					f->event_type, first ? first->instance_path : "",
					first ? first->message : "does not match its schema"),
			 detail.len > 0 ? errdetail("%s", detail.data) : 0,
			 errhint("The payload must match version %d of the schema registered for \"%s\" in candystore.schemas.",
					 f->version, f->event_type)));
}

bool
registry_payload_acceptable(Jsonb *envelope, const Envelope *parsed, RegistryFailure *failure)
{
	int32		version;
	Jsonb	   *schema;
	JsonbValue	payload_buf;
	JsonbValue *payload;
	JsSchema   *compiled;
	MemoryContext work;
	MemoryContext old;
	bool		valid;

	/* a tombstone (a replayed or restored erased event) holds nothing to check */
	if (validation_mode == VALIDATION_OFF || erasure_is_tombstone(envelope))
		return true;
	latest_schema(parsed->event_type, &version, &schema);
	if (version == 0)
	{
		if (accept_unknown_event_types)
			return true;
		failure->unknown_type = true;
		failure->event_type = text_to_cstring(parsed->event_type);
		failure->version = 0;
		failure->errors = NIL;
		return false;
	}
	if (validation_mode != VALIDATION_FULL)
		return true;

	payload = getKeyJsonValueFromContainer(&envelope->root, "payload", strlen("payload"),
										   &payload_buf);
	if (payload == NULL)		/* envelope_parse() requires it */
		elog(ERROR, "accepted envelope without a payload");

	compiled = jsonschema_get_compiled(schema);
	work = AllocSetContextCreate(CurrentMemoryContext, "candystore payload validation",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	/*
	 * Validity alone: collecting errors costs, and is rarely needed.  A
	 * payload nested too deeply for its (recursive) schema exhausts the
	 * stack: that is bad data too, so it is re-raised in class 22, which the
	 * ingest worker dead-letters instead of restarting on it forever.
	 */
	PG_TRY();
	{
		valid = jsonschema_validate(compiled, payload, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(old);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_STATEMENT_TOO_COMPLEX)
			PG_RE_THROW();
		FlushErrorState();
		edata->sqlerrcode = ERRCODE_PAYLOAD_SCHEMA_MISMATCH;
		edata->message = psprintf("invalid payload for event type \"%s\": nested too deeply to validate against version %d of its schema",
								  text_to_cstring(parsed->event_type), version);
		edata->hint = pstrdup("Flatten the payload, or raise max_stack_depth.");
		ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	if (valid)
		return true;

	failure->unknown_type = false;
	failure->event_type = text_to_cstring(parsed->event_type);
	failure->version = version;
	failure->errors = NIL;
	/* the schema may have been evicted from the engine's cache meanwhile */
	compiled = jsonschema_get_compiled(schema);
	jsonschema_validate(compiled, payload, &failure->errors);
	return false;
}
