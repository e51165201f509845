/*
 * target_envelope.c
 *	  Fuzz target "envelope": envelope_parse() over any JSON, as
 *	  candystore.append() and the ingest worker call it, then the error
 *	  reporting both use (envelope_error_text() for dead letters,
 *	  envelope_raise() for append).
 *
 *	  Oracle beyond "no crash": an accepted envelope has what the store
 *	  indexes; a refused one has a message and a SQLSTATE that is not an
 *	  internal error (driver.c checks the raised one).
 */
#include "postgres.h"

#include "utils/array.h"

#include "envelope.h"

#include "fuzz.h"

static bool (*parse) (Jsonb *envelope, Envelope *out, EnvelopeError *error);
static void (*raise) (const EnvelopeError *error);
static char *(*error_text) (const EnvelopeError *error);

static void
init(void)
{
	parse = fuzz_engine_symbol("envelope_parse");
	raise = fuzz_engine_symbol("envelope_raise");
	error_text = fuzz_engine_symbol("envelope_error_text");
}

static void
run(const uint8_t *data, size_t size)
{
	Jsonb	   *jb = fuzz_jsonb((const char *) data, size);
	Envelope	env;
	EnvelopeError err;

	memset(&env, 0, sizeof(env));
	memset(&err, 0, sizeof(err));
	if (parse(jb, &env, &err))
	{
		if (env.event_type == NULL || VARSIZE_ANY_EXHDR(env.event_type) == 0 ||
			env.correlation_ids == NULL || ARR_NDIM(env.correlation_ids) > 1 ||
			ARR_HASNULL(env.correlation_ids))
			fuzz_finding("an accepted envelope without event_type or with odd correlation_ids");
		return;
	}
	if (err.message == NULL || err.message[0] == '\0' || err.sqlstate == 0)
		fuzz_finding("a refused envelope without message or SQLSTATE");
	if (strlen(error_text(&err)) == 0)
		fuzz_finding("an empty dead-letter reason");
	raise(&err);
}

const FuzzTarget fuzz_target_envelope = {"envelope", init, run};
