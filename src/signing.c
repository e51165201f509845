/*
 * signing.c
 *	  Signed events.
 *
 * An envelope is signed by a top-level "signature" member
 *   {"alg": "ed25519" | "hmac-sha256", "key_id": "...", "value": "<base64url>"}
 * over the RFC 8785 canonical form (jcs.c) of the envelope without that
 * member, as UTF-8.  The signature is stored with the event, so anyone can
 * verify it again later.  Keys live in candystore.signing_keys (public part,
 * validity) and candystore.signing_secrets (HMAC secrets, Ed25519 seeds),
 * which only the extension owner can read: the lookup here runs as that
 * owner, the way PostgreSQL's RI triggers run as the table owner.  Keys are
 * cached per backend until either table changes.
 */
#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <sodium.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "jcs.h"
#include "signing.h"
#include "table_watch.h"
#include "spi_plans.h"

#define ERRCODE_SIGNATURE_REFUSED MAKE_SQLSTATE('2','2','V','0','8')

/* the longest key_id accepted, in bytes */
#define SIGNING_MAX_KEY_ID_LEN 200

static const char *const status_names[] = {
	"valid", "unsigned", "malformed", "not_canonical", "unknown_key",
	"wrong_algorithm", "key_not_yet_valid", "key_expired", "key_revoked", "bad_signature"
};

static char *require_signatures = NULL;
static char *outbox_signing_key = NULL;

/* A pattern list: comma-separated event types in which '*' stands for any characters. */
static bool
check_patterns(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	for (const char *p = *newval; p && *p; p++)
	{
		char		c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
			  c == '*' || c == ',' || c == ' '))
		{
			GUC_check_errdetail("\"%c\" cannot be part of an event type pattern.", c);
			GUC_check_errhint("Give comma-separated event types, in which * stands for any characters, e.g. 'fireflies.*, agent.tool.*'.");
			return false;
		}
	}
	return true;
}

void
signing_define_settings(void)
{
	DefineCustomStringVariable("candystore.require_signatures",
							   "Event types whose events must carry a valid signature (comma-separated patterns, * for any characters).",
							   "Unsigned or badly signed events of these types are refused with SQLSTATE 22V08.",
							   &require_signatures, "", PGC_SUSET, 0, check_patterns, NULL, NULL);
	DefineCustomStringVariable("candystore.outbox_signing_key",
							   "Key (candystore.signing_keys) candystore.publish() signs unsigned envelopes with; empty: none.",
							   NULL, &outbox_signing_key, "", PGC_SUSET, 0, NULL, NULL, NULL);
}

const char *
signing_outbox_key(void)
{
	return (outbox_signing_key == NULL || outbox_signing_key[0] == '\0') ? NULL : outbox_signing_key;
}

/* Whether s[0..len) matches the glob pat[0..plen) ('*': any characters). */
static bool
glob_match(const char *pat, int plen, const char *s, int len)
{
	int			pi = 0,
				si = 0,
				star = -1,
				mark = 0;

	while (si < len)
	{
		if (pi < plen && pat[pi] == '*')
		{
			star = pi++;
			mark = si;
		}
		else if (pi < plen && pat[pi] == s[si])
		{
			pi++;
			si++;
		}
		else if (star >= 0)
		{
			pi = star + 1;
			si = ++mark;
		}
		else
			return false;
	}
	while (pi < plen && pat[pi] == '*')
		pi++;
	return pi == plen;
}

static bool
signature_required(const text *event_type)
{
	const char *p = require_signatures;
	const char *type = VARDATA_ANY(event_type);
	int			len = VARSIZE_ANY_EXHDR(event_type);

	while (p != NULL && *p)
	{
		const char *end = strchr(p, ',');
		const char *start = p;
		int			plen;

		if (end == NULL)
			end = p + strlen(p);
		while (start < end && *start == ' ')
			start++;
		plen = end - start;
		while (plen > 0 && start[plen - 1] == ' ')
			plen--;
		if (plen > 0 && glob_match(start, plen, type, len))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

/* ---- the key registry ---------------------------------------------------- */

typedef struct SigningKey
{
	char	   *key_id;
	char	   *alg;
	bytea	   *public_key;		/* Ed25519: 32 bytes; HMAC: NULL */
	bytea	   *secret;			/* HMAC secret or Ed25519 seed; NULL if none */
	TimestampTz valid_from;
	TimestampTz valid_until;	/* DT_NOEND when open */
	TimestampTz revoked_at;		/* DT_NOEND when not revoked */
	bool		found;
	EVP_MAC_CTX *mac;			/* HMAC keyed with the secret, made on first use */
} SigningKey;

static MemoryContext key_cxt = NULL;
static List *key_cache = NIL;
static TableWatch key_tables = {.name = "candystore signing keys",
.tables = {"signing_secrets", "signing_keys"}};
static SPIPlanPtr key_plan = NULL;

/*
 * The keys are cached for the life of the backend; a change of either table
 * (the trigger signing_keys_invalidate_caches) drops the cache
 * (table_watch.h).
 */
void
signing_init(void)
{
	table_watch_register(&key_tables);
}

static TimestampTz
timestamp_or_noend(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return DT_NOEND;
	return DatumGetTimestampTz(d);
}

static bytea *
bytea_or_null(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : DatumGetByteaPCopy(d);
}

/* Reads the key as the registry's owner. */
static void
read_key(SigningKey *key)
{
	Oid			save_user;
	int			save_sec;
	Datum		arg = CStringGetTextDatum(key->key_id);
	volatile int rc = 0;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SPI_connect();
	if (key_plan == NULL)
	{
		Oid			types[1] = {TEXTOID};

		key_plan = spi_prepare_kept("SELECT k.alg, k.public_key, s.secret, k.valid_from, k.valid_until, k.revoked_at"
									" FROM candystore.signing_keys k"
									" LEFT JOIN candystore.signing_secrets s ON s.key_id = k.key_id"
									" WHERE k.key_id = $1", 1, types, 0);
	}
	SetUserIdAndSecContext(table_watch_owner(&key_tables),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		rc = SPI_execute_plan(key_plan, &arg, NULL, true, 1);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading candystore.signing_keys failed: %s", SPI_result_code_string(rc));
	key->found = SPI_processed == 1;
	if (key->found)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(key_cxt);

		key->alg = SPI_getvalue(tup, desc, 1);
		key->public_key = bytea_or_null(tup, desc, 2);
		key->secret = bytea_or_null(tup, desc, 3);
		key->valid_from = timestamp_or_noend(tup, desc, 4);
		if (key->valid_from == DT_NOEND)
			key->valid_from = DT_NOBEGIN;
		key->valid_until = timestamp_or_noend(tup, desc, 5);
		key->revoked_at = timestamp_or_noend(tup, desc, 6);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
}

/* The key, from the cache or read. */
static SigningKey *
lookup_key(const char *key_id)
{
	ListCell   *lc;
	SigningKey *key;
	MemoryContext old;
	bool		emptied;

	/* a batch naming many keys rereads some rather than scan a long list */
	key_cxt = table_watch_context(&key_tables, list_length(key_cache) >= 16, &emptied);
	if (emptied)
		key_cache = NIL;
	foreach(lc, key_cache)
	{
		key = lfirst(lc);
		if (strcmp(key->key_id, key_id) == 0)
			return key;
	}
	old = MemoryContextSwitchTo(key_cxt);
	key = palloc0(sizeof(SigningKey));
	key->key_id = pstrdup(key_id);
	MemoryContextSwitchTo(old);
	read_key(key);
	old = MemoryContextSwitchTo(key_cxt);
	key_cache = lappend(key_cache, key);
	MemoryContextSwitchTo(old);
	return key;
}

/* Why the key cannot be used at the time at, or SIG_VALID. */
static SignatureStatus
key_usable(const SigningKey *key, TimestampTz at, char **detail)
{
	if (at >= key->revoked_at)
	{
		*detail = psprintf("Key \"%s\" was revoked at %s.", key->key_id, timestamptz_to_str(key->revoked_at));
		return SIG_KEY_REVOKED;
	}
	if (at < key->valid_from)
	{
		*detail = psprintf("Key \"%s\" is valid from %s.", key->key_id, timestamptz_to_str(key->valid_from));
		return SIG_KEY_NOT_YET_VALID;
	}
	if (at >= key->valid_until)
	{
		*detail = psprintf("Key \"%s\" expired at %s.", key->key_id, timestamptz_to_str(key->valid_until));
		return SIG_KEY_EXPIRED;
	}
	return SIG_VALID;
}

/* ---- the signature ------------------------------------------------------- */

static void
ensure_sodium(void)
{
	static bool initialised = false;

	if (initialised)
		return;
	if (sodium_init() < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("libsodium could not be initialised")));
	initialised = true;
}

static void
free_mac(void *arg)
{
	EVP_MAC_CTX_free((EVP_MAC_CTX *) arg);
}

/*
 * HMAC-SHA256 with OpenSSL (linked already for amqps://): its SHA-256 uses
 * the CPU's SHA extensions where there are some, libsodium's is portable C.
 * One MAC per cached key, keyed once (its inner and outer pads absorbed) and
 * freed with the cache; each message re-initialises it without a key, which
 * starts again from the absorbed pads, no allocation.
 */
static EVP_MAC_CTX *
start_mac(SigningKey *key)
{
	static EVP_MAC *hmac = NULL;

	if (hmac == NULL && (hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("OpenSSL has no HMAC")));
	if (key->mac == NULL)
	{
		OSSL_PARAM	params[2];
		MemoryContextCallback *cb;
		EVP_MAC_CTX *ctx;

		params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
		params[1] = OSSL_PARAM_construct_end();
		ctx = EVP_MAC_CTX_new(hmac);
		if (ctx == NULL ||
			!EVP_MAC_init(ctx, (const unsigned char *) VARDATA_ANY(key->secret),
						  VARSIZE_ANY_EXHDR(key->secret), params))
		{
			EVP_MAC_CTX_free(ctx);
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("HMAC-SHA256 could not be keyed in OpenSSL")));
		}
		cb = MemoryContextAlloc(key_cxt, sizeof(MemoryContextCallback));
		cb->func = free_mac;
		cb->arg = ctx;
		MemoryContextRegisterResetCallback(key_cxt, cb);
		key->mac = ctx;
		return ctx;
	}
	if (!EVP_MAC_init(key->mac, NULL, 0, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("HMAC-SHA256 could not be restarted in OpenSSL")));
	return key->mac;
}

/* jcs_stream()'s sink: the canonical form goes into the MAC as it is written. */
static void
mac_update(void *arg, const char *data, size_t len)
{
	if (!EVP_MAC_update((EVP_MAC_CTX *) arg, (const unsigned char *) data, len))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("HMAC-SHA256 failed in OpenSSL")));
}

/*
 * The HMAC-SHA256 of the envelope's signed form (without "signature"), in
 * one pass with no copy of the form; false, *why set, when it has none.
 */
static bool
hmac_signed_form(SigningKey *key, Jsonb *envelope, unsigned char mac[crypto_auth_hmacsha256_BYTES], char **why)
{
	EVP_MAC_CTX *ctx = start_mac(key);
	size_t		maclen = 0;

	if (!jcs_stream(envelope, "signature", mac_update, ctx, why))
		return false;
	if (!EVP_MAC_final(ctx, mac, &maclen, crypto_auth_hmacsha256_BYTES) ||
		maclen != crypto_auth_hmacsha256_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("HMAC-SHA256 failed in OpenSSL")));
	return true;
}

/* A string member of the signature object, or NULL. */
static char *
string_member(JsonbContainer *sig, const char *name, int *len)
{
	JsonbValue	buf;
	JsonbValue *v = getKeyJsonValueFromContainer(sig, name, strlen(name), &buf);

	if (v == NULL || v->type != jbvString)
		return NULL;
	*len = v->val.string.len;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static bool
malformed(SignatureVerdict *verdict, const char *detail)
{
	verdict->status = SIG_MALFORMED;
	verdict->detail = pstrdup(detail);
	return false;
}

/*
 * Parses the "signature" member: fills alg, key_id and the decoded value, or
 * the verdict (unsigned, malformed) and returns false.
 */
static bool
parse_signature(Jsonb *envelope, char **alg, unsigned char *value, size_t *value_len,
				SignatureVerdict *verdict)
{
	JsonbValue	buf;
	JsonbValue *sig;
	JsonbContainer *obj;
	char	   *b64;
	int			alg_len,
				key_len,
				b64_len;
	const char *end;

	if (!JsonContainerIsObject(&envelope->root))
		return malformed(verdict, "The envelope is not a JSON object.");
	sig = getKeyJsonValueFromContainer(&envelope->root, "signature", 9, &buf);
	if (sig == NULL)
	{
		verdict->status = SIG_UNSIGNED;
		verdict->detail = pstrdup("The envelope has no \"signature\" member.");
		return false;
	}
	if (sig->type != jbvBinary || !JsonContainerIsObject(sig->val.binary.data))
		return malformed(verdict, "\"signature\" is not an object.");
	obj = sig->val.binary.data;
	if (JsonContainerSize(obj) != 3)
		return malformed(verdict, "\"signature\" must have exactly the members \"alg\", \"key_id\" and \"value\".");
	*alg = string_member(obj, "alg", &alg_len);
	verdict->key_id = string_member(obj, "key_id", &key_len);
	b64 = string_member(obj, "value", &b64_len);
	if (*alg == NULL || verdict->key_id == NULL || b64 == NULL)
		return malformed(verdict, "\"signature\" must have exactly the members \"alg\", \"key_id\" and \"value\", all strings.");
	if (strcmp(*alg, "ed25519") != 0 && strcmp(*alg, "hmac-sha256") != 0)
		return malformed(verdict, psprintf("\"signature.alg\" must be \"ed25519\" or \"hmac-sha256\", not \"%.50s\".", *alg));
	if (key_len == 0 || key_len > SIGNING_MAX_KEY_ID_LEN || memchr(verdict->key_id, '\0', key_len) != NULL)
		return malformed(verdict, "\"signature.key_id\" must be a string of 1 to 200 bytes.");
	if (sodium_base642bin(value, crypto_sign_BYTES, b64, b64_len, NULL, value_len, &end,
						  sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || end != b64 + b64_len)
		return malformed(verdict, "\"signature.value\" must be base64url without padding.");
	if (*value_len != (strcmp(*alg, "ed25519") == 0 ? crypto_sign_BYTES : crypto_auth_hmacsha256_BYTES))
		return malformed(verdict, psprintf("\"signature.value\" of %s must decode to %d bytes, not %zu.",
										   *alg, strcmp(*alg, "ed25519") == 0 ? crypto_sign_BYTES : crypto_auth_hmacsha256_BYTES,
										   *value_len));
	return true;
}

void
signing_verify(Jsonb *envelope, TimestampTz at, SignatureVerdict *verdict)
{
	char	   *alg;
	unsigned char value[crypto_sign_BYTES];
	size_t		value_len;
	SigningKey *key;
	StringInfoData signed_form;
	char	   *why;
	bool		canonical;
	bool		ok;

	memset(verdict, 0, sizeof(*verdict));
	if (!parse_signature(envelope, &alg, value, &value_len, verdict))
		return;
	key = lookup_key(verdict->key_id);
	if (!key->found)
	{
		verdict->status = SIG_UNKNOWN_KEY;
		verdict->detail = psprintf("No key \"%s\" is registered in candystore.signing_keys.", verdict->key_id);
		return;
	}
	if (strcmp(key->alg, alg) != 0)
	{
		verdict->status = SIG_WRONG_ALGORITHM;
		verdict->detail = psprintf("Key \"%s\" is an %s key, the signature says %s.", key->key_id, key->alg, alg);
		return;
	}
	verdict->status = key_usable(key, at, &verdict->detail);
	if (verdict->status != SIG_VALID)
		return;
	ensure_sodium();
	if (strcmp(alg, "hmac-sha256") == 0 && key->secret != NULL)
	{
		unsigned char mac[crypto_auth_hmacsha256_BYTES];

		canonical = hmac_signed_form(key, envelope, mac, &why);
		ok = canonical && sodium_memcmp(mac, value, sizeof(mac)) == 0;
	}
	else
	{
		/* Ed25519 signs the whole message (or an HMAC key without its secret) */
		initStringInfo(&signed_form);
		canonical = jcs_append(&signed_form, envelope, "signature", &why);
		ok = canonical && strcmp(alg, "ed25519") == 0 &&
			key->public_key != NULL && VARSIZE_ANY_EXHDR(key->public_key) == crypto_sign_PUBLICKEYBYTES &&
			crypto_sign_verify_detached(value, (const unsigned char *) signed_form.data, signed_form.len,
										(const unsigned char *) VARDATA_ANY(key->public_key)) == 0;
		pfree(signed_form.data);
	}
	if (!canonical)
	{
		verdict->status = SIG_NOT_CANONICAL;
		verdict->detail = psprintf("The envelope has no canonical form: the %s.", why);
		return;
	}
	if (!ok)
	{
		verdict->status = SIG_BAD_SIGNATURE;
		verdict->detail = psprintf("The signature does not verify with key \"%s\": the envelope was changed after signing, or signed with another key.",
								   key->key_id);
	}
}

bool
signing_acceptable(Jsonb *envelope, const Envelope *parsed, SignatureVerdict *verdict)
{
	if (require_signatures == NULL || require_signatures[0] == '\0' ||
		!signature_required(parsed->event_type))
		return true;
	signing_verify(envelope, GetCurrentTransactionStartTimestamp(), verdict);
	return verdict->status == SIG_VALID;
}

void
signing_raise(const Envelope *parsed, const SignatureVerdict *verdict)
{
	ereport(ERROR,
			(errcode(ERRCODE_SIGNATURE_REFUSED),
			 errmsg("event of type \"%s\" refused: signature %s",
					text_to_cstring(parsed->event_type), status_names[verdict->status]),
			 verdict->detail ? errdetail_internal("%s", verdict->detail) : 0,
			 errhint("candystore.require_signatures requires a valid signature for this event type (see \"Signed events\" in docs/reference.md).")));
}

Jsonb *
signing_sign(Jsonb *envelope, const char *key_id)
{
	SigningKey *key;
	StringInfoData signed_form;
	StringInfoData sig;
	char	   *why;
	char	   *detail;
	bool		canonical;
	unsigned char value[crypto_sign_BYTES];
	size_t		value_len;
	char		b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	if (!JsonContainerIsObject(&envelope->root) || JsonContainerIsScalar(&envelope->root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("only a JSON object can be signed")));
	key = lookup_key(key_id);
	if (!key->found)
		ereport(ERROR,
				(errcode(ERRCODE_SIGNATURE_REFUSED),
				 errmsg("cannot sign with key \"%s\": no such key", key_id),
				 errhint("Register it with candystore.register_signing_key().")));
	if (key_usable(key, GetCurrentTransactionStartTimestamp(), &detail) != SIG_VALID)
		ereport(ERROR,
				(errcode(ERRCODE_SIGNATURE_REFUSED),
				 errmsg("cannot sign with key \"%s\": it is not valid now", key_id),
				 errdetail_internal("%s", detail)));
	if (key->secret == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SIGNATURE_REFUSED),
				 errmsg("cannot sign with key \"%s\": only its public key is registered", key_id)));
	ensure_sodium();
	if (strcmp(key->alg, "ed25519") == 0)
	{
		unsigned char pk[crypto_sign_PUBLICKEYBYTES];
		unsigned char sk[crypto_sign_SECRETKEYBYTES];

		if (VARSIZE_ANY_EXHDR(key->secret) != crypto_sign_SEEDBYTES)
			elog(ERROR, "the Ed25519 seed of key \"%s\" is not %d bytes", key_id, crypto_sign_SEEDBYTES);
		initStringInfo(&signed_form);
		canonical = jcs_append(&signed_form, envelope, "signature", &why);
		if (canonical)
		{
			crypto_sign_seed_keypair(pk, sk, (const unsigned char *) VARDATA_ANY(key->secret));
			crypto_sign_detached(value, NULL, (const unsigned char *) signed_form.data, signed_form.len, sk);
			sodium_memzero(sk, sizeof(sk));
		}
		value_len = crypto_sign_BYTES;
	}
	else
	{
		canonical = hmac_signed_form(key, envelope, value, &why);
		value_len = crypto_auth_hmacsha256_BYTES;
	}
	if (!canonical)
		ereport(ERROR,
				(errcode(ERRCODE_SIGNATURE_REFUSED),
				 errmsg("cannot sign the envelope: it has no canonical form"),
				 errdetail("The %s.", why),
				 errhint("Send such numbers as strings.")));
	sodium_bin2base64(b64, sizeof(b64), value, value_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	initStringInfo(&sig);
	appendStringInfo(&sig, "{\"signature\": {\"alg\": \"%s\", \"key_id\": ", key->alg);
	escape_json(&sig, key_id);
	appendStringInfo(&sig, ", \"value\": \"%s\"}}", b64);
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(envelope),
											  DirectFunctionCall1(jsonb_in, CStringGetDatum(sig.data))));
}

/* ---- SQL ----------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(candystore_jcs_canonicalize);

/* candystore.jcs_canonicalize(value jsonb) RETURNS text */
Datum
candystore_jcs_canonicalize(PG_FUNCTION_ARGS)
{
	StringInfoData out;
	char	   *why;

	initStringInfo(&out);
	if (!jcs_append(&out, PG_GETARG_JSONB_P(0), NULL, &why))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the value has no RFC 8785 canonical form"),
				 errdetail("The %s.", why),
				 errhint("JCS numbers are IEEE doubles: send numbers no double holds exactly as strings.")));
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}

PG_FUNCTION_INFO_V1(candystore_verify_event_signature);

/* candystore.verify_event_signature(envelope jsonb, at timestamptz DEFAULT now()) RETURNS text */
Datum
candystore_verify_event_signature(PG_FUNCTION_ARGS)
{
	SignatureVerdict verdict;

	signing_verify(PG_GETARG_JSONB_P(0), PG_GETARG_TIMESTAMPTZ(1), &verdict);
	PG_RETURN_TEXT_P(cstring_to_text(status_names[verdict.status]));
}

PG_FUNCTION_INFO_V1(candystore_sign_envelope);

/* candystore.sign_envelope(envelope jsonb, key_id text) RETURNS jsonb */
Datum
candystore_sign_envelope(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(signing_sign(PG_GETARG_JSONB_P(0), text_to_cstring(PG_GETARG_TEXT_PP(1))));
}

PG_FUNCTION_INFO_V1(candystore_ed25519_public_key);

/* candystore.ed25519_public_key(seed bytea) RETURNS bytea: the public key of a 32-byte seed */
Datum
candystore_ed25519_public_key(PG_FUNCTION_ARGS)
{
	bytea	   *seed = PG_GETARG_BYTEA_PP(0);
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	bytea	   *pk = palloc(VARHDRSZ + crypto_sign_PUBLICKEYBYTES);

	if (VARSIZE_ANY_EXHDR(seed) != crypto_sign_SEEDBYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an Ed25519 seed is %d bytes, not %d", crypto_sign_SEEDBYTES,
						(int) VARSIZE_ANY_EXHDR(seed))));
	ensure_sodium();
	SET_VARSIZE(pk, VARHDRSZ + crypto_sign_PUBLICKEYBYTES);
	crypto_sign_seed_keypair((unsigned char *) VARDATA(pk), sk, (const unsigned char *) VARDATA_ANY(seed));
	sodium_memzero(sk, sizeof(sk));
	PG_RETURN_BYTEA_P(pk);
}
