/*
 * trace_catalog.c
 *	  Looks up candystore's causation relations and columns once per backend.
 *
 * An append makes several index probes; resolving names through the syscache
 * each time would cost about as much as the probes.  A relcache callback
 * forgets the cache when any of these relations changes or goes away (DROP
 * EXTENSION and CREATE EXTENSION again in the same session included).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "trace_catalog.h"

static TraceCatalog catalog;
static bool catalog_valid = false;
static bool callback_registered = false;
static uint64 invalidations = 0;

static void
forget_catalog(Datum arg, Oid relid)
{
	(void) arg;
	invalidations++;
	if (relid == InvalidOid || relid == catalog.event_ids ||
		relid == catalog.event_id_index || relid == catalog.group_index ||
		relid == catalog.links || relid == catalog.links_index ||
		relid == catalog.purged_ranges || !OidIsValid(catalog.purged_ranges))
		catalog_valid = false;
}

static Oid
relation(Oid nsp, const char *name)
{
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation candystore.%s does not exist", name),
				 errhint("Is the candystore extension installed in this database?")));
	return relid;
}

static AttrNumber
column(const char *name)
{
	AttrNumber	attnum = get_attnum(catalog.event_ids, name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column candystore.%s.%s does not exist", get_rel_name(catalog.event_ids), name)));
	return attnum;
}

const TraceCatalog *
trace_catalog(void)
{
	Oid			nsp;
	uint64		seen;

	if (catalog_valid)
		return &catalog;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_catalog, (Datum) 0);
		callback_registered = true;
	}
	seen = invalidations;
	nsp = get_namespace_oid("candystore", false);
	/*
	 * 0.2.0 keeps ids and groups in event_ids; until ALTER EXTENSION UPDATE
	 * has run, a 0.1.0 catalog keeps them in the (unpartitioned) event_log.
	 */
	catalog.partitioned = OidIsValid(get_relname_relid("event_ids", nsp));
	if (catalog.partitioned)
	{
		catalog.event_ids = relation(nsp, "event_ids");
		catalog.event_id_index = relation(nsp, "event_ids_pkey");
		catalog.group_index = relation(nsp, "event_ids_causation_group_idx");
	}
	else
	{
		catalog.event_ids = relation(nsp, "event_log");
		catalog.event_id_index = relation(nsp, "event_log_event_id_key");
		catalog.group_index = relation(nsp, "event_log_causation_group_idx");
	}
	catalog.links = relation(nsp, "causation_links");
	catalog.links_index = relation(nsp, "causation_links_pkey");
	catalog.purged_ranges = get_relname_relid("purged_ranges", nsp);
	catalog.position = column("position");
	catalog.event_id = column("event_id");
	catalog.event_type = column("event_type");
	catalog.occurred_at = column("occurred_at");
	catalog.correlation_ids = column("correlation_ids");
	catalog.causation_group = column("causation_group");
	catalog.last_column = Max(Max(Max(catalog.position, catalog.event_id),
								  Max(catalog.event_type, catalog.occurred_at)),
							  Max(catalog.correlation_ids, catalog.causation_group));
	/* an invalidation that arrived during the lookups: look again next time */
	catalog_valid = (invalidations == seen);
	return &catalog;
}
