/*
 * table_watch.c
 *	  Per-backend caches of candystore tables, dropped when a table changes
 *	  (see table_watch.h).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "table_watch.h"

/* the schema registry, the signing keys, the event type grants, and room */
#define MAX_WATCHES 8

static TableWatch *watches[MAX_WATCHES];
static int	nwatches = 0;

/*
 * An invalidation of one of a watch's tables (or of every relation, after
 * an overflow of the invalidation queue) marks it stale and forgets the
 * relids: a table dropped and created again (DROP and CREATE EXTENSION) has
 * a new one.
 */
static void
table_watch_relcache_callback(Datum arg, Oid relid)
{
	(void) arg;
	for (int w = 0; w < nwatches; w++)
	{
		TableWatch *watch = watches[w];
		bool		hit = (relid == InvalidOid);

		for (int t = 0; t < TABLE_WATCH_MAX_TABLES && watch->tables[t] != NULL; t++)
			hit = hit || (OidIsValid(watch->relids[t]) && watch->relids[t] == relid);
		if (hit)
		{
			watch->stale = true;
			for (int t = 0; t < TABLE_WATCH_MAX_TABLES; t++)
				watch->relids[t] = InvalidOid;
		}
	}
}

void
table_watch_register(TableWatch *watch)
{
	if (nwatches == 0)
		CacheRegisterRelcacheCallback(table_watch_relcache_callback, (Datum) 0);
	if (nwatches >= MAX_WATCHES)
		elog(ERROR, "too many candystore table watches");
	watches[nwatches++] = watch;
}

bool
table_watch_resolve(TableWatch *watch)
{
	Oid			nsp;

	if (OidIsValid(watch->relids[0]))
		return true;
	nsp = get_namespace_oid("candystore", true);
	if (!OidIsValid(nsp))
		return false;
	for (int t = 0; t < TABLE_WATCH_MAX_TABLES && watch->tables[t] != NULL; t++)
		watch->relids[t] = get_relname_relid(watch->tables[t], nsp);
	return OidIsValid(watch->relids[0]);
}

MemoryContext
table_watch_context(TableWatch *watch, bool drop, bool *emptied)
{
	*emptied = watch->cxt == NULL || watch->stale || drop;
	if (watch->cxt == NULL)
	{
		watch->cxt = AllocSetContextCreate(TopMemoryContext, "candystore table cache",
										   ALLOCSET_SMALL_SIZES);
		MemoryContextSetIdentifier(watch->cxt, watch->name);
	}
	else if (*emptied)
		MemoryContextReset(watch->cxt);
	watch->stale = false;
	return watch->cxt;
}

Oid
table_watch_owner(TableWatch *watch)
{
	HeapTuple	tup;
	Oid			owner;

	if (!table_watch_resolve(watch))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("candystore.%s does not exist", watch->tables[0]),
				 errhint("Update the extension: ALTER EXTENSION candystore UPDATE.")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(watch->relids[0]));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", watch->relids[0]);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

PG_FUNCTION_INFO_V1(candystore_schemas_changed);

/*
 * Statement trigger on a watched table (candystore.schemas, signing_keys,
 * signing_secrets, event_type_grants): every backend drops the caches read
 * from it once this transaction commits (this one at once).
 */
Datum
candystore_schemas_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("candystore_schemas_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
