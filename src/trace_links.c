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
 * Rows inserted by one statement (the ingest worker's chunks of up to 64
 * rows) are decided all before it and finished all after it.  A dirty
 * snapshot sees every row of the own transaction, of any command, so after
 * the statement each row finds all of its parents inserted with it; before
 * it, none.  A parent inserted earlier in the same statement is therefore
 * looked up among the statement's own rows, and its group (decided already)
 * taken as if it were stored: a flow that arrives in one batch, parents
 * first, stays in one group and writes no link row.  Should that parent's
 * row not be stored after all (a concurrent transaction stored the same
 * event first), the child looks the stored one up after the statement and
 * links the two groups.  A child before its parent in the statement is a
 * child stored before its parent, as above.
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
 * of transactions still in flight.  Reused (rescanned) for every key.  With
 * with_heap false it reads index entries only.
 */
static void
probe_open(Probe *probe, Relation heap, Relation index, bool with_heap)
{
	InitDirtySnapshot(probe->dirty);
	probe->slot = with_heap ? table_slot_create(heap, NULL) : NULL;
	probe->scan = index_beginscan(heap, index, &probe->dirty, 1, 0);
}

static void
probe_close(Probe *probe)
{
	index_endscan(probe->scan);
	if (probe->slot != NULL)
		ExecDropSingleTupleTableSlot(probe->slot);
}

static void
probe_rescan(Probe *probe, const pg_uuid_t *key_value)
{
	ScanKeyData key;

	InitDirtySnapshot(probe->dirty);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(key_value));
	index_rescan(probe->scan, &key, 1, NULL, 0);
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
	bool		found;

	probe_rescan(probe, key_value);
	found = index_getnext_slot(probe->scan, ForwardScanDirection, probe->slot);
	if (found)
	{
		*in_flight = TransactionIdIsValid(probe->dirty.xmin);
		if (value != NULL)
		{
			bool		isnull;
			Datum		d = slot_getattr(probe->slot, attnum, &isnull);

			if (isnull)
				elog(ERROR, "candystore.event_ids row without a causation_group");
			*value = *DatumGetUUIDP(d);
		}
	}
	ExecClearTuple(probe->slot);
	return found;
}

/*
 * Whether the index holds an entry for key.  Entries are looked at without
 * visiting the heap: one of a row in flight counts (as it must), and so does
 * one of a dead row, which only ever links groups needlessly.
 */
static bool
probe_has_entry(Probe *probe, const pg_uuid_t *key_value)
{
	probe_rescan(probe, key_value);
	return index_getnext_tid(probe->scan, ForwardScanDirection) != NULL;
}

static bool
uuid_equal(const pg_uuid_t *a, const pg_uuid_t *b)
{
	return memcmp(a, b, UUID_LEN) == 0;
}

void
trace_links_begin(TraceLinksScope *scope)
{
	scope->catalog = NULL;
	scope->event_ids = NULL;
	scope->group_index = NULL;
	scope->links = NULL;
}

/*
 * Opened in the lock mode the insert takes (no second lock), until
 * trace_links_end().  An error before then leaves them to the transaction's
 * abort, which releases them.
 */
static void
open_event_ids(TraceLinksScope *scope)
{
	if (scope->event_ids != NULL)
		return;
	scope->catalog = trace_catalog();
	scope->event_ids = table_open(scope->catalog->event_ids, RowExclusiveLock);
	scope->by_id_index = index_open(scope->catalog->event_id_index, RowExclusiveLock);
	probe_open(&scope->by_id, scope->event_ids, scope->by_id_index, true);
}

/* The row before r in the statement that inserts event id, else -1. */
static int
earlier_row(const TraceLinks *rows, int r, const pg_uuid_t *id)
{
	for (int i = 0; i < r; i++)
		if (uuid_equal(&rows[i].event_id, id))
			return i;
	return -1;
}

void
trace_links_before_insert(TraceLinksScope *scope, TraceLinks *rows, int r,
						  const Envelope *parsed)
{
	TraceLinks *links = &rows[r];
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;

	links->event_id = parsed->event_id;
	links->group = parsed->event_id;
	links->stored = false;
	links->nparents = 0;

	/* correlation_ids comes deduplicated from envelope_parse */
	deconstruct_array(parsed->correlation_ids, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR,
					  &elems, &nulls, &nelems);
	if (nelems == 0)
		return;
	links->parents = palloc(nelems * sizeof(pg_uuid_t));
	links->unsettled = palloc(nelems * sizeof(bool));
	links->parent_group = palloc(nelems * sizeof(pg_uuid_t));
	links->parent_row = palloc(nelems * sizeof(int));
	for (int i = 0; i < nelems; i++)
		if (!nulls[i] && !uuid_equal(DatumGetUUIDP(elems[i]), &parsed->event_id))
			links->parents[links->nparents++] = *DatumGetUUIDP(elems[i]);
	if (links->nparents == 0)
		return;

	open_event_ids(scope);
	for (int i = 0; i < links->nparents; i++)
	{
		bool		in_flight = false;

		links->parent_row[i] = -1;
		if (probe_find(&scope->by_id, &links->parents[i], scope->catalog->causation_group,
					   &links->parent_group[i], &in_flight))
			links->unsettled[i] = in_flight;
		else if ((links->parent_row[i] = earlier_row(rows, r, &links->parents[i])) >= 0)
		{
			/* inserted just before it, in the same statement */
			links->unsettled[i] = false;
			links->parent_group[i] = rows[links->parent_row[i]].group;
		}
		else
			links->unsettled[i] = true;
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

/* Does a child stored before this event name it (group or marker)? */
static bool
named_by_early_children(TraceLinksScope *scope, const pg_uuid_t *event_id)
{
	/* a group named after it: the children's own rows */
	if (scope->group_index == NULL)
	{
		scope->group_index = index_open(scope->catalog->group_index, RowExclusiveLock);
		probe_open(&scope->by_group, scope->event_ids, scope->group_index, false);
	}
	if (probe_has_entry(&scope->by_group, event_id))
		return true;

	/* a marker row */
	if (scope->links == NULL)
	{
		scope->links = table_open(scope->catalog->links, RowExclusiveLock);
		scope->links_index = index_open(scope->catalog->links_index, RowExclusiveLock);
		probe_open(&scope->by_link, scope->links, scope->links_index, false);
	}
	return probe_has_entry(&scope->by_link, event_id);
}

void
trace_links_after_insert(TraceLinksScope *scope, TraceLinks *rows, int r)
{
	TraceLinks *links = &rows[r];

	/*
	 * No parents: its own group, which early children named already.  Not
	 * stored: a duplicate, whose links were made when it was stored.
	 */
	if (links->nparents == 0 || !links->stored)
		return;

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
	for (int i = 0; i < links->nparents; i++)
	{
		pg_uuid_t	group;
		bool		in_flight;

		if (links->unsettled[i])
		{
			if (probe_find(&scope->by_id, &links->parents[i], scope->catalog->causation_group,
						   &group, &in_flight) &&
				!uuid_equal(&group, &links->parents[i]))
				link_groups(&links->parents[i], &group);
		}
		else if (links->parent_row[i] >= 0 && !rows[links->parent_row[i]].stored)
		{
			/* the parent's row lost to the same event stored concurrently */
			if (probe_find(&scope->by_id, &links->parents[i], scope->catalog->causation_group,
						   &group, &in_flight) &&
				!uuid_equal(&group, &links->parent_group[i]))
				link_groups(&links->parent_group[i], &group);
		}
	}
	/* (the group is never this event's id here: it has parents) */
	if (named_by_early_children(scope, &links->event_id))
		link_groups(&links->group, &links->event_id);
}

void
trace_links_end(TraceLinksScope *scope)
{
	if (scope->links != NULL)
	{
		probe_close(&scope->by_link);
		index_close(scope->links_index, RowExclusiveLock);
		table_close(scope->links, RowExclusiveLock);
		scope->links = NULL;
	}
	if (scope->group_index != NULL)
	{
		probe_close(&scope->by_group);
		index_close(scope->group_index, RowExclusiveLock);
		scope->group_index = NULL;
	}
	if (scope->event_ids != NULL)
	{
		probe_close(&scope->by_id);
		index_close(scope->by_id_index, RowExclusiveLock);
		table_close(scope->event_ids, RowExclusiveLock);
		scope->event_ids = NULL;
	}
}
