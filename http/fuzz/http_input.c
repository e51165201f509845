/*
 * http_input.c — libFuzzer over what candystore-http does with the bytes a
 * client sends before any of them reach PostgreSQL: the %-decoding of paths
 * and query values (router_unescape), the UTF-8 check that turns bad
 * parameters into 400 (utf8_valid), the escaping that echoes them into log
 * lines and problem documents (jbuf_strn), the event id check
 * (api_is_uuid) and the pointer read off an error message.
 *
 * Oracles, beyond the sanitizers: utf8_valid agrees with a checker written
 * from RFC 3629's table of well-formed sequences; every escaped string is a
 * JSON string a strict RFC 8259 decoder accepts, decoding to valid UTF-8,
 * and to the input itself when the input was valid UTF-8; %-decoding never
 * lengthens and never yields a NUL; a UUID accepted has the canonical shape.
 *
 * Built and run by scripts/fuzz.sh (target http_input), apart from the
 * backend targets of fuzz/: it is a standalone program.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api.h"
#include "../json.h"
#include "../problem.h"
#include "../router.h"
#include "../../src/hex_digit.h"

#define CHECK(cond, what) \
	do { if (!(cond)) { fprintf(stderr, "http_input: %s\n", what); abort(); } } while (0)

/* RFC 3629, section 4: the well-formed byte sequences, as ranges */
static bool
ref_utf8(const unsigned char *s, size_t n, bool allow_nul)
{
	size_t		i = 0;

#define IN(k, lo, hi) (i + (k) < n && s[i + (k)] >= (lo) && s[i + (k)] <= (hi))
	while (i < n)
	{
		unsigned	c = s[i];

		if (c == 0 && !allow_nul)
			return false;
		if (c <= 0x7F)
			i += 1;
		else if (c >= 0xC2 && c <= 0xDF && IN(1, 0x80, 0xBF))
			i += 2;
		else if (c == 0xE0 && IN(1, 0xA0, 0xBF) && IN(2, 0x80, 0xBF))
			i += 3;
		else if (((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) &&
				 IN(1, 0x80, 0xBF) && IN(2, 0x80, 0xBF))
			i += 3;
		else if (c == 0xED && IN(1, 0x80, 0x9F) && IN(2, 0x80, 0xBF))
			i += 3;
		else if (c == 0xF0 && IN(1, 0x90, 0xBF) && IN(2, 0x80, 0xBF) && IN(3, 0x80, 0xBF))
			i += 4;
		else if (c >= 0xF1 && c <= 0xF3 && IN(1, 0x80, 0xBF) && IN(2, 0x80, 0xBF) &&
				 IN(3, 0x80, 0xBF))
			i += 4;
		else if (c == 0xF4 && IN(1, 0x80, 0x8F) && IN(2, 0x80, 0xBF) && IN(3, 0x80, 0xBF))
			i += 4;
		else
			return false;
	}
#undef IN
	return true;
}

static void
put_utf8(jbuf *out, unsigned cp)
{
	char		b[4];
	size_t		n;

	if (cp < 0x80)
		b[0] = (char) cp, n = 1;
	else if (cp < 0x800)
		b[0] = (char) (0xC0 | cp >> 6), b[1] = (char) (0x80 | (cp & 0x3F)), n = 2;
	else if (cp < 0x10000)
		b[0] = (char) (0xE0 | cp >> 12), b[1] = (char) (0x80 | ((cp >> 6) & 0x3F)),
			b[2] = (char) (0x80 | (cp & 0x3F)), n = 3;
	else
		b[0] = (char) (0xF0 | cp >> 18), b[1] = (char) (0x80 | ((cp >> 12) & 0x3F)),
			b[2] = (char) (0x80 | ((cp >> 6) & 0x3F)), b[3] = (char) (0x80 | (cp & 0x3F)), n = 4;
	jbuf_append(out, b, n);
}

/* a strict RFC 8259 string decoder; false for anything it does not allow */
static bool
json_string_decode(const char *s, size_t n, jbuf *out)
{
	size_t		i = 1;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return false;
	while (i < n - 1)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c < 0x20)
			return false;
		if (c != '\\')
		{
			jbuf_append(out, s + i, 1);
			i++;
			continue;
		}
		if (i + 1 >= n - 1)
			return false;
		switch (s[i + 1])
		{
			case '"':
			case '\\':
			case '/':
				jbuf_append(out, s + i + 1, 1);
				i += 2;
				continue;
			case 'b':
				jbuf_append(out, "\b", 1);
				i += 2;
				continue;
			case 'f':
				jbuf_append(out, "\f", 1);
				i += 2;
				continue;
			case 'n':
				jbuf_append(out, "\n", 1);
				i += 2;
				continue;
			case 'r':
				jbuf_append(out, "\r", 1);
				i += 2;
				continue;
			case 't':
				jbuf_append(out, "\t", 1);
				i += 2;
				continue;
			case 'u':
				{
					unsigned	cp = 0;

					if (i + 6 > n - 1)
						return false;
					for (int k = 2; k < 6; k++)
					{
						int			h = hex_digit_value(s[i + k]);

						if (h < 0)
							return false;
						cp = cp * 16 + (unsigned) h;
					}
					/* the escaper never splits a character into surrogates */
					if (cp >= 0xD800 && cp <= 0xDFFF)
						return false;
					put_utf8(out, cp);
					i += 6;
					continue;
				}
			default:
				return false;
		}
	}
	return true;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *) data;
	char	   *cstr = malloc(size + 1);
	size_t		clen;
	jbuf		esc,
				dec;
	char	   *ptr;

	memcpy(cstr, data, size);
	cstr[size] = '\0';
	clen = strlen(cstr);

	/* the UTF-8 check, against RFC 3629's table */
	CHECK(utf8_valid(in, size) == ref_utf8(data, size, false), "utf8_valid disagrees with RFC 3629");

	/* escaping: a JSON string that decodes to valid UTF-8, to the input when it was */
	jbuf_init(&esc);
	jbuf_init(&dec);
	jbuf_strn(&esc, in, size);
	CHECK(esc.len == strlen(esc.data), "escaped text holds a NUL");
	CHECK(json_string_decode(esc.data, esc.len, &dec), "escaped text is not a JSON string");
	CHECK(ref_utf8((const unsigned char *) dec.data, dec.len, true), "escaped text decodes to invalid UTF-8");
	if (ref_utf8(data, size, true))
		CHECK(dec.len == size && memcmp(dec.data, data, size) == 0, "escaped text decodes to another string");
	jbuf_free(&esc);
	jbuf_free(&dec);

	/* %-decoding in place: never longer, never a NUL inside */
	{
		char	   *u = strdup(cstr);
		size_t		ulen = router_unescape(NULL, NULL, u);

		CHECK(ulen <= clen, "unescaping lengthened the text");
		CHECK(strlen(u) == ulen, "unescaping left a NUL inside");
		/* a decoded value that passes the check is what a handler would use */
		(void) utf8_valid(u, ulen);
		free(u);
	}

	/* the event id check: only the canonical 8-4-4-4-12 shape */
	if (api_is_uuid(cstr))
	{
		CHECK(clen == 36, "a UUID of another length");
		for (size_t i = 0; i < 36; i++)
			CHECK((i == 8 || i == 13 || i == 18 || i == 23) ? cstr[i] == '-' : hex_digit_value(cstr[i]) >= 0,
				  "a UUID of another shape");
	}

	/* the pointer read off an error message */
	ptr = problem_pointer_from_message(cstr);
	if (ptr != NULL)
	{
		CHECK(ptr[0] == '/', "a pointer not starting with /");
		CHECK(strlen(ptr) <= clen + 1, "a pointer longer than its message");
		free(ptr);
	}
	free(cstr);
	return 0;
}
