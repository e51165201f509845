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
 *	  naming it (rows of that group, link rows) and, if there are any, links
 *	  its group to its id.
 *
 * The child writes its marker before looking for the parent, and the parent
 * is inserted before it looks for markers; both look with a dirty snapshot,
 * which sees rows of transactions still in flight.  So of a child and a
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
 * Looks key up (first index column) with a dirty snapshot, which also sees
 * rows of transactions still in flight.  On a hit, copies the uuid in column
 * attnum of the row to *value (when value is not NULL) and sets *in_flight
 * when the row's inserter is another transaction that has not committed.
 */
static bool
probe_dirty(Relation heap, Relation index, TupleTableSlot *slot, const pg_uuid_t *key_value,
			AttrNumber attnum, pg_uuid_t *value, bool *in_flight)
{
	SnapshotData dirty;
	IndexScanDesc scan;
	ScanKeyData key;
	bool		found;

	InitDirtySnapshot(dirty);
	scan = index_beginscan(heap, index, &dirty, 1, 0);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(key_value));
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (found)
	{
		*in_flight = TransactionIdIsValid(dirty.xmin);
		if (value != NULL)
		{
			bool		isnull;
			Datum		d = slot_getattr(slot, attnum, &isnull);

			if (isnull)
				elog(ERROR, "candystore.event_log row without a causation_group");
			*value = *DatumGetUUIDP(d);
		}
	}
	ExecClearTuple(slot);
	index_endscan(scan);
	return found;
}

/* The stored event's group, if it is stored and committed (or ours). */
static bool
settled_group(Relation heap, Relation index, TupleTableSlot *slot, AttrNumber attnum,
			  const pg_uuid_t *id, pg_uuid_t *group)
{
	bool		in_flight = false;

	return probe_dirty(heap, index, slot, id, attnum, group, &in_flight) && !in_flight;
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
	const TraceCatalog *cat;
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;

	links->event_id = parsed->event_id;
	links->group = parsed->event_id;
	links->nparents = 0;

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

	/* the same lock mode the insert takes: no second lock to acquire */
	cat = trace_catalog();
	heap = table_open(cat->event_log, RowExclusiveLock);
	index = index_open(cat->event_id_index, RowExclusiveLock);
	slot = table_slot_create(heap, NULL);
	for (int i = 0; i < links->nparents; i++)
		links->unsettled[i] = !settled_group(heap, index, slot, cat->causation_group,
											 &links->parents[i], &links->parent_group[i]);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, RowExclusiveLock);
	table_close(heap, RowExclusiveLock);

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

void
trace_links_after_insert(const TraceLinks *links)
{
	const TraceCatalog *cat;
	Relation	heap;
	Relation	by_id;
	Relation	by_group;
	TupleTableSlot *slot;
	bool		in_flight;
	bool		named_here;

	if (links->nparents == 0)
		return;					/* its own group: early children named it */

	/*
	 * Markers for parents not stored yet, before looking for them again (see
	 * the top comment).  The first one needs none: the group is named after
	 * it, and this event's row is the marker.
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

	cat = trace_catalog();
	heap = table_open(cat->event_log, RowExclusiveLock);
	by_id = index_open(cat->event_id_index, RowExclusiveLock);
	by_group = index_open(cat->group_index, RowExclusiveLock);
	slot = table_slot_create(heap, NULL);
	for (int i = 0; i < links->nparents; i++)
	{
		pg_uuid_t	group;

		if (links->unsettled[i] &&
			probe_dirty(heap, by_id, slot, &links->parents[i], cat->causation_group,
						&group, &in_flight) &&
			!uuid_equal(&group, &links->parents[i]))
			link_groups(&links->parents[i], &group);
	}

	/*
	 * Children stored before this event named a group after its id, or left
	 * a marker.  (The group is never this event's id here: it has parents.)
	 */
	named_here = probe_dirty(heap, by_group, slot, &links->event_id, InvalidAttrNumber,
							 NULL, &in_flight);
	ExecDropSingleTupleTableSlot(slot);
	index_close(by_group, RowExclusiveLock);
	index_close(by_id, RowExclusiveLock);
	table_close(heap, RowExclusiveLock);
	if (!named_here)
	{
		heap = table_open(cat->links, RowExclusiveLock);
		by_id = index_open(cat->links_index, RowExclusiveLock);
		slot = table_slot_create(heap, NULL);
		named_here = probe_dirty(heap, by_id, slot, &links->event_id, InvalidAttrNumber,
								 NULL, &in_flight);
		ExecDropSingleTupleTableSlot(slot);
		index_close(by_id, RowExclusiveLock);
		table_close(heap, RowExclusiveLock);
	}
	if (named_here)
		link_groups(&links->group, &links->event_id);
}
