/*
 * regex.c
 *	  ECMA-262 patterns (the "u" flag's syntax and semantics) on PCRE2.
 *
 *	  A pattern is parsed by ECMA-262's grammar, which also decides what is
 *	  a syntax error, and re-emitted in a PCRE2 form that leaves PCRE2
 *	  nothing to interpret its own way: every literal that is not an ASCII
 *	  letter or digit becomes \x{...}, \d \w \s and their negations become
 *	  the ECMA sets spelled out, "." excludes ECMA's line terminators, named
 *	  groups become numbered ones and \k<name> their number, Unicode property
 *	  names are checked against ECMA's list and mapped to PCRE2's spelling.
 *	  PCRE2 runs in UTF mode without UCP, so \b stays ASCII as in ECMA, with
 *	  $ matching only at the end and references to groups that took no part
 *	  matching the empty string.  docs/reference.md lists what still differs.
 *
 *	  Compiled patterns (JIT where available) are cached per backend, keyed
 *	  by the pattern text, in their own memory context: PCRE2 allocates
 *	  through it without ever raising.  Matching is bounded by
 *	  candystore.jsonschema_pattern_match_limit; reaching it is an error.
 */
#include "postgres.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "jsonschema.h"
#include "hex_digit.h"

/* PCRE2 has no empty class: these stand for "nothing" and "anything" */
#define MATCH_NOTHING	"(?:(?!))"
#define ANY_CHAR_RANGE	"\\x{0}-\\x{10ffff}"
#define MAX_COUNT		65535	/* PCRE2's largest repetition count */
#define CACHE_MAX		1024	/* compiled patterns kept per backend ... */
#define CACHE_MAX_BYTES (8 * 1024 * 1024)	/* ... and their compiled size */
#define HEAP_LIMIT_KB	(64 * 1024) /* backtracking memory of one match */
#define JIT_STACK_MAX	(1024 * 1024)

int			jsonschema_pattern_match_limit = 10000000;

/* ECMA's \d, \w and \s, as sorted code point ranges */
typedef struct CpRange
{
	pg_wchar	lo,
				hi;
} CpRange;

static const CpRange digit_set[] = {{'0', '9'}};
static const CpRange word_set[] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
static const CpRange space_set[] = {
	{0x09, 0x0d}, {0x20, 0x20}, {0xa0, 0xa0}, {0x1680, 0x1680}, {0x2000, 0x200a},
	{0x2028, 0x2029}, {0x202f, 0x202f}, {0x205f, 0x205f}, {0x3000, 0x3000},
	{0xfeff, 0xfeff}
};

/* ECMA's General_Category values: long name, short name, other alias */
static const char *const gc_values[][3] = {
	{"Cased_Letter", "LC", NULL}, {"Close_Punctuation", "Pe", NULL},
	{"Connector_Punctuation", "Pc", NULL}, {"Control", "Cc", "cntrl"},
	{"Currency_Symbol", "Sc", NULL}, {"Dash_Punctuation", "Pd", NULL},
	{"Decimal_Number", "Nd", "digit"}, {"Enclosing_Mark", "Me", NULL},
	{"Final_Punctuation", "Pf", NULL}, {"Format", "Cf", NULL},
	{"Initial_Punctuation", "Pi", NULL}, {"Letter", "L", NULL},
	{"Letter_Number", "Nl", NULL}, {"Line_Separator", "Zl", NULL},
	{"Lowercase_Letter", "Ll", NULL}, {"Mark", "M", "Combining_Mark"},
	{"Math_Symbol", "Sm", NULL}, {"Modifier_Letter", "Lm", NULL},
	{"Modifier_Symbol", "Sk", NULL}, {"Nonspacing_Mark", "Mn", NULL},
	{"Number", "N", NULL}, {"Open_Punctuation", "Ps", NULL},
	{"Other", "C", NULL}, {"Other_Letter", "Lo", NULL},
	{"Other_Number", "No", NULL}, {"Other_Punctuation", "Po", NULL},
	{"Other_Symbol", "So", NULL}, {"Paragraph_Separator", "Zp", NULL},
	{"Private_Use", "Co", NULL}, {"Punctuation", "P", "punct"},
	{"Separator", "Z", NULL}, {"Space_Separator", "Zs", NULL},
	{"Spacing_Mark", "Mc", NULL}, {"Surrogate", "Cs", NULL},
	{"Symbol", "S", NULL}, {"Titlecase_Letter", "Lt", NULL},
	{"Unassigned", "Cn", NULL}, {"Uppercase_Letter", "Lu", NULL},
};

/* ECMA's binary properties: name, alias (PCRE2 knows both spellings) */
static const char *const binary_props[][2] = {
	{"ASCII", NULL}, {"ASCII_Hex_Digit", "AHex"}, {"Alphabetic", "Alpha"},
	{"Any", NULL}, {"Assigned", NULL}, {"Bidi_Control", "Bidi_C"},
	{"Bidi_Mirrored", "Bidi_M"}, {"Case_Ignorable", "CI"}, {"Cased", NULL},
	{"Changes_When_Casefolded", "CWCF"}, {"Changes_When_Casemapped", "CWCM"},
	{"Changes_When_Lowercased", "CWL"}, {"Changes_When_NFKC_Casefolded", "CWKCF"},
	{"Changes_When_Titlecased", "CWT"}, {"Changes_When_Uppercased", "CWU"},
	{"Dash", NULL}, {"Default_Ignorable_Code_Point", "DI"}, {"Deprecated", "Dep"},
	{"Diacritic", "Dia"}, {"Emoji", NULL}, {"Emoji_Component", "EComp"},
	{"Emoji_Modifier", "EMod"}, {"Emoji_Modifier_Base", "EBase"},
	{"Emoji_Presentation", "EPres"}, {"Extended_Pictographic", "ExtPict"},
	{"Extender", "Ext"}, {"Grapheme_Base", "Gr_Base"}, {"Grapheme_Extend", "Gr_Ext"},
	{"Hex_Digit", "Hex"}, {"IDS_Binary_Operator", "IDSB"},
	{"IDS_Trinary_Operator", "IDST"}, {"ID_Continue", "IDC"}, {"ID_Start", "IDS"},
	{"Ideographic", "Ideo"}, {"Join_Control", "Join_C"},
	{"Logical_Order_Exception", "LOE"}, {"Lowercase", "Lower"}, {"Math", NULL},
	{"Noncharacter_Code_Point", "NChar"}, {"Pattern_Syntax", "Pat_Syn"},
	{"Pattern_White_Space", "Pat_WS"}, {"Quotation_Mark", "QMark"},
	{"Radical", NULL}, {"Regional_Indicator", "RI"}, {"Sentence_Terminal", "STerm"},
	{"Soft_Dotted", "SD"}, {"Terminal_Punctuation", "Term"},
	{"Unified_Ideograph", "UIdeo"}, {"Uppercase", "Upper"},
	{"Variation_Selector", "VS"}, {"White_Space", "space"},
	{"XID_Continue", "XIDC"}, {"XID_Start", "XIDS"},
};

/* --- translation ------------------------------------------------------- */

typedef struct Ecma
{
	const char *p;				/* the pattern, UTF-8 */
	int			len;
	int			pos;
	StringInfoData out;			/* the PCRE2 pattern */
	int			ngroups;		/* capturing groups in the whole pattern */
	char	  **names;			/* [1..ngroups]: group names, NULL: unnamed */
	const char *error;			/* why the pattern is no ECMA-262 pattern */
	int			error_pos;
} Ecma;

/* one element of a character class: a code point or a set */
typedef struct ClassAtom
{
	bool		is_set;			/* \d, \p{...}, ...: no range endpoint */
	pg_wchar	cp;				/* a code point: kept in the class */
	const char *set;			/* a set: its PCRE2 class text */
	bool		nothing;		/* a lone surrogate: matches no UTF-8 text */
} ClassAtom;

static bool fail(Ecma *e, const char *why);
static bool parse_disjunction(Ecma *e, int depth);

static bool
fail(Ecma *e, const char *why)
{
	if (e->error == NULL)
	{
		e->error = why;
		e->error_pos = e->pos;
	}
	return false;
}

static inline bool
at_end(const Ecma *e)
{
	return e->pos >= e->len;
}

static inline char
peek(const Ecma *e, int ahead)
{
	return e->pos + ahead < e->len ? e->p[e->pos + ahead] : '\0';
}

/* The code point at e->pos, which is consumed. */
static pg_wchar
next_cp(Ecma *e)
{
	const unsigned char *s = (const unsigned char *) e->p + e->pos;
	int			l = pg_utf_mblen(s);

	if (e->pos + l > e->len)
	{
		/* a truncated sequence (never from jsonb): not a character */
		e->pos = e->len;
		return 0xfffd;
	}
	e->pos += l;
	return utf8_to_unicode(s);
}

static bool
is_syntax_char(char c)
{
	return c != '\0' && strchr("^$\\.*+?()[]{}|/", c) != NULL;
}

/* n hexadecimal digits at e->pos, consumed; -1 if there are not n */
static long
hex_digits(Ecma *e, int n)
{
	long		v = 0;

	for (int i = 0; i < n; i++)
	{
		int			h = hex_digit_value(peek(e, i));

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	e->pos += n;
	return v;
}

static inline bool
is_lead_surrogate(long c)
{
	return c >= 0xd800 && c <= 0xdbff;
}

static inline bool
is_trail_surrogate(long c)
{
	return c >= 0xdc00 && c <= 0xdfff;
}

/* \u after the backslash: \uXXXX (a surrogate pair joined), \u{X...} */
static bool
unicode_escape(Ecma *e, long *cp)
{
	e->pos++;					/* the u */
	if (peek(e, 0) == '{')
	{
		long		v = 0;
		int			digits = 0;

		e->pos++;
		while (hex_digit_value(peek(e, 0)) >= 0)
		{
			v = v * 16 + hex_digit_value(peek(e, 0));
			if (v > 0x10ffff)
				return fail(e, "\\u{...} names no code point");
			e->pos++;
			digits++;
		}
		if (digits == 0 || peek(e, 0) != '}')
			return fail(e, "invalid \\u{...} escape");
		e->pos++;
		*cp = v;
		return true;
	}
	*cp = hex_digits(e, 4);
	if (*cp < 0)
		return fail(e, "invalid \\u escape (four hexadecimal digits expected)");
	if (is_lead_surrogate(*cp) && peek(e, 0) == '\\' && peek(e, 1) == 'u')
	{
		int			save = e->pos;
		long		trail;

		e->pos += 2;
		trail = hex_digits(e, 4);
		if (trail >= 0 && is_trail_surrogate(trail))
			*cp = 0x10000 + ((*cp - 0xd800) << 10) + (trail - 0xdc00);
		else
			e->pos = save;
	}
	return true;
}

/*
 * A character escape after the backslash at e->pos (which points past it):
 * \f \n \r \t \v \cX \0 \xHH \uXXXX \u{X} and identity escapes.  ECMA's
 * "u" flag allows identity escapes of syntax characters and "/" only; ASCII
 * punctuation is also accepted, as the character itself (what ECMA means
 * without "u"), since schemas escape it needlessly all the time.
 */
static bool
character_escape(Ecma *e, long *cp)
{
	char		c = peek(e, 0);

	switch (c)
	{
		case 'f':
			*cp = '\f';
			break;
		case 'n':
			*cp = '\n';
			break;
		case 'r':
			*cp = '\r';
			break;
		case 't':
			*cp = '\t';
			break;
		case 'v':
			*cp = '\v';
			break;
		case 'c':
			if (!((peek(e, 1) >= 'a' && peek(e, 1) <= 'z') ||
				  (peek(e, 1) >= 'A' && peek(e, 1) <= 'Z')))
				return fail(e, "\\c must be followed by an ASCII letter");
			*cp = peek(e, 1) % 32;
			e->pos += 2;
			return true;
		case '0':
			if (peek(e, 1) >= '0' && peek(e, 1) <= '9')
				return fail(e, "octal escapes are not allowed");
			*cp = 0;
			break;
		case 'x':
			e->pos++;
			*cp = hex_digits(e, 2);
			if (*cp < 0)
				return fail(e, "invalid \\x escape (two hexadecimal digits expected)");
			return true;
		case 'u':
			return unicode_escape(e, cp);
		default:
			if (c == '\0' && at_end(e))
				return fail(e, "\\ at end of pattern");
			if ((unsigned char) c >= 0x80 || isalnum((unsigned char) c))
				return fail(e, "invalid escape");
			if (!is_syntax_char(c) && (c < 0x21 || c > 0x7e))
				return fail(e, "invalid escape");
			*cp = (unsigned char) c;
			break;
	}
	e->pos++;
	return true;
}

static void
emit_cp(StringInfo out, pg_wchar cp)
{
	if (cp < 0x80 && isalnum((int) cp))
		appendStringInfoChar(out, (char) cp);
	else
		appendStringInfo(out, "\\x{%x}", (unsigned int) cp);
}

/* A set's ranges, or their complement, as the inside of a PCRE2 class. */
static char *
ranges_text(const CpRange *r, int n, bool negate)
{
	StringInfoData s;
	pg_wchar	next = 0;

	initStringInfo(&s);
	for (int i = 0; i < n; i++)
	{
		if (!negate)
			appendStringInfo(&s, "\\x{%x}-\\x{%x}", r[i].lo, r[i].hi);
		else if (r[i].lo > next)
			appendStringInfo(&s, "\\x{%x}-\\x{%x}", next, r[i].lo - 1);
		next = r[i].hi + 1;
	}
	if (negate && next <= 0x10ffff)
		appendStringInfo(&s, "\\x{%x}-\\x{10ffff}", next);
	return s.data;
}

static const char *
class_escape_set(char c)
{
	switch (c)
	{
		case 'd':
		case 'D':
			return ranges_text(digit_set, lengthof(digit_set), c == 'D');
		case 'w':
		case 'W':
			return ranges_text(word_set, lengthof(word_set), c == 'W');
		default:
			return ranges_text(space_set, lengthof(space_set), c == 'S');
	}
}

static bool
name_is(const char *name, int len, const char *candidate)
{
	return candidate && (int) strlen(candidate) == len && memcmp(name, candidate, len) == 0;
}

static const char *
gc_short_name(const char *v, int len)
{
	for (int i = 0; i < (int) lengthof(gc_values); i++)
		for (int j = 0; j < 3; j++)
			if (name_is(v, len, gc_values[i][j]))
				return gc_values[i][1];
	return NULL;
}

/* a script name as Unicode spells it: Greek, Old_Italic, Grek */
static bool
plausible_script(const char *v, int len)
{
	if (len == 0 || !(v[0] >= 'A' && v[0] <= 'Z'))
		return false;
	for (int i = 0; i < len; i++)
		if (!isalnum((unsigned char) v[i]) && v[i] != '_')
			return false;
	return true;
}

/*
 * \p{...} or \P{...} at e->pos (past the backslash): the inside of a PCRE2
 * class matching it, or NULL.
 */
static const char *
property_escape(Ecma *e)
{
	bool		negate = peek(e, 0) == 'P';
	const char *name;
	const char *close;
	const char *eq;
	int			len;
	StringInfoData s;

	if (peek(e, 1) != '{' ||
		(close = memchr(e->p + e->pos + 2, '}', e->len - e->pos - 2)) == NULL)
	{
		fail(e, "invalid property escape (\\p{...} expected)");
		return NULL;
	}
	name = e->p + e->pos + 2;
	len = close - name;
	eq = memchr(name, '=', len);
	initStringInfo(&s);
	if (eq)
	{
		int			klen = eq - name;
		const char *v = eq + 1;
		int			vlen = len - klen - 1;

		if (name_is(name, klen, "General_Category") || name_is(name, klen, "gc"))
		{
			const char *gc = gc_short_name(v, vlen);

			if (gc)
				appendStringInfo(&s, "\\%c{%s}", negate ? 'P' : 'p', gc);
		}
		else if ((name_is(name, klen, "Script") || name_is(name, klen, "sc") ||
				  name_is(name, klen, "Script_Extensions") || name_is(name, klen, "scx")) &&
				 plausible_script(v, vlen))
			appendStringInfo(&s, "\\%c{%s:%.*s}", negate ? 'P' : 'p',
							 klen > 6 || name_is(name, klen, "scx") ? "scx" : "sc", vlen, v);
	}
	else
	{
		const char *gc = gc_short_name(name, len);

		if (gc)
			appendStringInfo(&s, "\\%c{%s}", negate ? 'P' : 'p', gc);
		else if (name_is(name, len, "Any"))
			appendStringInfoString(&s, negate ? "" : ANY_CHAR_RANGE);
		else if (name_is(name, len, "Assigned"))
			appendStringInfo(&s, "\\%c{Cn}", negate ? 'p' : 'P');
		else
			for (int i = 0; i < (int) lengthof(binary_props); i++)
				if (name_is(name, len, binary_props[i][0]) ||
					name_is(name, len, binary_props[i][1]))
				{
					/* PCRE2 10.42 lacks it: refused at compilation */
					appendStringInfo(&s, "\\%c{%s}", negate ? 'P' : 'p', binary_props[i][0]);
					break;
				}
	}
	if (s.len == 0 && !(negate && name_is(name, len, "Any")))
	{
		fail(e, "unknown Unicode property");
		return NULL;
	}
	e->pos = close - e->p + 1;
	return s.data;
}

/* One class element at e->pos; false at a syntax error. */
static bool
class_atom(Ecma *e, ClassAtom *a)
{
	char		c = peek(e, 0);
	long		cp;

	memset(a, 0, sizeof(*a));
	if (c != '\\')
	{
		a->cp = next_cp(e);
		return true;
	}
	e->pos++;
	c = peek(e, 0);
	switch (c)
	{
		case 'd':
		case 'D':
		case 'w':
		case 'W':
		case 's':
		case 'S':
			a->is_set = true;
			a->set = class_escape_set(c);
			e->pos++;
			return true;
		case 'p':
		case 'P':
			a->is_set = true;
			a->set = property_escape(e);
			return a->set != NULL;
		case 'b':
			a->cp = '\b';
			e->pos++;
			return true;
		case '-':
			a->cp = '-';
			e->pos++;
			return true;
		default:
			if (c >= '1' && c <= '9')
				return fail(e, "back-references are not allowed in a class");
			if (c == 'B' || c == 'k')
				return fail(e, "invalid escape in a class");
			if (!character_escape(e, &cp))
				return false;
			a->cp = cp;
			a->nothing = cp >= 0xd800 && cp <= 0xdfff;
			return true;
	}
}

/* A class, e->pos past its "[". */
static bool
parse_class(Ecma *e)
{
	bool		negate = false;
	StringInfoData cls;
	int			items = 0;

	if (peek(e, 0) == '^')
	{
		negate = true;
		e->pos++;
	}
	initStringInfo(&cls);
	while (true)
	{
		ClassAtom	a,
					b;

		if (at_end(e))
			return fail(e, "unterminated character class");
		if (peek(e, 0) == ']')
			break;
		if (!class_atom(e, &a))
			return false;
		if (peek(e, 0) == '-' && peek(e, 1) != ']' && e->pos + 1 < e->len)
		{
			pg_wchar	lo,
						hi;

			e->pos++;
			if (!class_atom(e, &b))
				return false;
			if (a.is_set || b.is_set)
				return fail(e, "invalid character class range (a class escape as an endpoint)");
			if (a.cp > b.cp)
				return fail(e, "character class range out of order");
			/* no UTF-8 text holds a surrogate: leave them out */
			lo = a.cp;
			hi = b.cp;
			if (lo >= 0xd800 && lo <= 0xdfff)
				lo = 0xe000;
			if (hi >= 0xd800 && hi <= 0xdfff)
				hi = 0xd7ff;
			if (lo <= hi)
			{
				if (lo < 0xd800 && hi > 0xdfff)
					appendStringInfo(&cls, "\\x{%x}-\\x{d7ff}\\x{e000}-\\x{%x}", lo, hi);
				else
					appendStringInfo(&cls, "\\x{%x}-\\x{%x}", lo, hi);
				items++;
			}
			continue;
		}
		if (a.is_set)
		{
			if (a.set[0])
			{
				appendStringInfoString(&cls, a.set);
				items++;
			}
		}
		else if (!a.nothing)
		{
			appendStringInfo(&cls, "\\x{%x}", a.cp);
			items++;
		}
	}
	e->pos++;					/* ] */
	if (items == 0)
		appendStringInfoString(&e->out, negate ? "[" ANY_CHAR_RANGE "]" : MATCH_NOTHING);
	else
		appendStringInfo(&e->out, "[%s%s]", negate ? "^" : "", cls.data);
	return true;
}

/* A decimal number at e->pos, saturating; false if there is none. */
static bool
decimal(Ecma *e, long *v)
{
	if (!(peek(e, 0) >= '0' && peek(e, 0) <= '9'))
		return false;
	*v = 0;
	while (peek(e, 0) >= '0' && peek(e, 0) <= '9')
	{
		*v = Min(*v * 10 + (peek(e, 0) - '0'), (long) INT_MAX);
		e->pos++;
	}
	return true;
}

/* An optional quantifier after an atom; false at a syntax error. */
static bool
parse_quantifier(Ecma *e)
{
	char		c = peek(e, 0);

	if (at_end(e))
		return true;
	if (c == '*' || c == '+' || c == '?')
	{
		appendStringInfoChar(&e->out, c);
		e->pos++;
	}
	else if (c == '{')
	{
		long		lo,
					hi = -1;
		bool		bounded = true;

		e->pos++;
		if (!decimal(e, &lo))
			return fail(e, "incomplete quantifier");
		if (peek(e, 0) == ',')
		{
			e->pos++;
			bounded = decimal(e, &hi);
		}
		else
			hi = lo;
		if (peek(e, 0) != '}')
			return fail(e, "incomplete quantifier");
		e->pos++;
		if (bounded && hi < lo)
			return fail(e, "numbers out of order in {} quantifier");
		if (lo > MAX_COUNT || hi > MAX_COUNT)
			return fail(e, "repetition counts above 65535 are not supported");
		if (!bounded)
			appendStringInfo(&e->out, "{%ld,}", lo);
		else
			appendStringInfo(&e->out, "{%ld,%ld}", lo, hi);
	}
	else
		return true;
	if (peek(e, 0) == '?')
	{
		appendStringInfoChar(&e->out, '?');
		e->pos++;
	}
	c = peek(e, 0);
	if (c == '*' || c == '+' || c == '?' || c == '{')
		return fail(e, "nothing to repeat");
	return true;
}

static bool
group_name(Ecma *e, const char **name, int *len)
{
	const char *close = memchr(e->p + e->pos, '>', e->len - e->pos);

	*name = e->p + e->pos;
	if (close == NULL || close == *name)
		return fail(e, "invalid group name");
	*len = close - *name;
	for (int i = 0; i < *len; i++)
	{
		unsigned char c = (*name)[i];

		if (!(isalpha(c) || c == '_' || c == '$' || c >= 0x80 || (i > 0 && isdigit(c))))
			return fail(e, "invalid group name");
	}
	e->pos = close - e->p + 1;
	return true;
}

/* An escape outside a class, e->pos past the backslash. */
static bool
atom_escape(Ecma *e)
{
	char		c = peek(e, 0);
	long		cp;

	switch (c)
	{
		case 'd':
		case 'D':
		case 'w':
		case 'W':
		case 's':
		case 'S':
			appendStringInfo(&e->out, "[%s]", class_escape_set(c));
			e->pos++;
			return true;
		case 'p':
		case 'P':
			{
				const char *set = property_escape(e);

				if (set == NULL)
					return false;
				appendStringInfoString(&e->out, set[0] ? psprintf("[%s]", set) : MATCH_NOTHING);
				return true;
			}
		case 'k':
			{
				const char *name;
				int			len;

				e->pos++;
				if (peek(e, 0) != '<')
					return fail(e, "invalid named reference");
				e->pos++;
				if (!group_name(e, &name, &len))
					return false;
				for (int g = 1; g <= e->ngroups; g++)
					if (e->names[g] && name_is(name, len, e->names[g]))
					{
						appendStringInfo(&e->out, "(?:\\g{%d})", g);
						return true;
					}
				return fail(e, "invalid named capture referenced");
			}
		default:
			if (c >= '1' && c <= '9')
			{
				long		n;

				(void) decimal(e, &n);
				if (n > e->ngroups)
					return fail(e, "invalid escape (a back-reference to a group that does not exist)");
				appendStringInfo(&e->out, "(?:\\g{%ld})", n);
				return true;
			}
			if (!character_escape(e, &cp))
				return false;
			if (cp >= 0xd800 && cp <= 0xdfff)
				appendStringInfoString(&e->out, MATCH_NOTHING);
			else
				emit_cp(&e->out, cp);
			return true;
	}
}

/* A term at e->pos: an assertion, or an atom with its quantifier. */
static bool
parse_term(Ecma *e, int depth)
{
	char		c = peek(e, 0);
	bool		quantifiable = true;

	switch (c)
	{
		case '^':
		case '$':
			appendStringInfoChar(&e->out, c);
			e->pos++;
			quantifiable = false;
			break;
		case '(':
			e->pos++;
			if (peek(e, 0) == '?')
			{
				char		k = peek(e, 1);

				if (k == '=' || k == '!')
				{
					appendStringInfo(&e->out, "(?%c", k);
					e->pos += 2;
					quantifiable = false;
				}
				else if (k == '<' && (peek(e, 2) == '=' || peek(e, 2) == '!'))
				{
					appendStringInfo(&e->out, "(?<%c", peek(e, 2));
					e->pos += 3;
					quantifiable = false;
				}
				else if (k == ':')
				{
					appendStringInfoString(&e->out, "(?:");
					e->pos += 2;
				}
				else if (k == '<')
				{
					const char *name;
					int			len;

					e->pos += 2;
					if (!group_name(e, &name, &len))
						return false;
					appendStringInfoChar(&e->out, '(');
				}
				else
					return fail(e, "invalid group");
			}
			else
				appendStringInfoChar(&e->out, '(');
			if (!parse_disjunction(e, depth + 1))
				return false;
			if (peek(e, 0) != ')')
				return fail(e, "unterminated group");
			appendStringInfoChar(&e->out, ')');
			e->pos++;
			break;
		case '[':
			e->pos++;
			if (!parse_class(e))
				return false;
			break;
		case '.':
			appendStringInfoString(&e->out, "[^\\x{a}\\x{d}\\x{2028}\\x{2029}]");
			e->pos++;
			break;
		case '*':
		case '+':
		case '?':
		case '{':
			return fail(e, "nothing to repeat");
		case '}':
		case ']':
			return fail(e, "lone quantifier brackets");
		case '\\':
			e->pos++;
			if (at_end(e))
				return fail(e, "\\ at end of pattern");
			if (peek(e, 0) == 'b' || peek(e, 0) == 'B')
			{
				appendStringInfo(&e->out, "\\%c", peek(e, 0));
				e->pos++;
				quantifiable = false;
				break;
			}
			if (!atom_escape(e))
				return false;
			break;
		default:
			emit_cp(&e->out, next_cp(e));
			break;
	}
	if (!quantifiable)
	{
		c = peek(e, 0);
		if (c == '*' || c == '+' || c == '?' || c == '{')
			return fail(e, "nothing to repeat");
		return true;
	}
	return parse_quantifier(e);
}

static bool
parse_disjunction(Ecma *e, int depth)
{
	if (depth > 250)
		return fail(e, "groups nested too deeply");
	while (true)
	{
		while (!at_end(e) && peek(e, 0) != '|' && peek(e, 0) != ')')
			if (!parse_term(e, depth))
				return false;
		if (peek(e, 0) != '|' || at_end(e))
			return true;
		appendStringInfoChar(&e->out, '|');
		e->pos++;
	}
}

/*
 * ECMA numbers groups and resolves names over the whole pattern before
 * matching (a reference may come before its group): count the capturing
 * groups and collect their names first.
 */
static bool
collect_groups(Ecma *e)
{
	List	   *names = NIL;	/* per group, in order: its name or NULL */
	bool		in_class = false;

	for (int i = 0; i < e->len; i++)
	{
		char		c = e->p[i];

		if (c == '\\')
			i++;
		else if (in_class)
			in_class = c != ']';
		else if (c == '[')
			in_class = true;
		else if (c == '(' && (i + 1 >= e->len || e->p[i + 1] != '?'))
			names = lappend(names, NULL);
		else if (c == '(' && i + 2 < e->len && e->p[i + 2] == '<' &&
				 i + 3 < e->len && e->p[i + 3] != '=' && e->p[i + 3] != '!')
		{
			const char *close = memchr(e->p + i + 3, '>', e->len - i - 3);
			char	   *name = NULL;	/* unterminated: the parser says why */

			if (close != NULL)
			{
				ListCell   *lc;

				name = pnstrdup(e->p + i + 3, close - (e->p + i + 3));
				foreach(lc, names)
					if (lfirst(lc) != NULL && strcmp(lfirst(lc), name) == 0)
					{
						e->pos = i;
						return fail(e, "duplicate capture group name");
					}
			}
			names = lappend(names, name);
		}
	}
	/* names[1..ngroups], as groups are numbered */
	e->ngroups = list_length(names);
	e->names = palloc0(sizeof(char *) * (e->ngroups + 1));
	for (int g = 0; g < e->ngroups; g++)
		e->names[g + 1] = list_nth(names, g);
	list_free(names);
	return true;
}

/*
 * The PCRE2 text of an ECMA-262 pattern (UTF-8), or NULL with *why and
 * *where set.
 */
static char *
ecma_to_pcre2(const char *p, int len, const char **why, int *where)
{
	Ecma		e = {0};

	e.p = p;
	e.len = len;
	initStringInfo(&e.out);
	if (collect_groups(&e) && parse_disjunction(&e, 0))
	{
		if (at_end(&e))
			return e.out.data;
		fail(&e, "unmatched \")\"");
	}
	*why = e.error;
	*where = e.error_pos;
	return NULL;
}

/* --- PCRE2 ------------------------------------------------------------- */

typedef struct JsRegex
{
	struct JsRegex *next;		/* in its hash bucket */
	char	   *pattern;		/* the key: the pattern as the schema spells it */
	int			patlen;
	uint32		hash;
	pcre2_code *code;
	bool		jit;
	JsFixedPattern *fixed;		/* regex_fixed.c's form, or NULL */
} JsRegex;

#define CACHE_BUCKETS 256

static MemoryContext regex_cxt = NULL;
static pcre2_general_context *gctx;
static pcre2_compile_context *cctx;
static pcre2_match_context *mctx;
static pcre2_match_data *mdata;
static JsRegex *buckets[CACHE_BUCKETS];
static int	cached = 0;
static size_t cached_bytes = 0;
static uint64 cache_generation = 1;
static int	limits_set = -1;		/* the match limit mctx holds; -1: none yet */
static int	db_utf8 = -1;		/* is the database encoding UTF-8? -1: unknown */

/* PCRE2 allocates here, and gets NULL rather than an error when out of memory */
static void *
regex_alloc(PCRE2_SIZE size, void *cxt)
{
	return MemoryContextAllocExtended((MemoryContext) cxt, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void
regex_free(void *p, void *cxt)
{
	(void) cxt;
	if (p)
		pfree(p);
}

static void
regex_init(void)
{
	pcre2_jit_stack *stack;

	if (regex_cxt)
		return;
	regex_cxt = AllocSetContextCreate(TopMemoryContext, "candystore json schema patterns",
									  ALLOCSET_DEFAULT_SIZES);
	gctx = pcre2_general_context_create(regex_alloc, regex_free, regex_cxt);
	cctx = gctx ? pcre2_compile_context_create(gctx) : NULL;
	mctx = gctx ? pcre2_match_context_create(gctx) : NULL;
	limits_set = -1;
	mdata = gctx ? pcre2_match_data_create(1, gctx) : NULL;
	if (mdata == NULL)
	{
		MemoryContextDelete(regex_cxt);
		regex_cxt = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	pcre2_set_heap_limit(mctx, HEAP_LIMIT_KB);
	/* without a stack of its own, JIT has 32 kB of the machine stack */
	stack = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, gctx);
	if (stack)
		pcre2_jit_stack_assign(mctx, NULL, stack);
}

/*
 * The pattern in UTF-8: PCRE2 runs in UTF mode whatever the database
 * encoding (jsonb strings are valid in it).
 */
static const char *
to_utf8(const char *s, int len, int *outlen)
{
	char	   *u;

	/* a backend's database, and so its encoding, never changes */
	if (db_utf8 < 0)
		db_utf8 = GetDatabaseEncoding() == PG_UTF8;
	if (db_utf8)
	{
		*outlen = len;
		return s;
	}
	u = pg_server_to_any(s, len, PG_UTF8);
	*outlen = u == s ? len : (int) strlen(u);
	return u;
}

/*
 * Compiles pattern; NULL with *why (palloc'd) when it is no valid ECMA-262
 * pattern or PCRE2 cannot run it.  The code belongs to the caller.
 */
static pcre2_code *
compile_code(const char *pattern, int patlen, char **why, bool *jit)
{
	const char *reason = NULL;
	int			where = 0;
	int			ulen;
	const char *u = to_utf8(pattern, patlen, &ulen);
	char	   *translated = ecma_to_pcre2(u, ulen, &reason, &where);
	pcre2_code *code;
	int			rc;
	PCRE2_SIZE	offset;

	regex_init();
	*jit = false;
	if (translated == NULL)
	{
		*why = psprintf("%s at offset %d", reason, where);
		return NULL;
	}
	code = pcre2_compile((PCRE2_SPTR) translated, strlen(translated),
						 PCRE2_UTF | PCRE2_NO_UTF_CHECK | PCRE2_DOLLAR_ENDONLY |
						 PCRE2_MATCH_UNSET_BACKREF | PCRE2_NEVER_BACKSLASH_C,
						 &rc, &offset, cctx);
	if (code == NULL)
	{
		PCRE2_UCHAR msg[256];

		if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
			strlcpy((char *) msg, "unknown error", sizeof(msg));
		*why = psprintf("not supported by PCRE2: %s", (char *) msg);
		return NULL;
	}
	/* no JIT (no executable memory, say): the interpreter matches alike */
	*jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
	return code;
}

static void
cache_flush(void)
{
	for (int b = 0; b < CACHE_BUCKETS; b++)
	{
		while (buckets[b])
		{
			JsRegex    *r = buckets[b];

			buckets[b] = r->next;
			pcre2_code_free(r->code);
			if (r->fixed)
				pfree(r->fixed);
			pfree(r->pattern);
			pfree(r);
		}
	}
	cached = 0;
	cached_bytes = 0;
	cache_generation++;
}

/*
 * The compiled pattern, from the cache or compiled into it.  An invalid
 * pattern raises 2201B.  Valid until the cache's generation changes.
 */
static JsRegex *
regex_get(const char *pattern, int patlen)
{
	uint32		h = hash_bytes((const unsigned char *) pattern, patlen);
	JsRegex    *r;
	char	   *why = NULL;
	bool		jit;
	pcre2_code *code;
	size_t		size;

	regex_init();
	for (r = buckets[h % CACHE_BUCKETS]; r; r = r->next)
		if (r->hash == h && r->patlen == patlen && memcmp(r->pattern, pattern, patlen) == 0)
			return r;
	code = compile_code(pattern, patlen, &why, &jit);
	if (code == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("invalid JSON Schema pattern \"%.*s\"", patlen, pattern),
				 errdetail("%s.", why),
				 errhint("Patterns are ECMA-262 regular expressions with the \"u\" flag.")));
	if (cached >= CACHE_MAX || cached_bytes >= CACHE_MAX_BYTES)
		cache_flush();
	r = MemoryContextAllocExtended(regex_cxt, sizeof(JsRegex), MCXT_ALLOC_NO_OOM);
	if (r == NULL)
	{
		pcre2_code_free(code);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	r->code = code;
	r->jit = jit;
	r->fixed = NULL;
	r->hash = h;
	r->patlen = patlen;
	r->pattern = MemoryContextAllocExtended(regex_cxt, patlen + 1, MCXT_ALLOC_NO_OOM);
	if (r->pattern == NULL)
	{
		pcre2_code_free(code);
		pfree(r);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	memcpy(r->pattern, pattern, patlen);
	r->pattern[patlen] = '\0';
	r->next = buckets[h % CACHE_BUCKETS];
	buckets[h % CACHE_BUCKETS] = r;
	cached++;
	if (pcre2_pattern_info(code, PCRE2_INFO_SIZE, &size) == 0)
		cached_bytes += size;
	/* last: should this run out of memory, the entry is complete without it */
	{
		MemoryContext old = MemoryContextSwitchTo(regex_cxt);

		r->fixed = jsonschema_fixed_pattern(pattern, patlen);
		MemoryContextSwitchTo(old);
	}
	return r;
}

static bool
regex_exec(const JsRegex *r, const char *s, int len)
{
	int			ulen;
	const char *u = to_utf8(s, len, &ulen);
	int			rc;

	if (limits_set != jsonschema_pattern_match_limit)
	{
		pcre2_set_match_limit(mctx, jsonschema_pattern_match_limit);
		pcre2_set_depth_limit(mctx, jsonschema_pattern_match_limit);
		limits_set = jsonschema_pattern_match_limit;
	}
	if (r->jit)
		rc = pcre2_jit_match(r->code, (PCRE2_SPTR) u, ulen, 0, 0, mdata, mctx);
	else
		rc = pcre2_match(r->code, (PCRE2_SPTR) u, ulen, 0, PCRE2_NO_UTF_CHECK, mdata, mctx);
	if (rc >= 0)
		return true;
	if (rc == PCRE2_ERROR_NOMATCH)
		return false;
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
		rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
	{
		/* the match data keeps the interpreter's backtracking memory: drop it */
		pcre2_match_data *fresh = pcre2_match_data_create(1, gctx);

		if (fresh)
		{
			pcre2_match_data_free(mdata);
			mdata = fresh;
		}
		ereport(ERROR,
				(errcode(ERRCODE_PATTERN_MATCH_LIMIT),
				 errmsg("JSON Schema pattern \"%s\" needs too many steps on a string of %d bytes",
						r->pattern, len),
				 errdetail("Matching stopped at candystore.jsonschema_pattern_match_limit (%d) or at its memory limits.",
						   jsonschema_pattern_match_limit),
				 errhint("Nested quantifiers such as (a+)+ backtrack exponentially: simplify the pattern, or raise the setting.")));
	}
	if (rc == PCRE2_ERROR_NOMEMORY)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	elog(ERROR, "PCRE2 match failed with error %d", rc);
	return false;				/* keep the compiler quiet */
}

/* --- interface ---------------------------------------------------------- */

/* Does s match pattern?  An invalid pattern raises 2201B. */
bool
jsonschema_regex_match(const char *pattern, int patlen, const char *s, int len)
{
	return regex_exec(regex_get(pattern, patlen), s, len);
}

/* Compiles pattern into the cache: an invalid one raises 2201B. */
void
jsonschema_regex_check(const char *pattern, int patlen)
{
	(void) regex_get(pattern, patlen);
}

/* A handle on a pattern for repeated matching (plan.c); raises if invalid. */
void
jsonschema_regex_prepare(JsRegexHandle *h, const char *pattern, int patlen)
{
	h->pattern = pattern;
	h->patlen = patlen;
	h->re = regex_get(pattern, patlen);
	h->generation = cache_generation;
}

bool
jsonschema_regex_match_prepared(JsRegexHandle *h, const char *s, int len)
{
	if (h->generation != cache_generation)
	{
		h->re = regex_get(h->pattern, h->patlen);
		h->generation = cache_generation;
	}
	/* the fast path only: validate.c always asks PCRE2 (the crosscheck) */
	if (h->re->fixed)
		return jsonschema_fixed_match(h->re->fixed, s, len);
	return regex_exec(h->re, s, len);
}

/* Does the handle's pattern match without PCRE2 (regex_fixed.c)? */
bool
jsonschema_regex_prepared_is_fixed(const JsRegexHandle *h)
{
	return h->re->fixed != NULL;
}

/*
 * For format "regex": is the string an ECMA-262 pattern?  ECMA's grammar
 * answers, not PCRE2: a variable-width lookbehind is a valid pattern that
 * "pattern" cannot run.  Never raises.
 */
bool
jsonschema_regex_valid(const char *pattern, int patlen)
{
	const char *why;
	int			where;
	int			ulen;
	const char *u = to_utf8(pattern, patlen, &ulen);

	return ecma_to_pcre2(u, ulen, &why, &where) != NULL;
}
