/*
 * event_type_pattern.c
 *	  Event type patterns: checking and matching (see event_type_pattern.h).
 */
#include <string.h>

#include "event_type_pattern.h"

static bool
is_word(const char *s, size_t len)
{
	if (len == 0 || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

int
event_type_pattern_check(const char *pattern, size_t len)
{
	size_t		start = 0;
	int			segment = 1;

	if (len == 0 || len > EVENT_TYPE_PATTERN_MAX_LEN)
		return -1;
	for (size_t i = 0; i <= len; i++)
	{
		if (i < len && pattern[i] != '.')
			continue;
		if (!(i - start == 1 && (pattern[start] == '*' || pattern[start] == '#')) &&
			!is_word(pattern + start, i - start))
			return segment;
		segment++;
		start = i + 1;
	}
	return 0;
}

bool
event_type_pattern_match(const char *pattern, size_t plen,
						 const char *type, size_t tlen, void *scratch)
{
	/* starts[j]: where the type's segment j begins; starts[n] is tlen + 1 */
	size_t	   *starts = scratch;
	bool	   *match;
	size_t		n = 0;
	size_t		start = 0;

	starts[n++] = 0;
	for (size_t i = 0; i < tlen; i++)
		if (type[i] == '.')
			starts[n++] = i + 1;
	starts[n] = tlen + 1;
	match = (bool *) (starts + n + 1);

	/* match[j]: the pattern's segments so far match the type's first j */
	match[0] = true;
	for (size_t j = 1; j <= n; j++)
		match[j] = false;
	for (size_t i = 0; i <= plen; i++)
	{
		const char *seg = pattern + start;
		size_t		len = i - start;

		if (i < plen && pattern[i] != '.')
			continue;
		start = i + 1;
		if (len == 1 && seg[0] == '#')
		{
			/* zero or more: reachable from any shorter prefix */
			for (size_t j = 1; j <= n; j++)
				match[j] = match[j] || match[j - 1];
			continue;
		}
		for (size_t j = n; j >= 1; j--)
		{
			size_t		tstart = starts[j - 1];
			size_t		tl = starts[j] - 1 - tstart;

			match[j] = match[j - 1] &&
				((len == 1 && seg[0] == '*') ||
				 (len == tl && memcmp(seg, type + tstart, len) == 0));
		}
		match[0] = false;
	}
	return match[n];
}
