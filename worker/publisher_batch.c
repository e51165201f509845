/*
 * publisher_batch.c
 *	  The outbox publisher's view of candystore.outbox: which rows are due,
 *	  and what happened to them.  Each function is one short transaction of
 *	  its own; nothing is held open while the broker is talked to.
 *
 *	  Order per routing key: a row is due only when no earlier pending row
 *	  with the same routing key is waiting for a retry, so a failed row is
 *	  never overtaken by a later one of its key.  Rows of other keys carry on.
 *	  The partial index outbox_retry_idx makes that check a probe of the
 *	  (normally empty) set of rows waiting for a retry.
 *
 *	  A row that failed candystore.outbox_max_attempts times, or that AMQP
 *	  cannot carry (outbox_limits.c: rows enqueued before the checks, or by a
 *	  superuser's INSERT), is parked: parked_at is set and next_attempt_at is
 *	  'infinity', so it is never due and holds back the later rows of its
 *	  routing key, until retry_outbox() makes it due again.
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
#include "utils/snapmgr.h"

#include "outbox_limits.h"
#include "publisher.h"
#include "settings.h"
#include "spi_plans.h"
#include "status.h"
#include "worker.h"

#define RETRY_MIN_MS 100

/* Pending rows not held back, in send order. */
#define DUE_ROWS \
	" FROM candystore.outbox o" \
	" WHERE o.published_at IS NULL" \
	"   AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())" \
	"   AND NOT EXISTS (SELECT FROM candystore.outbox b" \
	"                    WHERE b.published_at IS NULL AND b.next_attempt_at > now()" \
	"                      AND b.routing_key = o.routing_key AND b.id < o.id)"

/* The wait before the next attempt of a row that failed 'attempts' times before. */
#define BACKOFF \
	" now() + least($%d::float8, %d * power(2, least(attempts, 30))) * interval '1 millisecond'"

static SPIPlanPtr fetch_plan = NULL;
static SPIPlanPtr fetch_after_plan = NULL;
static SPIPlanPtr next_due_plan = NULL;
static SPIPlanPtr mark_published_plan = NULL;
static SPIPlanPtr mark_failed_plan = NULL;
static SPIPlanPtr outage_plan = NULL;

/* Starts a transaction with SPI; returns the caller's memory context. */
static MemoryContext
begin(const char *activity)
{
	MemoryContext caller = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
	SPI_connect();
	return caller;
}

/* Commits, and returns to the caller's memory context. */
static void
end(MemoryContext caller)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(caller);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Planned afresh at every execution: a cached generic plan would be made
 * for the outbox as it was then (often empty), and a nested loop over a
 * sequential scan is a disaster once 100,000 rows are pending.
 */
#define CUSTOM CURSOR_OPT_CUSTOM_PLAN

/* Up to $2 due rows that meet cond ($3), in send order, with their events. */
#define FETCH(cond) \
	"SELECT o.id, coalesce(o.exchange, $1), o.routing_key, o.headers," \
	"       e.event_id::text, e.envelope, e.envelope->'trace_context'" \
	"  FROM (SELECT o.id, o.exchange, o.routing_key, o.headers, o.position" DUE_ROWS \
	"           " cond \
	"         ORDER BY o.id LIMIT $2) o" \
	"  JOIN candystore.event_log e ON e.position = o.position" \
	" ORDER BY o.id"

static void
prepare_plans(void)
{
	if (fetch_plan != NULL)
		return;
	fetch_plan = spi_prepare_kept(FETCH("AND o.id <> ALL ($3)"),
								  3, (Oid[]) {TEXTOID, INT4OID, INT8ARRAYOID}, CUSTOM);
	fetch_after_plan = spi_prepare_kept(FETCH("AND o.id > $3"),
										3, (Oid[]) {TEXTOID, INT4OID, INT8OID}, CUSTOM);
	next_due_plan = spi_prepare_kept(
		"SELECT (extract(epoch FROM min(next_attempt_at) - now()) * 1000)::int8"
		"  FROM candystore.outbox WHERE published_at IS NULL AND next_attempt_at > now()"
		"   AND parked_at IS NULL",
		0, NULL, CUSTOM);
	mark_published_plan = spi_prepare_kept(
		"UPDATE candystore.outbox SET published_at = now(), attempts = attempts + 1"
		" WHERE id = ANY ($1) AND published_at IS NULL",
		1, (Oid[]) {INT8ARRAYOID}, CUSTOM);
	/* $4: park now; $5: candystore.outbox_max_attempts */
	mark_failed_plan = spi_prepare_kept(
		psprintf("UPDATE candystore.outbox SET attempts = attempts + 1, last_error = $2,"
				 " failures = failures + 1,"
				 " parked_at = CASE WHEN $4 OR failures + 1 >= $5 THEN now() END,"
				 " next_attempt_at = CASE WHEN $4 OR failures + 1 >= $5 THEN 'infinity'"
				 "                   ELSE " BACKOFF " END"
				 " WHERE id = $1 AND published_at IS NULL"
				 " RETURNING failures, parked_at IS NOT NULL", 3, RETRY_MIN_MS),
		5, (Oid[]) {INT8OID, TEXTOID, FLOAT8OID, BOOLOID, INT4OID}, CUSTOM);
	outage_plan = spi_prepare_kept(
		"UPDATE candystore.outbox SET attempts = attempts + 1, last_error = $1"
		" WHERE id IN (SELECT o.id" DUE_ROWS " ORDER BY o.id LIMIT $2)",
		2, (Oid[]) {TEXTOID, INT4OID}, CUSTOM);
}

/* Converts a jsonb scalar or container into an AMQP field value. */
static void jsonb_to_field(JsonbValue *v, amqp_field_value_t *out);

static void
container_to_field(JsonbContainer *c, amqp_field_value_t *out)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			size = JsonContainerSize(c);
	int			n = 0;
	bool		object = JsonContainerIsObject(c);
	amqp_table_entry_t *entries = NULL;
	amqp_field_value_t *elems = NULL;

	if (object)
		entries = palloc0(sizeof(amqp_table_entry_t) * Max(size, 1));
	else
		elems = palloc0(sizeof(amqp_field_value_t) * Max(size, 1));
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			entries[n].key = (amqp_bytes_t) {v.val.string.len, v.val.string.val};
		else if (tok == WJB_VALUE)
			jsonb_to_field(&v, &entries[n++].value);
		else if (tok == WJB_ELEM)
			jsonb_to_field(&v, &elems[n++]);
	}
	if (object)
	{
		out->kind = AMQP_FIELD_KIND_TABLE;
		out->value.table.num_entries = n;
		out->value.table.entries = entries;
	}
	else
	{
		out->kind = AMQP_FIELD_KIND_ARRAY;
		out->value.array.num_entries = n;
		out->value.array.entries = elems;
	}
}

static void
jsonb_to_field(JsonbValue *v, amqp_field_value_t *out)
{
	char	   *num,
			   *endp;

	switch (v->type)
	{
		case jbvNull:
			out->kind = AMQP_FIELD_KIND_VOID;
			break;
		case jbvBool:
			out->kind = AMQP_FIELD_KIND_BOOLEAN;
			out->value.boolean = v->val.boolean;
			break;
		case jbvString:
			out->kind = AMQP_FIELD_KIND_UTF8;
			out->value.bytes = (amqp_bytes_t) {v->val.string.len, v->val.string.val};
			break;
		case jbvNumeric:
			/* integers that fit stay integers; anything else is a double */
			num = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
			errno = 0;
			out->kind = AMQP_FIELD_KIND_I64;
			out->value.i64 = strtoll(num, &endp, 10);
			if (errno != 0 || *endp != '\0')
			{
				out->kind = AMQP_FIELD_KIND_F64;
				out->value.f64 = strtod(num, NULL);
			}
			break;
		case jbvBinary:
			container_to_field(v->val.binary.data, out);
			break;
		default:
			out->kind = AMQP_FIELD_KIND_VOID;
			break;
	}
}

static char *
copy_text(int row, int col, MemoryContext cxt)
{
	char	   *s = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return MemoryContextStrdup(cxt, s);
}

/*
 * The envelope (jsonb) in column col as JSON text, written straight into
 * cxt: through SPI_getvalue it was made in SPI's memory, measured and copied.
 */
static char *
envelope_text(HeapTuple tup, int col, MemoryContext cxt, size_t *len)
{
	bool		isnull;
	Jsonb	   *envelope = DatumGetJsonbP(SPI_getbinval(tup, SPI_tuptable->tupdesc, col, &isnull));
	MemoryContext old = MemoryContextSwitchTo(cxt);
	StringInfoData buf;

	initStringInfo(&buf);
	(void) JsonbToCString(&buf, &envelope->root, VARSIZE(envelope));
	MemoryContextSwitchTo(old);
	*len = buf.len;
	return buf.data;
}

/* The row's text as UTF-8, or NULL with the row failed as unsendable. */
static char *
shortstr_or_fail(OutboxRow *r, const char *what, const char *s, MemoryContext cxt)
{
	char	   *utf8;
	size_t		len;
	int			code;
	char	   *problem = outbox_shortstr_problem(what, s, strlen(s), &utf8, &len, &code);

	if (problem != NULL)
	{
		r->outcome = ROW_FAILED;
		r->unsendable = true;
		r->error = MemoryContextStrdup(cxt, psprintf("cannot be sent: %s", problem));
		return NULL;
	}
	return utf8 == s ? (char *) s : MemoryContextStrdup(cxt, utf8);
}

/* Checks what AMQP must carry of the row; fails it as unsendable if it cannot. */
static void
check_sendable(OutboxRow *r, MemoryContext cxt)
{
	char	   *problem;

	if ((r->exchange = shortstr_or_fail(r, "exchange name", r->exchange, cxt)) == NULL ||
		(r->routing_key = shortstr_or_fail(r, "routing key", r->routing_key, cxt)) == NULL)
		return;
	if (GetDatabaseEncoding() != PG_UTF8 && GetDatabaseEncoding() != PG_SQL_ASCII)
	{
		r->body = MemoryContextStrdup(GetMemoryChunkContext(r->body),
									  pg_server_to_any(r->body, r->body_len, PG_UTF8));
		r->body_len = strlen(r->body);
	}
	if ((problem = outbox_body_problem(r->body_len)) != NULL)
	{
		r->outcome = ROW_FAILED;
		r->unsendable = true;
		r->error = MemoryContextStrdup(cxt, psprintf("cannot be sent: %s", problem));
	}
}

/*
 * Fills rows[] with up to max due rows, in send order, leaving out the ids in
 * exclude[] (rows in flight), or, when after > 0, only rows whose id is
 * greater (the caller knows every row in flight to be at most that, and
 * every due row up to it to be in flight: reading on from there spares the
 * walk past the rows in flight), allocated in the current memory context
 * but for their bodies and headers, in messages_cxt (freed once sent), and
 * returns how many, or OUTBOX_NO_EXTENSION when the extension is not (yet)
 * created in the database, or OUTBOX_OLD_EXTENSION when it is of another
 * version than the library (ALTER EXTENSION UPDATE not yet run).  When
 * fewer than max are due, *next_due_ms says when the next held-back row
 * becomes due (-1: none).
 */
int
publisher_fetch_due(OutboxRow *rows, int max, Datum *exclude, int nexclude, int64 after,
					MemoryContext messages_cxt, long *next_due_ms)
{
	MemoryContext batch_cxt;
	Datum		args[3];
	int			n;
	char	   *installed;

	*next_due_ms = -1;
	batch_cxt = begin("candystore outbox publisher: reading due rows");
	switch (worker_extension_state(&installed))
	{
		case EXTENSION_MISSING:
			end(batch_cxt);
			return OUTBOX_NO_EXTENSION;
		case EXTENSION_OTHER_VERSION:
			/* e.g. 0.1.0's outbox, without the columns this records into */
			end(batch_cxt);
			return OUTBOX_OLD_EXTENSION;
		case EXTENSION_READY:
			break;
	}
	prepare_plans();
	args[0] = CStringGetTextDatum(worker_exchange);
	args[1] = Int32GetDatum(max);
	if (after > 0)
		args[2] = Int64GetDatum(after);
	else
		args[2] = PointerGetDatum(construct_array(exclude, nexclude, INT8OID, 8, FLOAT8PASSBYVAL,
												  TYPALIGN_DOUBLE));
	if (SPI_execute_plan(after > 0 ? fetch_after_plan : fetch_plan, args, NULL, true, max) != SPI_OK_SELECT)
		elog(ERROR, "reading the outbox failed");
	n = (int) SPI_processed;
	for (int i = 0; i < n; i++)
	{
		OutboxRow  *r = &rows[i];
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		Jsonb	   *headers;
		Datum		trace_context;
		amqp_field_value_t field;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		memset(r, 0, sizeof(*r));
		r->id = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		r->exchange = copy_text(i, 2, batch_cxt);
		r->routing_key = copy_text(i, 3, batch_cxt);
		r->event_id = copy_text(i, 5, batch_cxt);
		r->body = envelope_text(tup, 6, messages_cxt, &r->body_len);
		r->outcome = ROW_UNSENT;
		check_sendable(r, batch_cxt);
		if (r->outcome == ROW_FAILED)
		{
			/* keep what the failure record and the log need */
			r->routing_key = copy_text(i, 3, batch_cxt);
			continue;
		}
		old = MemoryContextSwitchTo(messages_cxt);
		headers = DatumGetJsonbPCopy(SPI_getbinval(tup, SPI_tuptable->tupdesc, 4, &isnull));
		if (JB_ROOT_IS_OBJECT(headers) && JB_ROOT_COUNT(headers) > 0)
		{
			container_to_field(&headers->root, &field);
			r->headers = field.value.table;
		}
		trace_context = SPI_getbinval(tup, SPI_tuptable->tupdesc, 7, &isnull);
		if (!isnull)
			publisher_add_trace_headers(DatumGetJsonbPCopy(trace_context), &r->headers);
		MemoryContextSwitchTo(old);
	}

	if (n < max)
	{
		if (SPI_execute_plan(next_due_plan, NULL, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading the outbox failed");
		if (SPI_processed == 1)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull)
				*next_due_ms = Max(0, DatumGetInt64(d));
		}
	}
	end(batch_cxt);
	return n;
}

static bool
key_in(List *keys, const char *key)
{
	ListCell   *lc;

	foreach(lc, keys)
	{
		if (strcmp(lfirst(lc), key) == 0)
			return true;
	}
	return false;
}

/* Schedules a failed row again (or parks it); returns the rows updated (0 or 1). */
static uint64
record_failure(OutboxRow *r)
{
	Datum		args[5];
	const char *error = r->error ? r->error : "failed";
	bool		isnull;

	args[0] = Int64GetDatum(r->id);
	args[1] = CStringGetTextDatum(error);
	args[2] = Float8GetDatum((double) worker_outbox_retry_max_ms);
	args[3] = BoolGetDatum(r->unsendable);
	args[4] = Int32GetDatum(worker_outbox_max_attempts);
	if (SPI_execute_plan(mark_failed_plan, args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "updating the outbox failed");
	if (SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		ereport(LOG,
				(errmsg("candystore outbox publisher parked outbox row %lld after %d failed attempts",
						(long long) r->id,
						DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull))),
				 errdetail_internal("%s", error),
				 errhint("Later rows of its routing key wait for it. Remove the cause, then call candystore.retry_outbox().")));
	return SPI_processed;
}

/*
 * Records the outcome of batches (oldest first) in one transaction: confirmed
 * rows are marked published, in one UPDATE, and failed rows are scheduled
 * again with backoff and their error.  A confirmed row that was sent after
 * a failed row of the same routing key (in these batches or an earlier one
 * still in *failed_keys) is left pending, to be sent again after it: per
 * key, the last copy a consumer sees is in order.  Failed keys are added to
 * *failed_keys, allocated in keys_cxt.
 */
void
publisher_record_outcomes(OutboxBatch *batches, int nbatches, List **failed_keys,
						  MemoryContext keys_cxt)
{
	Datum	   *ids;
	int			nids = 0;
	int			n = 0;
	uint64		failed = 0;
	MemoryContext caller;

	for (int b = 0; b < nbatches; b++)
		n += batches[b].n;
	ids = palloc(sizeof(Datum) * Max(n, 1));
	caller = begin("candystore outbox publisher: marking rows");
	prepare_plans();
	for (int b = 0; b < nbatches; b++)
	{
		OutboxRow  *rows = batches[b].rows;

		for (int i = 0; i < batches[b].n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (rows[i].outcome == ROW_FAILED)
			{
				failed += record_failure(&rows[i]);
				if (!key_in(*failed_keys, rows[i].routing_key))
				{
					MemoryContext old = MemoryContextSwitchTo(keys_cxt);

					*failed_keys = lappend(*failed_keys, pstrdup(rows[i].routing_key));
					MemoryContextSwitchTo(old);
				}
			}
			else if (rows[i].outcome == ROW_CONFIRMED && !key_in(*failed_keys, rows[i].routing_key))
				ids[nids++] = Int64GetDatum(rows[i].id);
		}
	}
	if (nids > 0)
	{
		Datum		arg = PointerGetDatum(construct_array(ids, nids, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));

		if (SPI_execute_plan(mark_published_plan, &arg, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "updating the outbox failed");
		worker_stats_add(WC_OUTBOX_PUBLISHED, SPI_processed);
	}
	end(caller);
	pfree(ids);
	worker_stats_add(WC_OUTBOX_RETRIES, failed);
}

/*
 * The broker cannot be reached: the rows that would be sent now record the
 * attempt and why.  They stay due: the reconnect backoff paces them.
 */
void
publisher_record_outage(const char *error)
{
	Datum		args[2];
	MemoryContext caller;

	caller = begin("candystore outbox publisher: recording an outage");
	prepare_plans();
	args[0] = CStringGetTextDatum(error);
	args[1] = Int32GetDatum(worker_outbox_batch_size);
	if (SPI_execute_plan(outage_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "updating the outbox failed");
	worker_stats_add(WC_OUTBOX_RETRIES, SPI_processed);
	end(caller);
}
