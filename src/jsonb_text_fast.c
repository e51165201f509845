/*
 * jsonb_text_fast.c
 *	  The common case of a message body, parsed in one pass straight into a
 *	  JsonbValue tree, written as jsonb by jsonb_serialize.c: no lexer, no
 *	  pushJsonbValue(), and object keys put in jsonb's order by an insertion
 *	  sort in place (the ingest worker's profile had the lexer's calls, the
 *	  pushes and qsort_arg()'s comparisons at two thirds of a 350-byte
 *	  envelope's parse).
 *
 *	  It takes only what it can take exactly as jsonb_in() does: strings
 *	  whose escapes are the two-character ones (\" \\ \/ \b \f \n \r \t),
 *	  numbers without an exponent and of at most FAST_NUMBER_MAX bytes (which
 *	  numeric_in() never refuses), true, false, null, and nesting within
 *	  JSONB_TEXT_MAX_DEPTH.  At anything else, a \u escape, an exponent, or
 *	  any syntax error, it gives up and jsonb_text.c parses the text with
 *	  PostgreSQL's lexer, which finds the error and reports it as jsonb_in()
 *	  would; so the errors stay the full parser's.  fuzz/target_jsonb_text.c
 *	  checks jsonb_from_text(), this path included, against jsonb_in().
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "json_plain_bytes.h"
#include "jsonb_serialize.h"
#include "jsonb_text.h"
#include "jsonb_text_fast.h"

/* longer numbers go to the full parser (numeric_in throws only far beyond) */
#define FAST_NUMBER_MAX 15
/* objects with more keys are sorted by qsort_arg(), not by insertion */
#define INSERTION_SORT_MAX 24

typedef struct FastParser
{
	char	   *s;				/* the next byte */
	char	   *end;
	int			depth;			/* containers open */
	/* the members and elements of the open containers, innermost last */
	JsonbPair  *pairs;
	int			npairs;
	int			maxpairs;
	JsonbValue *elems;
	int			nelems;
	int			maxelems;
} FastParser;

static bool fast_value(FastParser *p, JsonbValue *v);

static inline void
skip_whitespace(FastParser *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t'))
		p->s++;
}

/* jsonb's order of keys: shorter first, then bytewise */
static inline int
key_cmp(const JsonbValue *a, const JsonbValue *b)
{
	if (a->val.string.len != b->val.string.len)
		return a->val.string.len > b->val.string.len ? 1 : -1;
	return memcmp(a->val.string.val, b->val.string.val, a->val.string.len);
}

/* the same, ties broken by position in the text: a stable order */
static int
pair_cmp(const void *a, const void *b, void *arg pg_attribute_unused())
{
	const JsonbPair *pa = a;
	const JsonbPair *pb = b;
	int			c = key_cmp(&pa->key, &pb->key);

	if (c != 0)
		return c;
	return pa->order > pb->order ? 1 : (pa->order < pb->order ? -1 : 0);
}

/*
 * The members in jsonb's order, of each duplicated key the last in the
 * text only (as jsonb_in keeps it); returns how many remain.
 */
static int
order_members(JsonbPair *pairs, int n)
{
	int			kept = 0;

	if (n <= INSERTION_SORT_MAX)
	{
		for (int i = 1; i < n; i++)
		{
			JsonbPair	pair = pairs[i];
			int			j = i;

			/* stable: an equal key stays after the earlier one */
			while (j > 0 && key_cmp(&pairs[j - 1].key, &pair.key) > 0)
			{
				pairs[j] = pairs[j - 1];
				j--;
			}
			pairs[j] = pair;
		}
	}
	else
		qsort_arg(pairs, n, sizeof(JsonbPair), pair_cmp, NULL);
	for (int i = 0; i < n; i++)
	{
		if (i + 1 < n && key_cmp(&pairs[i].key, &pairs[i + 1].key) == 0)
			continue;			/* a later one of the same key follows */
		if (kept != i)
			pairs[kept] = pairs[i];
		kept++;
	}
	return kept;
}

/*
 * A string with escapes, from its first backslash on: de-escaped into a
 * copy.  False for a \u escape (the full parser converts those), an escape
 * JSON does not have, a control character or no closing quote.
 */
static bool
fast_escaped_string(FastParser *p, char *start, char *backslash, JsonbValue *v)
{
	size_t		len = backslash - start;
	char	   *c = backslash;
	char	   *close = backslash;
	char	   *out;
	static const char escapes[] = "\"\\/bfnrt";
	static const char unescaped[] = "\"\\/\b\f\n\r\t";
	const char *escape;

	/* room for the string as it stands, not for the rest of the text */
	while (close < p->end && *close != '"')
		close += *close == '\\' ? 2 : 1;
	if (close >= p->end)
		return false;
	out = palloc(close - start);
	memcpy(out, start, len);
	while (c < p->end)
	{
		unsigned char ch = (unsigned char) *c;

		if (ch == '"')
		{
			if (len > JENTRY_OFFLENMASK)
				return false;
			v->type = jbvString;
			v->val.string.val = out;
			v->val.string.len = (int) len;
			p->s = c + 1;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch != '\\')
		{
			out[len++] = (char) ch;
			c++;
			continue;
		}
		/* the escapes JSON spells with one letter, and what each stands for */
		if (c + 1 >= p->end || (escape = memchr(escapes, c[1], sizeof(escapes) - 1)) == NULL)
			return false;
		out[len++] = unescaped[escape - escapes];
		c += 2;
	}
	return false;
}

/* A string, from its opening quote; an escape-free one is kept in place. */
static bool
fast_string(FastParser *p, JsonbValue *v)
{
	char	   *start = p->s + 1;
	char	   *c = start + json_plain_words(start, p->end);

	for (; c < p->end; c++)
	{
		unsigned char ch = (unsigned char) *c;

		if (ch == '"')
		{
			if ((size_t) (c - start) > JENTRY_OFFLENMASK)
				return false;
			v->type = jbvString;
			v->val.string.val = start;
			v->val.string.len = (int) (c - start);
			p->s = c + 1;
			return true;
		}
		if (ch == '\\')
			return fast_escaped_string(p, start, c, v);
		if (ch < 0x20)
			return false;
	}
	return false;
}

/*
 * -?(0|[1-9][0-9]*)(\.[0-9]+)? of at most FAST_NUMBER_MAX bytes, made a
 * numeric as jsonb_in() makes it: by numeric_in(), or for an integer by
 * int64_to_numeric(), which gives the same numeric for a fraction of the
 * cost.  What follows is the caller's to check (a letter or digit there
 * makes the text invalid, and the caller gives up on anything but a
 * delimiter).
 */
static bool
fast_number(FastParser *p, JsonbValue *v)
{
	char	   *start = p->s;
	char	   *c = start;
	char		digits[FAST_NUMBER_MAX + 1];
	bool		integer = true;

	if (*c == '-')
		c++;
	if (c < p->end && *c == '0')
		c++;
	else if (c < p->end && *c >= '1' && *c <= '9')
	{
		while (c < p->end && *c >= '0' && *c <= '9')
			c++;
	}
	else
		return false;
	if (c < p->end && *c == '.')
	{
		integer = false;
		c++;
		if (c >= p->end || *c < '0' || *c > '9')
			return false;
		while (c < p->end && *c >= '0' && *c <= '9')
			c++;
	}
	if (c - start > FAST_NUMBER_MAX || (c < p->end && (*c == 'e' || *c == 'E')))
		return false;
	if (integer)
	{
		/* at most 15 digits: an int64, made the numeric numeric_in() makes of it */
		int64		value = 0;

		for (const char *d = *start == '-' ? start + 1 : start; d < c; d++)
			value = value * 10 + (*d - '0');
		v->type = jbvNumeric;
		v->val.numeric = int64_to_numeric(*start == '-' ? -value : value);
		p->s = c;
		return true;
	}
	memcpy(digits, start, c - start);
	digits[c - start] = '\0';
	v->type = jbvNumeric;
	v->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(digits),
														 ObjectIdGetDatum(InvalidOid),
														 Int32GetDatum(-1)));
	p->s = c;
	return true;
}

/* true, false or null, exactly */
static bool
fast_literal(FastParser *p, const char *word, int len)
{
	if (p->end - p->s < len || memcmp(p->s, word, len) != 0)
		return false;
	p->s += len;
	return true;
}

/* After a member or element: true at a comma (skipped), false at the closer. */
static inline bool
another(FastParser *p, char closer, bool *ok)
{
	skip_whitespace(p);
	*ok = p->s < p->end && (*p->s == ',' || *p->s == closer);
	return *ok && *p->s++ == ',';
}

/* A stack of the open containers (n on it, room for *max), with room for one more. */
static void *
room_for_one(void *stack, int n, int *max, Size size)
{
	if (n == *max)
	{
		*max *= 2;
		stack = repalloc(stack, size * *max);
	}
	return stack;
}

/* The entries of a stack from base on, copied into memory of their own. */
static void *
copy_from(void *stack, int base, int n, Size size)
{
	void	   *copy;

	if (n == 0)
		return NULL;
	copy = palloc(size * n);
	memcpy(copy, (char *) stack + size * base, size * n);
	return copy;
}

/* An object's member, at its key: pushed on p->pairs. */
static bool
fast_member(FastParser *p, int base)
{
	JsonbPair	pair;

	if (p->s >= p->end || *p->s != '"' || !fast_string(p, &pair.key))
		return false;
	skip_whitespace(p);
	if (p->s >= p->end || *p->s++ != ':')
		return false;
	skip_whitespace(p);
	if (!fast_value(p, &pair.value))
		return false;
	pair.order = p->npairs - base;
	p->pairs = room_for_one(p->pairs, p->npairs, &p->maxpairs, sizeof(JsonbPair));
	p->pairs[p->npairs++] = pair;
	return true;
}

/* An array's element: pushed on p->elems. */
static bool
fast_element(FastParser *p)
{
	JsonbValue	elem;

	if (!fast_value(p, &elem))
		return false;
	p->elems = room_for_one(p->elems, p->nelems, &p->maxelems, sizeof(JsonbValue));
	p->elems[p->nelems++] = elem;
	return true;
}

/*
 * An object or an array, from its opening bracket: its members or elements
 * are pushed, then moved into a JsonbValue of their own (an object's put in
 * jsonb's order) and popped.
 */
static bool
fast_container(FastParser *p, JsonbValue *v, bool object)
{
	char		closer = object ? '}' : ']';
	int			base = object ? p->npairs : p->nelems;
	int			n;
	bool		ok = true;

	p->s++;						/* past the bracket */
	skip_whitespace(p);
	if (p->s < p->end && *p->s == closer)
		p->s++;
	else
	{
		do
		{
			CHECK_FOR_INTERRUPTS();
			skip_whitespace(p);
			if (!(object ? fast_member(p, base) : fast_element(p)))
				return false;
		} while (another(p, closer, &ok));
		if (!ok)
			return false;
	}
	if (object)
	{
		n = p->npairs - base;
		v->type = jbvObject;
		v->val.object.pairs = copy_from(p->pairs, base, n, sizeof(JsonbPair));
		v->val.object.nPairs = order_members(v->val.object.pairs, n);
		p->npairs = base;
	}
	else
	{
		n = p->nelems - base;
		v->type = jbvArray;
		v->val.array.rawScalar = false;
		v->val.array.elems = copy_from(p->elems, base, n, sizeof(JsonbValue));
		v->val.array.nElems = n;
		p->nelems = base;
	}
	return true;
}

/* A value at p->s (whitespace skipped), then past it. */
static bool
fast_value(FastParser *p, JsonbValue *v)
{
	bool		ok;

	if (p->s >= p->end)
		return false;
	switch (*p->s)
	{
		case '"':
			return fast_string(p, v);
		case '{':
		case '[':
			/* deeper is the full parser's to report */
			if (++p->depth > JSONB_TEXT_MAX_DEPTH)
				return false;
			ok = fast_container(p, v, *p->s == '{');
			p->depth--;
			return ok;
		case 't':
			v->type = jbvBool;
			v->val.boolean = true;
			return fast_literal(p, "true", 4);
		case 'f':
			v->type = jbvBool;
			v->val.boolean = false;
			return fast_literal(p, "false", 5);
		case 'n':
			v->type = jbvNull;
			return fast_literal(p, "null", 4);
		default:
			return fast_number(p, v);
	}
}

Jsonb *
jsonb_from_text_fast(char *json, int len)
{
	FastParser	p = {.s = json,.end = json + len,.maxpairs = 32,.maxelems = 32};
	JsonbValue	v;

	p.pairs = palloc(sizeof(JsonbPair) * p.maxpairs);
	p.elems = palloc(sizeof(JsonbValue) * p.maxelems);
	skip_whitespace(&p);
	if (!fast_value(&p, &v))
		return NULL;
	skip_whitespace(&p);
	if (p.s != p.end)
		return NULL;
	pfree(p.pairs);
	pfree(p.elems);
	if (v.type != jbvObject && v.type != jbvArray)
	{
		/* a scalar document: jsonb holds it as a one-element raw-scalar array */
		JsonbValue	scalar = v;

		v.type = jbvArray;
		v.val.array.rawScalar = true;
		v.val.array.nElems = 1;
		v.val.array.elems = palloc(sizeof(JsonbValue));
		v.val.array.elems[0] = scalar;
	}
	return jsonb_serialize(&v);
}
