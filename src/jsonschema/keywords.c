/*
 * keywords.c
 *	  The JSON Schema keyword table (keywords.h) and what both walkers
 *	  share when they read a schema object: finding its keywords, entering
 *	  it ($schema, $id), the layout of the array keywords, counts, and
 *	  uniqueItems.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "keywords.h"

#define JS_FAST_YES true
#define JS_FAST_NO false

const JsKeyword js_keywords[K__COUNT] = {
#define JS_KW_ROW(id, name, drafts, vocab, applies, fast, step) \
	{name, sizeof(name) - 1, drafts, JS_VOCAB_##vocab, JS_FOR_##applies, JS_FAST_##fast},
	JS_KEYWORDS(JS_KW_ROW)
#undef JS_KW_ROW
};

/* the row of a name, or -1; rows are in byte order of their names */
static int
keyword_find(const char *s, int len)
{
	int			lo = 0,
				hi = K__COUNT - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const JsKeyword *k = &js_keywords[mid];
		int			c = memcmp(k->name, s, Min(k->len, len));

		if (c == 0)
			c = k->len - len;
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

void
js_keywords_read(const JsonbContainer *schema, JsKwSlots *out)
{
	JsonbIterator *it = JsonbIteratorInit((JsonbContainer *) schema);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			which = -1;

#ifdef USE_ASSERT_CHECKING
	for (int i = 1; i < K__COUNT; i++)
		Assert(strcmp(js_keywords[i - 1].name, js_keywords[i].name) < 0);
#endif
	memset(out, 0, sizeof(*out));
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			which = keyword_find(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE && which >= 0)
		{
			out->slot[which] = palloc(sizeof(JsonbValue));
			*out->slot[which] = v;
			out->applies |= js_keywords[which].applies;
		}
	}
}

const char *
js_schema_enter(const JsKwSlots *t, JsDraft *draft, const char *base)
{
	JsonbValue *x = t->slot[K_D_schema];
	JsDraft		d;

	if (x && x->type == jbvString &&
		jsonschema_draft_from_uri(pnstrdup(x->val.string.val, x->val.string.len), &d))
		*draft = d;
	/* "id" in draft 4, "$id" later: the table says which */
	x = js_kw(t, K_id, *draft, true);
	if (x == NULL)
		x = js_kw(t, K_D_id, *draft, true);
	if (x && x->type == jbvString && x->val.string.len > 0 && x->val.string.val[0] != '#' &&
		!(*draft <= JS_DRAFT7 && t->slot[K_D_ref]))
		base = uri_strip_fragment(uri_resolve(base, pnstrdup(x->val.string.val,
															 x->val.string.len)), NULL);
	return base;
}

static int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

bool
js_keyword_count(const JsonbValue *x, int64 *out)
{
	Numeric		n;

	if (x == NULL || x->type != jbvNumeric)
		return false;
	n = x->val.numeric;
	if (numeric_is_nan(n) || numeric_is_inf(n) || num_cmp(n, int64_to_numeric(0)) < 0 ||
		num_cmp(n, DatumGetNumeric(DirectFunctionCall1(numeric_floor, NumericGetDatum(n)))) != 0)
		return false;
	/* counts beyond int64 are as good as infinite */
	if (num_cmp(n, int64_to_numeric(PG_INT64_MAX)) > 0)
		*out = PG_INT64_MAX;
	else
		*out = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(n)));
	return true;
}

bool
js_values_unique(const JsonbValue *vals, int n, int *first, int *second)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
		{
			const JsonbValue *a = &vals[i],
					   *b = &vals[j];
			bool		equal;

			CHECK_FOR_INTERRUPTS();
			/* strings (ids, names), the common items, without a call */
			if (a->type == jbvString && b->type == jbvString)
				equal = a->val.string.len == b->val.string.len &&
					memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
			else
				equal = js_json_equal(a, b);
			if (equal)
			{
				if (first)
					*first = i;
				if (second)
					*second = j;
				return false;
			}
		}
	return true;
}
