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
	TupleTableSlot *slot;		/* NULL: probes index entries only */
	IndexScanDesc scan;			/* NULL: not open */
} Probe;

/*
 * The relations and probes of the rows inserted by one statement (a chunk of
 * up to 64 rows, or one append), opened on first use and closed by
 * trace_links_end(): never held across statements.
 */
typedef struct TraceLinksScope
{
	const TraceCatalog *catalog;
	Relation	event_ids;		/* NULL: nothing open */
	Relation	by_id_index;
	Probe		by_id;			/* event_id -> causation_group */
	Relation	group_index;	/* NULL: not open */
	Probe		by_group;		/* entries of causation_group */
	Relation	links;			/* NULL: not open */
	Relation	links_index;
	Probe		by_link;		/* entries of causation_links (a) */
} TraceLinksScope;

/* What one row decided before its insert, and must finish after it. */
typedef struct TraceLinks
{
	pg_uuid_t	event_id;
	pg_uuid_t	group;			/* the causation_group to store */
	bool		stored;			/* set by the caller after the insert */
	int			nparents;
	pg_uuid_t  *parents;		/* parent ids other than the event itself */
	bool	   *unsettled;		/* parent not stored (or stored by a
								 * transaction still in flight) */
	pg_uuid_t  *parent_group;	/* group of each settled parent */
	int		   *parent_row;		/* row of the same statement that inserts
								 * the parent, else -1 */
} TraceLinks;

extern void trace_links_begin(TraceLinksScope *scope);

/*
 * Chooses the group of rows[r] (event parsed), which one statement inserts
 * after rows[0..r-1]; call for every row before the statement, then
 * trace_links_after_insert() for every row after it.  An error in between
 * may skip the rest: the transaction's abort closes what is open.
 */
extern void trace_links_before_insert(TraceLinksScope *scope, TraceLinks *rows, int r,
									  const Envelope *parsed);

/*
 * Records the links rows[r] needs when it was stored (rows[r].stored; not a
 * duplicate), in the same SPI connection; order matters for concurrent
 * appends: see the .c.
 */
extern void trace_links_after_insert(TraceLinksScope *scope, TraceLinks *rows, int r);

extern void trace_links_end(TraceLinksScope *scope);

#endif
