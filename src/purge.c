/*
 * purge.c
 *	  candystore.purge_events(): retention, the one way events leave the store.
 *
 * Events are immutable, so the immutability trigger refuses every DELETE;
 * this function lifts that for its own statement only.  Events the outbox
 * has not yet sent are kept (deleting them would lose a publish); their
 * already-published outbox rows go with them.
 *
 * A purged event with a surviving child leaves its id linked to its causation
 * group (trace_links.h): should the event be appended again, it must find
 * that child, whose group may be named after neither it nor its parents.
 * There is no index on correlation_ids; a child of a purged event p sits in
 * p's group, in the group named after p (it arrived first), or in a group
 * linked to one of those (a second parent, a marker), so the surviving rows
 * of those groups, a few index ranges, are the only ones that can name p.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "partitions.h"
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
 * One statement purging the rows of "purged".  A 0.1.0 catalog (the library
 * is replaced before ALTER EXTENSION UPDATE runs) has no event_ids: the
 * groups are read from event_log.
 */
static uint64
purge_statement(const char *purged, Oid *types, Datum *values, int nargs)
{
	bool		partitioned = trace_catalog()->partitioned;
	char	   *bookkeeping = psprintf(purge_bookkeeping, partitioned ? "event_ids" : "event_log");
	char	   *sql = psprintf("WITH RECURSIVE purged AS (%s), %s %s", purged,
							   partitioned ? purge_unlisting : "", bookkeeping);
	int			rc;
	bool		isnull;

	rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "purging events failed: %s", SPI_result_code_string(rc));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The range partitions that can go whole: every position handed out, every
 * event older than the horizon, no event the outbox has yet to send, none a
 * subscription (or member) has yet to read.  The rest is left to the row
 * DELETE, which keeps unsent events and counts what subscriptions lose.
 */
static const char *const droppable_partitions =
"SELECT p.partition::pg_catalog.oid"
"  FROM candystore.event_log_partitions p"
" WHERE p.last_position <= (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END"
"                             FROM candystore.event_ids_position_seq)"
"   AND NOT EXISTS (SELECT 1 FROM candystore.event_log e"
"                    WHERE e.position BETWEEN p.first_position AND p.last_position"
"                      AND e.occurred_at >= pg_catalog.now() - $1)"
"   AND NOT EXISTS (SELECT 1 FROM candystore.outbox o"
"                    WHERE o.position BETWEEN p.first_position AND p.last_position"
"                      AND o.published_at IS NULL)"
"   AND NOT EXISTS (SELECT 1 FROM candystore.subscription_checkpoint k, candystore.event_log e"
"                    WHERE e.position BETWEEN p.first_position AND p.last_position"
"                      AND (e.xid, e.position) > (k.xid, k.position))"
"   AND NOT EXISTS (SELECT 1 FROM candystore.subscription s, candystore.event_log e"
"                    WHERE e.position BETWEEN p.first_position AND p.last_position"
"                      AND (e.xid, e.position) > (s.start_xid, s.start_position)"
"                      AND NOT EXISTS (SELECT 1 FROM candystore.subscription_checkpoint k"
"                                       WHERE k.name = s.name))"
" ORDER BY p.first_position";

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

	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(older_than),
										 IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be negative"),
				 errhint("For example candystore.purge_events('90 days') removes events that occurred more than 90 days ago.")));

	values[0] = IntervalPGetDatum(older_than);
	SPI_connect();
	PG_TRY();
	{
		int			rc;

		int			ndrop;
		Oid		   *drop;

		store_removal_allowed = true;
		/* whole partitions first: no row deletes in event_log, no dead tuples */
		ndrop = 0;
		if (trace_catalog()->partitioned)
		{
			rc = SPI_execute_with_args(droppable_partitions, 1, types, values, NULL, true, 0);
			if (rc != SPI_OK_SELECT)
				elog(ERROR, "finding partitions to purge failed: %s", SPI_result_code_string(rc));
			ndrop = (int) SPI_processed;
		}
		drop = palloc(sizeof(Oid) * Max(ndrop, 1));
		for (int i = 0; i < ndrop; i++)
		{
			bool		isnull;

			drop[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		}
		for (int i = 0; i < ndrop; i++)
		{
			char	   *name = quote_qualified_identifier("candystore", get_rel_name(drop[i]));

			CHECK_FOR_INTERRUPTS();
			purged += purge_statement(psprintf("SELECT e.position, e.event_id, e.causation_group FROM %s e", name),
									  NULL, NULL, 0);
			partition_drop(drop[i]);
		}

		/* the remainder, row by row */
		purged += purge_statement("  DELETE FROM candystore.event_log e"
								  "   WHERE e.occurred_at < pg_catalog.now() - $1"
								  "     AND NOT EXISTS (SELECT 1 FROM candystore.outbox o"
								  "                      WHERE o.position = e.position AND o.published_at IS NULL)"
								  "  RETURNING e.position, e.event_id, e.causation_group",
								  types, values, 1);
	}
	PG_FINALLY();
	{
		store_removal_allowed = false;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_INT64((int64) purged);
}
