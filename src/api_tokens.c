/*
 * api_tokens.c
 *	  The secret half of the HTTP API's bearer tokens (sql/install/90_api_tokens.sql):
 *	  a new token from the operating system's strong random source, and the
 *	  SHA-256 digest under which a token is stored and looked up.
 *
 * A token is "cs_" followed by 32 random bytes in unpadded base64url (43
 * characters): 256 bits, so guessing is hopeless and the digest alone can
 * be stored (a stolen table or dump holds no usable token).  The digest is
 * taken over the text's bytes as they are, with no encoding conversion, so
 * that looking up a malformed header value can never raise: it just finds
 * nothing.
 */
#include "postgres.h"

#include "common/base64.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "port.h"
#include "utils/builtins.h"

#define API_TOKEN_PREFIX		"cs_"
#define API_TOKEN_RANDOM_BYTES	32

PG_FUNCTION_INFO_V1(candystore_api_token_random);
PG_FUNCTION_INFO_V1(candystore_api_token_digest);

/* A new token: "cs_" + base64url(32 bytes from pg_strong_random), unpadded. */
Datum
candystore_api_token_random(PG_FUNCTION_ARGS)
{
	uint8		random[API_TOKEN_RANDOM_BYTES];
	int			encoded_max = pg_b64_enc_len(API_TOKEN_RANDOM_BYTES);
	char	   *encoded = palloc(encoded_max + 1);
	int			len;
	StringInfoData token;

	(void) fcinfo;
	if (!pg_strong_random(random, sizeof(random)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random API token"),
				 errdetail("pg_strong_random() failed.")));

	len = pg_b64_encode((const char *) random, sizeof(random), encoded, encoded_max);
	explicit_bzero(random, sizeof(random));
	if (len < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encode a random API token")));

	/* base64 -> base64url (RFC 4648 section 5), without the '=' padding */
	initStringInfo(&token);
	appendStringInfoString(&token, API_TOKEN_PREFIX);
	for (int i = 0; i < len && encoded[i] != '='; i++)
		appendStringInfoChar(&token, encoded[i] == '+' ? '-' : encoded[i] == '/' ? '_' : encoded[i]);
	explicit_bzero(encoded, encoded_max);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(token.data, token.len));
}

/* SHA-256 of the token's bytes, as stored in api_tokens.token_sha256. */
Datum
candystore_api_token_digest(PG_FUNCTION_ARGS)
{
	text	   *token = PG_GETARG_TEXT_PP(0);
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	bytea	   *digest = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token)) < 0 ||
		pg_cryptohash_final(ctx, (uint8 *) VARDATA(digest), PG_SHA256_DIGEST_LENGTH) < 0)
	{
		const char *why = pg_cryptohash_error(ctx);

		pg_cryptohash_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the SHA-256 digest of an API token: %s", why)));
	}
	pg_cryptohash_free(ctx);
	SET_VARSIZE(digest, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	PG_RETURN_BYTEA_P(digest);
}
