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
 *
 * What AMQP cannot carry (outbox_limits.c) is refused here, with the
 * event, so that no row is enqueued that the publisher could not send.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "notify.h"
#include "outbox_enqueue.h"
#include "outbox_limits.h"
#include "signing.h"
#include "store.h"

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

	text	   *exchange = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
	const char *key_id = signing_outbox_key();

	/*
	 * candystore.outbox_signing_key: an unsigned envelope is signed before it
	 * is stored, so the stored event and the message sent are the same signed
	 * envelope.  A signature the caller made is kept.
	 */
	if (key_id != NULL && !PG_ARGISNULL(0) &&
		JsonContainerIsObject(&PG_GETARG_JSONB_P(0)->root) &&
		!getKeyJsonValueFromContainer(&PG_GETARG_JSONB_P(0)->root, "signature", 9, &(JsonbValue){0}))
		fcinfo->args[0].value = JsonbPGetDatum(signing_sign(PG_GETARG_JSONB_P(0), key_id));

	position = store_append_from_args(fcinfo, true, &routing_key, &outcome);
	if (outcome == APPEND_STORED)
	{
		/* raising here rolls the append back with the call */
		Jsonb	   *envelope = PG_GETARG_JSONB_P(0);
		JsonbValue	id;

		if (!getKeyJsonValueFromContainer(&envelope->root, "event_id", 8, &id) ||
			id.type != jbvString)
			elog(ERROR, "a stored envelope has no event_id");
		outbox_check_message(pnstrdup(id.val.string.val, id.val.string.len), exchange,
							 routing_key, envelope,
							 "Publish it with a routing key and exchange of at most 255 bytes"
							 " each, and an envelope within candystore.outbox_max_message_bytes.");
		outbox_enqueue(position, routing_key, exchange);
		notify_outbox_enqueued();
	}
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

PG_FUNCTION_INFO_V1(candystore_outbox_checked_routing_key);

/*
 * candystore.outbox_checked_routing_key(event_id uuid, routing_key text,
 *                                       envelope jsonb) RETURNS text
 *
 * For SQL that enqueues stored events (replay, replay_trace): returns the
 * routing key when the event's message can be sent to candystore.exchange,
 * and raises, naming the event, when it cannot; the whole statement then
 * enqueues nothing.
 */
Datum
candystore_outbox_checked_routing_key(PG_FUNCTION_ARGS)
{
	char	   *event_id = DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(0)));
	text	   *routing_key = PG_GETARG_TEXT_PP(1);

	outbox_check_message(event_id, NULL, routing_key, PG_GETARG_JSONB_P(2),
						 "Replay a selection that leaves the event out.");
	PG_RETURN_TEXT_P(routing_key);
}
