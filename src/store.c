/*
 * store.c
 *	  candystore.append() and the append path beneath it.
 *
 * An envelope is inserted with ON CONFLICT (event_id) DO NOTHING through a
 * plan prepared once per backend.  When the id is taken, the stored envelope
 * is compared with the new one (jsonb equality): the same content is the
 * normal at-least-once redelivery and returns the stored position; other
 * content is a conflict and stores nothing.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "envelope.h"
#include "notify.h"
#include "session_key.h"
#include "spi_plans.h"
#include "store.h"
#include "trace_links.h"

bool		store_removal_allowed = false;

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr lookup_plan = NULL;

static void
prepare_plans(void)
{
	Oid			insert_types[] = {UUIDOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, UUIDARRAYOID, JSONBOID,
								  UUIDOID, TEXTOID};
	Oid			lookup_types[] = {UUIDOID};

	if (insert_plan == NULL)
		insert_plan = spi_prepare_kept(
								   "INSERT INTO candystore.event_log"
								   " (event_id, event_type, occurred_at, routing_key, correlation_ids, envelope,"
								   "  causation_group, session_key)"
								   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
								   " ON CONFLICT (event_id) DO NOTHING RETURNING position",
								   8, insert_types, 0);
	if (lookup_plan == NULL)
		lookup_plan = spi_prepare_kept(
								   "SELECT position, envelope FROM candystore.event_log WHERE event_id = $1",
								   1, lookup_types, 0);
}

static bool
jsonb_values_equal(JsonbValue *a, JsonbValue *b)
{
	return DatumGetBool(DirectFunctionCall2(jsonb_eq,
											JsonbPGetDatum(JsonbValueToJsonb(a)),
											JsonbPGetDatum(JsonbValueToJsonb(b))));
}

/* Names the top-level fields whose values differ, for the conflict detail. */
static char *
differing_fields(Jsonb *stored, Jsonb *incoming)
{
	StringInfoData buf;
	Jsonb	   *sides[2] = {incoming, stored};

	initStringInfo(&buf);
	for (int side = 0; side < 2; side++)
	{
		JsonbIterator *it = JsonbIteratorInit(&sides[side]->root);
		JsonbValue	key;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
		{
			JsonbValue	mine,
						theirs_buf,
					   *theirs;

			if (tok != WJB_KEY)
				continue;
			tok = JsonbIteratorNext(&it, &mine, true);
			theirs = getKeyJsonValueFromContainer(&sides[1 - side]->root,
												  key.val.string.val,
												  key.val.string.len, &theirs_buf);
			/* a key in both is reported once, from the incoming side */
			if ((theirs == NULL) || (side == 0 && !jsonb_values_equal(&mine, theirs)))
				appendStringInfo(&buf, "%s%.*s", buf.len > 0 ? ", " : "",
								 key.val.string.len, key.val.string.val);
		}
	}
	return buf.data;
}

int64
store_append(Jsonb *envelope, const Envelope *parsed, text *routing_key,
			 AppendOutcome *outcome)
{
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int64		position;
	int			rc;
	TraceLinks	links;
	text	   *session;

	SPI_connect();
	prepare_plans();
	trace_links_before_insert(parsed, &links);

	values[0] = UUIDPGetDatum(&parsed->event_id);
	values[1] = PointerGetDatum(parsed->event_type);
	values[2] = TimestampTzGetDatum(parsed->occurred_at);
	values[3] = routing_key ? PointerGetDatum(routing_key) : (Datum) 0;
	nulls[3] = routing_key ? ' ' : 'n';
	values[4] = PointerGetDatum(parsed->correlation_ids);
	values[5] = JsonbPGetDatum(envelope);
	values[6] = UUIDPGetDatum(&links.group);
	session = session_key(envelope);
	values[7] = session ? PointerGetDatum(session) : (Datum) 0;
	nulls[7] = session ? ' ' : 'n';

	rc = SPI_execute_plan(insert_plan, values, nulls, false, 1);
	if (rc != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "inserting into candystore.event_log failed: %s", SPI_result_code_string(rc));

	if (SPI_processed == 1)
	{
		bool		isnull;

		position = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		*outcome = APPEND_STORED;
		notify_note_position(position);
	}
	else
	{
		bool		isnull;
		Jsonb	   *stored;

		/*
		 * Not read-only: the conflicting row may come from an earlier command
		 * of this very statement, visible only after a command-counter bump.
		 */
		rc = SPI_execute_plan(lookup_plan, values, NULL, false, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "event id conflict reported but no stored event found");
		position = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		stored = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (!DatumGetBool(DirectFunctionCall2(jsonb_eq, JsonbPGetDatum(stored),
											  JsonbPGetDatum(envelope))))
		{
			char	   *id = DatumGetCString(DirectFunctionCall1(uuid_out,
																 UUIDPGetDatum(&parsed->event_id)));

			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("event %s is already stored with different content", id),
					 errdetail("The stored event (position " INT64_FORMAT ") differs in: %s.",
							   position, differing_fields(stored, envelope)),
					 errhint("An event id names one event forever: give a changed event a new event_id.")));
		}
		*outcome = APPEND_DUPLICATE;
	}
	trace_links_after_insert(&links, *outcome == APPEND_STORED);
	SPI_finish();
	return position;
}

int64
store_append_from_args(FunctionCallInfo fcinfo, bool routing_key_defaults_to_type,
					   text **routing_key, AppendOutcome *outcome)
{
	Jsonb	   *envelope;
	Envelope	parsed;
	EnvelopeError error;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("invalid envelope: the envelope is NULL")));
	envelope = PG_GETARG_JSONB_P(0);
	if (!envelope_parse(envelope, &parsed, &error))
		envelope_raise(&error);
	*routing_key = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	if (routing_key_defaults_to_type && *routing_key == NULL)
		*routing_key = parsed.event_type;
	return store_append(envelope, &parsed, *routing_key, outcome);
}

PG_FUNCTION_INFO_V1(candystore_append);

/* candystore.append(envelope jsonb, routing_key text DEFAULT NULL) RETURNS bigint */
Datum
candystore_append(PG_FUNCTION_ARGS)
{
	text	   *routing_key;
	AppendOutcome outcome;

	PG_RETURN_INT64(store_append_from_args(fcinfo, false, &routing_key, &outcome));
}

PG_FUNCTION_INFO_V1(candystore_check_envelope);

/* candystore.check_envelope(envelope jsonb) RETURNS void: raises what append would. */
Datum
candystore_check_envelope(PG_FUNCTION_ARGS)
{
	Envelope	parsed;
	EnvelopeError error;

	if (!envelope_parse(PG_GETARG_JSONB_P(0), &parsed, &error))
		envelope_raise(&error);
	PG_RETURN_VOID();
}
