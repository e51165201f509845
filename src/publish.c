/*
 * publish.c
 *	  candystore.publish(): append an event and enqueue it in the outbox, in
 *	  the caller's transaction.
 *
 * The outbox row commits or rolls back with the event, so a committed
 * publish is sent (by the outbox publisher, at least once) and a rolled-back
 * one never is.  Publishing an event that is already stored with the same
 * content enqueues nothing: that is a retried publish whose first attempt
 * committed.  To send stored events again, use candystore.replay().
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"

#include "notify.h"
#include "spi_plans.h"
#include "store.h"

static SPIPlanPtr enqueue_plan = NULL;

static void
enqueue(int64 position, text *routing_key, text *exchange)
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
	notify_outbox_enqueued();
}

PG_FUNCTION_INFO_V1(candystore_publish);

/*
 * candystore.publish(envelope jsonb, routing_key text DEFAULT NULL,
 *                    exchange text DEFAULT NULL) RETURNS bigint
 */
Datum
candystore_publish(PG_FUNCTION_ARGS)
{
	text	   *routing_key;
	AppendOutcome outcome;
	int64		position;

	position = store_append_from_args(fcinfo, true, &routing_key, &outcome);
	if (outcome == APPEND_STORED)
		enqueue(position, routing_key, PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2));
	PG_RETURN_INT64(position);
}

PG_FUNCTION_INFO_V1(candystore_outbox_wake);

/*
 * candystore.outbox_wake() RETURNS void: wakes the outbox publisher when the
 * current transaction commits, for SQL that enqueues rows itself (replay).
 */
Datum
candystore_outbox_wake(PG_FUNCTION_ARGS pg_attribute_unused())
{
	notify_outbox_enqueued();
	PG_RETURN_VOID();
}
