/*
 * erasure.c
 *	  candystore.erase() and candystore.erase_subject(): redaction of stored
 *	  events by tombstone (docs/operations.md, "Erasure").
 *
 * An erasure is one statement recording the audit row and the events it
 * covers, then one UPDATE replacing their envelopes by tombstones.  That
 * UPDATE is the only change the immutability trigger lets through, while
 * erasure_in_progress is set around it; nothing SQL can do sets it.  It
 * takes row locks on the erased rows only, so appends go on meanwhile.
 *
 * The functions run as the role that called them for the privilege check
 * (EXECUTE, granted to candystore_eraser) and the audit, then as the owner
 * of the function (the extension owner) for the work, as SECURITY DEFINER
 * would, which would hide the caller.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "erasure.h"

bool		erasure_in_progress = false;

#define TOMBSTONE_KEY "candystore_erasure"
#define DIGEST_KEY "original_sha256"

/* The hex SHA-256 of the envelope's jsonb text (jsonb_out's form). */
static char *
envelope_digest(Jsonb *envelope)
{
	char	   *text = JsonbToCString(NULL, &envelope->root, VARSIZE(envelope));
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) text, strlen(text)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
	{
		const char *why = pg_cryptohash_error(ctx);

		pg_cryptohash_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the SHA-256 digest of an envelope: %s", why)));
	}
	pg_cryptohash_free(ctx);
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	pfree(text);
	return hex;
}

PG_FUNCTION_INFO_V1(candystore_envelope_digest);

/* candystore.envelope_digest(envelope jsonb) RETURNS text */
Datum
candystore_envelope_digest(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(envelope_digest(PG_GETARG_JSONB_P(0))));
}

/* The tombstone's record ({"erasure_id", "erased_at", "original_sha256"}), or NULL. */
static JsonbContainer *
tombstone_record(Jsonb *envelope)
{
	JsonbValue	buf;
	JsonbValue *payload = getKeyJsonValueFromContainer(&envelope->root, "payload",
													   strlen("payload"), &buf);
	JsonbValue *record;

	if (payload == NULL || payload->type != jbvBinary ||
		!JsonContainerIsObject(payload->val.binary.data) ||
		JsonContainerSize(payload->val.binary.data) != 1)
		return NULL;
	record = getKeyJsonValueFromContainer(payload->val.binary.data, TOMBSTONE_KEY,
										  strlen(TOMBSTONE_KEY), &buf);
	if (record == NULL || record->type != jbvBinary ||
		!JsonContainerIsObject(record->val.binary.data))
		return NULL;
	return record->val.binary.data;
}

bool
erasure_is_tombstone(Jsonb *envelope)
{
	return tombstone_record(envelope) != NULL;
}

bool
erasure_tombstone_of(Jsonb *stored, Jsonb *incoming)
{
	JsonbContainer *record = tombstone_record(stored);
	JsonbValue	buf;
	JsonbValue *kept;
	char	   *digest;

	if (record == NULL)
		return false;
	kept = getKeyJsonValueFromContainer(record, DIGEST_KEY, strlen(DIGEST_KEY), &buf);
	if (kept == NULL || kept->type != jbvString)
		return false;
	digest = envelope_digest(incoming);
	return kept->val.string.len == (int) strlen(digest) &&
		memcmp(kept->val.string.val, digest, kept->val.string.len) == 0;
}

/*
 * Not a tombstone already: erasing twice would digest the tombstone.  The
 * UPDATE checks it again on the row version it locks, which a concurrent
 * erasure may have rewritten meanwhile.
 */
#define NOT_ERASED " AND NOT (e.envelope -> 'payload' ? '" TOMBSTONE_KEY "')"

/*
 * The erasure itself, after "target" (event_id, position of the events to
 * erase, none a tombstone already): the audit row, its events, in one
 * statement.  $1 erased_by, $2 session user, $3 reason, $4 by_subject.
 */
static const char *const record_erasure =
" audit AS ("
"  INSERT INTO candystore.erasures (erased_by, session_user_name, reason, by_subject, events)"
"  SELECT $1, $2, $3, $4, count(*) FROM target"
"  RETURNING erasure_id, erased_at, events),"
" listed AS ("
"  INSERT INTO candystore.erased_events (erasure_id, event_id, position)"
"  SELECT a.erasure_id, t.event_id, t.position FROM audit a, target t)"
" SELECT erasure_id, erased_at, events FROM audit";

/*
 * The tombstones: what the log needs kept (ids, type, times, parents, trace
 * context, source without its free-form meta), the payload naming the
 * erasure and the digest of the original.  $1 erasure_id, $2 erased_at.
 */
static const char *const write_tombstones =
"UPDATE candystore.event_log e"
"   SET envelope = (SELECT pg_catalog.jsonb_object_agg(f.k, f.v)"
"                     FROM pg_catalog.jsonb_each(e.envelope) f(k, v)"
"                    WHERE f.k IN ('event_id', 'event_type', 'timestamp', 'version',"
"                                  'correlation_ids', 'correlation_id', 'trace_context'))"
"                  || pg_catalog.jsonb_build_object("
"                       'source', (e.envelope -> 'source') - 'meta',"
"                       'payload', pg_catalog.jsonb_build_object('" TOMBSTONE_KEY "',"
"                          pg_catalog.jsonb_build_object('erasure_id', $1, 'erased_at', $2,"
"                             '" DIGEST_KEY "', candystore.envelope_digest(e.envelope))))"
"  FROM candystore.erased_events x"
" WHERE x.erasure_id = $1 AND e.position = x.position" NOT_ERASED;

static Oid
function_owner(Oid fn_oid)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return owner;
}

static text *
checked_reason(FunctionCallInfo fcinfo)
{
	text	   *reason;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an erasure needs a reason"),
				 errhint("Name the request, e.g. 'GDPR Art. 17 request #1234'.")));
	reason = PG_GETARG_TEXT_PP(1);
	if (VARSIZE_ANY_EXHDR(reason) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an erasure needs a reason"),
				 errhint("Name the request, e.g. 'GDPR Art. 17 request #1234'.")));
	return reason;
}

/* Runs one SPI statement that must succeed with the given code. */
static void
run(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "erasure statement failed: %s", SPI_result_code_string(rc));
}

/*
 * Checks run before anything is written (the caller's raises leave nothing
 * behind), then the erasure of the events "target" selects with the
 * arguments given.  Returns (erasure_id, events).
 */
typedef void (*ErasureCheck) (int nargs, Oid *types, Datum *values);

static Datum
erase_events(FunctionCallInfo fcinfo, const char *target, ErasureCheck check,
			 int nargs, Oid *types, Datum *values, bool by_subject)
{
	text	   *reason = checked_reason(fcinfo);
	Oid			caller = GetUserId();
	Oid			save_user;
	int			save_sec;
	Datum		result[2];
	bool		nulls[2] = {false, false};
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "erase() must return a record");
	tupdesc = BlessTupleDesc(tupdesc);

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(function_owner(fcinfo->flinfo->fn_oid),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	PG_TRY();
	{
		Oid			rtypes[4] = {NAMEOID, NAMEOID, TEXTOID, BOOLOID};
		Datum		rvalues[4];
		Oid			wtypes[2] = {INT8OID, TIMESTAMPTZOID};
		Datum		wvalues[2];
		Oid		   *all_types = palloc(sizeof(Oid) * (nargs + 4));
		Datum	   *all_values = palloc(sizeof(Datum) * (nargs + 4));
		bool		isnull;
		HeapTuple	row;

		check(nargs, types, values);
		rvalues[0] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(caller, false)));
		rvalues[1] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetSessionUserId(), false)));
		rvalues[2] = PointerGetDatum(reason);
		rvalues[3] = BoolGetDatum(by_subject);
		/* the record's parameters first ($1..$4), the target's after them */
		memcpy(all_types, rtypes, sizeof(rtypes));
		memcpy(all_values, rvalues, sizeof(rvalues));
		memcpy(all_types + 4, types, sizeof(Oid) * nargs);
		memcpy(all_values + 4, values, sizeof(Datum) * nargs);
		run(psprintf("WITH target AS (%s" NOT_ERASED "), %s", target, record_erasure),
			nargs + 4, all_types, all_values, SPI_OK_SELECT);
		row = SPI_tuptable->vals[0];
		wvalues[0] = SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull);
		wvalues[1] = SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull);
		result[0] = wvalues[0];
		result[1] = SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull);

		erasure_in_progress = true;
		run(write_tombstones, 2, wtypes, wvalues, SPI_OK_UPDATE);
		erasure_in_progress = false;
		if (SPI_processed != (uint64) DatumGetInt64(result[1]))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("a concurrent erasure erased some of these events first"),
					 errdetail("Nothing was erased by this call."),
					 errhint("Run it again: events already erased are skipped.")));
	}
	PG_FINALLY();
	{
		erasure_in_progress = false;
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, nulls)));
}

/* Every id given is stored: an unknown one is a mistake, not a no-op. */
static void
check_ids_known(int nargs, Oid *types, Datum *values)
{
	run("SELECT x.id::text FROM pg_catalog.unnest($1) x(id)"
		" WHERE NOT EXISTS (SELECT 1 FROM candystore.event_ids i WHERE i.event_id = x.id)"
		" LIMIT 1", nargs, types, values, SPI_OK_SELECT);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("event %s is not stored", SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errdetail("Nothing was erased."),
				 errhint("Check the id in candystore.events; an event already purged needs no erasure.")));
}

PG_FUNCTION_INFO_V1(candystore_erase);

/* candystore.erase(event_ids uuid[], reason text, OUT erasure_id bigint, OUT events bigint) */
Datum
candystore_erase(PG_FUNCTION_ARGS)
{
	ArrayType  *ids;
	Oid			types[1] = {UUIDARRAYOID};
	Datum		values[1];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event_ids must not be NULL")));
	ids = PG_GETARG_ARRAYTYPE_P(0);
	if (array_contains_nulls(ids))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event_ids must not contain NULL")));
	values[0] = PointerGetDatum(ids);
	return erase_events(fcinfo,
						"SELECT i.event_id, i.position FROM candystore.event_ids i"
						"  JOIN candystore.event_log e ON e.position = i.position"
						" WHERE i.event_id = ANY ($5)",
						check_ids_known, 1, types, values, false);
}

/* Some subject path is registered: without one no event can be found. */
static void
check_subject_paths(int nargs pg_attribute_unused(), Oid *types pg_attribute_unused(),
					Datum *values pg_attribute_unused())
{
	run("SELECT 1 FROM candystore.subject_paths LIMIT 1", 0, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no subject path is registered"),
				 errdetail("Nothing was erased."),
				 errhint("Register where the subject sits in each event type's payload, e.g. "
						 "SELECT candystore.register_subject_path('meeting.joined', '$.participant.email');")));
}

PG_FUNCTION_INFO_V1(candystore_erase_subject);

/* candystore.erase_subject(subject text, reason text, OUT erasure_id bigint, OUT events bigint) */
Datum
candystore_erase_subject(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	if (PG_ARGISNULL(0) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(0)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the subject must not be NULL or empty")));
	values[0] = PG_GETARG_DATUM(0);
	/* the registered types' rows only (event_type index), each path's values as text */
	return erase_events(fcinfo,
						"SELECT e.event_id, e.position FROM candystore.event_log e"
						" WHERE e.event_type IN (SELECT s.event_type FROM candystore.subject_paths s)"
						"   AND EXISTS (SELECT 1 FROM candystore.subject_paths p,"
						"                      pg_catalog.jsonb_path_query(e.envelope -> 'payload', p.path::pg_catalog.jsonpath) v"
						"                WHERE p.event_type = e.event_type AND v #>> '{}' = $5)",
						check_subject_paths, 1, types, values, true);
}
