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
 *	  Any other error (error_cause.c: the environment's, or not known to be
 *	  the message's) rolls everything back and is returned: the caller keeps
 *	  the batch unacked and retries it, and a message that keeps failing
 *	  alone is dead-lettered after candystore.max_message_failures tries.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/syncrep.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "amqp_headers.h"
#include "envelope.h"
#include "ingest.h"
#include "jsonb_text.h"
#include "settings.h"
#include "spi_plans.h"
#include "status.h"
#include "store.h"
#include "worker.h"

typedef struct BatchCounts
{
	uint64		stored;
	uint64		duplicates;
	uint64		dead_lettered;
} BatchCounts;

static SPIPlanPtr dead_letter_plan = NULL;

/* (candystore) a message RabbitMQ dead-lettered, consumed from its dead-letter queue */
#define BROKER_DEAD_LETTERED_SQLSTATE "58V01"

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
	Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, BYTEAOID, BOOLOID,
							JSONBOID, TEXTOID, TEXTOID, BOOLOID};
	Datum		values[10];
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bytea	   *body;
	size_t		keep = d->body_len;
	char	   *event_id = NULL;
	char	   *message_id = NULL;
	int			rc;
	bool		inserted;

	SPI_connect();
	if (dead_letter_plan == NULL)
	{
		dead_letter_plan = spi_prepare_kept("INSERT INTO candystore.dead_letters"
									   " (reason, sqlstate, routing_key, headers, body, redelivered,"
									   "  properties, event_id, possible_redelivery, broker_dead_lettered, x_death)"
									   " SELECT CASE WHEN $10 THEN 'dead-lettered by the broker ('"
									   "   || coalesce($4->'x-death'->0->>'reason', 'no x-death header')"
									   "   || coalesce(') from queue ' || ($4->'x-death'->0->>'queue'), ')')"
									   "   || coalesce(', ' || ($4->'x-death'->0->>'count') || ' time(s)', '')"
									   "   ELSE $1 END, $2, $3, $4, $5, $6, $7, $8,"
									   "  $6 AND $9 IS NULL AND $8 IS NULL AND EXISTS (SELECT"
									   "   FROM candystore.dead_letters e"
									   "   WHERE e.body_digest = sha256($5) AND e.routing_key = $3),"
									   "  $10, CASE WHEN $10 THEN $4->'x-death' END"
									   " WHERE NOT $6 OR NOT EXISTS (SELECT FROM candystore.dead_letters e"
									   "  WHERE e.body_digest = sha256($5) AND e.routing_key = $3"
									   "   AND CASE WHEN $9 IS NOT NULL THEN e.properties->>'message_id' = $9"
									   "            ELSE e.event_id = $8 END)", 10, types, 0);
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
	values[9] = BoolGetDatum(d->from_broker_dlq);
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

/* Whether the envelope has a trace_context that is not null. */
static bool
has_trace_context(Jsonb *jb)
{
	JsonbValue	key = {.type = jbvString,.val.string = {.len = 13,.val = "trace_context"}};
	JsonbValue *v = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &key);

	return v != NULL && v->type != jbvNull;
}

/*
 * The envelope with the trace_context taken from the message's traceparent
 * header (traceparent.c), parsed again into *parsed.  The JSON is the
 * worker's own, always valid: should it not be, the envelope is kept as it
 * came.
 */
static Jsonb *
with_header_trace_context(Jsonb *jb, const char *trace_context, Envelope *parsed)
{
	JsonbTextError jerr;
	EnvelopeError eerr;
	char	   *json = psprintf("{\"trace_context\": %s}", trace_context);
	Jsonb	   *add = jsonb_from_text(json, strlen(json), &jerr);
	Jsonb	   *merged;
	Envelope	reparsed;

	if (add == NULL)
		return jb;
	merged = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(jb),
												JsonbPGetDatum(add)));
	if (!envelope_parse(merged, &reparsed, &eerr))
		return jb;
	*parsed = reparsed;
	return merged;
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

	if (d->from_broker_dlq)
	{
		/* the reason (from its x-death header) is written by the INSERT */
		count_dead_letter(counts, dead_letter(d, "dead-lettered by the broker",
											  BROKER_DEAD_LETTERED_SQLSTATE, true));
		return NULL;
	}
	if (d->body_len > (size_t) worker_max_message_bytes)
	{
		count_dead_letter(counts,
						  dead_letter(d, psprintf("message body of %zu bytes is larger than candystore.max_message_bytes (%d bytes)",
												  d->body_len, worker_max_message_bytes), unpack_sql_state(ERRCODE_PROGRAM_LIMIT_EXCEEDED), false));
		return NULL;
	}
	if (!d->routing_key_valid)
	{
		/* event_log could hold it, but no dump of it could be restored */
		count_dead_letter(counts, dead_letter(d, "routing key is not valid UTF-8 in the database encoding (kept escaped)",
											  unpack_sql_state(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE), true));
		return NULL;
	}
	if (strlen(d->body) != d->body_len ||
		!pg_verify_mbstr(GetDatabaseEncoding(), d->body, d->body_len, true))
	{
		count_dead_letter(counts, dead_letter(d, "message body is not valid text in the database encoding",
											  unpack_sql_state(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE), false));
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
	if (d->trace_context_json != NULL && !has_trace_context(jb))
		jb = with_header_trace_context(jb, d->trace_context_json, parsed);
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
 * The per-message failure cap, and why it cannot blame a good message for
 * a fault of the environment.
 *
 * A batch that fails with an error not known to be the message's
 * (error_cause.c) is retried in place, each message in its own
 * subtransaction ("a pass"), until it commits.  A message that fails that
 * way every time would hold its batch, and the queue behind it, forever; so
 * a failure is counted against a message (Delivery.failures) and after
 * candystore.max_message_failures of them the message is dead-lettered with
 * its last error.  A failure counts against a message only when the message
 * processed right after it, in the same pass, gets its outcome: the
 * database demonstrably worked just after the failure, so the failure was
 * the message's.  A fault that fails every message therefore counts against
 * none, however long it lasts; the only message it can ever be counted
 * against is the one tried last before the fault is lifted, and only once
 * per lifting.  To find a message that fails alone, a pass tries the
 * messages that failed the previous pass ("suspects") each followed by one
 * that did not, and stops at two failures in a row (the environment looks
 * broken: no point waiting out, say, a lock timeout per message).  Order is
 * changed only in such a pass: the stored order of the other messages among
 * themselves is kept.  A batch that holds only suspects is completed by new
 * deliveries while it waits (ingest.c): a lone failing message waits for a
 * neighbour before it can be blamed, and blocks nothing meanwhile.
 *
 * The counts live with the batch, held unacked in memory: the broker link
 * stays open, so the same delivery is tried again.  Should the link be lost,
 * the broker redelivers the batch and ingest.c gives the redelivered
 * messages back their counts; a restart of the worker starts them over (a
 * quorum queue's x-delivery-limit bounds that).
 */

/* A message caused the error (classes 22, 23, 54). */
static bool
caused_by_message(ErrorData *edata)
{
	return error_cause(edata->sqlerrcode, NULL) == CAUSE_MESSAGE;
}

/* The error as one line, "message: detail". */
static char *
error_text(ErrorData *edata)
{
	return edata->detail ? psprintf("%s: %s", edata->message, edata->detail)
		: pstrdup(edata->message);
}

/*
 * Checks and stores in a subtransaction.  An error the message caused
 * dead-letters this message only.  Returns false, with the error kept in the
 * delivery, when anything else fails: nothing of the message is written.
 */
static bool
process_one_isolated(Delivery *d, BatchCounts *counts)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	BatchCounts before = *counts;
	ErrorData  *volatile edata = NULL;

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
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		*counts = before;
	}
	PG_END_TRY();

	if (edata == NULL)
		return true;
	if (caused_by_message(edata))
	{
		count_dead_letter(counts, dead_letter(d, error_text(edata), unpack_sql_state(edata->sqlerrcode), true));
		return true;
	}
	/* kept with the delivery, for the dead letter should it be capped */
	if (d->last_error != NULL)
		pfree(d->last_error);
	d->last_error = MemoryContextStrdup(GetMemoryChunkContext(d->body), error_text(edata));
	d->last_sqlerrcode = edata->sqlerrcode;
	return false;
}

/* A message that failed candystore.max_message_failures times: its outcome. */
static void
dead_letter_capped(Delivery *d, BatchCounts *counts)
{
	char	   *reason = psprintf("failed %d times while the other messages of its batch were stored"
								  " (candystore.max_message_failures): %s",
								  d->failures, d->last_error);

	/* logged, like every dead letter, by dead_letter_alert.c */
	count_dead_letter(counts, dead_letter(d, reason, unpack_sql_state(d->last_sqlerrcode), true));
}

/*
 * The order of a pass: each suspect followed by one message that is not,
 * then the rest, in delivery order otherwise.
 */
static int *
pass_order(Delivery *batch, int n)
{
	int		   *order = palloc(sizeof(int) * n);
	int			k = 0,
				s = 0,
				g = 0;

	while (k < n)
	{
		while (s < n && !batch[s].suspect)
			s++;
		if (s < n)
			order[k++] = s++;
		while (g < n && batch[g].suspect)
			g++;
		if (g < n)
			order[k++] = g++;
	}
	return order;
}

/*
 * One pass, each message in its own subtransaction, in the current
 * transaction.  Returns the last message that failed (counting failures
 * and marking suspects as described above), or NULL when every message got
 * its outcome.
 */
static Delivery *
process_isolated(Delivery *batch, int n, BatchCounts *counts, bool *blamed)
{
	MemoryContext row_cxt = AllocSetContextCreate(CurrentMemoryContext, "candystore ingest row",
												  ALLOCSET_DEFAULT_SIZES);
	int		   *order = pass_order(batch, n);
	Delivery   *failed = NULL;	/* the message tried just before, if it failed */
	Delivery   *last_failed = NULL;

	*blamed = false;
	for (int k = 0; k < n; k++)
	{
		Delivery   *d = &batch[order[k]];
		MemoryContext old = MemoryContextSwitchTo(row_cxt);
		bool		ok = true;

		CHECK_FOR_INTERRUPTS();
		if (d->failures >= worker_max_message_failures && d->last_error != NULL)
			dead_letter_capped(d, counts);
		else
			ok = process_one_isolated(d, counts);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);

		d->suspect = !ok;
		if (ok && failed != NULL)
		{
			/* the database worked right after it failed: its own failure */
			failed->failures++;
			*blamed = true;
		}
		if (!ok && failed != NULL)
			return d;			/* two in a row: the environment */
		failed = ok ? NULL : d;
		if (!ok)
			last_failed = d;
	}
	return last_failed;
}

/*
 * Where the WAL inserted so far ends.  GetXLogInsertRecPtr() says where the
 * next record would start, which at a page boundary is past the page's
 * header: XLogFlush() raises for a position no record reaches.
 */
static XLogRecPtr
inserted_wal_end(void)
{
	XLogRecPtr	next = GetXLogInsertRecPtr();

	if (XLogSegmentOffset(next, wal_segment_size) == SizeOfXLogLongPHD)
		return next - SizeOfXLogLongPHD;
	if (next % XLOG_BLCKSZ == SizeOfXLogShortPHD)
		return next - SizeOfXLogShortPHD;
	return next;
}

/*
 * Whether a batch may commit asynchronously, its WAL then flushed by the
 * caller before the ack (outcome_record_batch()): only when no synchronous
 * standby is named, so that a synchronous commit would wait for the local
 * flush alone, which the caller's XLogFlush() gives just the same.
 */
static bool
may_commit_async(void)
{
	return SyncRepStandbyNames == NULL || SyncRepStandbyNames[0] == '\0';
}

/*
 * One attempt at the whole batch, in one transaction: every message at once,
 * or (isolate) a pass.  Returns false, with the transaction rolled back and
 * *failed set, when a message of a pass failed; an error outside any
 * message's subtransaction propagates.
 */
static bool
record_batch(Delivery *batch, int n, bool isolate, bool commit_async, BatchCounts *counts,
			 Delivery **failed, bool *blamed)
{
	memset(counts, 0, sizeof(*counts));
	*failed = NULL;
	*blamed = false;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "candystore ingest batch");

	/*
	 * A clear error, and no plans prepared, while candystore is not there or
	 * is not yet updated to this library's version.
	 */
	worker_require_extension("ingest worker");
	if (commit_async)
		(void) set_config_option("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);

	if (!isolate)
		process_all(batch, n, counts);
	else
		*failed = process_isolated(batch, n, counts, blamed);
	PopActiveSnapshot();
	if (*failed != NULL)
		AbortCurrentTransaction();
	else
		CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return *failed == NULL;
}

/*
 * Records the batch: every message gets its outcome (stored, duplicate or
 * dead letter) in one transaction, and true is returned.  Otherwise nothing
 * is committed, *fault says why (allocated in the caller's memory context),
 * and the caller keeps the batch unacked and calls again later with the same
 * deliveries (more may be appended) and *isolate as this call left it.
 */
bool
outcome_record_batch(Delivery *batch, int n, bool *isolate, BatchFault *fault,
					 XLogRecPtr *flush_to)
{
	MemoryContext caller = CurrentMemoryContext;
	BatchCounts counts;
	Delivery   *volatile failed = NULL;
	volatile bool blamed = false;
	bool		commit_async = may_commit_async();

	for (;;)
	{
		ErrorData  *volatile edata = NULL;

		failed = NULL;
		blamed = false;
		PG_TRY();
		{
			Delivery   *f;
			bool		b;

			(void) record_batch(batch, n, *isolate, commit_async, &counts, &f, &b);
			failed = f;
			blamed = b;
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(caller);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(caller);
			pgstat_report_activity(STATE_IDLE, NULL);
		}
		PG_END_TRY();

		if (edata == NULL && failed == NULL)
			break;
		memset(fault, 0, sizeof(*fault));
		if (edata != NULL)
		{
			/*
			 * All at once failed: a message's error is found by redoing the
			 * batch in a pass now; any other is retried, in a pass, later.
			 */
			bool		redo_now = !*isolate && caused_by_message(edata);

			*isolate = true;
			if (redo_now)
				continue;
			fault->sqlerrcode = edata->sqlerrcode;
			fault->message = error_text(edata);
		}
		else
		{
			fault->sqlerrcode = failed->last_sqlerrcode;
			fault->message = pstrdup(failed->last_error);
		}
		(void) error_cause(fault->sqlerrcode, &fault->cause);
		fault->blamed = blamed;
		return false;
	}

	/*
	 * The end of this process's last commit record: this batch's, or, if it
	 * wrote nothing (all duplicates), the last batch's, whose events it may
	 * have recognised as duplicates.  Either way every earlier asynchronous
	 * commit of the worker ends there or before, a previous worker process's
	 * too (WAL is written in order).  Before this process has committed
	 * anything, all the WAL there is: a worker restarted after an
	 * asynchronous commit may find its events as duplicates.  So too when
	 * the batch found duplicates: their originals may be another process's
	 * asynchronous commit (another ingest worker given the same event, a
	 * client with synchronous_commit off), which can end after ours, and the
	 * duplicate's ack must not outlive an original lost in a crash.
	 */
	*flush_to = !commit_async ? InvalidXLogRecPtr :
		(XLogRecPtrIsInvalid(XactLastCommitEnd) || counts.duplicates > 0) ?
		inserted_wal_end() : XactLastCommitEnd;
	worker_stats_add(WC_STORED, counts.stored);
	worker_stats_add(WC_DUPLICATES, counts.duplicates);
	worker_stats_add(WC_DEAD_LETTERED, counts.dead_lettered);
	worker_stats_add(WC_BATCHES, 1);
	return true;
}
