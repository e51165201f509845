/*
 * trace.c
 *	  candystore.ancestors(), descendants() and trace(): causation-chain walks.
 *
 * correlation_ids holds an event's parent ids.  append() files every event in
 * a causation group (trace_links.c) such that everything connected to an
 * event through parent links lies in its group or in groups linked to it.
 * A walk therefore reads the start event (event_id btree), the linked group
 * names (causation_links), and every event of those groups (one range of the
 * causation_group btree each, read from the index entries alone where the
 * heap page is all-visible), then walks the parent links in memory: a
 * hash table keyed by uuid holds each event once, so self links, cycles and
 * duplicated parent ids are harmless.  Parents not stored (not in the
 * groups) are missing: trace() reports them, the other walks skip them.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/itup.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "event_type_grants.h"
#include "trace.h"
#include "trace_catalog.h"

PG_FUNCTION_INFO_V1(candystore_ancestors);
PG_FUNCTION_INFO_V1(candystore_descendants);
PG_FUNCTION_INFO_V1(candystore_trace);

/*
 * The walk's index of events by id: a simplehash table of node indexes
 * (open addressing, no allocation per entry, a cheap hash of the id).
 */
typedef struct TraceIdEntry
{
	pg_uuid_t	id;
	int			index;			/* into Walk.nodes */
	char		status;
} TraceIdEntry;

static inline uint32
uuid_hash32(const pg_uuid_t *id)
{
	uint64		a,
				b;

	memcpy(&a, id->data, sizeof(a));
	memcpy(&b, id->data + sizeof(a), sizeof(b));
	a = hash_combine64(a, b);
	return murmurhash32((uint32) (a ^ (a >> 32)));
}

#define SH_PREFIX trace_ids
#define SH_ELEMENT_TYPE TraceIdEntry
#define SH_KEY_TYPE pg_uuid_t
#define SH_KEY id
#define SH_HASH_KEY(tb, key) uuid_hash32(&(key))
#define SH_EQUAL(tb, a, b) (memcmp(&(a), &(b), UUID_LEN) == 0)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

#define NODE_CHUNK 256			/* nodes allocated at a time */

typedef struct Walk
{
	MemoryContext cxt;
	trace_ids_hash *ids;
	TraceNode **nodes;			/* in loading order */
	int			nnodes;
	int			capacity;
	TraceNode  *chunk;			/* unused nodes allocated ahead */
	int			chunk_left;
	text	   *last_type;		/* the last event type copied, shared by the
								 * nodes that follow with the same type */
	bool		last_type_hidden;	/* whether the caller may not see it */
	/* children of nodes[i]: child_list[child_start[i] .. child_start[i + 1]) */
	int		   *child_start;
	int		   *child_list;
} Walk;

static void
walk_init(Walk *walk)
{
	walk->cxt = AllocSetContextCreate(CurrentMemoryContext, "candystore trace walk",
									  ALLOCSET_DEFAULT_SIZES);
	walk->ids = trace_ids_create(walk->cxt, 16, NULL);	/* the start; walk_index_nodes() */
	walk->chunk = NULL;
	walk->chunk_left = 0;
	walk->last_type = NULL;
	walk->capacity = 256;
	walk->nnodes = 0;
	walk->nodes = MemoryContextAlloc(walk->cxt, walk->capacity * sizeof(TraceNode *));
	walk->child_start = NULL;
	walk->child_list = NULL;
}

/* A new node (unset, not found), not yet in the id table. */
static TraceNode *
walk_add_node(Walk *walk, const pg_uuid_t *id)
{
	TraceNode  *node;

	if (walk->chunk_left == 0)
	{
		walk->chunk = MemoryContextAlloc(walk->cxt, NODE_CHUNK * sizeof(TraceNode));
		walk->chunk_left = NODE_CHUNK;
	}
	node = walk->chunk++;
	walk->chunk_left--;
	node->id = *id;
	node->found = false;
	node->hidden = false;
	node->depth = -1;
	node->position = 0;
	node->event_type = NULL;
	node->occurred_at = 0;
	node->nparents = 0;
	node->parents = NULL;
	node->parents_array = NULL;
	node->row = -1;
	if (walk->nnodes == walk->capacity)
	{
		walk->capacity *= 2;
		walk->nodes = repalloc(walk->nodes, walk->capacity * sizeof(TraceNode *));
	}
	node->index = walk->nnodes;
	walk->nodes[walk->nnodes++] = node;
	return node;
}

/* The node for an id, created (unset, not found) when new. */
static TraceNode *
walk_node(Walk *walk, const pg_uuid_t *id, bool *is_new)
{
	bool		exists;
	TraceIdEntry *entry = trace_ids_insert(walk->ids, *id, &exists);

	*is_new = !exists;
	if (exists)
		return walk->nodes[entry->index];
	entry->index = walk->nnodes;
	return walk_add_node(walk, id);
}

/* Indexes the nodes loaded without the id table, in a table of their size. */
static void
walk_index_nodes(Walk *walk)
{
	trace_ids_destroy(walk->ids);
	walk->ids = trace_ids_create(walk->cxt, walk->nnodes, NULL);
	for (int i = 0; i < walk->nnodes; i++)
	{
		bool		exists;

		trace_ids_insert(walk->ids, walk->nodes[i]->id, &exists)->index = i;
	}
}

/* A stored node of the walk, or NULL (not stored, or not loaded). */
static TraceNode *
stored_node(Walk *walk, const pg_uuid_t *id)
{
	TraceIdEntry *entry = trace_ids_lookup(walk->ids, *id);

	return entry != NULL && walk->nodes[entry->index]->found ? walk->nodes[entry->index] : NULL;
}

/*
 * A copy of a stored uuid[] with a 4-byte header (palloc'd).  Short ones, as
 * every index entry and most heap rows hold them, are copied here without
 * the general detoasting path.
 */
static ArrayType *
copy_parents(Datum value)
{
	Pointer		stored = DatumGetPointer(value);

	if (VARATT_IS_SHORT(stored))
	{
		Size		len = VARSIZE_SHORT(stored) - VARHDRSZ_SHORT;
		ArrayType  *copy = palloc(len + VARHDRSZ);

		SET_VARSIZE(copy, len + VARHDRSZ);
		memcpy(VARDATA(copy), VARDATA_SHORT(stored), len);
		return copy;
	}
	return DatumGetArrayTypePCopy(value);
}

/* Copies an event's columns into its node (in the walk's context). */
static void
fill_node_values(Walk *walk, TraceNode *node, Datum position, Datum event_type,
				 Datum occurred_at, Datum correlation_ids)
{
	MemoryContext old = MemoryContextSwitchTo(walk->cxt);
	ArrayType  *parents;
	Pointer		type;
	bits8	   *nullmap;
	char	   *elem;
	int			nelems;

	node->found = true;
	node->position = DatumGetInt64(position);
	/* a graph's events mostly share a few types: copy each run once */
	type = DatumGetPointer(event_type);
	if (walk->last_type == NULL ||
		(VARATT_IS_EXTENDED(type) && !VARATT_IS_SHORT(type)) ||
		VARSIZE_ANY_EXHDR(walk->last_type) != VARSIZE_ANY_EXHDR(type) ||
		memcmp(VARDATA_ANY(walk->last_type), VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type)) != 0)
	{
		walk->last_type = DatumGetTextPCopy(event_type);
		walk->last_type_hidden = !event_type_permitted(VARDATA_ANY(walk->last_type),
													   VARSIZE_ANY_EXHDR(walk->last_type));
	}
	node->event_type = walk->last_type;
	node->occurred_at = DatumGetTimestampTz(occurred_at);
	/* the walk goes on through it; only what it is stays unsaid */
	node->hidden = walk->last_type_hidden;
	if (node->hidden)
	{
		node->event_type = cstring_to_text(TRACE_HIDDEN_TYPE);
		node->occurred_at = 0;
	}
	/* a copy: it is kept, and returned as it is when it can be */
	parents = copy_parents(correlation_ids);
	nelems = ArrayGetNItems(ARR_NDIM(parents), ARR_DIMS(parents));
	nullmap = ARR_NULLBITMAP(parents);
	elem = ARR_DATA_PTR(parents);
	if (nullmap == NULL && ARR_NDIM(parents) <= 1)
	{
		/* uuid[] elements are fixed-size and unaligned: use them in place */
		bool		dup = false;

		node->parents = (pg_uuid_t *) elem;
		for (int i = 1; i < nelems && !dup; i++)
			for (int j = 0; j < i && !dup; j++)
				dup = memcmp(&node->parents[i], &node->parents[j], UUID_LEN) == 0;
		if (!dup)
		{
			node->nparents = nelems;
			node->parents_array = parents;
			MemoryContextSwitchTo(old);
			return;
		}
	}
	node->parents = palloc(Max(nelems, 1) * sizeof(pg_uuid_t));
	node->nparents = 0;
	for (int i = 0; i < nelems; i++)
	{
		const pg_uuid_t *p = (const pg_uuid_t *) elem;
		bool		dup = false;

		if (nullmap && !(nullmap[i / 8] & (1 << (i % 8))))
			continue;			/* a NULL takes no space */
		elem += UUID_LEN;
		for (int j = 0; j < node->nparents && !dup; j++)
			dup = memcmp(&node->parents[j], p, UUID_LEN) == 0;
		if (!dup)
			node->parents[node->nparents++] = *p;
	}
	pfree(parents);
	MemoryContextSwitchTo(old);
}

/* Starts (or restarts) an equality scan on the first index column. */
static void
scan_for(IndexScanDesc scan, const pg_uuid_t *value)
{
	ScanKeyData key;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(value));
	index_rescan(scan, &key, 1, NULL, 0);
}

typedef struct GroupSet
{
	pg_uuid_t  *names;
	int			n;
	int			cap;
	HTAB	   *known;			/* made once there is more than one name */
} GroupSet;

static void
groups_add(MemoryContext cxt, GroupSet *set, const pg_uuid_t *name)
{
	bool		exists = false;

	if (set->n == 1 && set->known == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(pg_uuid_t);
		ctl.entrysize = sizeof(pg_uuid_t);
		ctl.hcxt = cxt;
		set->known = hash_create("candystore causation groups", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		hash_search(set->known, &set->names[0], HASH_ENTER, NULL);
	}
	if (set->known != NULL)
		hash_search(set->known, name, HASH_ENTER, &exists);
	else if (set->n == 1)
		exists = memcmp(&set->names[0], name, UUID_LEN) == 0;
	if (exists)
		return;
	if (set->n == set->cap)
	{
		set->cap = set->cap ? set->cap * 2 : 8;
		set->names = set->names ? repalloc(set->names, set->cap * sizeof(pg_uuid_t))
			: MemoryContextAlloc(cxt, set->cap * sizeof(pg_uuid_t));
	}
	set->names[set->n++] = *name;
}

/* The group names linked to first, directly or not, first included. */
static void
linked_groups(Walk *walk, Snapshot snapshot, const pg_uuid_t *first, GroupSet *set)
{
	const TraceCatalog *cat = trace_catalog();
	Relation	heap = table_open(cat->links, AccessShareLock);
	Relation	index = index_open(cat->links_index, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	IndexScanDesc scan = index_beginscan(heap, index, snapshot, 1, 0);

	groups_add(walk->cxt, set, first);
	for (int i = 0; i < set->n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		scan_for(scan, &set->names[i]);
		while (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			pg_uuid_t	other = *DatumGetUUIDP(slot_getattr(slot, 2, &isnull));

			groups_add(walk->cxt, set, &other);
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
}

/*
 * The position ranges of dropped partitions (purged_ranges): event_ids keeps
 * their events' rows (ids recognised, groups intact) until
 * forget_purged_ids(), but the events are no longer stored, so a walk skips
 * them.  A few rows, one per dropped partition, read once per walk.
 */
typedef struct PurgedRanges
{
	int			n;
	int64	   *first;
	int64	   *last;
} PurgedRanges;

static void
purged_ranges_load(MemoryContext cxt, Snapshot snapshot, PurgedRanges *ranges)
{
	const TraceCatalog *cat = trace_catalog();
	Relation	heap;
	TableScanDesc scan;
	TupleTableSlot *slot;
	int			cap = 8;

	ranges->n = 0;
	ranges->first = ranges->last = NULL;
	if (!OidIsValid(cat->purged_ranges))
		return;
	heap = table_open(cat->purged_ranges, AccessShareLock);
	slot = table_slot_create(heap, NULL);
	scan = table_beginscan(heap, snapshot, 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;

		if (ranges->n == 0)
		{
			ranges->first = MemoryContextAlloc(cxt, cap * sizeof(int64));
			ranges->last = MemoryContextAlloc(cxt, cap * sizeof(int64));
		}
		else if (ranges->n == cap)
		{
			cap *= 2;
			ranges->first = repalloc(ranges->first, cap * sizeof(int64));
			ranges->last = repalloc(ranges->last, cap * sizeof(int64));
		}
		ranges->first[ranges->n] = DatumGetInt64(slot_getattr(slot, 1, &isnull));
		ranges->last[ranges->n] = DatumGetInt64(slot_getattr(slot, 2, &isnull));
		ranges->n++;
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, AccessShareLock);
}

/* Whether the event at this position was purged with its partition. */
static bool
position_purged(int64 position, const PurgedRanges *ranges)
{
	for (int i = 0; i < ranges->n; i++)
		if (position >= ranges->first[i] && position <= ranges->last[i])
			return true;
	return false;
}

/*
 * Where the walk finds an event_ids row's columns: in a heap tuple (slot
 * attribute numbers) or, for an index-only read, in a group index tuple.
 */
typedef struct RowColumns
{
	int			position;
	int			event_id;
	int			event_type;
	int			occurred_at;
	int			parents;
	int			causation_group;	/* heap tuples only */
} RowColumns;

static void
heap_row_columns(const TraceCatalog *c, RowColumns *cols)
{
	cols->position = c->position;
	cols->event_id = c->event_id;
	cols->event_type = c->event_type;
	cols->occurred_at = c->occurred_at;
	cols->parents = c->correlation_ids;
	cols->causation_group = c->causation_group;
}

/*
 * Whether the group index covers a walk (40_trace.sql): position, event_id,
 * event_type and occurred_at among its columns, and one expression, the
 * parent ids when there are few enough to fit an index entry (else NULL).
 * A 0.1.0 catalog's index (causation_group) alone does not.
 */
static bool
group_index_columns(Relation index, const TraceCatalog *c, RowColumns *cols)
{
	Form_pg_index form = index->rd_index;
	int			expressions = 0;

	memset(cols, 0, sizeof(*cols));
	for (int i = 0; i < form->indnatts; i++)
	{
		AttrNumber	attnum = form->indkey.values[i];

		if (attnum == 0)
		{
			expressions++;
			cols->parents = i + 1;
		}
		else if (attnum == c->position)
			cols->position = i + 1;
		else if (attnum == c->event_id)
			cols->event_id = i + 1;
		else if (attnum == c->event_type)
			cols->event_type = i + 1;
		else if (attnum == c->occurred_at)
			cols->occurred_at = i + 1;
	}
	return expressions == 1 && cols->position && cols->event_id &&
		cols->event_type && cols->occurred_at;
}

/* Copies a row's columns into the node (values/nulls by RowColumns). */
static void
fill_node(Walk *walk, TraceNode *node, const Datum *values, const RowColumns *cols)
{
	fill_node_values(walk, node, values[cols->position - 1], values[cols->event_type - 1],
					 values[cols->occurred_at - 1], values[cols->parents - 1]);
}

/*
 * Loads the rows of one causation group, in index order.  With a covering
 * group index a row whose heap page is all-visible is read from its index
 * entry alone (an index-only read: an event's rows sit on as many heap pages
 * as other traffic spread them over); others, and rows whose parents did not
 * fit the index, are fetched from the heap.
 */
static void
load_group(Walk *walk, IndexScanDesc scan, const pg_uuid_t *group, const PurgedRanges *purged, const RowColumns *index_cols, Buffer *vmbuffer,
		   TupleTableSlot *slot)
{
	const TraceCatalog *cat = trace_catalog();
	RowColumns	heap_cols;
	ItemPointer tid;

	heap_row_columns(cat, &heap_cols);
	scan_for(scan, group);
	while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];
		const Datum *row = NULL;
		const RowColumns *cols = NULL;
		pg_uuid_t  *id;

		CHECK_FOR_INTERRUPTS();
		if (index_cols != NULL &&
			VM_ALL_VISIBLE(scan->heapRelation, ItemPointerGetBlockNumber(tid), vmbuffer))
		{
			index_deform_tuple(scan->xs_itup, scan->xs_itupdesc, values, isnull);
			if (!isnull[index_cols->parents - 1])
			{
				/* as an index-only scan does: no heap tuple to lock */
				PredicateLockPage(scan->heapRelation, ItemPointerGetBlockNumber(tid),
								  scan->xs_snapshot);
				row = values;
				cols = index_cols;
			}
		}
		if (row == NULL)
		{
			if (!index_fetch_heap(scan, slot))
				continue;		/* not visible to this snapshot */
			slot_getsomeattrs(slot, cat->last_column);
			row = slot->tts_values;
			cols = &heap_cols;
		}
		if (position_purged(DatumGetInt64(row[cols->position - 1]), purged))
			continue;
		/* an event is in one group: the id table is built once after */
		id = DatumGetUUIDP(row[cols->event_id - 1]);
		fill_node(walk, walk_add_node(walk, id), row, cols);
	}
}

/*
 * Loads the start event and every event of its linked groups into the walk.
 * Returns the start's node, or NULL when the event is not stored.
 */
static TraceNode *
walk_load(Walk *walk, const pg_uuid_t *start)
{
	const TraceCatalog *cat = trace_catalog();
	Snapshot	snapshot = GetActiveSnapshot();
	Relation	heap = table_open(cat->event_ids, AccessShareLock);
	Relation	by_id = index_open(cat->event_id_index, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	IndexScanDesc scan = index_beginscan(heap, by_id, snapshot, 1, 0);
	TraceNode  *first = NULL;
	PurgedRanges purged;
	RowColumns	heap_cols;
	bool		stored;

	heap_row_columns(cat, &heap_cols);
	purged_ranges_load(walk->cxt, snapshot, &purged);
	scan_for(scan, start);
	stored = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (stored)
	{
		slot_getsomeattrs(slot, cat->last_column);
		stored = !position_purged(DatumGetInt64(slot->tts_values[cat->position - 1]), &purged);
	}
	if (stored)
	{
		text	   *type = DatumGetTextPP(slot->tts_values[cat->event_type - 1]);

		/* a walk from an event the caller may not see: as if not stored */
		stored = event_type_permitted(VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type));
	}
	if (stored)
	{
		pg_uuid_t	group = *DatumGetUUIDP(slot->tts_values[cat->causation_group - 1]);
		GroupSet	groups = {0};
		Relation	by_group;
		RowColumns	index_cols;
		bool		covering;
		Buffer		vmbuffer = InvalidBuffer;

		ExecClearTuple(slot);
		index_endscan(scan);
		linked_groups(walk, snapshot, &group, &groups);

		/* the start's row too, in its place: loading order is position order */
		by_group = index_open(cat->group_index, AccessShareLock);
		covering = group_index_columns(by_group, cat, &index_cols);
		scan = index_beginscan(heap, by_group, snapshot, 1, 0);
		scan->xs_want_itup = covering;
		for (int g = 0; g < groups.n; g++)
			load_group(walk, scan, &groups.names[g], &purged,
					   covering ? &index_cols : NULL, &vmbuffer, slot);
		if (BufferIsValid(vmbuffer))
			ReleaseBuffer(vmbuffer);
		index_endscan(scan);
		index_close(by_group, AccessShareLock);
		walk_index_nodes(walk);
		first = stored_node(walk, start);
	}
	else
		index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(by_id, AccessShareLock);
	table_close(heap, AccessShareLock);
	return first;
}

/*
 * Starts a set-returning walk from an event: the result set, the walk and
 * its loaded groups.  Returns the start's node, or NULL (walk released,
 * empty result) when the event is not stored.
 */
static TraceNode *
walk_begin(FunctionCallInfo fcinfo, Walk *walk, const pg_uuid_t *start)
{
	TraceNode  *first;

	InitMaterializedSRF(fcinfo, 0);
	walk_init(walk);
	first = walk_load(walk, start);
	if (first == NULL)
		MemoryContextDelete(walk->cxt);
	return first;
}

/*
 * Child lists of the walk's events (compressed rows, by node index), missing
 * parents included when they have nodes.
 */
static void
build_children(Walk *walk)
{
	int			n = walk->nnodes;
	int			nedges = 0;
	int		   *fill;
	int		   *edge_parent;	/* each edge's parent node, in order */

	walk->child_start = MemoryContextAllocZero(walk->cxt, (n + 1) * sizeof(int));
	for (int i = 0; i < n; i++)
		nedges += walk->nodes[i]->nparents;
	edge_parent = MemoryContextAlloc(walk->cxt, Max(nedges, 1) * sizeof(int));
	/* one lookup per parent link; the second pass reads edge_parent */
	nedges = 0;
	for (int i = 0; i < n; i++)
	{
		TraceNode  *node = walk->nodes[i];

		CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < node->nparents; j++)
		{
			TraceIdEntry *p = trace_ids_lookup(walk->ids, node->parents[j]);

			edge_parent[nedges++] = p != NULL && p->index != i ? p->index : -1;
			if (p != NULL && p->index != i)
				walk->child_start[p->index + 1]++;
		}
	}
	for (int i = 0; i < n; i++)
		walk->child_start[i + 1] += walk->child_start[i];
	walk->child_list = MemoryContextAlloc(walk->cxt,
										  Max(walk->child_start[n], 1) * sizeof(int));
	fill = MemoryContextAllocZero(walk->cxt, Max(n, 1) * sizeof(int));
	/* in loading order, which is position order within a group */
	nedges = 0;
	for (int i = 0; i < n; i++)
	{
		for (int j = 0; j < walk->nodes[i]->nparents; j++)
		{
			int			p = edge_parent[nedges++];

			if (p >= 0)
				walk->child_list[walk->child_start[p] + fill[p]++] = i;
		}
	}
	pfree(fill);
	pfree(edge_parent);
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

/*
 * The walk's nodes that have a depth (missing ones only if asked), by depth
 * then position, numbered as rows.
 */
static TraceNode **
sorted_rows(Walk *walk, bool with_missing, int *nrows)
{
	TraceNode **sorted = MemoryContextAlloc(walk->cxt, Max(walk->nnodes, 1) * sizeof(TraceNode *));
	int			n = 0;

	bool		by_position = true;		/* stored events only, loaded in position order */
	int			max_depth = 0;

	for (int i = 0; i < walk->nnodes; i++)
	{
		TraceNode  *node = walk->nodes[i];

		if (node->depth < 0 || !(with_missing || node->found))
			continue;
		by_position = by_position && node->found &&
			(n == 0 || sorted[n - 1]->position < node->position);
		max_depth = Max(max_depth, node->depth);
		sorted[n++] = node;
	}
	if (by_position)
	{
		/*
		 * The usual case, one group (its rows come in position order): a
		 * stable counting sort by depth gives compare_nodes' order without
		 * comparing.
		 */
		int		   *start = MemoryContextAllocZero(walk->cxt, (max_depth + 2) * sizeof(int));
		TraceNode **in_order = MemoryContextAlloc(walk->cxt, Max(n, 1) * sizeof(TraceNode *));

		for (int i = 0; i < n; i++)
			start[sorted[i]->depth + 1]++;
		for (int d = 0; d <= max_depth; d++)
			start[d + 1] += start[d];
		for (int i = 0; i < n; i++)
			in_order[start[sorted[i]->depth]++] = sorted[i];
		pfree(start);
		pfree(sorted);
		sorted = in_order;
	}
	else
		qsort(sorted, n, sizeof(TraceNode *), compare_nodes);
	for (int i = 0; i < n; i++)
		sorted[i]->row = i;
	*nrows = n;
	return sorted;
}

/* A uuid[] of the ids (palloc'd). */
static ArrayType *
uuid_array(const pg_uuid_t *ids, int n)
{
	Datum	   *elems = palloc(Max(n, 1) * sizeof(Datum));
	ArrayType  *array;

	for (int j = 0; j < n; j++)
		elems[j] = UUIDPGetDatum(&ids[j]);
	array = construct_array(elems, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR);
	pfree(elems);
	return array;
}

/* Emits the walk's nodes (missing ones only if asked), by depth then position. */
static void
emit(FunctionCallInfo fcinfo, Walk *walk, bool with_missing)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n;
	TraceNode **sorted = sorted_rows(walk, with_missing, &n);

	for (int i = 0; i < n; i++)
	{
		TraceNode  *node = sorted[i];
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		CHECK_FOR_INTERRUPTS();
		values[0] = UUIDPGetDatum(&node->id);
		if (node->found)
		{
			values[1] = PointerGetDatum(node->event_type);
			values[2] = TimestampTzGetDatum(node->occurred_at);
			nulls[2] = node->hidden;
			values[4] = PointerGetDatum(node->parents_array ? node->parents_array :
										uuid_array(node->parents, node->nparents));
		}
		else
			nulls[1] = nulls[2] = nulls[4] = true;
		values[3] = Int32GetDatum(node->depth);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

typedef enum WalkDirection
{
	WALK_UP,
	WALK_DOWN
} WalkDirection;

/* ancestors() and descendants(): breadth-first from one event. */
static Datum
walk_one_way(FunctionCallInfo fcinfo, WalkDirection direction)
{
	pg_uuid_t  *start = PG_GETARG_UUID_P(0);
	bool		limited = !PG_ARGISNULL(1);
	int			max_depth = limited ? PG_GETARG_INT32(1) : 0;
	Walk		walk;
	TraceNode  *first;
	int		   *queue;
	int			head = 0,
				tail = 0;

	if (limited && max_depth < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_depth must not be negative"),
				 errdetail("max_depth was %d.", max_depth),
				 errhint("Pass NULL for no limit.")));

	first = walk_begin(fcinfo, &walk, start);
	if (first == NULL)
		return (Datum) 0;
	if (direction == WALK_DOWN)
		build_children(&walk);

	queue = MemoryContextAlloc(walk.cxt, walk.nnodes * sizeof(int));
	first->depth = 0;
	queue[tail++] = first->index;
	while (head < tail)
	{
		TraceNode  *node = walk.nodes[queue[head++]];

		CHECK_FOR_INTERRUPTS();
		if (limited && node->depth >= max_depth)
			continue;
		if (direction == WALK_DOWN)
		{
			for (int k = walk.child_start[node->index]; k < walk.child_start[node->index + 1]; k++)
			{
				TraceNode  *child = walk.nodes[walk.child_list[k]];

				if (child->depth < 0)
				{
					child->depth = node->depth + 1;
					queue[tail++] = child->index;
				}
			}
		}
		else
		{
			for (int j = 0; j < node->nparents; j++)
			{
				TraceNode  *parent = stored_node(&walk, &node->parents[j]);

				if (parent != NULL && parent->depth < 0)
				{
					parent->depth = node->depth + 1;
					queue[tail++] = parent->index;
				}
			}
		}
	}

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
 * The connected graph around the start event, links followed both ways
 * (through stored events: a missing parent is shown, not walked through),
 * with depths from the roots (events with no parent but themselves, and
 * missing parents).  A cycle with no root gets its earliest event as one.
 * Members get a depth; events of the groups outside the graph keep -1.
 */
static void
walk_connected(Walk *walk, TraceNode *first)
{
	TraceNode **members;		/* the connected graph, in order of reaching */
	int			nmembers = 0;
	int			nloaded;
	bool	   *reached;
	int		   *queue;
	int			head = 0,
				tail = 0;

	build_children(walk);
	nloaded = walk->nnodes;

	/*
	 * Collect the connected graph.  Missing parents become nodes here (after
	 * the loaded ones, so child lists stay valid) and are never expanded.
	 */
	members = MemoryContextAlloc(walk->cxt, nloaded * sizeof(TraceNode *));
	reached = MemoryContextAllocZero(walk->cxt, nloaded * sizeof(bool));
	reached[first->index] = true;
	members[nmembers++] = first;
	for (int m = 0; m < nmembers; m++)
	{
		TraceNode  *node = members[m];

		CHECK_FOR_INTERRUPTS();
		if (!node->found)
			continue;
		for (int k = walk->child_start[node->index]; k < walk->child_start[node->index + 1]; k++)
		{
			int			c = walk->child_list[k];

			if (!reached[c])
			{
				reached[c] = true;
				members[nmembers++] = walk->nodes[c];
			}
		}
		for (int j = 0; j < node->nparents; j++)
		{
			bool		is_new;
			TraceNode  *p = walk_node(walk, &node->parents[j], &is_new);

			if (is_new)
			{
				/* not stored: a missing parent */
				members = repalloc(members, (nloaded + walk->nnodes) * sizeof(TraceNode *));
				members[nmembers++] = p;
			}
			else if (p->index < nloaded && !reached[p->index])
			{
				reached[p->index] = true;
				members[nmembers++] = p;
			}
		}
	}

	/* Missing parents lead to their children too. */
	if (walk->nnodes > nloaded)
		build_children(walk);

	/* Breadth-first from all roots at once; the queue holds node indexes. */
	queue = MemoryContextAlloc(walk->cxt, nmembers * sizeof(int));
	for (int i = 0; i < nmembers; i++)
	{
		TraceNode  *node = members[i];
		bool		root = true;

		for (int j = 0; j < node->nparents && root; j++)
			root = memcmp(&node->parents[j], &node->id, UUID_LEN) == 0;
		node->depth = root ? 0 : -1;
		if (root)
			queue[tail++] = node->index;
	}
	for (;;)
	{
		while (head < tail)
		{
			TraceNode  *node = walk->nodes[queue[head++]];

			CHECK_FOR_INTERRUPTS();
			for (int k = walk->child_start[node->index]; k < walk->child_start[node->index + 1]; k++)
			{
				TraceNode  *child = walk->nodes[walk->child_list[k]];

				/* loaded events of other graphs may share a missing parent */
				if (child->depth < 0 && reached[child->index])
				{
					child->depth = node->depth + 1;
					queue[tail++] = child->index;
				}
			}
		}
		if (tail == nmembers)
			break;
		/* Left over: a cycle no root leads into; its earliest event roots it. */
		{
			TraceNode  *earliest = NULL;

			for (int i = 0; i < nmembers; i++)
				if (members[i]->depth < 0 &&
					(earliest == NULL || members[i]->position < earliest->position))
					earliest = members[i];
			earliest->depth = 0;
			queue[tail++] = earliest->index;
		}
	}
}

/* trace(): the rows of the connected graph around an event. */
Datum
candystore_trace(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *start = PG_GETARG_UUID_P(0);
	Walk		walk;
	TraceNode  *first;

	first = walk_begin(fcinfo, &walk, start);
	if (first == NULL)
		return (Datum) 0;
	walk_connected(&walk, first);
	emit(fcinfo, &walk, true);
	MemoryContextDelete(walk.cxt);
	return (Datum) 0;
}

bool
trace_graph(const pg_uuid_t *start, TraceGraph *graph)
{
	Walk		walk;
	TraceNode  *first;

	walk_init(&walk);
	first = walk_load(&walk, start);
	if (first == NULL)
	{
		MemoryContextDelete(walk.cxt);
		return false;
	}
	walk_connected(&walk, first);
	graph->cxt = walk.cxt;
	graph->ids = walk.ids;
	graph->nodes = walk.nodes;
	graph->rows = sorted_rows(&walk, true, &graph->nrows);
	return true;
}

TraceNode *
trace_graph_node(const TraceGraph *graph, const pg_uuid_t *id)
{
	TraceIdEntry *entry = trace_ids_lookup(graph->ids, *id);

	return entry != NULL ? graph->nodes[entry->index] : NULL;
}
