/*
 * jsonb_text_fast.c
 *	  The common case of a message body, parsed in one pass straight into the
 *	  JsonbValue tree JsonbValueToJsonb() serialises: no lexer, no
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
	char	   *out = palloc(p->end - start);
	size_t		len = backslash - start;
	char	   *c = backslash;

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
		if (c + 1 >= p->end)
			return false;
		switch (c[1])
		{
			case '"':
			case '\\':
			case '/':
				out[len++] = c[1];
				break;
			case 'b':
				out[len++] = '\b';
				break;
			case 'f':
				out[len++] = '\f';
				break;
			case 'n':
				out[len++] = '\n';
				break;
			case 'r':
				out[len++] = '\r';
				break;
			case 't':
				out[len++] = '\t';
				break;
			default:
				return false;
		}
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
 * numeric by numeric_in() as jsonb_in() makes it.  What follows is the
 * caller's to check (a letter or digit there makes the text invalid, and
 * the caller gives up on anything but a delimiter).
 */
static bool
fast_number(FastParser *p, JsonbValue *v)
{
	char	   *start = p->s;
	char	   *c = start;
	char		digits[FAST_NUMBER_MAX + 1];

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
		c++;
		if (c >= p->end || *c < '0' || *c > '9')
			return false;
		while (c < p->end && *c >= '0' && *c <= '9')
			c++;
	}
	if (c - start > FAST_NUMBER_MAX || (c < p->end && (*c == 'e' || *c == 'E')))
		return false;
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

static bool
fast_object(FastParser *p, JsonbValue *v)
{
	int			base = p->npairs;
	int			n;
	bool		ok = true;

	p->s++;						/* past '{' */
	skip_whitespace(p);
	if (p->s < p->end && *p->s == '}')
		p->s++;
	else
	{
		do
		{
			JsonbPair	pair;

			CHECK_FOR_INTERRUPTS();
			skip_whitespace(p);
			if (p->s >= p->end || *p->s != '"' || !fast_string(p, &pair.key))
				return false;
			skip_whitespace(p);
			if (p->s >= p->end || *p->s++ != ':')
				return false;
			skip_whitespace(p);
			if (!fast_value(p, &pair.value))
				return false;
			pair.order = p->npairs - base;
			if (p->npairs == p->maxpairs)
			{
				p->maxpairs *= 2;
				p->pairs = repalloc(p->pairs, sizeof(JsonbPair) * p->maxpairs);
			}
			p->pairs[p->npairs++] = pair;
		} while (another(p, '}', &ok));
		if (!ok)
			return false;
	}
	n = p->npairs - base;
	v->type = jbvObject;
	v->val.object.pairs = NULL;
	if (n > 0)
	{
		v->val.object.pairs = palloc(sizeof(JsonbPair) * n);
		memcpy(v->val.object.pairs, p->pairs + base, sizeof(JsonbPair) * n);
		n = order_members(v->val.object.pairs, n);
	}
	v->val.object.nPairs = n;
	p->npairs = base;
	return true;
}

static bool
fast_array(FastParser *p, JsonbValue *v)
{
	int			base = p->nelems;
	int			n;
	bool		ok = true;

	p->s++;						/* past '[' */
	skip_whitespace(p);
	if (p->s < p->end && *p->s == ']')
		p->s++;
	else
	{
		do
		{
			JsonbValue	elem;

			CHECK_FOR_INTERRUPTS();
			skip_whitespace(p);
			if (!fast_value(p, &elem))
				return false;
			if (p->nelems == p->maxelems)
			{
				p->maxelems *= 2;
				p->elems = repalloc(p->elems, sizeof(JsonbValue) * p->maxelems);
			}
			p->elems[p->nelems++] = elem;
		} while (another(p, ']', &ok));
		if (!ok)
			return false;
	}
	n = p->nelems - base;
	v->type = jbvArray;
	v->val.array.rawScalar = false;
	v->val.array.nElems = n;
	v->val.array.elems = NULL;
	if (n > 0)
	{
		v->val.array.elems = palloc(sizeof(JsonbValue) * n);
		memcpy(v->val.array.elems, p->elems + base, sizeof(JsonbValue) * n);
	}
	p->nelems = base;
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
			ok = *p->s == '{' ? fast_object(p, v) : fast_array(p, v);
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
	return JsonbValueToJsonb(&v);
}
