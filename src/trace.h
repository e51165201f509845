/*
 * trace.h
 *	  The causation graph around an event, as trace() returns it, for the
 *	  functions that render it (trace_render.c) without walking it again.
 */
#ifndef CANDYSTORE_TRACE_H
#define CANDYSTORE_TRACE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/array.h"
#include "utils/uuid.h"

/* The event_type a walk shows for an event the caller may not see. */
#define TRACE_HIDDEN_TYPE "(hidden)"
/* id -> node index, a simplehash table (trace.c) */
struct trace_ids_hash;

/* One event of a walk. */
typedef struct TraceNode
{
	pg_uuid_t	id;
	bool		found;			/* stored (false: a parent not arrived yet) */
	bool		hidden;			/* stored, of a type the caller may not see:
								 * its event_type is "(hidden)", no time */
	int			depth;			/* shortest depth from the start, -1 = unset */
	int64		position;
	text	   *event_type;
	TimestampTz occurred_at;
	int			nparents;
	pg_uuid_t  *parents;		/* deduplicated, in stored order */
	ArrayType  *parents_array;	/* the stored array when parents is exactly
								 * its elements (returned as it is); else NULL */
	int			index;			/* order of loading, into Walk.nodes */
	int			row;			/* trace()'s row order, from 0; -1 = not a row */
} TraceNode;

/* trace()'s rows, by depth then position (missing parents last in a level). */
typedef struct TraceGraph
{
	MemoryContext cxt;			/* holds everything below */
	struct trace_ids_hash *ids; /* id -> index into nodes */
	TraceNode **nodes;			/* rows and others */
	TraceNode **rows;
	int			nrows;
} TraceGraph;

/*
 * Walks the graph around start (one read of its causation groups).  Returns
 * false, with nothing left allocated, when the event is not stored; else the
 * caller releases the graph with MemoryContextDelete(graph->cxt).
 */
extern bool trace_graph(const pg_uuid_t *start, TraceGraph *graph);

/* The graph's node for an id, or NULL. */
extern TraceNode *trace_graph_node(const TraceGraph *graph, const pg_uuid_t *id);

#endif
