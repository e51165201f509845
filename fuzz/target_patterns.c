/*
 * target_patterns.c
 *	  Fuzz target "patterns": the engine's text parsers on their own, where
 *	  coverage guidance reaches them much faster than through schemas:
 *	  ECMA-262 "pattern" parsing and matching on PCRE2 (regex.c: a pattern
 *	  format "regex" accepts raises 2201B when matched only for a PCRE2
 *	  limit, one it refuses always does; matching runs under a low match limit, so backtracking
 *	  ends in 22V04 rather than a cancel), every "format"
 *	  checker (format.c, with formats.c's RFC 3339 and UUID parsers), and
 *	  URI resolution (uri.c).  Every pattern matched is also tried as a
 *	  fixed-length pattern (regex_fixed.c, the fast path's shortcut): where
 *	  it is one, its verdict must be PCRE2's.
 *
 *	  Input: one selector byte, then the text (split at the first NUL where
 *	  two strings are needed).  Strings that could not come out of jsonb
 *	  (invalid UTF-8, NUL bytes) are skipped: the engine never sees them.
 */
#include "postgres.h"

#include "utils/elog.h"
#include "utils/guc.h"

#include "jsonschema/jsonschema.h"

#include "fuzz.h"

static const char *const formats[] = {
	"date-time", "date", "time", "duration", "email", "idn-email", "hostname",
	"idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri",
	"iri-reference", "json-pointer", "relative-json-pointer", "uri-template",
	"uuid", "regex", NULL
};

static bool (*regex_match) (const char *pattern, int patlen, const char *s, int len);
static bool (*regex_valid) (const char *pattern, int patlen);
static JsFixedPattern *(*fixed_pattern) (const char *pattern, int patlen);
static bool (*fixed_match) (const JsFixedPattern *f, const char *s, int len);
static bool (*format_check) (const char *format, const char *s, int len, bool *known);
static char *(*resolve) (const char *base, const char *ref);
static char *(*strip_fragment) (const char *uri, char **fragment);
static char *(*fragment_decode) (const char *frag);
static int	nformats;

static void
init(void)
{
	regex_match = fuzz_engine_symbol("jsonschema_regex_match");
	regex_valid = fuzz_engine_symbol("jsonschema_regex_valid");
	fixed_pattern = fuzz_engine_symbol("jsonschema_fixed_pattern");
	fixed_match = fuzz_engine_symbol("jsonschema_fixed_match");
	format_check = fuzz_engine_symbol("jsonschema_format_check");
	resolve = fuzz_engine_symbol("uri_resolve");
	strip_fragment = fuzz_engine_symbol("uri_strip_fragment");
	fragment_decode = fuzz_engine_symbol("uri_fragment_decode");
	for (nformats = 0; formats[nformats]; nformats++)
		;
	SetConfigOption("candystore.jsonschema_pattern_match_limit", "100000",
					PGC_SUSET, PGC_S_SESSION);
}

/* pattern NUL subject: the "regex" format check, then matching */
static void
run_regex(const uint8_t *data, size_t size)
{
	const uint8_t *rest;
	size_t		restlen;
	size_t		patlen = fuzz_split(data, size, &rest, &restlen);
	char	   *pattern = fuzz_string(data, patlen);
	char	   *subject = fuzz_string(rest, restlen);

	MemoryContext cxt = CurrentMemoryContext;
	bool		valid;
	bool		matched;
	JsFixedPattern *fixed;

	if (pattern == NULL || subject == NULL)
		return;
	valid = regex_valid(pattern, patlen);
	PG_TRY();
	{
		matched = regex_match(pattern, patlen, subject, restlen);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		/* a valid pattern may still be beyond PCRE2 (documented limits) */
		if (edata->sqlerrcode == ERRCODE_INVALID_REGULAR_EXPRESSION && valid &&
			(edata->detail == NULL || strncmp(edata->detail, "not supported by PCRE2", 22) != 0))
			fuzz_finding("format \"regex\" accepts \"%s\", matching refuses it: %s",
						 pattern, edata->detail ? edata->detail : edata->message);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (!valid)
		fuzz_finding("format \"regex\" refuses \"%s\", matching accepts it", pattern);
	fixed = fixed_pattern(pattern, patlen);
	if (fixed && fixed_match(fixed, subject, restlen) != matched)
		fuzz_finding("fixed-length pattern \"%s\" on \"%s\": %d, PCRE2 says %d",
					 pattern, subject, !matched, matched);
}

/* base NUL reference: resolution, then the fragment as $ref uses it */
static void
run_uri(const uint8_t *data, size_t size)
{
	const uint8_t *rest;
	size_t		restlen;
	size_t		baselen = fuzz_split(data, size, &rest, &restlen);
	char	   *base = fuzz_cstring(data, baselen);
	char	   *ref = fuzz_cstring(rest, restlen);
	char	   *resolved;
	char	   *fragment = NULL;

	if (base == NULL || ref == NULL)
		return;
	resolved = resolve(base, ref);
	if (resolved == NULL)
		return;
	(void) strip_fragment(resolved, &fragment);
	if (fragment)
		(void) fragment_decode(fragment);
}

static void
run(const uint8_t *data, size_t size)
{
	int			which;
	char	   *s;
	bool		known;

	if (size == 0)
		return;
	which = data[0] % (nformats + 2);
	data++;
	size--;
	if (which == nformats)
		run_regex(data, size);
	else if (which == nformats + 1)
		run_uri(data, size);
	else if ((s = fuzz_string(data, size)) != NULL)
	{
		(void) format_check(formats[which], s, size, &known);
		if (!known)
			fuzz_finding("format \"%s\" is not known", formats[which]);
	}
}

const FuzzTarget fuzz_target_patterns = {"patterns", init, run};
