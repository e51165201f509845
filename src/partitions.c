/*
 * partitions.c
 *	  event_log's range partitions (by position): candystore.make_partition()
 *	  and the event trigger that refuses DETACH, ATTACH and DROP of them.
 *
 * A partition taken away would remove events past purge_events() (and leave
 * their ids in event_ids); one attached would add events append() never saw
 * (no event_ids row, no causation group).  So DROP TABLE of event_log or one
 * of its partitions, and ALTER TABLE event_log DETACH PARTITION, are refused
 * for every role while candystore is not doing it itself
 * (partition_ddl_allowed, set by make_partition() and purge_events() around
 * their own statements).  ATTACH PARTITION of an empty table is let through:
 * pg_restore attaches the partitions it has just created before it loads
 * their rows.
 *
 * event_log_default catches positions beyond the partitions made ahead, so an
 * append never fails for want of one.  Making a partition whose range the
 * default partition already holds rows of moves those rows (PostgreSQL
 * refuses to create it otherwise): the default partition is detached, the
 * rows copied and deleted, and it is attached again, in one transaction.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "common/int.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "partitioning/partdesc.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "partitions.h"
#include "store_insert.h"
#include "store.h"

bool		partition_ddl_allowed = false;

static Oid
event_log_oid(void)
{
	Oid			nsp = get_namespace_oid("candystore", true);

	return OidIsValid(nsp) ? get_relname_relid("event_log", nsp) : InvalidOid;
}

static bool
is_event_log_or_partition(Oid relid, Oid event_log)
{
	if (relid == event_log)
		return true;
	return get_rel_relispartition(relid) && get_partition_parent(relid, true) == event_log;
}

static void
refuse(const char *what, Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("candystore events are immutable"),
			 errdetail("%s of %s is not allowed, for any role.", what, get_rel_name(relid)),
			 errhint("To remove old events, use candystore.purge_events(); "
					 "to make partitions, candystore.make_partitions().")));
}

static bool
relation_is_empty(Oid relid)
{
	char	   *sql = psprintf("SELECT NOT EXISTS (SELECT 1 FROM %s)",
							   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
														  get_rel_name(relid)));
	bool		isnull;
	bool		empty;

	SPI_connect();
	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "checking %s failed", sql);
	empty = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return empty;
}

PG_FUNCTION_INFO_V1(candystore_guard_partitions);

/* Event trigger on ddl_command_start for ALTER TABLE and DROP TABLE. */
Datum
candystore_guard_partitions(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Oid			event_log;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("candystore_guard_partitions() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	/* the tables append() keeps open for its statement would be "in use" */
	store_insert_forget();
	event_log = event_log_oid();
	if (partition_ddl_allowed || !OidIsValid(event_log))
		PG_RETURN_VOID();

	if (IsA(trigdata->parsetree, DropStmt))
	{
		DropStmt   *drop = (DropStmt *) trigdata->parsetree;
		ListCell   *lc;

		if (drop->removeType != OBJECT_TABLE)
			PG_RETURN_VOID();
		foreach(lc, drop->objects)
		{
			RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
			Oid			relid = RangeVarGetRelid(rv, NoLock, true);

			if (OidIsValid(relid) && is_event_log_or_partition(relid, event_log))
				refuse("DROP TABLE", relid);
		}
	}
	else if (IsA(trigdata->parsetree, AlterTableStmt))
	{
		AlterTableStmt *alter = (AlterTableStmt *) trigdata->parsetree;
		Oid			relid = RangeVarGetRelid(alter->relation, NoLock, true);
		ListCell   *lc;

		if (relid != event_log)
			PG_RETURN_VOID();
		foreach(lc, alter->cmds)
		{
			AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

			if (cmd->subtype == AT_DetachPartition || cmd->subtype == AT_DetachPartitionFinalize)
				refuse("DETACH PARTITION", relid);
			if (cmd->subtype == AT_AttachPartition)
			{
				PartitionCmd *part = (PartitionCmd *) cmd->def;
				Oid			attached = RangeVarGetRelid(part->name, NoLock, true);

				if (OidIsValid(attached) && !relation_is_empty(attached))
					ereport(ERROR,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("a table holding rows cannot become a partition of candystore.event_log"),
							 errdetail("Events enter the store through candystore.append() only."),
							 errhint("Append the rows' envelopes with candystore.append_many().")));
			}
		}
	}
	PG_RETURN_VOID();
}

static void
run(const char *sql, int expected)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc != expected)
		elog(ERROR, "\"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

PG_FUNCTION_INFO_V1(candystore_make_partition);

/*
 * candystore.make_partition(first_position bigint, size bigint, count integer DEFAULT 1)
 *	  RETURNS void
 *
 * Makes count consecutive partitions of size positions from first_position.
 * Rows of their ranges in the default partition (appended beyond the
 * partitions made, or left there by the upgrade from 0.1.0) are moved with
 * the default partition detached once: one scan copies them through
 * event_log into the new partitions, one deletes them, and attaching the
 * default partition again checks what remains once.
 */
Datum
candystore_make_partition(PG_FUNCTION_ARGS)
{
	int64		first = PG_GETARG_INT64(0);
	int64		size = PG_GETARG_INT64(1);
	int32		count = PG_GETARG_INT32(2);
	int64		span;
	int64		end;
	char	   *range;
	bool		isnull;

	if (first < 1 || size < 1 || count < 1 ||
		pg_mul_s64_overflow(size, count, &span) || pg_add_s64_overflow(first, span, &end))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid partitions: first position " INT64_FORMAT ", size " INT64_FORMAT ", count %d",
						first, size, count),
				 errdetail("Positions start at 1; a partition holds at least one.")));
	range = psprintf("position >= " INT64_FORMAT " AND position < " INT64_FORMAT, first, end);

	/* ALTER TABLE refuses tables this session holds open (also without event triggers) */
	store_insert_forget();
	SPI_connect();
	PG_TRY();
	{
		bool		moving;

		partition_ddl_allowed = true;
		run(psprintf("SELECT EXISTS (SELECT 1 FROM candystore.event_log_default WHERE %s)", range),
			SPI_OK_SELECT);
		moving = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (moving)
			run("ALTER TABLE candystore.event_log DETACH PARTITION candystore.event_log_default",
				SPI_OK_UTILITY);
		for (int i = 0; i < count; i++)
		{
			int64		from = first + i * size;
			char	   *qname = psprintf("candystore.%s",
										 quote_identifier(psprintf("event_log_p" INT64_FORMAT, from)));

			CHECK_FOR_INTERRUPTS();
			/* the default partition's indexes are every partition's (20_event_log.sql) */
			run(psprintf("CREATE TABLE %s (LIKE candystore.event_log_default INCLUDING DEFAULTS INCLUDING INDEXES)",
						 qname), SPI_OK_UTILITY);
			run(psprintf("ALTER TABLE candystore.event_log ATTACH PARTITION %s"
						 " FOR VALUES FROM (" INT64_FORMAT ") TO (" INT64_FORMAT ")", qname, from, from + size),
				SPI_OK_UTILITY);
			run(psprintf("CREATE TRIGGER event_log_truncate_refused BEFORE TRUNCATE ON %s"
						 " FOR EACH STATEMENT EXECUTE FUNCTION candystore.forbid_change()", qname),
				SPI_OK_UTILITY);
			/* ALWAYS: also with session_replication_role = replica */
			run(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER event_log_truncate_refused", qname),
				SPI_OK_UTILITY);
		}
		if (moving)
		{
			run(psprintf("INSERT INTO candystore.event_log SELECT * FROM candystore.event_log_default WHERE %s",
						 range), SPI_OK_INSERT);
			store_removal_allowed = true;
			run(psprintf("DELETE FROM candystore.event_log_default WHERE %s", range), SPI_OK_DELETE);
			store_removal_allowed = false;
			run("ALTER TABLE candystore.event_log ATTACH PARTITION candystore.event_log_default DEFAULT",
				SPI_OK_UTILITY);
		}
	}
	PG_FINALLY();
	{
		partition_ddl_allowed = false;
		store_removal_allowed = false;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

/* Runs sql (a utility statement on a partition) past the guard. */
static void
run_partition_ddl(const char *sql)
{
	store_insert_forget();
	PG_TRY();
	{
		partition_ddl_allowed = true;
		run(sql, SPI_OK_UTILITY);
	}
	PG_FINALLY();
	{
		partition_ddl_allowed = false;
	}
	PG_END_TRY();
}

/*
 * Detaches the partition relid and moves it into candystore_purged, where
 * drop_purged_partitions() drops it later: the detach only changes the
 * catalog, while a DROP's commit unlinks every file of the partition and its
 * indexes under the exclusive lock on event_log.
 */
void
partition_detach(Oid relid)
{
	char	   *name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												  get_rel_name(relid));

	run_partition_ddl(psprintf("ALTER TABLE candystore.event_log DETACH PARTITION %s", name));
	run_partition_ddl(psprintf("ALTER TABLE %s SET SCHEMA candystore_purged", name));
}

/*
 * Takes the locks partition_detach()'s DETACH takes, in its order (event_log,
 * then the partition), ahead of it: appends still in flight into the
 * partition (a position handed out, the row not yet committed) commit or
 * abort first, and none starts until this transaction ends.
 */
void
partition_lock_for_detach(Oid relid)
{
	LockRelationOid(event_log_oid(), AccessExclusiveLock);
	LockRelationOid(relid, AccessExclusiveLock);
}

Oid
partition_default(void)
{
	Oid			event_log = event_log_oid();

	return OidIsValid(event_log) ? get_default_partition_oid(event_log) : InvalidOid;
}

static int
range_order(const void *a, const void *b)
{
	int64		x = ((const PartitionRange *) a)->first;
	int64		y = ((const PartitionRange *) b)->first;

	return (x > y) - (x < y);
}

/*
 * From the relcache's partition descriptor and each partition's bound in
 * pg_class (syscache): no query, no planning over event_log.
 */
PartitionRange *
partition_ranges(int *n)
{
	Relation	rel = table_open(event_log_oid(), AccessShareLock);
	PartitionDesc desc = RelationGetPartitionDesc(rel, true);
	PartitionRange *ranges = palloc(sizeof(PartitionRange) * Max(desc->nparts, 1));

	*n = 0;
	for (int i = 0; i < desc->nparts; i++)
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(desc->oids[i]));
		Datum		bound;
		bool		isnull;
		PartitionBoundSpec *spec;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for relation %u", desc->oids[i]);
		bound = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relpartbound, &isnull);
		spec = isnull ? NULL : castNode(PartitionBoundSpec, stringToNode(TextDatumGetCString(bound)));
		ReleaseSysCache(tup);
		if (spec && spec->strategy == PARTITION_STRATEGY_RANGE && !spec->is_default)
		{
			PartitionRangeDatum *lower = linitial_node(PartitionRangeDatum, spec->lowerdatums);
			PartitionRangeDatum *upper = linitial_node(PartitionRangeDatum, spec->upperdatums);

			if (lower->kind != PARTITION_RANGE_DATUM_VALUE || upper->kind != PARTITION_RANGE_DATUM_VALUE)
				continue;
			ranges[*n].relid = desc->oids[i];
			ranges[*n].first = DatumGetInt64(castNode(Const, lower->value)->constvalue);
			ranges[*n].last = DatumGetInt64(castNode(Const, upper->value)->constvalue) - 1;
			(*n)++;
		}
	}
	table_close(rel, NoLock);
	qsort(ranges, *n, sizeof(PartitionRange), range_order);
	return ranges;
}
