/*
 * purge.c
 *	  candystore.purge_events(): retention, the one way events leave the store.
 *
 * Events are immutable, so the immutability trigger refuses every DELETE;
 * this function lifts that for its own statement only.  Events the outbox
 * has not yet sent are kept (deleting them would lose a publish); their
 * already-published outbox rows go with them.
 *
 * Whole partitions go first, and touch no row: the partition is detached
 * and moved into the schema candystore_purged (out of every read; the DROP,
 * whose commit unlinks its files, is left to drop_purged_partitions()), its
 * position range noted in purged_ranges, and event_ids keeps its events' rows
 * (the id ledger: a redelivered purged event is a duplicate, not stored
 * again; the walks skip rows in purged ranges).  forget_purged_ids() trims
 * those rows later, in batches, for an operator who wants the space back.
 * The rest of the horizon (the boundary partition, an unpartitioned store)
 * goes row by row, event_ids rows with them.
 *
 * A forgotten event with a surviving child leaves its id linked to its causation
 * group (trace_links.h): should the event be appended again, it must find
 * that child, whose group may be named after neither it nor its parents.
 * There is no index on correlation_ids; a child of a purged event p sits in
 * p's group, in the group named after p (it arrived first), or in a group
 * linked to one of those (a second parent, a marker), so the surviving rows
 * of those groups, a few index ranges, are the only ones that can name p.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "partition_contents.h"
#include "partitions.h"
#include "purge.h"
#include "spi_plans.h"
#include "store.h"
#include "trace_catalog.h"

/*
 * The bookkeeping of a purge, after "purged" (position, event_id,
 * causation_group of the events leaving): their event_ids rows and sent
 * outbox rows go, and ids a surviving child names are kept linked.  Returns
 * how many were purged.
 */
static const char *const purge_unlisting =
" unlisted AS ("
"  DELETE FROM candystore.event_ids i USING purged p WHERE i.event_id = p.event_id),";
static const char *const purge_bookkeeping =
" sent AS ("
"  DELETE FROM candystore.outbox o USING purged p WHERE o.position = p.position),"
/* see the comment at the top */
" near(g) AS ("
"  SELECT x.g FROM purged p,"
"         LATERAL (VALUES (p.causation_group), (p.event_id)) x(g)"
"   WHERE p.causation_group <> p.event_id"
"  UNION SELECT l.b FROM near n JOIN candystore.causation_links l ON l.a = n.g),"
" named_parents AS ("
"  SELECT DISTINCT x.id FROM candystore.%s c,"
"         LATERAL pg_catalog.unnest(c.correlation_ids) x(id)"
"   WHERE c.causation_group IN (SELECT g FROM near)"
"     AND NOT EXISTS (SELECT 1 FROM purged q WHERE q.position = c.position)),"
" named AS ("
"  INSERT INTO candystore.causation_links (a, b)"
"  SELECT x.a, x.b FROM purged p,"
"         LATERAL (VALUES (p.event_id, p.causation_group),"
"                         (p.causation_group, p.event_id)) x(a, b)"
"   WHERE p.causation_group <> p.event_id"
"     AND p.event_id IN (SELECT id FROM named_parents)"
"  ON CONFLICT DO NOTHING)"
" SELECT count(*) FROM purged";

/*
 * One statement purging the rows of "purged", their event_ids rows too when
 * unlist.  A 0.1.0 catalog (the library is replaced before ALTER EXTENSION
 * UPDATE runs) has no event_ids: the groups are read from event_log.
 */
static uint64
purge_statement(const char *purged, bool unlist, Oid *types, Datum *values, int nargs)
{
	bool		partitioned = trace_catalog()->partitioned;
	char	   *bookkeeping = psprintf(purge_bookkeeping, partitioned ? "event_ids" : "event_log");
	char	   *sql = psprintf("WITH RECURSIVE purged AS (%s), %s %s", purged,
							   partitioned && unlist ? purge_unlisting : "", bookkeeping);
	int			rc;
	bool		isnull;

	rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "purging events failed: %s", SPI_result_code_string(rc));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The highest position handed out (0 before the first): the range partitions
 * that may go whole lie at or below it.  Read off the sequence; one that was
 * set back with is_called false asks SQL.
 */
static int64
positions_reached(void)
{
	const TraceCatalog *catalog = trace_catalog();
	LOCAL_FCINFO(fcinfo, 1);
	Datum		last;
	bool		isnull;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(getIdentitySequence(catalog->event_ids, catalog->position, false));
	fcinfo->args[0].isnull = false;
	last = pg_sequence_last_value(fcinfo);
	if (!fcinfo->isnull)
		return DatumGetInt64(last);
	if (SPI_execute("SELECT last_value - 1 FROM candystore.event_ids_position_seq", true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "reading the position sequence failed");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* Whether any subscription exists (then unread events keep partitions). */
static bool
any_subscription(void)
{
	Oid			relid = get_relname_relid("subscription", get_namespace_oid("candystore", false));
	Relation	rel;
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;
	bool		found;

	if (!OidIsValid(relid))
		elog(ERROR, "candystore.subscription is missing");
	rel = table_open(relid, AccessShareLock);
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);
	found = table_scan_getnextslot(scan, ForwardScanDirection, slot);
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Why a whole partition must stay, each asked with one index probe:
 * KEPT_UNSENT, an event the outbox has yet to send (later partitions may
 * still go); KEPT_YOUNG, an event younger than the horizon or, with
 * subscriptions, one a subscription (or member) has yet to read (later
 * partitions hold later events: the probes stop).  The rest is left to the
 * row DELETE, which keeps unsent events and counts what subscriptions lose.
 */
#define PURGEABLE 0
#define KEPT_UNSENT 1
#define KEPT_YOUNG 2
/* positions $1 to $2; prepared once per backend */
static const char *const partition_unsent =
"SELECT EXISTS (SELECT 1 FROM candystore.outbox o"
"                WHERE o.position BETWEEN $1 AND $2 AND o.published_at IS NULL)";
/* for a partition (%1$s) without the occurred_at index partition_holds_occurred() reads */
static const char *const partition_young =
"SELECT EXISTS (SELECT 1 FROM %1$s e WHERE e.occurred_at >= pg_catalog.now() - $1)";
static const char *const partition_unread =
"SELECT EXISTS (SELECT 1 FROM candystore.subscription_checkpoint k, %1$s e"
"                WHERE (e.xid, e.position) > (k.xid, k.position))"
"    OR EXISTS (SELECT 1 FROM candystore.subscription s, %1$s e"
"                WHERE (e.xid, e.position) > (s.start_xid, s.start_position)"
"                  AND NOT EXISTS (SELECT 1 FROM candystore.subscription_checkpoint k"
"                                   WHERE k.name = s.name))";
/*
 * Where a purge's time goes, reported at DEBUG1 (bench/purge.sh and
 * bench/large_store.sh print it): milliseconds in each step.
 */
typedef struct PurgeSteps
{
	instr_time	mark;
	double		candidates;
	double		probes;
	double		detaches;
	double		counts;
	int			counted_off_index;	/* partitions counted off their primary key */
	double		remainder;
} PurgeSteps;

/* Adds the time since the last mark to *step, and marks now. */
static void
purge_step(PurgeSteps *steps, double *step)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, steps->mark);
	*step += INSTR_TIME_GET_MILLISEC(now);
	INSTR_TIME_SET_CURRENT(steps->mark);
}


/* now() - older_than, both ways */
typedef struct PurgeHorizon
{
	Datum		older_than;		/* an Interval */
	TimestampTz at;
} PurgeHorizon;

/* One SPI statement returning one bigint (or how many rows it changed). */
static int64
count_of(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	bool		isnull;
	Datum		value;
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "\"%s\" failed: %s", sql, SPI_result_code_string(rc));
	if (expected != SPI_OK_SELECT)
		return (int64) SPI_processed;
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(value);
}

static char *
partition_name(Oid relid)
{
	return quote_qualified_identifier("candystore", get_rel_name(relid));
}

/* A boolean query's answer. */
static bool
holds(const char *sql, Datum older_than)
{
	Oid			types[1] = {INTERVALOID};
	bool		isnull;

	if (SPI_execute_with_args(sql, 1, types, &older_than, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "\"%s\" failed", sql);
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* Whether a candidate partition can go whole (see PURGEABLE). */
static int
partition_kept_by(const PartitionRange *range, const PurgeHorizon *horizon, bool subscriptions)
{
	static SPIPlanPtr unsent = NULL;
	Datum		bounds[2] = {Int64GetDatum(range->first), Int64GetDatum(range->last)};
	bool		isnull;
	int			young;

	if (unsent == NULL)
	{
		Oid			types[2] = {INT8OID, INT8OID};

		unsent = spi_prepare_kept(partition_unsent, 2, types, 0);
	}
	if (SPI_execute_plan(unsent, bounds, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "probing the outbox failed");
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		return KEPT_UNSENT;
	young = partition_holds_occurred(range->relid, horizon->at, false);
	if (young < 0)
		young = holds(psprintf(partition_young, partition_name(range->relid)), horizon->older_than);
	if (young || (subscriptions && holds(psprintf(partition_unread, partition_name(range->relid)),
										 horizon->older_than)))
		return KEPT_YOUNG;
	return PURGEABLE;
}

/*
 * Detaches a whole partition past the horizon; returns how many events it held.
 * No row of event_ids is touched (see the top).  Its outbox rows are all
 * sent (partition_kept_by) and go with it.
 */
static int64
detach_partition(const PartitionRange *range, PurgeSteps *steps)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(range->first), Int64GetDatum(range->last)};
	int64		held;

	count_of("INSERT INTO candystore.purged_ranges (first_position, last_position) VALUES ($1, $2)",
			 2, types, values, SPI_OK_INSERT);
	count_of("DELETE FROM candystore.outbox WHERE position BETWEEN $1 AND $2",
			 2, types, values, SPI_OK_DELETE);
	partition_detach(range->relid);
	purge_step(steps, &steps->detaches);
	/* with the DETACH's lock: no append in flight into it */
	held = partition_count_rows(range->relid);
	if (held >= 0)
		steps->counted_off_index++;
	else
		held = count_of(psprintf("SELECT count(*) FROM candystore_purged.%s",
								 quote_identifier(get_rel_name(range->relid))),
						0, NULL, NULL, SPI_OK_SELECT);
	purge_step(steps, &steps->counts);
	return held;
}

/*
 * Forgets the event_ids rows of purged events that "victims" (a query of
 * their ctids) names, with the bookkeeping of a purge (links kept for
 * surviving children); returns how many.
 */
static uint64
forget_ids(const char *victims, Oid *types, Datum *values, int nargs)
{
	char	   *purged = psprintf("DELETE FROM candystore.event_ids i"
								  " WHERE i.ctid = ANY (ARRAY(%s))"
								  " RETURNING i.position, i.event_id, i.causation_group",
								  victims);
	volatile uint64 forgotten = 0;

	PG_TRY();
	{
		store_removal_allowed = true;
		forgotten = purge_statement(purged, false, types, values, nargs);
	}
	PG_FINALLY();
	{
		store_removal_allowed = false;
	}
	PG_END_TRY();
	return forgotten;
}

static Oid
relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Forgets the purged events among envelopes (a jsonb[]) so that they can be
 * appended again (restore_archive).  An id that is not a canonical uuid is
 * left to append's own check.
 */
uint64
purge_forget_envelopes(Datum envelopes)
{
	Oid			types[1] = {JSONBARRAYOID};
	Oid			save_user;
	int			save_sec;
	volatile uint64 forgotten = 0;

	if (!OidIsValid(trace_catalog()->purged_ranges))
		return 0;
	/*
	 * As the owner of event_ids, as append_many() (SECURITY DEFINER) will
	 * store them: the caller is one the owner let restore archives.
	 */
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(relation_owner(trace_catalog()->event_ids),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		forgotten = forget_ids("SELECT c.ctid FROM candystore.event_ids c, candystore.purged_ranges r"
							   " WHERE c.event_id = ANY (ARRAY("
							   "   SELECT CASE WHEN e->>'event_id' ~ '^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$'"
							   "               THEN (e->>'event_id')::uuid END"
							   "     FROM pg_catalog.unnest($1) e))"
							   "   AND c.position BETWEEN r.first_position AND r.last_position",
							   types, &envelopes, 1);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	return forgotten;
}

PG_FUNCTION_INFO_V1(candystore_forget_purged_ids);

/*
 * candystore.forget_purged_ids(max_ids bigint) RETURNS bigint: deletes up to
 * max_ids event_ids rows of purged events; once none is left, their ranges.
 * Each call is one short transaction's worth, so that vacuum can follow.
 */
Datum
candystore_forget_purged_ids(PG_FUNCTION_ARGS)
{
	int64		max_ids = PG_GETARG_INT64(0);
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(max_ids)};
	uint64		forgotten;

	if (max_ids < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_ids must be at least 1, not " INT64_FORMAT, max_ids)));
	SPI_connect();
	/* a sequential scan that stops at max_ids: purged rows are the oldest, near the start */
	forgotten = forget_ids("SELECT c.ctid FROM candystore.event_ids c, candystore.purged_ranges r"
						   " WHERE c.position BETWEEN r.first_position AND r.last_position"
						   " LIMIT $1",
						   types, values, 1);
	if (forgotten < (uint64) max_ids)
		count_of("DELETE FROM candystore.purged_ranges", 0, NULL, NULL, SPI_OK_DELETE);
	SPI_finish();
	PG_RETURN_INT64((int64) forgotten);
}

PG_FUNCTION_INFO_V1(candystore_purge_events);

/* candystore.purge_events(older_than interval) RETURNS bigint */
Datum
candystore_purge_events(PG_FUNCTION_ARGS)
{
	Interval   *older_than = PG_GETARG_INTERVAL_P(0);
	Interval	zero = {0};
	Oid			types[] = {INTERVALOID};
	Datum		values[1];
	volatile uint64 purged = 0;
	PurgeSteps	steps = {0};
	PurgeHorizon horizon;
	volatile int ndropped = 0;

	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(older_than),
										 IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be negative"),
				 errhint("For example candystore.purge_events('90 days') removes events that occurred more than 90 days ago.")));

	values[0] = IntervalPGetDatum(older_than);
	horizon.older_than = values[0];
	/* now() - older_than */
	horizon.at = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
														 TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
														 values[0]));
	INSTR_TIME_SET_CURRENT(steps.mark);
	SPI_connect();
	PG_TRY();
	{
		int			nranges = 0;
		int			ndrop = 0;
		PartitionRange *drop = NULL;
		bool	   *detached = NULL;
		bool		subscriptions = false;
		bool		locked = false;
		int64		reached = 0;
		int			past_horizon;

		store_removal_allowed = true;
		/* whole partitions first: no row deletes in event_log, no dead tuples */
		if (trace_catalog()->partitioned)
		{
			reached = positions_reached();
			subscriptions = any_subscription();
			drop = partition_ranges(&nranges);
			detached = palloc0(sizeof(bool) * Max(nranges, 1));
			/* every position of a candidate handed out */
			ndrop = nranges;
			while (ndrop > 0 && drop[ndrop - 1].last > reached)
				ndrop--;
		}
		purge_step(&steps, &steps.candidates);
		for (int i = 0; i < ndrop; i++)
		{
			int			kept;

			CHECK_FOR_INTERRUPTS();
			if (locked)
				partition_lock_for_detach(drop[i].relid);
			kept = partition_kept_by(&drop[i], &horizon, subscriptions);
			if (kept == PURGEABLE && !locked)
			{
				/*
				 * The first to go: the DETACH's locks now, and the probe
				 * again on what appends in flight into it committed (an
				 * unsent outbox row, a young event).  Later candidates are
				 * locked before their probe.
				 */
				partition_lock_for_detach(drop[i].relid);
				locked = true;
				kept = partition_kept_by(&drop[i], &horizon, subscriptions);
			}
			purge_step(&steps, &steps.probes);
			if (kept == KEPT_YOUNG)
				break;
			if (kept == PURGEABLE)
			{
				purged += detach_partition(&drop[i], &steps);
				detached[i] = true;
				ndropped++;
			}
		}

		/*
		 * The remainder, row by row; the statement (planned over every
		 * partition) only when an event past the horizon is left: one probe
		 * of each remaining partition's occurred_at index (the default
		 * partition's too), or of all of them at once through event_log
		 * where one lacks the index (or the store is not partitioned).
		 */
		past_horizon = 0;
		/* (partitions made ahead, past the positions handed out, hold none) */
		for (int i = 0; i < nranges && past_horizon == 0 && drop[i].first <= reached; i++)
			if (!detached[i])
				past_horizon = partition_holds_occurred(drop[i].relid, horizon.at, true);
		if (past_horizon == 0 && trace_catalog()->partitioned)
		{
			Oid			fallback = partition_default();

			if (OidIsValid(fallback))
				past_horizon = partition_holds_occurred(fallback, horizon.at, true);
		}
		if (past_horizon < 0 || !trace_catalog()->partitioned)
			past_horizon = holds("SELECT EXISTS (SELECT FROM candystore.event_log e"
								 " WHERE e.occurred_at < pg_catalog.now() - $1)", values[0]);
		if (past_horizon > 0)
			purged += purge_statement("  DELETE FROM candystore.event_log e"
									  "   WHERE e.occurred_at < pg_catalog.now() - $1"
									  "     AND NOT EXISTS (SELECT 1 FROM candystore.outbox o"
									  "                      WHERE o.position = e.position AND o.published_at IS NULL)"
									  "  RETURNING e.position, e.event_id, e.causation_group",
									  true, types, values, 1);
		purge_step(&steps, &steps.remainder);
	}
	PG_FINALLY();
	{
		store_removal_allowed = false;
	}
	PG_END_TRY();
	SPI_finish();
	elog(DEBUG1, "purge_events: candidates %.1f ms, probes %.1f ms, detaching %d partitions %.1f ms, counting their events %.1f ms (%d off their primary key), remainder %.1f ms",
		 steps.candidates, steps.probes, ndropped, steps.detaches, steps.counts,
		 steps.counted_off_index, steps.remainder);
	PG_RETURN_INT64((int64) purged);
}
