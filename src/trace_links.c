/*
 * trace_links.c
 *	  Causation groups kept at append time (see trace_links.h).
 *
 * The rule: an event without parents names its own group (its event id); a
 * child takes its first parent's group.  A parent that is not stored yet
 * (or is stored by a transaction still in flight) lends its event id as a
 * group name instead, so the child's group is named after that parent.
 * Links between group names go to candystore.causation_links:
 *
 *	- a child whose other parents sit in other groups links those groups;
 *	- a child with a parent not stored yet leaves a marker naming that
 *	  parent (its own row, when the group is named after the parent; else a
 *	  link row (parent id, its group)), then looks for the parent again and
 *	  links the parent's group;
 *	- an arriving event whose group is not its own id looks for markers
 *	  naming it (index entries of rows of that group, of link rows) and, if
 *	  there are any, links its group to its id.
 *
 * The child writes its marker before looking for the parent, and the parent
 * is inserted before it looks for markers; both see rows (or index entries)
 * of transactions still in flight (a dirty snapshot).  So of a child and a
 * parent appended concurrently at least one sees the other, and the link is
 * never lost.  A link made for a transaction that then aborts only joins
 * groups needlessly: the walks follow real parent links inside the groups.
 *
 * Plain events (parents already stored, all in one group: nearly every
 * event) cost one event_id probe per parent, one causation_group probe and
 * one probe of the (nearly always tiny) link table, and write nothing but
 * their row; events without parents cost nothing.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "spi_plans.h"
#include "trace_catalog.h"
#include "trace_links.h"

static SPIPlanPtr link_plan = NULL;

/*
 * Starts a probe: an index scan with a dirty snapshot, which also sees rows
 * of transactions still in flight.  Reused (rescanned) for every key.
 */
static void
probe_open(Probe *probe, Relation heap, Relation index)
{
	InitDirtySnapshot(probe->dirty);
	probe->slot = table_slot_create(heap, NULL);
	probe->scan = index_beginscan(heap, index, &probe->dirty, 1, 0);
}

static void
probe_close(Probe *probe)
{
	index_endscan(probe->scan);
	ExecDropSingleTupleTableSlot(probe->slot);
}

/*
 * Looks key up (the first index column).  On a hit, copies the uuid in column
 * attnum of the row to *value (when value is not NULL) and sets *in_flight
 * when the row's inserter is another transaction that has not committed.
 */
static bool
probe_find(Probe *probe, const pg_uuid_t *key_value, AttrNumber attnum,
		   pg_uuid_t *value, bool *in_flight)
{
	ScanKeyData key;
	bool		found;

	InitDirtySnapshot(probe->dirty);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(key_value));
	index_rescan(probe->scan, &key, 1, NULL, 0);
	found = index_getnext_slot(probe->scan, ForwardScanDirection, probe->slot);
	if (found)
	{
		*in_flight = TransactionIdIsValid(probe->dirty.xmin);
		if (value != NULL)
		{
			bool		isnull;
			Datum		d = slot_getattr(probe->slot, attnum, &isnull);

			if (isnull)
				elog(ERROR, "candystore.event_log row without a causation_group");
			*value = *DatumGetUUIDP(d);
		}
	}
	ExecClearTuple(probe->slot);
	return found;
}

static bool
uuid_equal(const pg_uuid_t *a, const pg_uuid_t *b)
{
	return memcmp(a, b, UUID_LEN) == 0;
}

void
trace_links_before_insert(const Envelope *parsed, TraceLinks *links)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;

	links->event_id = parsed->event_id;
	links->group = parsed->event_id;
	links->nparents = 0;
	links->event_log = NULL;

	/* correlation_ids comes deduplicated from envelope_parse */
	deconstruct_array(parsed->correlation_ids, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR,
					  &elems, &nulls, &nelems);
	if (nelems == 0)
		return;
	links->parents = palloc(nelems * sizeof(pg_uuid_t));
	links->unsettled = palloc(nelems * sizeof(bool));
	links->parent_group = palloc(nelems * sizeof(pg_uuid_t));
	for (int i = 0; i < nelems; i++)
		if (!nulls[i] && !uuid_equal(DatumGetUUIDP(elems[i]), &parsed->event_id))
			links->parents[links->nparents++] = *DatumGetUUIDP(elems[i]);
	if (links->nparents == 0)
		return;

	/*
	 * Open until trace_links_after_insert(), in the lock mode the insert
	 * takes (no second lock).  An error in between leaves them to the
	 * transaction's abort, which releases them.
	 */
	links->catalog = trace_catalog();
	links->event_log = table_open(links->catalog->event_log, RowExclusiveLock);
	links->by_id_index = index_open(links->catalog->event_id_index, RowExclusiveLock);
	probe_open(&links->by_id, links->event_log, links->by_id_index);
	for (int i = 0; i < links->nparents; i++)
	{
		bool		in_flight = false;

		links->unsettled[i] = !probe_find(&links->by_id, &links->parents[i],
										  links->catalog->causation_group,
										  &links->parent_group[i], &in_flight) || in_flight;
	}
	links->group = links->unsettled[0] ? links->parents[0] : links->parent_group[0];
}

/* Joins two group names (both directions; known links are kept as they are). */
static void
link_groups(const pg_uuid_t *a, const pg_uuid_t *b)
{
	Datum		values[2];
	int			rc;

	if (link_plan == NULL)
	{
		Oid			types[] = {UUIDOID, UUIDOID};

		link_plan = spi_prepare_kept("INSERT INTO candystore.causation_links (a, b)"
									 " VALUES ($1, $2), ($2, $1) ON CONFLICT DO NOTHING",
									 2, types, 0);
	}
	values[0] = UUIDPGetDatum(a);
	values[1] = UUIDPGetDatum(b);
	rc = SPI_execute_plan(link_plan, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "recording a causation link failed: %s", SPI_result_code_string(rc));
}

/*
 * Whether the index holds an entry for key.  Entries are looked at without
 * visiting the heap: one of a row in flight counts (as it must), and so does
 * one of a dead row, which only ever links groups needlessly.
 */
static bool
index_has_key(Relation heap, Relation index, const pg_uuid_t *key_value)
{
	SnapshotData dirty;
	IndexScanDesc scan;
	ScanKeyData key;
	bool		found;

	InitDirtySnapshot(dirty);
	scan = index_beginscan(heap, index, &dirty, 1, 0);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(key_value));
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_tid(scan, ForwardScanDirection) != NULL;
	index_endscan(scan);
	return found;
}

/* Does a child stored before this event name it (group or marker)? */
static bool
named_by_early_children(TraceLinks *links)
{
	Relation	index;
	Relation	heap;
	bool		found;

	/* a group named after it: the children's own rows */
	index = index_open(links->catalog->group_index, RowExclusiveLock);
	found = index_has_key(links->event_log, index, &links->event_id);
	index_close(index, RowExclusiveLock);
	if (found)
		return true;

	/* a marker row */
	heap = table_open(links->catalog->links, RowExclusiveLock);
	index = index_open(links->catalog->links_index, RowExclusiveLock);
	found = index_has_key(heap, index, &links->event_id);
	index_close(index, RowExclusiveLock);
	table_close(heap, RowExclusiveLock);
	return found;
}

void
trace_links_after_insert(TraceLinks *links, bool stored)
{
	if (links->event_log == NULL)
		return;					/* no parents: its own group, which early
								 * children named already */
	if (stored)
	{
		/*
		 * Markers for parents not stored yet, before looking for them again
		 * (see the top comment).  The first one needs none: the group is
		 * named after it, and this event's row is the marker.
		 */
		for (int i = 0; i < links->nparents; i++)
		{
			if (links->unsettled[i])
			{
				if (i > 0)
					link_groups(&links->parents[i], &links->group);
			}
			else if (!uuid_equal(&links->parent_group[i], &links->group))
				link_groups(&links->group, &links->parent_group[i]);
		}
		for (int i = 0; i < links->nparents; i++)
		{
			pg_uuid_t	group;
			bool		in_flight;

			if (links->unsettled[i] &&
				probe_find(&links->by_id, &links->parents[i], links->catalog->causation_group,
						   &group, &in_flight) &&
				!uuid_equal(&group, &links->parents[i]))
				link_groups(&links->parents[i], &group);
		}
		/* (the group is never this event's id here: it has parents) */
		if (named_by_early_children(links))
			link_groups(&links->group, &links->event_id);
	}
	probe_close(&links->by_id);
	index_close(links->by_id_index, RowExclusiveLock);
	table_close(links->event_log, RowExclusiveLock);
	links->event_log = NULL;
}
