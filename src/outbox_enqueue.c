/*
 * outbox_enqueue.c
 *	  One row into candystore.outbox for publish(), without SPI.
 *
 * publish() enqueues a row per event, usually many in one statement.
 * Through SPI each row paid for a statement of its own: the cached plan's
 * revalidation and locks, executor start and end, a command counter
 * increment.  Here the row is formed and inserted into the heap and its
 * indexes directly (ExecInsertIndexTuples, so every index and partial
 * index predicate of the table is honoured, whatever indexes it has), with
 * the column defaults the table declares: the identity from its sequence,
 * headers '{}', enqueued_at now(), zero attempts and failures.
 *
 * The direct path is taken only for the table exactly as this version
 * creates it: the expected columns in order, no triggers, no row-level
 * security, no CHECK constraints.  Anything else (a catalog not yet
 * updated, a trigger someone added) goes through the SQL INSERT, which
 * applies whatever the table has.
 *
 * The table and its indexes stay open for the rest of the statement that
 * opened them (SELECT publish(doc) FROM staging opens them once, not once
 * per row: opening and closing the indexes, their locks and their partial
 * index predicates cost a third of the row's insert), as statement_kept.h
 * says; a relcache invalidation of the table (an index made, a column
 * added) has them opened again.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "outbox_enqueue.h"
#include "statement_kept.h"
#include "spi_plans.h"
#include "table_watch.h"

/* candystore.outbox's columns, in order, as 70_outbox.sql creates them */
static const struct
{
	const char *name;
	Oid			type;
}			outbox_columns[] = {
	{"id", INT8OID},
	{"position", INT8OID},
	{"exchange", TEXTOID},
	{"routing_key", TEXTOID},
	{"headers", JSONBOID},
	{"enqueued_at", TIMESTAMPTZOID},
	{"attempts", INT4OID},
	{"next_attempt_at", TIMESTAMPTZOID},
	{"last_error", TEXTOID},
	{"published_at", TIMESTAMPTZOID},
	{"failures", INT4OID},
	{"parked_at", TIMESTAMPTZOID},
};

#define OUTBOX_NATTS lengthof(outbox_columns)

/* The table, and its identity sequence, looked up again after any change to it. */
static TableWatch outbox_table = {.name = "candystore outbox enqueue",.tables = {"outbox", NULL}};
static Oid	outbox_id_seq = InvalidOid;
static Datum empty_headers = (Datum) 0;

static SPIPlanPtr enqueue_plan = NULL;

/* The table open for the direct path, and where its rows are formed. */
typedef struct OpenOutbox
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
} OpenOutbox;

static void close_outbox(void *value);

/* Kept for the statement; stale after an invalidation of the table (its relid). */
static StatementKept open_outbox = {.close = close_outbox};

/* Closes the table and its indexes (the locks stay until the transaction ends). */
static void
close_outbox(void *value)
{
	OpenOutbox *o = value;

	for (int i = 0; i < o->rri->ri_NumIndices; i++)
		index_close(o->rri->ri_IndexRelationDescs[i], NoLock);
	ExecResetTupleTable(o->estate->es_tupleTable, false);
	table_close(o->rel, NoLock);
	FreeExecutorState(o->estate);
	pfree(o);
}

void
outbox_enqueue_init(void)
{
	table_watch_register(&outbox_table);
}

/* The SQL INSERT, for a table the direct path does not know. */
static void
enqueue_with_sql(int64 position, text *routing_key, text *exchange)
{
	Oid			types[] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			rc;

	SPI_connect();
	if (enqueue_plan == NULL)
		enqueue_plan = spi_prepare_kept("INSERT INTO candystore.outbox (position, routing_key, exchange)"
										" VALUES ($1, $2, $3)", 3, types, 0);
	values[0] = Int64GetDatum(position);
	values[1] = PointerGetDatum(routing_key);
	values[2] = exchange ? PointerGetDatum(exchange) : (Datum) 0;
	nulls[2] = exchange ? ' ' : 'n';
	rc = SPI_execute_plan(enqueue_plan, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "inserting into candystore.outbox failed: %s", SPI_result_code_string(rc));
	SPI_finish();
}

/* Whether rel is the table as this version creates it, with nothing added that acts on inserts. */
static bool
direct_insert_possible(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);

	if (rel->trigdesc != NULL || rel->rd_rel->relrowsecurity ||
		(desc->constr != NULL && desc->constr->num_check > 0) ||
		rel->rd_rel->relkind != RELKIND_RELATION || desc->natts != (int) OUTBOX_NATTS)
		return false;
	for (int i = 0; i < (int) OUTBOX_NATTS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->atttypid != outbox_columns[i].type ||
			strcmp(NameStr(att->attname), outbox_columns[i].name) != 0)
			return false;
	}
	return true;
}

/*
 * Opens the table (*(Oid *) arg) and its indexes for the direct path, or
 * returns NULL (nothing left open) when the direct path does not apply to
 * it; run by statement_kept_get(), under the transaction's resource owner
 * and memory.
 */
static void *
open_for_insert(void *arg)
{
	Relation	rel = table_open(*(Oid *) arg, RowExclusiveLock);
	OpenOutbox *o;

	if (!direct_insert_possible(rel))
	{
		table_close(rel, NoLock);
		return NULL;
	}
	o = palloc0(sizeof(OpenOutbox));
	o->rel = rel;
	o->estate = CreateExecutorState();
	MemoryContextSwitchTo(o->estate->es_query_cxt);
	o->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(o->rri, rel, 1, NULL, 0);
	ExecOpenIndices(o->rri, false);
	o->slot = ExecInitExtraTupleSlot(o->estate, RelationGetDescr(rel), table_slot_callbacks(rel));
	MemoryContextSwitchTo(TopTransactionContext);
	return o;
}

/* Inserts the row into the table's heap and every index of it. */
static void
insert_row(OpenOutbox *o, Datum *values, bool *nulls)
{
	TupleTableSlot *slot = o->slot;

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * OUTBOX_NATTS);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * OUTBOX_NATTS);
	ExecStoreVirtualTuple(slot);
	table_tuple_insert(o->rel, slot, GetCurrentCommandId(true), 0, NULL);
	if (o->rri->ri_NumIndices > 0)
		list_free(ExecInsertIndexTuples(o->rri, slot, o->estate, false, false, NULL, NIL));
	ExecClearTuple(slot);
	ResetPerTupleExprContext(o->estate);
}

void
outbox_enqueue(int64 position, text *routing_key, text *exchange)
{
	Oid			outbox_relid;
	OpenOutbox *o;
	Datum		values[OUTBOX_NATTS];
	bool		nulls[OUTBOX_NATTS];

	if (empty_headers == (Datum) 0)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		empty_headers = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
		MemoryContextSwitchTo(old);
	}
	if (outbox_table.stale || !OidIsValid(outbox_table.relids[0]))
	{
		outbox_table.stale = false;
		outbox_id_seq = InvalidOid;
		if (!table_watch_resolve(&outbox_table))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("candystore.outbox does not exist"),
					 errhint("Update the extension: ALTER EXTENSION candystore UPDATE.")));
	}
	outbox_relid = outbox_table.relids[0];

	/* a table of that name made again since: the one kept is not it */
	if (open_outbox.value != NULL && open_outbox.relid != outbox_relid)
		statement_kept_close(&open_outbox);
	open_outbox.relid = outbox_relid;
	o = statement_kept_get(&open_outbox, open_for_insert, &outbox_relid);
	if (o == NULL ||
		pg_class_aclcheck(outbox_relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
	{
		/* the SQL INSERT applies what the table has, or raises as SQL would */
		enqueue_with_sql(position, routing_key, exchange);
		return;
	}
	/* changed while this waited for its lock: look the sequence up again */
	if (outbox_id_seq == InvalidOid || outbox_table.stale)
		outbox_id_seq = getIdentitySequence(outbox_relid, 1, false);

	memset(nulls, true, sizeof(nulls));
	values[0] = Int64GetDatum(nextval_internal(outbox_id_seq, false));
	values[1] = Int64GetDatum(position);
	values[2] = PointerGetDatum(exchange);
	values[3] = PointerGetDatum(routing_key);
	values[4] = empty_headers;
	values[5] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[6] = Int32GetDatum(0);
	values[10] = Int32GetDatum(0);
	nulls[0] = nulls[1] = nulls[3] = nulls[4] = nulls[5] = nulls[6] = nulls[10] = false;
	nulls[2] = exchange == NULL;
	insert_row(o, values, nulls);
}
