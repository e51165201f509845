/*
 * trace_links.h
 *	  Causation groups: the bookkeeping append keeps so that a causation walk
 *	  reads a handful of index ranges instead of probing once per event.
 *
 * Every stored event carries a causation_group (a uuid naming a group): an
 * event without parents names its own group, a child joins its first
 * parent's group.  Groups that must be read together are joined by rows of
 * candystore.causation_links (both directions): a child whose parents sit in
 * different groups, and a child stored before its parent.  A group is a
 * superset hint, never the answer: the walks (trace.c) load the groups and
 * then follow the actual parent links in memory.
 */
#ifndef CANDYSTORE_TRACE_LINKS_H
#define CANDYSTORE_TRACE_LINKS_H

#include "postgres.h"
#include "access/genam.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
#include "utils/uuid.h"

#include "envelope.h"
#include "trace_catalog.h"

/* An index probe with a dirty snapshot (see trace_links.c). */
typedef struct Probe
{
	SnapshotData dirty;
	TupleTableSlot *slot;
	IndexScanDesc scan;
} Probe;

/* What one append decided before its insert, and must finish after it. */
typedef struct TraceLinks
{
	pg_uuid_t	event_id;
	pg_uuid_t	group;			/* the causation_group to store */
	int			nparents;
	pg_uuid_t  *parents;		/* parent ids other than the event itself */
	bool	   *unsettled;		/* parent not stored (or stored by a
								 * transaction still in flight) */
	pg_uuid_t  *parent_group;	/* group of each settled parent */
	/* open from before to after the insert, when there are parents */
	const TraceCatalog *catalog;
	Relation	event_log;		/* NULL: nothing open */
	Relation	by_id_index;
	Probe		by_id;
} TraceLinks;

/*
 * Chooses the event's group; call before inserting it, then always
 * trace_links_after_insert() (an error in between may skip it).
 */
extern void trace_links_before_insert(const Envelope *parsed, TraceLinks *links);

/*
 * Records the links the new event needs when it was stored (not a
 * duplicate), in the same SPI connection; order matters for concurrent
 * appends: see the .c.  Closes what before_insert opened.
 */
extern void trace_links_after_insert(TraceLinks *links, bool stored);

#endif
