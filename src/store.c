/*
 * store.c
 *	  candystore.append(), candystore.append_many() and the append path
 *	  beneath them.
 *
 * Envelopes are inserted with ON CONFLICT (event_id) DO NOTHING through
 * plans prepared once per backend: one row for candystore.append(), many in
 * one statement for append_many() and the ingest worker's batches.  When an id is taken, the
 * stored envelope is compared with the new one (jsonb equality): the same
 * content is the normal at-least-once redelivery and gives the stored
 * position; other content is a conflict and raises.  A caller that expects
 * no duplicates (the worker, for a batch the broker delivers for the first
 * time) may insert without ON CONFLICT, which spares a probe of the event id
 * index and a speculative insertion per row; a taken id then raises
 * unique_violation and the caller redoes the rows expecting duplicates.
 *
 * Each row also gets its causation group and session key (trace_links.c,
 * session_key.c): the groups of a chunk's rows are chosen before its INSERT
 * and their links recorded after it, row by row in order.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"

#include "envelope.h"
#include "erasure.h"
#include "event_type_grants.h"
#include "notify.h"
#include "schema_registry.h"
#include "session_key.h"
#include "signing.h"
#include "spi_plans.h"
#include "store.h"
#include "store_insert.h"
#include "trace_catalog.h"
#include "trace_links.h"

bool		store_removal_allowed = false;

/*
 * The row whose check or insert is under way, for the error context of a
 * numbered batch (append_many): which envelope an error is about.  Set only
 * around per-row work that can raise for that row.
 */
static const StoreRow *row_at_fault = NULL;

/*
 * A batch is inserted in chunks of up to 2^STORE_CHUNK_LOG2 rows, one
 * multi-row INSERT each: the executor starts once per chunk, not once per
 * event.  One plan per power of two up to that, so any count is a few
 * chunks.
 */
#define STORE_CHUNK_LOG2 6
#define STORE_COLUMNS 8

/*
 * [layout]: [1] 0.2.0's partitioned event_log with event_ids, [0] a 0.1.0
 * catalog not yet updated (the library is replaced before ALTER EXTENSION
 * UPDATE runs); [0]: plain INSERT; [1]: ON CONFLICT (event_id) DO NOTHING
 */
static SPIPlanPtr insert_plans[2][2][STORE_CHUNK_LOG2 + 1];
static SPIPlanPtr lookup_plans[2];
static SPIPlanPtr lookup_plan = NULL;
static bool partitioned = true;

/* The INSERT of 2^log2rows rows, prepared on first use. */
static SPIPlanPtr
insert_plan(int log2rows, bool on_conflict)
{
	static const Oid row_types[STORE_COLUMNS] = {
		UUIDOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, UUIDARRAYOID, JSONBOID, UUIDOID, TEXTOID
	};
	int			rows = 1 << log2rows;
	StringInfoData sql;
	Oid		   *types;

	if (insert_plans[partitioned][on_conflict][log2rows] != NULL)
		return insert_plans[partitioned][on_conflict][log2rows];

	types = palloc(sizeof(Oid) * rows * STORE_COLUMNS);
	initStringInfo(&sql);
	if (!partitioned)
	{
		appendStringInfoString(&sql, "INSERT INTO candystore.event_log"
							   " (event_id, event_type, occurred_at, routing_key, correlation_ids, envelope,"
							   "  causation_group, session_key)"
							   " VALUES ");
		for (int r = 0; r < rows; r++)
		{
			int			p = r * STORE_COLUMNS;

			appendStringInfo(&sql, "%s($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", r > 0 ? ", " : "",
							 p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8);
			memcpy(types + p, row_types, sizeof(row_types));
		}
		if (on_conflict)
			appendStringInfoString(&sql, " ON CONFLICT (event_id) DO NOTHING");
		appendStringInfoString(&sql, " RETURNING event_id, position");
	}
	else if (rows == 1)
	{
		/* one row (append()): no VALUES list to join, the parameters twice */
		memcpy(types, row_types, sizeof(row_types));
		appendStringInfoString(&sql, "WITH ids AS ("
							   " INSERT INTO candystore.event_ids"
							   " (event_id, event_type, occurred_at, correlation_ids, causation_group)"
							   " VALUES ($1, $2, $3, $5, $7)");
		if (on_conflict)
			appendStringInfoString(&sql, " ON CONFLICT (event_id) DO NOTHING");
		appendStringInfoString(&sql, " RETURNING position)"
							   " INSERT INTO candystore.event_log"
							   " (position, event_id, event_type, occurred_at, routing_key, correlation_ids, envelope,"
							   "  causation_group, session_key)"
							   " SELECT position, $1, $2, $3, $4, $5, $6, $7, $8 FROM ids"
							   " RETURNING event_id, position");
	}
	else
	{
		/*
		 * event_ids first: its primary key keeps event ids unique across
		 * event_log's partitions (ON CONFLICT probes it) and hands out the
		 * position; event_log gets the rows event_ids took, each once (an id
		 * twice in a chunk is stored from its first row, as RETURNING says).
		 */
		appendStringInfoString(&sql, "WITH v (event_id, event_type, occurred_at, routing_key, correlation_ids,"
							   " envelope, causation_group, session_key, ord) AS (VALUES ");
		for (int r = 0; r < rows; r++)
		{
			int			p = r * STORE_COLUMNS;

			appendStringInfo(&sql, "%s($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, %d)", r > 0 ? ", " : "",
							 p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8, r);
			memcpy(types + p, row_types, sizeof(row_types));
		}
		appendStringInfoString(&sql, "), ids AS ("
							   " INSERT INTO candystore.event_ids"
							   " (event_id, event_type, occurred_at, correlation_ids, causation_group)"
							   " SELECT event_id, event_type, occurred_at, correlation_ids, causation_group"
							   " FROM v ORDER BY ord");
		if (on_conflict)
			appendStringInfoString(&sql, " ON CONFLICT (event_id) DO NOTHING");
		appendStringInfoString(&sql, " RETURNING event_id, position),"
							   " logged AS ("
							   " INSERT INTO candystore.event_log"
							   " (position, event_id, event_type, occurred_at, routing_key, correlation_ids, envelope,"
							   "  causation_group, session_key)"
							   " SELECT i.position, v.event_id, v.event_type, v.occurred_at, v.routing_key,"
							   "  v.correlation_ids, v.envelope, v.causation_group, v.session_key"
							   " FROM ids i JOIN (SELECT DISTINCT ON (event_id) * FROM v ORDER BY event_id, ord) v"
							   " ON v.event_id = i.event_id)"
							   " SELECT event_id, position FROM ids");
	}
	/* the parameters' values never change the plan: plan once, not per call */
	insert_plans[partitioned][on_conflict][log2rows] =
		spi_prepare_kept(sql.data, rows * STORE_COLUMNS, types, CURSOR_OPT_GENERIC_PLAN);
	pfree(types);
	pfree(sql.data);
	return insert_plans[partitioned][on_conflict][log2rows];
}

static void
prepare_lookup_plan(void)
{
	Oid			lookup_types[] = {UUIDOID};

	partitioned = trace_catalog()->partitioned;
	if (lookup_plans[partitioned] == NULL)
		lookup_plans[partitioned] = spi_prepare_kept(partitioned ?
													 "SELECT i.position, l.envelope FROM candystore.event_ids i"
													 " LEFT JOIN candystore.event_log l ON l.position = i.position"
													 " WHERE i.event_id = $1" :
													 "SELECT position, envelope FROM candystore.event_log"
													 " WHERE event_id = $1",
													 1, lookup_types, 0);
	lookup_plan = lookup_plans[partitioned];
}

/* Equality as jsonb defines it: key order, whitespace and 1 vs 1.0 do not matter. */
static bool
same_content(Jsonb *a, Jsonb *b)
{
	return DatumGetBool(DirectFunctionCall2(jsonb_eq, JsonbPGetDatum(a), JsonbPGetDatum(b)));
}

/*
 * Whether incoming is the event stored as stored: the same content, or the
 * original of a tombstone (a redelivery after erasure stays a duplicate).
 */
static bool
same_event(Jsonb *stored, Jsonb *incoming)
{
	return same_content(stored, incoming) || erasure_tombstone_of(stored, incoming);
}

static bool
jsonb_values_equal(JsonbValue *a, JsonbValue *b)
{
	return same_content(JsonbValueToJsonb(a), JsonbValueToJsonb(b));
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

/*
 * The stored event with this id, if any: its position and envelope.  Not
 * read-only: the row may come from an earlier command of this very
 * statement, or this very chunk, visible only after a command-counter bump.
 * *stored is NULL for an event purged with its partition whose id event_ids
 * still holds (purge.c): it was stored, its content can no longer be told.
 */
static bool
lookup_stored(const pg_uuid_t *event_id, int64 *position, Jsonb **stored)
{
	Datum		id = UUIDPGetDatum(event_id);
	Datum		envelope;
	bool		isnull;
	int			rc;

	rc = SPI_execute_plan(lookup_plan, &id, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading candystore.event_log failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		return false;
	*position = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	envelope = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	*stored = isnull ? NULL : DatumGetJsonbP(envelope);
	return true;
}


/* The position of the event if it is stored with this very content, else -1. */
static int64
stored_duplicate(Jsonb *envelope, const Envelope *parsed)
{
	int64		position;
	Jsonb	   *stored;

	if (!lookup_stored(&parsed->event_id, &position, &stored) ||
		(stored != NULL && !same_event(stored, envelope)))
		return -1;
	return position;
}

/*
 * An event id already taken: the same content is a duplicate (its stored
 * position is returned), other content raises unique_violation.
 */
static void
resolve_conflict(StoreRow *row)
{
	Jsonb	   *stored;

	row_at_fault = row;
	if (!lookup_stored(&row->parsed->event_id, &row->position, &stored))
		elog(ERROR, "event id conflict reported but no stored event found");
	/* a redelivery of a purged event stays purged: a duplicate */
	if (stored != NULL && !same_event(stored, row->envelope))
	{
		char	   *id = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&row->parsed->event_id)));

		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("event %s is already stored with different content", id),
				 erasure_is_tombstone(stored) ?
				 errdetail("The stored event (position " INT64_FORMAT ") was erased, and this is not its original.",
						   row->position) :
				 errdetail("The stored event (position " INT64_FORMAT ") differs in: %s.",
						   row->position, differing_fields(stored, row->envelope)),
				 errhint("An event id names one event forever: give a changed event a new event_id.")));
	}
	row->outcome = APPEND_DUPLICATE;
	SPI_freetuptable(SPI_tuptable);
	row_at_fault = NULL;
}

/*
 * The rows (2^k of them) in one multi-row INSERT through SPI: for a 0.1.0
 * catalog not yet updated, or tables store_insert_begin() leaves to SQL.
 * Sets the positions of the rows stored and inserted[] for them.
 */
static void
insert_statement(StoreRow *rows, int n, const TraceLinks *links, text **sessions,
				 bool *inserted, bool duplicates_expected)
{
	int			log2rows = 0;
	Datum	   *values = palloc(sizeof(Datum) * n * STORE_COLUMNS);
	char	   *nulls = palloc(n * STORE_COLUMNS);
	uint64		returned;
	uint64		next = 0;
	int			rc;

	while ((1 << log2rows) < n)
		log2rows++;
	Assert((1 << log2rows) == n);
	for (int r = 0; r < n; r++)
	{
		Datum	   *v = values + r * STORE_COLUMNS;
		char	   *nl = nulls + r * STORE_COLUMNS;

		memset(nl, ' ', STORE_COLUMNS);
		v[0] = UUIDPGetDatum(&rows[r].parsed->event_id);
		v[1] = PointerGetDatum(rows[r].parsed->event_type);
		v[2] = TimestampTzGetDatum(rows[r].parsed->occurred_at);
		v[3] = PointerGetDatum(rows[r].routing_key);
		if (rows[r].routing_key == NULL)
			nl[3] = 'n';
		v[4] = PointerGetDatum(rows[r].parsed->correlation_ids);
		v[5] = JsonbPGetDatum(rows[r].envelope);
		v[6] = UUIDPGetDatum(&links[r].group);
		v[7] = PointerGetDatum(sessions[r]);
		if (sessions[r] == NULL)
			nl[7] = 'n';
	}
	rc = SPI_execute_plan(insert_plan(log2rows, duplicates_expected), values, nulls, false, 0);
	if (rc != (partitioned && log2rows > 0 ? SPI_OK_SELECT : SPI_OK_INSERT_RETURNING))
		elog(ERROR, "inserting into candystore.event_log failed: %s", SPI_result_code_string(rc));

	/*
	 * RETURNING lists the inserted rows in the order of the VALUES list; the
	 * rows it skips hit an event id already taken (possibly by an earlier
	 * row of this chunk).
	 */
	returned = SPI_processed;
	for (int r = 0; r < n && next < returned; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[next];
		bool		isnull;
		pg_uuid_t  *id = DatumGetUUIDP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));

		if (memcmp(id, &rows[r].parsed->event_id, sizeof(pg_uuid_t)) != 0)
			continue;
		rows[r].position = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
		inserted[r] = true;
		next++;
	}
	if (next != returned)
		elog(ERROR, "candystore.event_log insert returned its rows out of order");
	SPI_freetuptable(SPI_tuptable);
	pfree(values);
	pfree(nulls);
}

/*
 * One chunk of rows inserted (through ins, or else one multi-row INSERT of
 * 2^log2rows rows), then their conflicts resolved and their causation links
 * recorded.
 */
static void
insert_chunk(StoreInsert *ins, StoreRow *rows, int n, bool duplicates_expected)
{
	bool	   *inserted = palloc0(sizeof(bool) * n);
	TraceLinks *links = palloc(sizeof(TraceLinks) * n);
	text	  **sessions = palloc(sizeof(text *) * n);
	TraceLinksScope scope;

	trace_links_begin(&scope);
	for (int r = 0; r < n; r++)
	{
		sessions[r] = session_key(rows[r].envelope);
		/* sees the rows before it in this chunk, which are stored first */
		trace_links_before_insert(&scope, links, r, rows[r].parsed);
	}
	if (ins != NULL)
		for (int r = 0; r < n; r++)
		{
			StoreInsertRow row = {
				.parsed = rows[r].parsed,.envelope = rows[r].envelope,
				.routing_key = rows[r].routing_key,.causation_group = &links[r].group,
				.session_key = sessions[r]
			};

			rows[r].position = store_insert_row(ins, &row, duplicates_expected);
			inserted[r] = rows[r].position >= 0;
		}
	else
		insert_statement(rows, n, links, sessions, inserted, duplicates_expected);
	for (int r = 0; r < n; r++)
		if (inserted[r])
		{
			rows[r].outcome = APPEND_STORED;
			notify_note_position(rows[r].position);
		}

	for (int r = 0; r < n; r++)
		if (!inserted[r])
			resolve_conflict(&rows[r]);

	/* every row of the chunk is in the table now, as the dirty probes see it */
	for (int r = 0; r < n; r++)
		links[r].stored = inserted[r];
	for (int r = 0; r < n; r++)
		trace_links_after_insert(&scope, links, r);
	trace_links_end(&scope);
	pfree(inserted);
	pfree(sessions);
}

/*
 * The signature (when candystore.require_signatures asks for one) and the
 * payload's contract, checked for every row before anything is written.
 * A refused event that is already stored with the same content is a
 * redelivery: it was accepted then, and stays a duplicate whatever the schema
 * says now.  Any other refusal raises.  Returns the rows still to insert:
 * the rows themselves when none was a refused duplicate (the usual case),
 * else a compacted copy, with *original set so outcomes can be copied back.
 */
static StoreRow *
rows_with_acceptable_payloads(StoreRow *rows, int *n, StoreRow **original)
{
	StoreRow   *kept = NULL;
	int			nkept = 0;

	*original = NULL;
	for (int r = 0; r < *n; r++)
	{
		RegistryFailure failure;
		SignatureVerdict verdict;
		bool		signed_ok;
		int64		position;

		row_at_fault = &rows[r];
		/* a signature candystore.require_signatures asks for, then the payload */
		signed_ok = signing_acceptable(rows[r].envelope, rows[r].parsed, &verdict);
		if (signed_ok && registry_payload_acceptable(rows[r].envelope, rows[r].parsed, &failure))
		{
			if (kept != NULL)
				kept[nkept++] = rows[r];
			continue;
		}
		position = stored_duplicate(rows[r].envelope, rows[r].parsed);
		if (position < 0 && !signed_ok)
			signing_raise(rows[r].parsed, &verdict);
		if (position < 0)
			registry_raise(&failure);
		rows[r].outcome = APPEND_DUPLICATE;
		rows[r].position = position;
		if (kept == NULL)
		{
			kept = palloc(sizeof(StoreRow) * *n);
			memcpy(kept, rows, sizeof(StoreRow) * r);
			nkept = r;
		}
	}
	row_at_fault = NULL;
	if (kept == NULL)
		return rows;
	*original = rows;
	*n = nkept;
	return kept;
}

/* Copies the outcomes of the compacted rows back to the caller's array. */
static void
copy_outcomes_back(StoreRow *original, StoreRow *kept, int nkept)
{
	int			r = 0;

	for (int k = 0; k < nkept; k++)
	{
		while (original[r].envelope != kept[k].envelope)
			r++;
		original[r].outcome = kept[k].outcome;
		original[r].position = kept[k].position;
	}
	pfree(kept);
}

void
store_append_rows(StoreRow *rows, int n, bool duplicates_expected)
{
	int			done = 0;
	StoreRow   *refused;
	StoreInsert *ins;

	/*
	 * Every append comes through here: one row from candystore.append(), a
	 * batch from the ingest worker, so the payload check below applies to
	 * both alike.
	 */
	/* the invoking role's event type grants, for every row before any is stored */
	for (int r = 0; r < n; r++)
		event_type_check_writable(rows[r].parsed->event_type);
	SPI_connect();
	prepare_lookup_plan();
	row_at_fault = NULL;
	rows = rows_with_acceptable_payloads(rows, &n, &refused);
	ins = n > 0 ? store_insert_begin() : NULL;
	while (done < n)
	{
		int			chunk = 1 << STORE_CHUNK_LOG2;

		CHECK_FOR_INTERRUPTS();
		/* a statement's chunk: a power of two, one plan each */
		while (chunk > n - done)
			chunk = ins != NULL ? n - done : chunk / 2;
		insert_chunk(ins, rows + done, chunk, duplicates_expected);
		done += chunk;
	}
	if (ins != NULL)
		store_insert_end(ins);
	if (refused != NULL)
		copy_outcomes_back(refused, rows, n);
	SPI_finish();
}

int64
store_append(Jsonb *envelope, const Envelope *parsed, text *routing_key,
			 AppendOutcome *outcome)
{
	StoreRow	row = {.envelope = envelope,.parsed = parsed,.routing_key = routing_key};

	store_append_rows(&row, 1, true);
	*outcome = row.outcome;
	return row.position;
}

/* The envelope argument parsed, or raise: NULL, or what envelope_parse() refuses. */
static Jsonb *
checked_envelope(Datum value, bool isnull, Envelope *parsed)
{
	Jsonb	   *envelope;
	EnvelopeError error;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("invalid envelope: the envelope is NULL")));
	envelope = DatumGetJsonbP(value);
	if (!envelope_parse(envelope, parsed, &error))
		envelope_raise(&error);
	return envelope;
}

int64
store_append_from_args(FunctionCallInfo fcinfo, bool routing_key_defaults_to_type,
					   text **routing_key, AppendOutcome *outcome)
{
	Envelope	parsed;
	Jsonb	   *envelope = checked_envelope(PG_GETARG_DATUM(0), PG_ARGISNULL(0), &parsed);

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

/*
 * store_append_rows() for rows that are nearly always new (a batch is mostly
 * a first delivery, a backfill into an empty store): first without
 * ON CONFLICT, which spares each row a probe of the event id index and a
 * speculative insertion (about a tenth of a row's cost), in a subtransaction;
 * if an event id is taken after all, that is undone and the rows are stored
 * again expecting duplicates, where each is recognised or raises its conflict.
 */
static void
store_append_rows_expecting_new(StoreRow *rows, int n)
{
	MemoryContext context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	if (n <= 1)
	{
		store_append_rows(rows, n, true);
		return;
	}
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(context);
	PG_TRY();
	{
		store_append_rows(rows, n, false);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			ReThrowError(edata);
		FreeErrorData(edata);
		store_append_rows(rows, n, true);
	}
	PG_END_TRY();
}

/*
 * append_many(): which envelope of the batch an error is about.  While the
 * envelopes are parsed that is the one being parsed; while they are stored,
 * the row store.c is checking or resolving (row_at_fault), found again by its
 * envelope, since the rows may have been compacted.
 */
typedef struct BatchErrorContext
{
	const StoreRow *rows;
	int			n;
	int			parsing;		/* 0-based; -1 once parsing is done */
} BatchErrorContext;

static void
batch_error_context(void *arg)
{
	const BatchErrorContext *batch = arg;
	int			at = batch->parsing;

	if (at < 0 && row_at_fault != NULL)
		for (int r = 0; r < batch->n; r++)
			if (batch->rows[r].envelope == row_at_fault->envelope)
			{
				at = r;
				break;
			}
	if (at >= 0)
		errcontext("envelope %d of %d given to append_many (envelopes[%d])",
				   at + 1, batch->n, at + 1);
}

/* The array argument argno as a one-dimensional array of n elements, or raise. */
static void
batch_array(FunctionCallInfo fcinfo, int argno, Oid elmtype, int elmlen, bool elmbyval,
			char elmalign, Datum **elems, bool **nulls, int *n)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(argno);

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("append_many takes one-dimensional arrays"),
				 errdetail("Argument %d has %d dimensions.", argno + 1, ARR_NDIM(array))));
	deconstruct_array(array, elmtype, elmlen, elmbyval, elmalign, elems, nulls, n);
}

PG_FUNCTION_INFO_V1(candystore_append_many);

/*
 * candystore.append_many(envelopes jsonb[], routing_keys text[] DEFAULT NULL)
 *	  RETURNS TABLE(ordinality integer, event_id uuid, "position" bigint, outcome text)
 *
 * append() for a batch, through the same store_append_rows(): every
 * envelope is parsed first (one refused raises, naming it, before anything
 * is written), then all are stored in multi-row inserts.
 */
Datum
candystore_append_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *envelopes;
	bool	   *envelope_nulls;
	Datum	   *keys = NULL;
	bool	   *key_nulls = NULL;
	int			n;
	int			nkeys = 0;
	StoreRow   *rows;
	Envelope   *parsed;
	BatchErrorContext batch;
	ErrorContextCallback callback;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("invalid envelopes: the array is NULL")));
	batch_array(fcinfo, 0, JSONBOID, -1, false, TYPALIGN_INT, &envelopes, &envelope_nulls, &n);
	if (!PG_ARGISNULL(1))
	{
		batch_array(fcinfo, 1, TEXTOID, -1, false, TYPALIGN_INT, &keys, &key_nulls, &nkeys);
		if (nkeys != n)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("append_many needs one routing key per envelope"),
					 errdetail("There are %d envelopes and %d routing keys.", n, nkeys),
					 errhint("Pass NULL for routing_keys, or NULL elements, to store no routing key.")));
	}
	InitMaterializedSRF(fcinfo, 0);

	rows = palloc(sizeof(StoreRow) * Max(n, 1));
	parsed = palloc(sizeof(Envelope) * Max(n, 1));
	batch.rows = rows;
	batch.n = n;
	batch.parsing = 0;
	callback.callback = batch_error_context;
	callback.arg = &batch;
	callback.previous = error_context_stack;
	error_context_stack = &callback;

	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		batch.parsing = i;
		rows[i].envelope = checked_envelope(envelopes[i], envelope_nulls[i], &parsed[i]);
		rows[i].parsed = &parsed[i];
		rows[i].routing_key = (keys == NULL || key_nulls[i]) ? NULL : DatumGetTextPP(keys[i]);
	}
	batch.parsing = -1;
	store_append_rows_expecting_new(rows, n);
	error_context_stack = callback.previous;

	for (int i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = Int32GetDatum(i + 1);
		values[1] = UUIDPGetDatum(&parsed[i].event_id);
		values[2] = Int64GetDatum(rows[i].position);
		values[3] = CStringGetTextDatum(rows[i].outcome == APPEND_STORED ? "stored" : "duplicate");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
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
