/*
 * regex_fixed.c
 *	  Patterns of fixed length over ASCII sets, matched without PCRE2.
 *
 *	  Identifiers and hashes are checked by patterns such as
 *	  ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ or
 *	  ^[0-9a-f]{40}$, on strings that never repeat (so no remembered verdict
 *	  helps).  Such a pattern is a sequence of atoms, each one character from
 *	  a set of ASCII characters, repeated a fixed number of times, between ^
 *	  and $: it has no alternatives and nothing to backtrack over, so a
 *	  string matches it exactly when it has as many characters as the atoms
 *	  together and each character is in its atom's set.  That is checked
 *	  here, byte by byte: a byte of 0x80 or above belongs to a non-ASCII
 *	  character (in UTF-8 and in every other server encoding), which no set
 *	  holds, so both answers are false; with only ASCII bytes, bytes are
 *	  characters.
 *
 *	  Only a narrow, unambiguous ECMA-262 syntax is recognised (anything
 *	  else leaves the pattern to PCRE2): ^ and $ at the ends; literal
 *	  printable ASCII characters other than the syntax characters; the
 *	  escapes \d and \ before a syntax character or /; classes [...] of such
 *	  characters, escapes and ranges, not negated, with - only first or
 *	  last; each atom optionally followed by {n}.  The pattern itself is
 *	  still compiled by PCRE2 (so an invalid one is an error as before), and
 *	  the full validator (validate.c) always matches with PCRE2: the
 *	  crosscheck build compares the two on every verdict.
 */
#include "postgres.h"

#include "jsonschema.h"

#define FIXED_MAX_LENGTH 4096	/* longer fixed patterns: PCRE2 */
#define FIXED_MAX_SETS 8		/* distinct sets: one bit each in a byte */

typedef struct FixedAtom
{
	uint64		bits[2];		/* the set: bit c of the 128 ASCII codes */
	int			count;
} FixedAtom;

/*
 * As matched: the pattern's distinct sets numbered 0..7, a table giving
 * for each byte the sets that hold it (bytes >= 0x80: none), and for each
 * position of the string the set its character must be in.  A character
 * then costs a load, a load and a test.
 */
struct JsFixedPattern
{
	int			length;			/* characters a matching string has */
	uint8		member[256];	/* byte -> bit mask of the sets holding it */
	uint8		at[FLEXIBLE_ARRAY_MEMBER];	/* position -> its set's bit */
};

static const char syntax_chars[] = "^$\\.*+?()[]{}|";

static inline bool
printable(char c)
{
	return c >= 0x20 && c < 0x7F;
}

static inline void
add_char(FixedAtom *a, unsigned char c)
{
	a->bits[c >> 6] |= UINT64CONST(1) << (c & 63);
}

/* \d, or \ before a syntax character or /; false for anything else */
static bool
parse_escape(char c, FixedAtom *a)
{
	if (c == 'd')
	{
		for (char d = '0'; d <= '9'; d++)
			add_char(a, d);
		return true;
	}
	if (c != '\0' && (strchr(syntax_chars, c) || c == '/'))
	{
		add_char(a, c);
		return true;
	}
	return false;
}

/* a class after its "[": returns the index after "]", or -1 */
static int
parse_class(const char *p, int len, int i, FixedAtom *a)
{
	int			first = i;

	if (i < len && p[i] == '^')
		return -1;				/* negated: holds non-ASCII characters */
	while (i < len && p[i] != ']')
	{
		char		c = p[i];

		if (c == '\\')
		{
			/* inside a class ECMA also allows \- */
			if (i + 1 >= len)
				return -1;
			if (p[i + 1] == '-')
				add_char(a, '-');
			else if (!parse_escape(p[i + 1], a))
				return -1;
			i += 2;
			continue;
		}
		if (!printable(c) || c == '[')
			return -1;
		if (c == '-')
		{
			/* a literal only first or last */
			if (i != first && !(i + 1 < len && p[i + 1] == ']'))
				return -1;
			add_char(a, '-');
			i++;
			continue;
		}
		if (i + 2 < len && p[i + 1] == '-' && p[i + 2] != ']')
		{
			char		hi = p[i + 2];

			if (!printable(hi) || hi == '\\' || hi == '[' || hi == '-' || hi < c)
				return -1;
			for (int k = (unsigned char) c; k <= (unsigned char) hi; k++)
				add_char(a, k);
			i += 3;
			continue;
		}
		add_char(a, c);
		i++;
	}
	if (i >= len || i == first)
		return -1;				/* unterminated, or [] */
	return i + 1;
}

/*
 * Reads pattern p (already known to start with ^ and end with $) into f;
 * false when it is not of the narrow shape above.
 */
static bool
parse_fixed(const char *p, int len, FixedAtom *atoms, int *n_atoms, int *length)
{
	int			i = 1;

	while (i < len - 1)
	{
		FixedAtom  *a = &atoms[*n_atoms];
		char		c = p[i];

		if (c == '[')
		{
			i = parse_class(p, len - 1, i + 1, a);
			if (i < 0)
				return false;
		}
		else if (c == '\\')
		{
			if (i + 1 >= len - 1 || !parse_escape(p[i + 1], a))
				return false;
			i += 2;
		}
		else if (printable(c) && strchr(syntax_chars, c) == NULL)
		{
			add_char(a, c);
			i++;
		}
		else
			return false;
		a->count = 1;
		if (i < len - 1 && p[i] == '{')
		{
			int			n = 0,
						digits = 0;

			for (i++; i < len - 1 && p[i] >= '0' && p[i] <= '9'; i++, digits++)
			{
				n = n * 10 + (p[i] - '0');
				if (n > FIXED_MAX_LENGTH)
					return false;
			}
			if (digits == 0 || i >= len - 1 || p[i] != '}')
				return false;	/* {n,m}, {n,}, or not a quantifier */
			i++;
			a->count = n;
		}
		else if (i < len - 1 && strchr("*+?", p[i]))
			return false;
		*length += a->count;
		if (*length > FIXED_MAX_LENGTH)
			return false;
		(*n_atoms)++;
	}
	/* the final $ must not be escaped: "\$" was taken as an atom above */
	return i == len - 1;
}

/*
 * The fixed form of an ECMA-262 pattern, allocated in the current memory
 * context; NULL when the pattern is not of that narrow shape.
 */
JsFixedPattern *
jsonschema_fixed_pattern(const char *p, int len)
{
	JsFixedPattern *f;
	FixedAtom  *atoms;
	FixedAtom	sets[FIXED_MAX_SETS];
	int			n_atoms = 0,
				n_sets = 0,
				length = 0,
				pos = 0;

	if (len < 2 || p[0] != '^' || p[len - 1] != '$')
		return NULL;
	atoms = palloc0(sizeof(FixedAtom) * len);
	if (!parse_fixed(p, len, atoms, &n_atoms, &length))
	{
		pfree(atoms);
		return NULL;
	}
	f = palloc0(offsetof(JsFixedPattern, at) + Max(length, 1));
	f->length = length;
	for (int i = 0; i < n_atoms; i++)
	{
		int			k;

		for (k = 0; k < n_sets; k++)
			if (memcmp(sets[k].bits, atoms[i].bits, sizeof(sets[k].bits)) == 0)
				break;
		if (k == n_sets)
		{
			if (n_sets == FIXED_MAX_SETS)
			{
				pfree(atoms);
				pfree(f);
				return NULL;
			}
			sets[n_sets++] = atoms[i];
			for (int c = 0; c < 128; c++)
				if ((atoms[i].bits[c >> 6] >> (c & 63)) & 1)
					f->member[c] |= 1 << k;
		}
		for (int r = 0; r < atoms[i].count; r++)
			f->at[pos++] = 1 << k;
	}
	pfree(atoms);
	return f;
}

bool
jsonschema_fixed_match(const JsFixedPattern *f, const char *s, int len)
{
	uint8		miss = 0;

	if (len != f->length)
		return false;
	/* no branch per character: ids and hashes mostly match */
	for (int i = 0; i < len; i++)
		miss |= f->at[i] & ~f->member[(unsigned char) s[i]];
	return miss == 0;
}
