/*
 * store_insert.c
 *	  Inserting an append's rows without planning and running an INSERT.
 *
 * store.c used to write each chunk of rows with a prepared statement: a CTE
 * inserting into event_ids (ON CONFLICT (event_id) DO NOTHING, RETURNING the
 * position) joined back to a VALUES list and inserted into event_log.  Per
 * event, the statement cost about a third more than the heap tuples and
 * index entries it wrote: the executor set up per statement (both result
 * relations and every index opened, the partition routed to opened with its
 * indexes), the VALUES list's expressions initialised, the CTEs' rows kept in
 * tuplestores, hashed and sorted to join them.  Here the same rows are
 * written as COPY FROM writes them: one executor state per batch, the
 * event_ids row inserted (speculatively, as ON CONFLICT does, when the id may
 * be taken), its event_log row routed by ExecFindPartition (which keeps each
 * partition it opened for the rest of the batch) and inserted, each with its
 * index entries.
 *
 * Everything the statement did that matters is done here too: the INSERT
 * privileges of the invoking role, the identity sequence for the position,
 * the columns' defaults (recorded_at, xid), the NOT NULL and CHECK
 * constraints of the partition; a table with triggers on INSERT or row
 * security is left to the statement (store_insert_begin() returns NULL).
 *
 * The open tables are kept for the rest of the statement that opened them
 * (SELECT append(doc) FROM staging opens them once, not once per row), as
 * statement_kept.h says: opened again after an invalidation of any relation
 * (a partition attached, an index made), and closed before ALTER TABLE or
 * DROP TABLE (store_insert_forget(), from the partition guard), which refuse
 * a table this session holds open.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/xid8.h"

#include "statement_kept.h"
#include "store_insert.h"
#include "trace_catalog.h"

/* event_ids' columns, in the order of ids_columns */
enum
{
	IDS_EVENT_ID, IDS_POSITION, IDS_EVENT_TYPE, IDS_OCCURRED_AT, IDS_CORRELATION_IDS,
	IDS_CAUSATION_GROUP, IDS_NCOLUMNS
};
static const char *const ids_columns[IDS_NCOLUMNS] = {
	"event_id", "position", "event_type", "occurred_at", "correlation_ids", "causation_group"
};

/* event_log's columns, in the order of log_columns */
enum
{
	LOG_POSITION, LOG_EVENT_ID, LOG_EVENT_TYPE, LOG_OCCURRED_AT, LOG_RECORDED_AT,
	LOG_ROUTING_KEY, LOG_CORRELATION_IDS, LOG_ENVELOPE, LOG_CAUSATION_GROUP, LOG_SESSION_KEY,
	LOG_XID, LOG_NCOLUMNS
};
static const char *const log_columns[LOG_NCOLUMNS] = {
	"position", "event_id", "event_type", "occurred_at", "recorded_at", "routing_key",
	"correlation_ids", "envelope", "causation_group", "session_key", "xid"
};

struct StoreInsert
{
	EState	   *estate;
	ResultRelInfo *ids;			/* event_ids */
	ResultRelInfo *log;			/* event_log, the partitioned root */
	ModifyTableState *mtstate;	/* what ExecFindPartition needs of one */
	PartitionTupleRouting *proute;
	TupleTableSlot *ids_slot;
	TupleTableSlot *log_slot;
	AttrNumber	ids_att[IDS_NCOLUMNS];	/* 0-based, in the tables' descriptors */
	AttrNumber	log_att[LOG_NCOLUMNS];
	List	   *arbiter;		/* event_ids_pkey, for ON CONFLICT */
	Oid			position_seq;
	Datum		recorded_at;
	Datum		xid;
};

static void close_tables(void *value);

/* The open tables of the running statement (see above): stale after an invalidation of any relation. */
static StatementKept kept = {.close = close_tables, .relid = InvalidOid};

/* Per backend: the relations' oids, looked up again when event_ids changes. */
static Oid	known_event_ids = InvalidOid;
static Oid	event_log_oid;
static Oid	position_seq;

/*
 * Each column's index in desc (0-based) by name, or false when desc has a
 * column not among names (or lacks one of them).
 */
static bool
map_columns(TupleDesc desc, const char *const *names, int n, AttrNumber *att)
{
	int			found = 0;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);
		int			c;

		if (a->attisdropped)
			continue;
		for (c = 0; c < n; c++)
			if (strcmp(NameStr(a->attname), names[c]) == 0)
				break;
		if (c == n)
			return false;
		att[c] = i;
		found++;
	}
	return found == n;
}

/* Whether inserting rel straight would skip something an INSERT does. */
static bool
needs_a_statement(Relation rel)
{
	TriggerDesc *t = rel->trigdesc;
	TupleConstr *constr = rel->rd_att->constr;

	return (t != NULL && (t->trig_insert_before_row || t->trig_insert_after_row ||
						  t->trig_insert_instead_row || t->trig_insert_before_statement ||
						  t->trig_insert_after_statement || t->trig_insert_new_table)) ||
		rel->rd_rel->relrowsecurity ||
		(constr != NULL && constr->num_check > 0);
}

static void
require_insert_privilege(Oid relid)
{
	AclResult	acl = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(relid));
}

static RangeTblEntry *
target_entry(Oid relid)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = get_rel_relkind(relid);
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	return rte;
}

/*
 * Closes what open_tables() opened (a StoreInsert); run, as open_tables() is,
 * by statement_kept.c under the transaction's resource owner, which opened
 * them.
 */
static void
close_tables(void *value)
{
	StoreInsert *ins = value;
	EState	   *estate = ins->estate;

	if (ins->proute != NULL)
		ExecCleanupTupleRouting(ins->mtstate, ins->proute);
	ExecResetTupleTable(estate->es_tupleTable, false);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);
	FreeExecutorState(estate);
	pfree(ins);
}

/* Opens the tables (see store_insert_begin()), or NULL; statement_kept_get() runs it. */
static void *
open_tables(void *arg)
{
	const TraceCatalog *catalog = trace_catalog();
	StoreInsert *ins;
	EState	   *estate;
	MemoryContext old;

	(void) arg;
	LockRelationOid(catalog->event_ids, RowExclusiveLock);
	LockRelationOid(event_log_oid, RowExclusiveLock);

	ins = palloc0(sizeof(StoreInsert));
	estate = CreateExecutorState();
	ins->estate = estate;
	old = MemoryContextSwitchTo(estate->es_query_cxt);
	ExecInitRangeTable(estate, list_make2(target_entry(catalog->event_ids),
										  target_entry(event_log_oid)));
	ins->ids = makeNode(ResultRelInfo);
	ExecInitResultRelation(estate, ins->ids, 1);
	ins->log = makeNode(ResultRelInfo);
	ExecInitResultRelation(estate, ins->log, 2);
	if (needs_a_statement(ins->ids->ri_RelationDesc) ||
		needs_a_statement(ins->log->ri_RelationDesc) ||
		!map_columns(RelationGetDescr(ins->ids->ri_RelationDesc), ids_columns, IDS_NCOLUMNS,
					 ins->ids_att) ||
		!map_columns(RelationGetDescr(ins->log->ri_RelationDesc), log_columns, LOG_NCOLUMNS,
					 ins->log_att))
	{
		MemoryContextSwitchTo(old);
		close_tables(ins);
		return NULL;
	}
	CheckValidResultRel(ins->ids, CMD_INSERT);
	/* speculative: the unique index's details, for ON CONFLICT's checks */
	ExecOpenIndices(ins->ids, true);
	ins->arbiter = list_make1_oid(catalog->event_id_index);
	ins->position_seq = position_seq;

	/* as COPY FROM routes rows: a ModifyTableState with no plan behind it */
	ins->mtstate = makeNode(ModifyTableState);
	ins->mtstate->ps.plan = NULL;
	ins->mtstate->ps.state = estate;
	ins->mtstate->operation = CMD_INSERT;
	ins->mtstate->mt_nrels = 1;
	ins->mtstate->resultRelInfo = ins->log;
	ins->mtstate->rootResultRelInfo = ins->log;
	ins->proute = ExecSetupPartitionTupleRouting(estate, ins->log->ri_RelationDesc);

	ins->ids_slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(ins->ids->ri_RelationDesc),
										   &TTSOpsVirtual);
	ins->log_slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(ins->log->ri_RelationDesc),
										   &TTSOpsVirtual);
	/* the columns' defaults: now() and pg_current_xact_id() */
	ins->recorded_at = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	ins->xid = FullTransactionIdGetDatum(GetTopFullTransactionId());
	MemoryContextSwitchTo(old);
	return ins;
}

/* slot as an empty row of its descriptor (every column NULL, dropped ones too) */
static void
clear_row(TupleTableSlot *slot)
{
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
}

static inline void
set_column(TupleTableSlot *slot, AttrNumber att, Datum value, bool isnull)
{
	slot->tts_values[att] = value;
	slot->tts_isnull[att] = isnull;
}

/*
 * The event_ids row of the event at this position, as the slot's virtual
 * tuple.  Made anew for each attempt: clearing the slot frees the copy an
 * insert made of the values.
 */
static TupleTableSlot *
event_ids_row(StoreInsert *ins, const StoreInsertRow *row, int64 position)
{
	TupleTableSlot *slot = ins->ids_slot;
	const AttrNumber *a = ins->ids_att;

	clear_row(slot);
	set_column(slot, a[IDS_EVENT_ID], UUIDPGetDatum(&row->parsed->event_id), false);
	set_column(slot, a[IDS_POSITION], Int64GetDatum(position), false);
	set_column(slot, a[IDS_EVENT_TYPE], PointerGetDatum(row->parsed->event_type), false);
	set_column(slot, a[IDS_OCCURRED_AT], TimestampTzGetDatum(row->parsed->occurred_at), false);
	set_column(slot, a[IDS_CORRELATION_IDS], PointerGetDatum(row->parsed->correlation_ids), false);
	set_column(slot, a[IDS_CAUSATION_GROUP], UUIDPGetDatum(row->causation_group), false);
	return ExecStoreVirtualTuple(slot);
}

/*
 * The event's event_ids row into its heap and indexes; false when, with
 * on_conflict, its event id is taken.  Does what ExecInsert() does for
 * ON CONFLICT DO NOTHING: check the unique index first, insert
 * speculatively, and when a concurrent insertion of the same id got in
 * between, take the row back and check again (waiting for that transaction).
 * The position is only taken once the id was found free.
 */
static bool
insert_event_ids_row(StoreInsert *ins, const StoreInsertRow *row, int64 *position,
					 bool on_conflict)
{
	Relation	rel = ins->ids->ri_RelationDesc;
	CommandId	cid = GetCurrentCommandId(true);
	TupleTableSlot *slot;

	if (!on_conflict)
	{
		*position = nextval_internal(ins->position_seq, false);
		slot = event_ids_row(ins, row, *position);
		table_tuple_insert(rel, slot, cid, 0, NULL);
		/* a taken id raises unique_violation here */
		list_free(ExecInsertIndexTuples(ins->ids, slot, ins->estate, false, false, NULL, NIL));
		return true;
	}
	for (;;)
	{
		ItemPointerData conflict;
		uint32		token;
		bool		spec_conflict = false;

		slot = event_ids_row(ins, row, 0);
		if (!ExecCheckIndexConstraints(ins->ids, slot, ins->estate, &conflict, ins->arbiter))
			return false;
		*position = nextval_internal(ins->position_seq, false);
		slot = event_ids_row(ins, row, *position);
		token = SpeculativeInsertionLockAcquire(GetCurrentTransactionId());
		table_tuple_insert_speculative(rel, slot, cid, 0, NULL, token);
		list_free(ExecInsertIndexTuples(ins->ids, slot, ins->estate, false, true,
										&spec_conflict, ins->arbiter));
		table_tuple_complete_speculative(rel, slot, token, !spec_conflict);
		SpeculativeInsertionLockRelease(GetCurrentTransactionId());
		if (!spec_conflict)
			return true;
	}
}

/*
 * The partition of the row in slot: opened on first use, under the owner of
 * the other kept tables.
 */
static ResultRelInfo *
find_partition(StoreInsert *ins, TupleTableSlot *slot)
{
	ResourceOwner owner = CurrentResourceOwner;
	ResultRelInfo *partition;

	CurrentResourceOwner = TopTransactionResourceOwner;
	PG_TRY();
	{
		partition = ExecFindPartition(ins->mtstate, ins->log, ins->proute, slot, ins->estate);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	return partition;
}

int64
store_insert_row(StoreInsert *ins, const StoreInsertRow *row, bool on_conflict)
{
	EState	   *estate = ins->estate;
	TupleTableSlot *slot;
	ResultRelInfo *partition;
	Datum		event_id = UUIDPGetDatum(&row->parsed->event_id);
	Datum		event_type = PointerGetDatum(row->parsed->event_type);
	Datum		occurred_at = TimestampTzGetDatum(row->parsed->occurred_at);
	Datum		correlation_ids = PointerGetDatum(row->parsed->correlation_ids);
	Datum		group = UUIDPGetDatum(row->causation_group);
	const AttrNumber *a;
	MemoryContext old;
	int64		position;

	ResetPerTupleExprContext(estate);
	old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));

	if (!insert_event_ids_row(ins, row, &position, on_conflict))
	{
		MemoryContextSwitchTo(old);
		return -1;
	}

	slot = ins->log_slot;
	a = ins->log_att;
	clear_row(slot);
	set_column(slot, a[LOG_POSITION], Int64GetDatum(position), false);
	set_column(slot, a[LOG_EVENT_ID], event_id, false);
	set_column(slot, a[LOG_EVENT_TYPE], event_type, false);
	set_column(slot, a[LOG_OCCURRED_AT], occurred_at, false);
	set_column(slot, a[LOG_RECORDED_AT], ins->recorded_at, false);
	set_column(slot, a[LOG_ROUTING_KEY], PointerGetDatum(row->routing_key), row->routing_key == NULL);
	set_column(slot, a[LOG_CORRELATION_IDS], correlation_ids, false);
	set_column(slot, a[LOG_ENVELOPE], JsonbPGetDatum(row->envelope), false);
	set_column(slot, a[LOG_CAUSATION_GROUP], group, false);
	set_column(slot, a[LOG_SESSION_KEY], PointerGetDatum(row->session_key), row->session_key == NULL);
	set_column(slot, a[LOG_XID], ins->xid, false);
	ExecStoreVirtualTuple(slot);

	/* the partition of this position, in its own column order */
	partition = find_partition(ins, slot);
	if (partition->ri_RootToPartitionMap != NULL)
		slot = execute_attr_map_slot(partition->ri_RootToPartitionMap->attrMap, slot,
									 partition->ri_PartitionTupleSlot);
	if (needs_a_statement(partition->ri_RelationDesc))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("event_log partition \"%s\" has INSERT triggers, row security or CHECK constraints",
						RelationGetRelationName(partition->ri_RelationDesc)),
				 errdetail("candystore writes event_log's partitions directly, as the partitions it makes are."),
				 errhint("Drop them from the partition; put them on candystore.event_log itself, where append() honours them.")));
	if (partition->ri_RelationDesc->rd_att->constr != NULL)
		ExecConstraints(partition, slot, estate);
	table_tuple_insert(partition->ri_RelationDesc, slot, GetCurrentCommandId(true), 0, NULL);
	list_free(ExecInsertIndexTuples(partition, slot, estate, false, false, NULL, NIL));
	MemoryContextSwitchTo(old);
	return position;
}

void
store_insert_end(StoreInsert *ins)
{
	/* kept for the rest of the statement */
	(void) ins;
}

void
store_insert_forget(void)
{
	statement_kept_close(&kept);
}

StoreInsert *
store_insert_begin(void)
{
	const TraceCatalog *catalog;

	/* another session's ATTACH PARTITION, say, committed since the last call */
	AcceptInvalidationMessages();
	catalog = trace_catalog();
	if (!catalog->partitioned)
		return NULL;
	if (known_event_ids != catalog->event_ids)
	{
		event_log_oid = get_relname_relid("event_log", get_rel_namespace(catalog->event_ids));
		position_seq = getIdentitySequence(catalog->event_ids, catalog->position, false);
		known_event_ids = catalog->event_ids;
	}
	/* the invoking role's, on every call */
	require_insert_privilege(catalog->event_ids);
	require_insert_privilege(event_log_oid);
	/* opened under the transaction's owner and memory, closed as said above */
	return statement_kept_get(&kept, open_tables, NULL);
}
