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
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "store.h"

PG_FUNCTION_INFO_V1(candystore_purge_events);

/* candystore.purge_events(older_than interval) RETURNS bigint */
Datum
candystore_purge_events(PG_FUNCTION_ARGS)
{
	Interval   *older_than = PG_GETARG_INTERVAL_P(0);
	Interval	zero = {0};
	Oid			types[] = {INTERVALOID};
	Datum		values[1];
	uint64		purged = 0;

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

		store_removal_allowed = true;
		rc = SPI_execute_with_args(
								   "WITH RECURSIVE purged AS ("
								   "  DELETE FROM candystore.event_log e"
								   "   WHERE e.occurred_at < pg_catalog.now() - $1"
								   "     AND NOT EXISTS (SELECT 1 FROM candystore.outbox o"
								   "                      WHERE o.position = e.position AND o.published_at IS NULL)"
								   "  RETURNING e.position, e.event_id, e.causation_group),"
								   " sent AS ("
								   "  DELETE FROM candystore.outbox o USING purged p WHERE o.position = p.position),"
								   /* see the comment at the top */
								   " near(g) AS ("
								   "  SELECT x.g FROM purged p,"
								   "         LATERAL (VALUES (p.causation_group), (p.event_id)) x(g)"
								   "   WHERE p.causation_group <> p.event_id"
								   "  UNION SELECT l.b FROM near n JOIN candystore.causation_links l ON l.a = n.g),"
								   " named_parents AS ("
								   "  SELECT DISTINCT x.id FROM candystore.event_log c,"
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
								   " SELECT count(*) FROM purged",
								   1, types, values, NULL, false, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "purging events failed: %s", SPI_result_code_string(rc));
		{
			bool		isnull;

			purged = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		}
	}
	PG_FINALLY();
	{
		store_removal_allowed = false;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_INT64((int64) purged);
}
