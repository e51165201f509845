/*
 * target_event_type_patterns.c
 *	  Fuzz target "event_type_patterns": the event type pattern checker and
 *	  matcher (src/event_type_pattern.c) of authorization by event type.
 *	  Event types come from producers; patterns from grants.
 *
 *	  Input: pattern NUL event type.  The checker must accept exactly the
 *	  patterns a plain reading of the syntax accepts; for an accepted
 *	  pattern, the matcher (given exactly-sized copies and scratch, so
 *	  AddressSanitizer sees any overrun) must agree with a naive recursive
 *	  matcher, for patterns with few enough "#" that the naive one stays
 *	  fast.
 */
#include "postgres.h"

#include "event_type_pattern.h"

#include "fuzz.h"

static int	(*pattern_check) (const char *pattern, size_t len);
static bool (*pattern_match) (const char *pattern, size_t plen,
							  const char *type, size_t tlen, void *scratch);

static void
init(void)
{
	pattern_check = fuzz_engine_symbol("event_type_pattern_check");
	pattern_match = fuzz_engine_symbol("event_type_pattern_match");
}

/* Length of the segment at s (up to a dot or end). */
static size_t
seglen(const char *s, const char *end)
{
	const char *dot = memchr(s, '.', end - s);

	return (dot ? dot : end) - s;
}

/* The naive reading: p, t are the rest (NULL: no segment left). */
static bool
naive(const char *p, const char *pend, const char *t, const char *tend)
{
	size_t		pl;
	const char *pnext;

	if (p == NULL)
		return t == NULL;
	pl = seglen(p, pend);
	pnext = p + pl < pend ? p + pl + 1 : NULL;
	if (pl == 1 && p[0] == '#')
	{
		if (naive(pnext, pend, t, tend))
			return true;
		if (t == NULL)
			return false;
		{
			size_t		tl = seglen(t, tend);

			return naive(p, pend, t + tl < tend ? t + tl + 1 : NULL, tend);
		}
	}
	if (t == NULL)
		return false;
	{
		size_t		tl = seglen(t, tend);
		const char *tnext = t + tl < tend ? t + tl + 1 : NULL;

		if ((pl == 1 && p[0] == '*') || (pl == tl && memcmp(p, t, pl) == 0))
			return naive(pnext, pend, tnext, tend);
	}
	return false;
}

static bool
naive_valid(const char *p, size_t len)
{
	const char *end = p + len;

	if (len == 0 || len > EVENT_TYPE_PATTERN_MAX_LEN)
		return false;
	for (;;)
	{
		size_t		l = seglen(p, end);

		if (l == 0)
			return false;
		if (!(l == 1 && (p[0] == '*' || p[0] == '#')))
		{
			if (p[0] < 'a' || p[0] > 'z')
				return false;
			for (size_t i = 1; i < l; i++)
				if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
					return false;
		}
		if (p + l == end)
			return true;
		p += l + 1;
	}
}

static void
run(const uint8_t *data, size_t size)
{
	const uint8_t *rest;
	size_t		tlen;
	size_t		plen = fuzz_split(data, size, &rest, &tlen);
	char	   *pattern = malloc(plen > 0 ? plen : 1);
	char	   *type = malloc(tlen > 0 ? tlen : 1);
	void	   *scratch = malloc(EVENT_TYPE_PATTERN_SCRATCH(tlen));
	int			verdict;
	int			hashes = 0;

	memcpy(pattern, data, plen);
	memcpy(type, rest, tlen);
	verdict = pattern_check(pattern, plen);
	if ((verdict == 0) != naive_valid(pattern, plen))
		fuzz_finding("the checker says %d for a pattern the syntax %s", verdict,
					 verdict == 0 ? "refuses" : "accepts");
	if (verdict == 0)
	{
		bool		got = pattern_match(pattern, plen, type, tlen, scratch);

		for (size_t i = 0; i < plen; i++)
			hashes += pattern[i] == '#';
		if (hashes <= 3 && got != naive(pattern, pattern + plen, type, type + tlen))
			fuzz_finding("the matcher says %s where the naive reading disagrees", got ? "match" : "no match");
	}
	free(pattern);
	free(type);
	free(scratch);
}

const FuzzTarget fuzz_target_event_type_patterns = {"event_type_patterns", init, run};
