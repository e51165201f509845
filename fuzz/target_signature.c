/*
 * target_signature.c
 *	  Fuzz target "signature": the RFC 8785 canonical form (jcs.c) of any
 *	  JSON, and signing_verify() over it as an envelope: the parsing of the
 *	  "signature" member (its object, algorithm, key id, base64url value)
 *	  and the key lookup, as append() runs them under
 *	  candystore.require_signatures and verify_event_signature() for anyone.
 *
 *	  Oracles beyond "no crash": the canonical form is JSON that reads back
 *	  as the same value (jsonb equality, so 4.50 = 4.5) without the
 *	  "signature" member, and canonicalizing it again gives the same bytes;
 *	  a verdict other than valid comes with a reason.  Without registered
 *	  keys no input can be valid: one that is, is a finding.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "jcs.h"
#include "signing.h"

#include "fuzz.h"

static bool (*canonical) (StringInfo out, Jsonb *jb, const char *omit_key, char **why);
static bool (*stream) (Jsonb *jb, const char *omit_key, JcsSink sink, void *arg, char **why);
static void (*verify) (Jsonb *envelope, TimestampTz at, SignatureVerdict *verdict);

/* jcs_stream()'s pieces, collected */
static void
collect(void *arg, const char *data, size_t len)
{
	if (len == 0)
		fuzz_finding("the canonical form streamed an empty piece");
	appendBinaryStringInfo((StringInfo) arg, data, len);
}

static void
init(void)
{
	canonical = fuzz_engine_symbol("jcs_append");
	stream = fuzz_engine_symbol("jcs_stream");
	verify = fuzz_engine_symbol("signing_verify");
}

static void
run(const uint8_t *data, size_t size)
{
	Jsonb	   *jb = fuzz_jsonb((const char *) data, size);
	StringInfoData once,
				twice,
				streamed;
	char	   *why = NULL;
	SignatureVerdict verdict;

	initStringInfo(&once);
	if (canonical(&once, jb, "signature", &why))
	{
		ErrorData  *error = NULL;
		Jsonb	   *back = fuzz_jsonb_in(once.data, &error);
		Jsonb	   *expected = jb;

		if (back == NULL)
			fuzz_finding("the canonical form is not JSON jsonb reads");
		if (JsonContainerIsObject(&jb->root) && !JsonContainerIsScalar(&jb->root))
			expected = DatumGetJsonbP(DirectFunctionCall2(jsonb_delete, JsonbPGetDatum(jb),
														  CStringGetTextDatum("signature")));
		if (!DatumGetBool(DirectFunctionCall2(jsonb_eq, JsonbPGetDatum(back), JsonbPGetDatum(expected))))
			fuzz_finding("the canonical form reads back as another value");
		initStringInfo(&twice);
		if (!canonical(&twice, back, NULL, &why) || strcmp(once.data, twice.data) != 0)
			fuzz_finding("canonicalizing the canonical form changes it");
		initStringInfo(&streamed);
		if (!stream(jb, "signature", collect, &streamed, &why) ||
			streamed.len != once.len || memcmp(streamed.data, once.data, once.len) != 0)
			fuzz_finding("the streamed canonical form differs from the written one");
	}
	else
	{
		if (why == NULL || why[0] == '\0')
			fuzz_finding("a value without canonical form, and no reason");
		initStringInfo(&streamed);
		if (stream(jb, "signature", collect, &streamed, &why))
			fuzz_finding("a value without canonical form streams one");
	}

	verify(jb, GetCurrentTimestamp(), &verdict);
	if (verdict.status == SIG_VALID)
		fuzz_finding("a signature verified with no key registered");
	if (verdict.detail == NULL || verdict.detail[0] == '\0')
		fuzz_finding("a refused signature without a reason");
}

const FuzzTarget fuzz_target_signature = {"signature", init, run};
