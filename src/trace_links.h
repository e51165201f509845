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
#include "utils/uuid.h"

#include "envelope.h"

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
} TraceLinks;

/* Chooses the event's group; call before inserting it. */
extern void trace_links_before_insert(const Envelope *parsed, TraceLinks *links);

/*
 * Records the links the new event needs; call after it was inserted, in the
 * same SPI connection.  Order matters for concurrent appends: see the .c.
 */
extern void trace_links_after_insert(const TraceLinks *links);

#endif
