/*
 * regex.c
 *	  ECMA-262 patterns on PostgreSQL's regex engine (Spencer ARE).
 *
 *	  A pattern is translated to ARE syntax where the two differ: \d \w \s
 *	  are ASCII/ECMA sets rather than locale classes, "." excludes line
 *	  terminators, \b is \y, \cX and \u{...} become code points, named
 *	  groups become plain groups, and identity escapes of letters are the
 *	  letter, and \p{L}-style property escapes become POSIX classes evaluated
 *	  with the ICU collation (Unicode data).  Named back-references and
 *	  other properties have no ARE counterpart and are refused with a clear
 *	  error.  Otherwise matching uses the C collation, so classes never
 *	  depend on the server locale.
 *	  Compiled expressions are cached by PostgreSQL (RE_compile_and_cache).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_collation_d.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "regex/regex.h"
#include "nodes/value.h"
#include "utils/builtins.h"

#include "jsonschema.h"

#define ECMA_SPACE "\\x20\\t\\n\\v\\f\\r\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
#define ECMA_WORD "a-zA-Z0-9_"

/* Returns the ARE text, or NULL with *why set when there is no equivalent. */
/* \p{...} / \P{...}: the ARE class name for a Unicode property, or NULL. */
static const char *
property_class(const char *name, int len)
{
	static const char *const map[][2] = {
		{"L", "alpha"}, {"Letter", "alpha"}, {"Alphabetic", "alpha"},
		{"Lu", "upper"}, {"Uppercase_Letter", "upper"}, {"Uppercase", "upper"},
		{"Ll", "lower"}, {"Lowercase_Letter", "lower"}, {"Lowercase", "lower"},
		{"Nd", "digit"}, {"Decimal_Number", "digit"}, {"digit", "digit"},
		{"P", "punct"}, {"Punctuation", "punct"},
		{"White_Space", "space"}, {"space", "space"},
		{NULL, NULL}
	};

	for (int i = 0; map[i][0]; i++)
		if ((int) strlen(map[i][0]) == len && strncmp(map[i][0], name, len) == 0)
			return map[i][1];
	return NULL;
}

/*
 * capture: whether ECMA's capturing groups stay capturing in ARE.  Only
 * back-references need them, and the matcher is faster without; *backrefs
 * says whether the pattern had any.
 */
static char *
ecma_to_are_groups(const char *p, int len, const char **why, bool *unicode, bool strict,
				   bool capture, bool *backrefs)
{
	StringInfoData out;
	bool		in_class = false;
	int			i;
	int			groups = 0;
	List	   *names = NIL;	/* group names, in group order (NULL: unnamed) */

	initStringInfo(&out);
	for (i = 0; i < len; i++)
	{
		char		c = p[i];

		if (c == '\\')
		{
			char		d;

			if (++i >= len)
			{
				*why = "pattern ends with a backslash";
				return NULL;
			}
			d = p[i];
			switch (d)
			{
				case 'd':
					appendStringInfoString(&out, in_class ? "0-9" : "[0-9]");
					break;
				case 'w':
					appendStringInfoString(&out, in_class ? ECMA_WORD : "[" ECMA_WORD "]");
					break;
				case 's':
					appendStringInfoString(&out, in_class ? ECMA_SPACE : "[" ECMA_SPACE "]");
					break;
				case 'D':
				case 'W':
				case 'S':
					if (in_class)
					{
						*why = "negated class escapes (\\D, \\W, \\S) inside [...] are not supported";
						return NULL;
					}
					appendStringInfoString(&out, d == 'D' ? "[^0-9]" :
										   d == 'W' ? "[^" ECMA_WORD "]" : "[^" ECMA_SPACE "]");
					break;
				case 'b':
					appendStringInfoString(&out, in_class ? "\\x08" : "\\y");
					break;
				case 'B':
					appendStringInfoString(&out, "\\Y");
					break;
				case 'c':
					if (i + 1 < len && isalpha((unsigned char) p[i + 1]))
					{
						appendStringInfo(&out, "\\x%02x", p[i + 1] % 32);
						i++;
					}
					else
						appendStringInfoString(&out, "\\\\c");
					break;
				case 'u':
					if (i + 1 < len && p[i + 1] == '{')
					{
						const char *close = memchr(p + i, '}', len - i);

						if (close == NULL)
						{
							*why = "unterminated \\u{...} escape";
							return NULL;
						}
						appendStringInfo(&out, "\\U%08lx",
										 strtol(pnstrdup(p + i + 2, close - (p + i + 2)), NULL, 16));
						i = close - p;
					}
					else
						appendStringInfoString(&out, "\\u");
					break;
				case 'x':
				case 'f':
				case 'n':
				case 'r':
				case 't':
				case 'v':
					appendStringInfoChar(&out, '\\');
					appendStringInfoChar(&out, d);
					break;
				case '0':
					appendStringInfoString(&out, "\\x00");
					break;
				case 'p':
				case 'P':
					{
						const char *close = (i + 1 < len && p[i + 1] == '{') ?
							memchr(p + i, '}', len - i) : NULL;
						const char *cls = close ?
							property_class(p + i + 2, close - (p + i + 2)) : NULL;

						if (cls == NULL || (in_class && d == 'P'))
						{
							*why = "this Unicode property escape is not supported (supported: \\p{L}, \\p{Lu}, \\p{Ll}, \\p{Nd}, \\p{P}, \\p{White_Space} and their long names)";
							return NULL;
						}
						if (in_class)
							appendStringInfo(&out, "[:%s:]", cls);
						else
							appendStringInfo(&out, "[%s[:%s:]]", d == 'P' ? "^" : "", cls);
						*unicode = true;
						i = close - p;
					}
					break;
				case 'k':
					{
						const char *close = (i + 1 < len && p[i + 1] == '<') ?
							memchr(p + i, '>', len - i) : NULL;
						int			n = 0;
						ListCell   *lc;

						if (close)
							foreach(lc, names)
							{
								const char *nm = lfirst(lc);

								n++;
								if (nm && (int) strlen(nm) == close - (p + i + 2) &&
									strncmp(nm, p + i + 2, close - (p + i + 2)) == 0)
									break;
								if (lnext(names, lc) == NULL)
									n = 0;
							}
						if (close == NULL || n == 0 || n > 9)
						{
							*why = "\\k<name> names no earlier group";
							return NULL;
						}
						appendStringInfo(&out, "\\%d", n);
						*backrefs = true;
						i = close - p;
					}
					break;
				default:
					if (isdigit((unsigned char) d))
					{
						appendStringInfoChar(&out, '\\');	/* back-reference */
						appendStringInfoChar(&out, d);
						*backrefs = true;
					}
					else if (isalpha((unsigned char) d))
					{
						if (strict)
						{
							*why = "\\ before a letter that is no ECMA 262 escape";
							return NULL;
						}
						appendStringInfoChar(&out, d);	/* identity escape */
					}
					else
					{
						appendStringInfoChar(&out, '\\');
						appendStringInfoChar(&out, d);
					}
					break;
			}
			continue;
		}
		if (in_class)
		{
			if (c == ']')
				in_class = false;
			if (c == '[')
				appendStringInfoString(&out, "\\[");
			else
				appendStringInfoChar(&out, c);
			continue;
		}
		switch (c)
		{
			case '[':
				in_class = true;
				appendStringInfoChar(&out, '[');
				if (i + 1 < len && p[i + 1] == '^')
					appendStringInfoChar(&out, p[++i]);
				/* ECMA "[]" matches nothing and "[^]" anything */
				if (i + 1 < len && p[i + 1] == ']')
				{
					out.len--;
					if (out.data[out.len] == '^')
					{
						out.len--;
						appendStringInfoString(&out, "(?:.|\\n)");
					}
					else
						appendStringInfoString(&out, "(?!)");
					out.data[out.len] = '\0';
					in_class = false;
					i++;
				}
				break;
			case '.':
				appendStringInfoString(&out, "[^\\n\\r\\u2028\\u2029]");
				break;
			case '(':
				if (i + 2 < len && p[i + 1] == '?' && p[i + 2] == '<' &&
					i + 3 < len && p[i + 3] != '=' && p[i + 3] != '!')
				{
					const char *close = memchr(p + i, '>', len - i);

					if (close == NULL)
					{
						*why = "unterminated group name";
						return NULL;
					}
					appendStringInfoString(&out, capture ? "(" : "(?:");
					names = lappend(names, pnstrdup(p + i + 3, close - (p + i + 3)));
					groups++;
					i = close - p;
				}
				else if (i + 1 < len && p[i + 1] == '?')
				{
					/* ECMA has only (?: (?= (?! (?<= (?<! -- no inline flags or comments */
					if (!(i + 2 < len && strchr(":=!<", p[i + 2])))
					{
						*why = "\"(?\" starts no ECMA 262 group kind here";
						return NULL;
					}
					appendStringInfoChar(&out, '(');
				}
				else
				{
					appendStringInfoString(&out, capture ? "(" : "(?:");
					names = lappend(names, NULL);
					groups++;
				}
				break;
			default:
				appendStringInfoChar(&out, c);
				break;
		}
	}
	return out.data;
}

/* Returns the ARE text, or NULL with *why set when there is no equivalent. */
static char *
ecma_to_are(const char *p, int len, const char **why, bool *unicode, bool strict)
{
	bool		backrefs = false;
	char	   *are = ecma_to_are_groups(p, len, why, unicode, strict, true, &backrefs);

	if (are == NULL || backrefs)
		return are;
	/* the same pattern without captures: nothing refers to them */
	return ecma_to_are_groups(p, len, why, unicode, strict, false, &backrefs);
}

/*
 * Character classes follow the C collation (ASCII), except for patterns with
 * Unicode property escapes, which need ICU's Unicode character database.
 */
static Oid
pattern_collation(bool unicode)
{
	static Oid	icu = InvalidOid;

	if (!unicode)
		return C_COLLATION_OID;
	if (!OidIsValid(icu))
		icu = get_collation_oid(list_make2(makeString("pg_catalog"), makeString("und-x-icu")), true);
	if (!OidIsValid(icu))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("JSON Schema patterns with \\p{...} need the ICU collation \"und-x-icu\"")));
	return icu;
}

bool
jsonschema_regex_match(const char *pattern, int patlen, const char *s, int len)
{
	const char *why = NULL;
	bool		unicode = false;
	char	   *are = ecma_to_are(pattern, patlen, &why, &unicode, false);

	if (are == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("unsupported JSON Schema pattern \"%.*s\"", patlen, pattern),
				 errdetail("%s.", why)));
	return RE_compile_and_execute(cstring_to_text(are), (char *) s, len,
								  REG_ADVANCED | REG_NOSUB, pattern_collation(unicode), 0, NULL);
}

/*
 * Translates a pattern once, for matching many strings with
 * jsonschema_regex_match_prepared.  False (never an error) when the pattern
 * has no ARE equivalent; jsonschema_regex_match explains why.
 */
bool
jsonschema_regex_prepare(const char *pattern, int patlen, text **are, bool *unicode)
{
	const char *why = NULL;
	char	   *s;

	*unicode = false;
	s = ecma_to_are(pattern, patlen, &why, unicode, false);
	if (s == NULL)
		return false;
	*are = cstring_to_text(s);
	return true;
}

bool
jsonschema_regex_match_prepared(text *are, bool unicode, const char *s, int len)
{
	return RE_compile_and_execute(are, (char *) s, len, REG_ADVANCED | REG_NOSUB,
								  pattern_collation(unicode), 0, NULL);
}

/* For format "regex": does the pattern compile?  Never raises. */
bool
jsonschema_regex_valid(const char *pattern, int patlen)
{
	const char *why = NULL;
	bool		unicode = false;
	char	   *are = ecma_to_are(pattern, patlen, &why, &unicode, true);
	pg_wchar   *w;
	int			wlen;
	regex_t		re;
	int			rc;

	if (are == NULL)
		return false;
	w = palloc((strlen(are) + 1) * sizeof(pg_wchar));
	wlen = pg_mb2wchar_with_len(are, w, strlen(are));
	rc = pg_regcomp(&re, w, wlen, REG_ADVANCED, C_COLLATION_OID);	/* syntax only */
	if (rc == REG_OKAY)
		pg_regfree(&re);
	pfree(w);
	return rc == REG_OKAY;
}
