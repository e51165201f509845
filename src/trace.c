/*
 * trace.c
 *	  candystore.ancestors(), descendants() and trace(): causation-chain walks.
 *
 * correlation_ids holds an event's parent ids.  A walk goes breadth-first,
 * level by level: parents are found by probing the event_id btree directly,
 * children by one prepared query per level that probes the GIN index on
 * correlation_ids once per parent id.  A hash table keyed by uuid keeps
 * every event seen, so each event is visited once, self links and cycles
 * terminate, and duplicated parent ids count once.  Parents not stored yet are
 * remembered as missing: trace() reports them, the other walks skip them.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "spi_plans.h"

PG_FUNCTION_INFO_V1(candystore_ancestors);
PG_FUNCTION_INFO_V1(candystore_descendants);
PG_FUNCTION_INFO_V1(candystore_trace);

/* One event of a walk. */
typedef struct TraceNode
{
	pg_uuid_t	id;				/* hash key */
	bool		found;			/* stored (false: a parent not arrived yet) */
	int			depth;			/* shortest depth from the start, -1 = unset */
	int64		position;
	text	   *event_type;
	TimestampTz occurred_at;
	int			nparents;
	pg_uuid_t  *parents;		/* deduplicated, in stored order */
	int			index;			/* order of discovery, for trace() */
} TraceNode;

typedef struct Walk
{
	MemoryContext cxt;
	HTAB	   *seen;
	TraceNode **nodes;			/* in discovery order */
	int			nnodes;
	int			capacity;
	/* the event_id btree probe, opened on first use */
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	IndexScanDesc scan;
} Walk;

static SPIPlanPtr by_parent_plan = NULL;

#define EVENT_COLUMNS "position, event_id, event_type, occurred_at, correlation_ids"

/* Every walk query takes one uuid[] argument. */
static SPIPlanPtr
prepare_kept(const char *sql, int cursor_options)
{
	Oid			argtypes[] = {UUIDARRAYOID};

	return spi_prepare_kept(sql, 1, argtypes, cursor_options);
}

/*
 * Children are looked up one parent id at a time (a GIN probe each): one
 * probe with thousands of keys is slower, and planning it for the actual
 * array is slower still.
 */
static void
prepare_plans(void)
{
	if (by_parent_plan == NULL)
		by_parent_plan = prepare_kept("SELECT " EVENT_COLUMNS
									  " FROM unnest($1) AS p(id)"
									  " JOIN candystore.event_log ON correlation_ids @> ARRAY[p.id]",
									  0);
}

static void
walk_init(Walk *walk)
{
	HASHCTL		ctl;

	walk->cxt = AllocSetContextCreate(CurrentMemoryContext, "candystore trace walk",
									  ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(pg_uuid_t);
	ctl.entrysize = sizeof(TraceNode);
	ctl.hcxt = walk->cxt;
	walk->seen = hash_create("candystore trace events", 1024, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	walk->capacity = 1024;
	walk->nnodes = 0;
	walk->nodes = MemoryContextAlloc(walk->cxt, walk->capacity * sizeof(TraceNode *));
	walk->heap = NULL;
}

static void
walk_open_probe(Walk *walk)
{
	Oid			nsp = get_namespace_oid("candystore", false);

	walk->heap = table_open(get_relname_relid("event_log", nsp), AccessShareLock);
	walk->index = index_open(get_relname_relid("event_log_event_id_key", nsp), AccessShareLock);
	walk->slot = table_slot_create(walk->heap, NULL);
	walk->scan = index_beginscan(walk->heap, walk->index, GetActiveSnapshot(), 1, 0);
}

static void
walk_finish(Walk *walk)
{
	if (walk->heap != NULL)
	{
		index_endscan(walk->scan);
		ExecDropSingleTupleTableSlot(walk->slot);
		index_close(walk->index, AccessShareLock);
		table_close(walk->heap, AccessShareLock);
		walk->heap = NULL;
	}
}

/* The node for an id, created (unset, not found) when new. */
static TraceNode *
walk_node(Walk *walk, const pg_uuid_t *id, bool *is_new)
{
	bool		exists;
	TraceNode  *node = hash_search(walk->seen, id, HASH_ENTER, &exists);

	*is_new = !exists;
	if (!exists)
	{
		node->found = false;
		node->depth = -1;
		node->position = 0;
		node->event_type = NULL;
		node->occurred_at = 0;
		node->nparents = 0;
		node->parents = NULL;
		if (walk->nnodes == walk->capacity)
		{
			walk->capacity *= 2;
			walk->nodes = repalloc(walk->nodes, walk->capacity * sizeof(TraceNode *));
		}
		node->index = walk->nnodes;
		walk->nodes[walk->nnodes++] = node;
	}
	return node;
}

/* Copies an event's columns into its node (in the walk's context). */
static void
fill_node_values(Walk *walk, TraceNode *node, Datum position, Datum event_type,
				 Datum occurred_at, Datum correlation_ids)
{
	MemoryContext old = MemoryContextSwitchTo(walk->cxt);
	ArrayType  *parents;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;

	node->found = true;
	node->position = DatumGetInt64(position);
	node->event_type = DatumGetTextPCopy(event_type);
	node->occurred_at = DatumGetTimestampTz(occurred_at);
	parents = DatumGetArrayTypeP(correlation_ids);
	deconstruct_array(parents, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR,
					  &elems, &nulls, &nelems);
	node->parents = palloc(Max(nelems, 1) * sizeof(pg_uuid_t));
	node->nparents = 0;
	for (int i = 0; i < nelems; i++)
	{
		pg_uuid_t  *p = DatumGetUUIDP(elems[i]);
		bool		dup = false;

		if (nulls[i])
			continue;
		for (int j = 0; j < node->nparents && !dup; j++)
			dup = memcmp(&node->parents[j], p, UUID_LEN) == 0;
		if (!dup)
			node->parents[node->nparents++] = *p;
	}
	MemoryContextSwitchTo(old);
}

static void
fill_node(Walk *walk, TraceNode *node, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;

	fill_node_values(walk, node,
					 SPI_getbinval(tuple, desc, 1, &isnull),
					 SPI_getbinval(tuple, desc, 3, &isnull),
					 SPI_getbinval(tuple, desc, 4, &isnull),
					 SPI_getbinval(tuple, desc, 5, &isnull));
}

/* Runs a plan for a list of ids; returns the SPI tuple table. */
static SPITupleTable *
fetch(SPIPlanPtr plan, pg_uuid_t *ids, int nids)
{
	Datum	   *elems = palloc(nids * sizeof(Datum));
	Datum		arg;
	int			rc;

	for (int i = 0; i < nids; i++)
		elems[i] = UUIDPGetDatum(&ids[i]);
	arg = PointerGetDatum(construct_array(elems, nids, UUIDOID, UUID_LEN, false,
										  TYPALIGN_CHAR));
	rc = SPI_execute_plan(plan, &arg, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	pfree(elems);
	return SPI_tuptable;
}

typedef struct IdList
{
	pg_uuid_t  *ids;
	int			n;
	int			cap;
} IdList;

static void
idlist_add(MemoryContext cxt, IdList *l, const pg_uuid_t *id)
{
	if (l->n == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ids = l->ids ? repalloc(l->ids, l->cap * sizeof(pg_uuid_t))
			: MemoryContextAlloc(cxt, l->cap * sizeof(pg_uuid_t));
	}
	l->ids[l->n++] = *id;
}

/*
 * Looks up ids not seen yet, creating their nodes (missing if not stored).
 * When depth >= 0 the new nodes get it and are added to next.  Each id is
 * one probe of the event_id btree, read directly: a chain of a thousand
 * levels would otherwise pay a query's start-up a thousand times.
 */
static void
visit_by_id(Walk *walk, IdList *ids, int depth, IdList *next)
{
	IndexScanDesc scan;
	TupleTableSlot *slot;

	if (ids->n == 0)
		return;
	if (walk->heap == NULL)
		walk_open_probe(walk);
	scan = walk->scan;
	slot = walk->slot;
	for (int i = 0; i < ids->n; i++)
	{
		ScanKeyData key;
		bool		is_new;
		TraceNode  *node = walk_node(walk, &ids->ids[i], &is_new);

		CHECK_FOR_INTERRUPTS();
		if (is_new)
		{
			ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ,
						UUIDPGetDatum(&ids->ids[i]));
			index_rescan(scan, &key, 1, NULL, 0);
			if (index_getnext_slot(scan, ForwardScanDirection, slot))
			{
				slot_getsomeattrs(slot, 7);
				fill_node_values(walk, node, slot->tts_values[0], slot->tts_values[2],
								 slot->tts_values[3], slot->tts_values[6]);
			}
			ExecClearTuple(slot);
		}
		if (node->depth < 0 && depth >= 0)
		{
			node->depth = depth;
			if (next && node->found)
				idlist_add(walk->cxt, next, &node->id);
		}
	}
}

/* Creates nodes for the stored children of frontier not seen yet. */
static void
visit_children(Walk *walk, IdList *frontier, int depth, IdList *next)
{
	SPITupleTable *tt;

	if (frontier->n == 0)
		return;
	tt = fetch(by_parent_plan, frontier->ids, frontier->n);
	for (uint64 i = 0; i < tt->numvals; i++)
	{
		bool		isnull;
		pg_uuid_t  *id = DatumGetUUIDP(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		bool		is_new;
		TraceNode  *node = walk_node(walk, id, &is_new);

		if (is_new)
		{
			fill_node(walk, node, tt->vals[i], tt->tupdesc);
			node->depth = depth;
			idlist_add(walk->cxt, next, &node->id);
		}
	}
	SPI_freetuptable(tt);
}

/* Parent ids of the frontier's events not seen yet (each once). */
static void
unseen_parents(Walk *walk, IdList *frontier, IdList *out)
{
	for (int i = 0; i < frontier->n; i++)
	{
		TraceNode  *node = hash_search(walk->seen, &frontier->ids[i], HASH_FIND, NULL);

		for (int j = 0; node && j < node->nparents; j++)
		{
			bool		listed = false;

			if (hash_search(walk->seen, &node->parents[j], HASH_FIND, NULL) != NULL)
				continue;
			for (int k = 0; k < out->n && !listed; k++)
				listed = memcmp(&out->ids[k], &node->parents[j], UUID_LEN) == 0;
			if (!listed)
				idlist_add(walk->cxt, out, &node->parents[j]);
		}
	}
}

static int
compare_nodes(const void *a, const void *b)
{
	const TraceNode *x = *(TraceNode *const *) a;
	const TraceNode *y = *(TraceNode *const *) b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	if (x->found != y->found)
		return x->found ? -1 : 1;	/* missing parents last in their level */
	if (x->position != y->position)
		return x->position < y->position ? -1 : 1;
	return memcmp(&x->id, &y->id, UUID_LEN);
}

/* Emits the walk's nodes (missing ones only if asked), by depth then position. */
static void
emit(FunctionCallInfo fcinfo, Walk *walk, bool with_missing)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TraceNode **sorted = palloc(Max(walk->nnodes, 1) * sizeof(TraceNode *));
	int			n = 0;

	for (int i = 0; i < walk->nnodes; i++)
		if (walk->nodes[i]->depth >= 0 && (with_missing || walk->nodes[i]->found))
			sorted[n++] = walk->nodes[i];
	qsort(sorted, n, sizeof(TraceNode *), compare_nodes);

	for (int i = 0; i < n; i++)
	{
		TraceNode  *node = sorted[i];
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};
		Datum	   *parents = palloc(Max(node->nparents, 1) * sizeof(Datum));

		CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < node->nparents; j++)
			parents[j] = UUIDPGetDatum(&node->parents[j]);
		values[0] = UUIDPGetDatum(&node->id);
		if (node->found)
		{
			values[1] = PointerGetDatum(node->event_type);
			values[2] = TimestampTzGetDatum(node->occurred_at);
			values[4] = PointerGetDatum(construct_array(parents, node->nparents, UUIDOID,
														UUID_LEN, false, TYPALIGN_CHAR));
		}
		else
			nulls[1] = nulls[2] = nulls[4] = true;
		values[3] = Int32GetDatum(node->depth);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		pfree(parents);
	}
}

typedef enum WalkDirection
{
	WALK_UP,
	WALK_DOWN
} WalkDirection;

/*
 * Starts a walk from one event: the result set, the walk's state and SPI,
 * then the start itself visited at depth 0.  Returns what that visit
 * collected (visit_by_id's "next"): the walk's first frontier.
 */
static IdList
walk_begin(FunctionCallInfo fcinfo, Walk *walk, pg_uuid_t *start)
{
	IdList		first = {0};
	IdList		next = {0};

	InitMaterializedSRF(fcinfo, 0);
	walk_init(walk);
	SPI_connect();
	prepare_plans();

	idlist_add(walk->cxt, &first, start);
	visit_by_id(walk, &first, 0, &next);
	return next;
}

/* ancestors() and descendants(): breadth-first from one event. */
static Datum
walk_one_way(FunctionCallInfo fcinfo, WalkDirection direction)
{
	pg_uuid_t  *start = PG_GETARG_UUID_P(0);
	bool		limited = !PG_ARGISNULL(1);
	int			max_depth = limited ? PG_GETARG_INT32(1) : 0;
	Walk		walk;
	IdList		frontier;

	if (limited && max_depth < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_depth must not be negative"),
				 errdetail("max_depth was %d.", max_depth),
				 errhint("Pass NULL for no limit.")));

	frontier = walk_begin(fcinfo, &walk, start);
	for (int depth = 1; frontier.n > 0 && (!limited || depth <= max_depth); depth++)
	{
		IdList		next = {0};

		CHECK_FOR_INTERRUPTS();
		if (direction == WALK_DOWN)
			visit_children(&walk, &frontier, depth, &next);
		else
		{
			IdList		parents = {0};

			unseen_parents(&walk, &frontier, &parents);
			visit_by_id(&walk, &parents, depth, &next);
		}
		frontier = next;
	}

	walk_finish(&walk);
	SPI_finish();
	emit(fcinfo, &walk, false);
	MemoryContextDelete(walk.cxt);
	return (Datum) 0;
}

Datum
candystore_ancestors(PG_FUNCTION_ARGS)
{
	return walk_one_way(fcinfo, WALK_UP);
}

Datum
candystore_descendants(PG_FUNCTION_ARGS)
{
	return walk_one_way(fcinfo, WALK_DOWN);
}

/*
 * trace(): the connected graph around an event, links followed both ways,
 * then depths from the roots (events with no parent but themselves, and
 * missing parents).  A cycle with no root gets its earliest event as one.
 */
Datum
candystore_trace(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *start = PG_GETARG_UUID_P(0);
	Walk		walk;
	IdList		frontier;
	int		   *child_start;
	int		   *child_list;
	int			nedges = 0;
	int		   *queue;
	int			head = 0,
				tail = 0;

	/* Collect the component; depth 0 here only marks "reached". */
	frontier = walk_begin(fcinfo, &walk, start);
	while (frontier.n > 0)
	{
		IdList		next = {0};
		IdList		parents = {0};

		CHECK_FOR_INTERRUPTS();
		visit_children(&walk, &frontier, 0, &next);
		unseen_parents(&walk, &frontier, &parents);
		visit_by_id(&walk, &parents, 0, &next);
		frontier = next;
	}
	walk_finish(&walk);
	SPI_finish();

	if (walk.nnodes == 0 || !walk.nodes[0]->found)
	{
		MemoryContextDelete(walk.cxt);
		return (Datum) 0;
	}

	/* Child lists, by node index (compressed rows). */
	child_start = MemoryContextAllocZero(walk.cxt, (walk.nnodes + 1) * sizeof(int));
	for (int i = 0; i < walk.nnodes; i++)
		for (int j = 0; j < walk.nodes[i]->nparents; j++)
		{
			TraceNode  *p = hash_search(walk.seen, &walk.nodes[i]->parents[j], HASH_FIND, NULL);

			if (p && p != walk.nodes[i])
			{
				child_start[p->index + 1]++;
				nedges++;
			}
		}
	for (int i = 0; i < walk.nnodes; i++)
		child_start[i + 1] += child_start[i];
	child_list = MemoryContextAlloc(walk.cxt, Max(nedges, 1) * sizeof(int));
	{
		int		   *fill = MemoryContextAllocZero(walk.cxt, walk.nnodes * sizeof(int));

		for (int i = 0; i < walk.nnodes; i++)
			for (int j = 0; j < walk.nodes[i]->nparents; j++)
			{
				TraceNode  *p = hash_search(walk.seen, &walk.nodes[i]->parents[j], HASH_FIND, NULL);

				if (p && p != walk.nodes[i])
					child_list[child_start[p->index] + fill[p->index]++] = i;
			}
	}

	/* Breadth-first from all roots at once. */
	queue = MemoryContextAlloc(walk.cxt, walk.nnodes * sizeof(int));
	for (int i = 0; i < walk.nnodes; i++)
	{
		TraceNode  *node = walk.nodes[i];
		bool		root = true;

		for (int j = 0; j < node->nparents && root; j++)
			root = memcmp(&node->parents[j], &node->id, UUID_LEN) == 0;
		node->depth = -1;
		if (root)
			queue[tail++] = i;
	}
	for (int i = 0; i < tail; i++)
		walk.nodes[queue[i]]->depth = 0;
	for (;;)
	{
		while (head < tail)
		{
			TraceNode  *node = walk.nodes[queue[head++]];

			CHECK_FOR_INTERRUPTS();
			for (int k = child_start[node->index]; k < child_start[node->index + 1]; k++)
			{
				TraceNode  *child = walk.nodes[child_list[k]];

				if (child->depth < 0)
				{
					child->depth = node->depth + 1;
					queue[tail++] = child->index;
				}
			}
		}
		if (tail == walk.nnodes)
			break;
		/* Left over: a cycle no root leads into; its earliest event roots it. */
		{
			TraceNode  *earliest = NULL;

			for (int i = 0; i < walk.nnodes; i++)
				if (walk.nodes[i]->depth < 0 &&
					(earliest == NULL || walk.nodes[i]->position < earliest->position))
					earliest = walk.nodes[i];
			earliest->depth = 0;
			queue[tail++] = earliest->index;
		}
	}

	emit(fcinfo, &walk, true);
	MemoryContextDelete(walk.cxt);
	return (Datum) 0;
}
