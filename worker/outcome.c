/*
 * outcome.c
 *	  Records the outcome of one batch of deliveries in one transaction: each
 *	  message is stored, recognised as a duplicate, or written to
 *	  candystore.dead_letters with the reason.  Checks that cannot throw
 *	  (encoding, JSON syntax, envelope) run first; the messages that pass
 *	  are then stored together, a few multi-row inserts per batch.  Should
 *	  storing still raise a data error (an event id stored with other
 *	  content, a number jsonb cannot hold, a duplicate in a first delivery),
 *	  the batch is rolled back and redone with each store in its own
 *	  subtransaction, so that only the offending message is dead-lettered.
 *	  Any other error propagates: nothing commits and nothing is acked.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "amqp_headers.h"
#include "envelope.h"
#include "jsonb_text.h"
#include "store.h"
#include "worker.h"

typedef struct BatchCounts
{
	uint64		stored;
	uint64		duplicates;
	uint64		dead_lettered;
} BatchCounts;

static SPIPlanPtr dead_letter_plan = NULL;

/* text, or NULL when absent */
static Datum
text_or_null(const char *s, char *null)
{
	*null = s == NULL ? 'n' : ' ';
	return s == NULL ? (Datum) 0 : CStringGetTextDatum(s);
}

/* JSON text the worker wrote (amqp_headers.c) as jsonb, or NULL */
static Datum
jsonb_or_null(char *json, char *null)
{
	JsonbTextError err;
	Jsonb	   *jb = json == NULL ? NULL : jsonb_from_text(json, strlen(json), &err);

	*null = jb == NULL ? 'n' : ' ';
	return PointerGetDatum(jb);
}

/*
 * Records the message in candystore.dead_letters, unless it is a redelivery
 * of one recorded already; returns whether it inserted a row.  A redelivery
 * is recognised by the message's identity: its message_id property or, when
 * it has none, the event id its body carries (read only if read_body, as far
 * as the body can be read), with the same body and routing key.  A message
 * with no identity is recorded again, flagged as a possible redelivery when
 * the broker says it was delivered before and an identical letter exists:
 * two publishes of the same bytes are two messages.
 */
static bool
dead_letter(Delivery *d, const char *reason, const char *sqlstate, bool read_body)
{
	Oid			types[9] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, BYTEAOID, BOOLOID,
							JSONBOID, TEXTOID, TEXTOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bytea	   *body;
	size_t		keep = d->body_len;
	char	   *event_id = NULL;
	char	   *message_id = NULL;
	int			rc;
	bool		inserted;

	SPI_connect();
	if (dead_letter_plan == NULL)
	{
		dead_letter_plan = SPI_prepare("INSERT INTO candystore.dead_letters"
									   " (reason, sqlstate, routing_key, headers, body, redelivered,"
									   "  properties, event_id, possible_redelivery)"
									   " SELECT $1, $2, $3, $4, $5, $6, $7, $8,"
									   "  $6 AND $9 IS NULL AND $8 IS NULL AND EXISTS (SELECT"
									   "   FROM candystore.dead_letters e"
									   "   WHERE e.body_digest = sha256($5) AND e.routing_key = $3)"
									   " WHERE NOT $6 OR NOT EXISTS (SELECT FROM candystore.dead_letters e"
									   "  WHERE e.body_digest = sha256($5) AND e.routing_key = $3"
									   "   AND CASE WHEN $9 IS NOT NULL THEN e.properties->>'message_id' = $9"
									   "            ELSE e.event_id = $8 END)", 9, types);
		if (dead_letter_plan == NULL || SPI_keepplan(dead_letter_plan) != 0)
			elog(ERROR, "could not prepare the dead-letter insert: %s",
				 SPI_result_code_string(SPI_result));
	}
	/* bytea holds just under 1GB; RabbitMQ itself refuses more than 512MB */
	if (keep > MaxAllocSize - VARHDRSZ)
	{
		keep = 0;
		reason = psprintf("%s (body of %zu bytes not kept)", reason, d->body_len);
	}
	body = (bytea *) palloc_extended(VARHDRSZ + keep, MCXT_ALLOC_HUGE);
	SET_VARSIZE(body, VARHDRSZ + keep);
	if (keep > 0)
		memcpy(VARDATA(body), d->body, keep);
	if (read_body && amqp_text_valid(d->body, d->body_len))
		event_id = message_event_id(d->body, d->body_len);
	if ((d->properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) && d->properties.message_id.len > 0)
	{
		bool		valid;

		message_id = amqp_text(d->properties.message_id.bytes, d->properties.message_id.len, &valid);
	}

	values[0] = CStringGetTextDatum(reason);
	values[1] = CStringGetTextDatum(sqlstate);
	values[2] = CStringGetTextDatum(d->routing_key);
	values[3] = jsonb_or_null(d->headers_json, &nulls[3]);
	values[4] = PointerGetDatum(body);
	values[5] = BoolGetDatum(d->redelivered);
	values[6] = jsonb_or_null(amqp_properties_json(&d->properties, d->exchange), &nulls[6]);
	values[7] = text_or_null(event_id, &nulls[7]);
	values[8] = text_or_null(message_id, &nulls[8]);
	rc = SPI_execute_plan(dead_letter_plan, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "inserting into candystore.dead_letters failed: %s",
			 SPI_result_code_string(rc));
	inserted = SPI_processed == 1;
	SPI_finish();
	return inserted;
}

static void
count_dead_letter(BatchCounts *counts, bool inserted)
{
	if (inserted)
		counts->dead_lettered++;
	else
		counts->duplicates++;
}

/*
 * The checks that need no subtransaction.  Returns the envelope as jsonb and
 * fills *parsed, or dead-letters the message and returns NULL.
 */
static Jsonb *
check_message(Delivery *d, Envelope *parsed, BatchCounts *counts)
{
	JsonbTextError jerr;
	EnvelopeError eerr;
	Jsonb	   *jb;

	if (d->body_len > (size_t) worker_max_message_bytes)
	{
		count_dead_letter(counts,
						  dead_letter(d, psprintf("message body of %zu bytes is larger than candystore.max_message_bytes (%d bytes)",
												  d->body_len, worker_max_message_bytes), "54000", false));
		return NULL;
	}
	if (!d->routing_key_valid)
	{
		/* event_log could hold it, but no dump of it could be restored */
		count_dead_letter(counts, dead_letter(d, "routing key is not valid UTF-8 in the database encoding (kept escaped)",
											  "22021", true));
		return NULL;
	}
	if (strlen(d->body) != d->body_len ||
		!pg_verify_mbstr(GetDatabaseEncoding(), d->body, d->body_len, true))
	{
		count_dead_letter(counts, dead_letter(d, "message body is not valid text in the database encoding", "22021", false));
		return NULL;
	}
	jb = jsonb_from_text(d->body, d->body_len, &jerr);
	if (jb == NULL)
	{
		count_dead_letter(counts, dead_letter(d, jerr.message, unpack_sql_state(jerr.sqlstate), true));
		return NULL;
	}
	if (!envelope_parse(jb, parsed, &eerr))
	{
		count_dead_letter(counts, dead_letter(d, envelope_error_text(&eerr), unpack_sql_state(eerr.sqlstate), true));
		return NULL;
	}
	return jb;
}

static void
count_stored(StoreRow *row, BatchCounts *counts)
{
	if (row->outcome == APPEND_STORED)
		counts->stored++;
	else
		counts->duplicates++;
}

static void
process_one(Delivery *d, BatchCounts *counts)
{
	Envelope	parsed;
	Jsonb	   *jb = check_message(d, &parsed, counts);
	StoreRow	row;

	if (jb == NULL)
		return;
	row.envelope = jb;
	row.parsed = &parsed;
	row.routing_key = cstring_to_text(d->routing_key);
	store_append_rows(&row, 1, true);
	count_stored(&row, counts);
}

/*
 * The common case: every message checked (the bad ones dead-lettered), then
 * the good ones stored together, in a few multi-row inserts.  Allocates in
 * the transaction's memory, freed when it ends.  Unless the broker says it
 * has delivered some of them before, the events are taken to be new: a
 * duplicate (a publisher's retry) raises, and the batch is redone in
 * isolation, where it is recognised.
 */
static void
process_all(Delivery *batch, int n, BatchCounts *counts)
{
	StoreRow   *rows = palloc(sizeof(StoreRow) * n);
	Envelope   *parsed = palloc(sizeof(Envelope) * n);
	int			nrows = 0;
	bool		redelivery = false;

	for (int i = 0; i < n; i++)
	{
		Jsonb	   *jb;

		CHECK_FOR_INTERRUPTS();
		jb = check_message(&batch[i], &parsed[nrows], counts);
		if (jb == NULL)
			continue;
		rows[nrows].envelope = jb;
		rows[nrows].parsed = &parsed[nrows];
		rows[nrows].routing_key = cstring_to_text(batch[i].routing_key);
		redelivery |= batch[i].redelivered;
		nrows++;
	}
	store_append_rows(rows, nrows, redelivery);
	for (int i = 0; i < nrows; i++)
		count_stored(&rows[i], counts);
}

/*
 * Checks and stores in a subtransaction: a data error (an event id taken by
 * other content, a number jsonb cannot hold) dead-letters this message only.
 */
static void
process_one_isolated(Delivery *d, BatchCounts *counts)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	BatchCounts before = *counts;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		process_one(d, counts);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		*counts = before;
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION &&
			ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
			ReThrowError(edata);
		count_dead_letter(counts,
						  dead_letter(d, edata->detail ? psprintf("%s: %s", edata->message, edata->detail)
									  : edata->message, unpack_sql_state(edata->sqlerrcode), true));
	}
	PG_END_TRY();
}

/* One attempt at the whole batch, in one transaction. */
static void
record_batch(Delivery *batch, int n, bool isolate, BatchCounts *counts)
{
	memset(counts, 0, sizeof(*counts));
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "candystore ingest batch");

	if (!isolate)
		process_all(batch, n, counts);
	else
	{
		MemoryContext row_cxt = AllocSetContextCreate(CurrentMemoryContext, "candystore ingest row",
													  ALLOCSET_DEFAULT_SIZES);

		for (int i = 0; i < n; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(row_cxt);

			CHECK_FOR_INTERRUPTS();
			process_one_isolated(&batch[i], counts);
			MemoryContextSwitchTo(old);
			MemoryContextReset(row_cxt);
		}
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
outcome_record_batch(Delivery *batch, int n)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	BatchCounts counts;
	bool		isolate = false;

	PG_TRY();
	{
		record_batch(batch, n, false, &counts);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION &&
			ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
			PG_RE_THROW();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(oldcxt);
		isolate = true;
	}
	PG_END_TRY();

	if (isolate)
		record_batch(batch, n, true, &counts);

	worker_stats_add(WC_STORED, counts.stored);
	worker_stats_add(WC_DUPLICATES, counts.duplicates);
	worker_stats_add(WC_DEAD_LETTERED, counts.dead_lettered);
	worker_stats_add(WC_BATCHES, 1);
}
