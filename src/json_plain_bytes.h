/*
 * json_plain_bytes.h
 *	  How many bytes at the start of a string need no escape in JSON: no
 *	  '"', no '\\', no control character below 0x20.  Read eight bytes at a
 *	  time, since strings are most of an event's bytes: for the message
 *	  parser (jsonb_text.c) and the canonical form (jcs.c).
 */
#ifndef CANDYSTORE_JSON_PLAIN_BYTES_H
#define CANDYSTORE_JSON_PLAIN_BYTES_H

#include "postgres.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * A count of whole eight-byte words from s, up to end, with no byte that
 * needs an escape: the first such byte, if any, is at or after s + the
 * count (the caller reads on byte by byte from there).  Where SSE2 is
 * there (every x86-64), sixteen bytes are tested at a time first.
 */
static inline size_t
json_plain_words(const char *s, const char *end)
{
	const uint64 ones = UINT64CONST(0x0101010101010101);
	const uint64 highs = UINT64CONST(0x8080808080808080);
	const char *c = s;

#ifdef __SSE2__
	{
		const __m128i quote = _mm_set1_epi8('"');
		const __m128i backslash = _mm_set1_epi8('\\');
		const __m128i top3 = _mm_set1_epi8((char) 0xE0);
		const __m128i zero = _mm_setzero_si128();

		for (; end - c >= 16; c += 16)
		{
			__m128i		w = _mm_loadu_si128((const __m128i *) c);
			/* '"', '\\', or a byte below 0x20 (its top three bits clear) */
			__m128i		hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, quote),
													   _mm_cmpeq_epi8(w, backslash)),
										  _mm_cmpeq_epi8(_mm_and_si128(w, top3), zero));

			if (_mm_movemask_epi8(hit) != 0)
				break;
		}
	}
#endif
	for (; end - c >= 8; c += 8)
	{
		uint64		w,
					quote,
					backslash;

		memcpy(&w, c, 8);
		quote = w ^ (ones * '"');
		backslash = w ^ (ones * '\\');
		/* a byte of quote or backslash is zero, or a byte of w below 0x20 */
		if ((((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) |
			 ((w - ones * 0x20) & ~w)) & highs)
			break;
	}
	return c - s;
}

#endif
