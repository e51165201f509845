/*
 * plan.c
 *	  The fast boolean path of the JSON Schema engine.
 *
 *	  A compiled schema is turned, once, into a plan: for every schema object
 *	  its keywords are decoded ahead of time (type masks, property and
 *	  required lists in jsonb key order, numeric limits, translated patterns,
 *	  format checkers).  Deciding whether a document is valid is then one
 *	  walk over the jsonb as PostgreSQL stores it, reading containers entry
 *	  by entry, stopping at the first failure and allocating nothing on the
 *	  common paths.
 *
 *	  The plan answers only "valid or not"; validate.c stays the reference,
 *	  and the one that explains failures.  Both read a schema object's
 *	  keywords through the table of keywords.h, which says which drafts and
 *	  vocabulary each keyword belongs to, the instance type it applies to
 *	  and which step of each walker handles it.  Schemas using a keyword the
 *	  table marks as not fast (annotations: unevaluatedProperties/Items;
 *	  the dynamic scope: $dynamicRef, $recursiveRef), or holding anything
 *	  validate.c would raise an error about, get no plan: validate.c
 *	  handles them.  A $ref is resolved when first followed, as validate.c
 *	  does; when the walk meets something it cannot decide (a $ref loop, an
 *	  unresolvable target) it gives up and validate.c redoes the document.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "jsonb_cursor.h"
#include "jsonschema.h"
#include "keywords.h"

/* instance type bits of "type" */
#define T_NULL		0x01
#define T_BOOLEAN	0x02
#define T_OBJECT	0x04
#define T_ARRAY		0x08
#define T_STRING	0x10
#define T_NUMBER	0x20
#define T_INTEGER	0x40

typedef struct JsPlan JsPlan;

typedef struct JsPlanKey
{
	const char *s;
	int			len;
} JsPlanKey;

/* A key properties or required names: one merge with the instance's keys. */
typedef struct JsPlanKnown
{
	JsPlanKey	key;
	JsPlan	   *schema;			/* properties: its schema; NULL: required only */
	bool		required;
} JsPlanKnown;

/*
 * A pattern remembers its verdicts on recent short strings, direct-mapped
 * by hash: the strings patterns check in events (event types, versions,
 * codes, property names) repeat from one document to the next, and a
 * remembered verdict costs a hash and a memcmp, less than a match.  Strings
 * that never repeat (ids, hashes) would only pay for the memo: a pattern
 * whose memo answers fewer than half of a round of lookups stops using it.
 */
#define PATTERN_MEMO_SLOTS	32
#define PATTERN_MEMO_MAX_LEN 64 /* longer strings are not remembered */
#define PATTERN_MEMO_ROUND	256 /* lookups between two checks of the hit rate */

typedef struct JsPatternMemo
{
	char	   *s;				/* NULL: empty slot */
	int			len;
	bool		verdict;
} JsPatternMemo;

typedef struct JsPlanPattern
{
	bool		present;		/* false: no pattern */
	JsRegexHandle re;
	JsPlan	   *schema;			/* patternProperties only */
	JsPatternMemo *memo;		/* PATTERN_MEMO_SLOTS, in the schema's context */
	bool		memo_off;		/* it did not pay: match every string */
	int			lookups;		/* in this round */
	int			hits;
} JsPlanPattern;

/* dependentRequired, dependentSchemas and both forms of dependencies */
typedef struct JsPlanDep
{
	JsPlanKey	key;			/* when this property is present ... */
	JsPlanKey  *required;		/* ... these must be too, */
	int			n_required;
	JsPlan	   *schema;			/* ... or the object must match this */
} JsPlanDep;

struct JsPlan
{
	bool		is_bool;
	bool		bool_value;

	/* memo: the same schema object reached with the same base and draft */
	const JsonbContainer *memo_key;
	const char *in_base;
	JsDraft		in_draft;
	JsPlan	   *memo_next;

	JsDraft		draft;			/* after $schema */
	const char *base;			/* after $id: what $ref resolves against */

	const char *ref;			/* $ref, resolved when first followed */
	bool		ref_only;		/* up to draft 7 $ref hides its siblings */
	bool		ref_resolved;
	JsPlan	   *ref_target;
	const void *ref_key;		/* target schema object, for loop detection */

	bool		has_type;
	uint8		types;
	JsonbValue *enums;
	int			n_enum;
	bool		has_enum;
	JsonbValue *const_val;
	JsPlan	  **all_of;
	int			n_all_of;
	JsPlan	  **any_of;
	int			n_any_of;
	JsPlan	  **one_of;
	int			n_one_of;
	JsPlan	   *not_schema;
	JsPlan	   *if_schema;
	JsPlan	   *then_schema;
	JsPlan	   *else_schema;
	bool		applicators;	/* any of the five above */
	bool		leaf;			/* neither $ref nor applicators */

	/* objects */
	bool		object_kw;
	bool		walk_keys;		/* something applies to each property */
	JsPlanKnown *known;			/* properties and required, in jsonb key order */
	int			n_known;
	JsPlanPattern *pprops;
	int			n_pprops;
	JsPlan	   *additional;
	JsPlan	   *prop_names;
	JsPlanKey  *required;		/* in jsonb key order, no duplicates */
	int			n_required;
	int64		min_props;		/* -1: none */
	int64		max_props;
	JsPlanDep  *deps;
	int			n_deps;

	/* arrays */
	bool		array_kw;
	JsPlan	  **prefix;			/* prefixItems, or items as an array */
	int			n_prefix;
	JsPlan	   *rest;			/* items after the prefix (or all items) */
	JsPlan	   *contains;
	int64		min_contains;
	int64		max_contains;	/* -1: none */
	int64		min_items;
	int64		max_items;
	bool		unique;

	/* numbers */
	bool		number_kw;
	Numeric		multiple_of;
	bool		multiple_of_zero;	/* nothing is a multiple of 0 */
	Numeric		maximum;
	Numeric		minimum;
	Numeric		ex_maximum;
	Numeric		ex_minimum;
	int			maximum_sign;	/* each limit's sign, for num_cmp_limit */
	int			minimum_sign;
	int			ex_maximum_sign;
	int			ex_minimum_sign;

	/* strings */
	bool		string_kw;
	int64		min_length;
	int64		max_length;
	JsPlanPattern pattern;		/* present == false: none */
	int			format;			/* -1: none or unknown */
};

typedef enum JsPlanStatus
{
	PLAN_UNTRIED = 0,
	PLAN_READY,
	PLAN_NONE					/* validate.c handles this schema */
} JsPlanStatus;

/* What hangs off JsSchema->plan. */
typedef struct JsPlanSet
{
	JsPlan	   *root;
	HTAB	   *memo;			/* schema container -> JsPlan chain */
	bool		unsupported;	/* set while compiling */
} JsPlanSet;

typedef struct JsPlanMemo
{
	const JsonbContainer *key;
	JsPlan	   *plans;
} JsPlanMemo;

/* An active $ref jump; a chain on the C stack. */
typedef struct JsJump
{
	const void *target;
	int			depth;
	const struct JsJump *up;
} JsJump;

typedef struct JsWalker
{
	JsSchema   *s;
	const JsJump *jumps;
	bool		gave_up;		/* validate.c must decide */
} JsWalker;

/*
 * jsonb's object key order: shorter first, then bytewise.  Keys are short:
 * inline steps of 8 and 4 bytes beat calling memcmp; a word read in
 * big-endian order compares as its bytes do.
 */
static inline int
key_cmp(const char *a, int alen, const char *b, int blen)
{
	int			i = 0;

	if (alen != blen)
		return alen < blen ? -1 : 1;
	for (; i + 8 <= alen; i += 8)
	{
		uint64		x,
					y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return pg_hton64(x) < pg_hton64(y) ? -1 : 1;
	}
	if (i + 4 <= alen)
	{
		uint32		x,
					y;

		memcpy(&x, a + i, 4);
		memcpy(&y, b + i, 4);
		if (x != y)
			return pg_hton32(x) < pg_hton32(y) ? -1 : 1;
		i += 4;
	}
	for (; i < alen; i++)
		if (a[i] != b[i])
			return (unsigned char) a[i] < (unsigned char) b[i] ? -1 : 1;
	return 0;
}

static int
plankey_cmp(const void *a, const void *b)
{
	const JsPlanKey *x = a;
	const JsPlanKey *y = b;

	return key_cmp(x->s, x->len, y->s, y->len);
}

static bool
has_key(const JsonbValue *obj, const JsPlanKey *k)
{
	JsonbValue	res;

	return getKeyJsonValueFromContainer(obj->val.binary.data, k->s, k->len, &res) != NULL;
}

/* ---------------------------------------------------------------------
 * Numbers
 * ---------------------------------------------------------------------
 */
static inline int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

/* -1, 0 or 1 */
static int
num_sign(Numeric n)
{
	int			c = num_cmp(n, int64_to_numeric(0));

	return (c > 0) - (c < 0);
}

/*
 * A stored numeric's sign and display scale, read from its header: one
 * function call less per comparison with 0 ("minimum": 0 is the commonest
 * numeric keyword) and per "integer" check.  The layout is numeric.c's
 * on-disk format, which pg_upgrade keeps stable: a short header (flag bits
 * 10, a sign bit, 6 bits of display scale) or a long one (sign bits 00 or
 * 01, 14 bits of display scale, then a weight), then the base-10000 digits;
 * zero has none.  numeric_header_trusted() checks this reading against
 * numeric_cmp and numeric_scale once per backend; should they ever
 * disagree, the function calls are used instead.
 */
#define NUMHDR_FLAG_MASK	0xC000
#define NUMHDR_NEG			0x4000
#define NUMHDR_SHORT		0x8000
#define NUMHDR_SPECIAL		0xC000
#define NUMHDR_SHORT_NEG	0x2000
#define NUMHDR_SHORT_DSCALE_MASK	0x1F80
#define NUMHDR_SHORT_DSCALE_SHIFT	7
#define NUMHDR_DSCALE_MASK	0x3FFF

static inline bool
numeric_header_read(Numeric n, int *sign, int *dscale)
{
	const char *data = VARDATA_ANY(n);
	Size		len = VARSIZE_ANY_EXHDR(n);
	Size		digits;
	uint16		h;
	bool		neg;

	if (len < sizeof(uint16))
		return false;
	memcpy(&h, data, sizeof(uint16));
	switch (h & NUMHDR_FLAG_MASK)
	{
		case NUMHDR_SPECIAL:
			return false;		/* NaN, infinities */
		case NUMHDR_SHORT:
			*dscale = (h & NUMHDR_SHORT_DSCALE_MASK) >> NUMHDR_SHORT_DSCALE_SHIFT;
			neg = (h & NUMHDR_SHORT_NEG) != 0;
			digits = len - sizeof(uint16);
			break;
		default:
			if (len < 2 * sizeof(uint16))
				return false;
			*dscale = h & NUMHDR_DSCALE_MASK;
			neg = (h & NUMHDR_FLAG_MASK) == NUMHDR_NEG;
			digits = len - 2 * sizeof(uint16);
			break;
	}
	*sign = digits == 0 ? 0 : neg ? -1 : 1;
	return true;
}

static int	numeric_header_state = -1;	/* -1: unchecked, 0: distrusted, 1: trusted */

static bool
numeric_header_trusted(void)
{
	static const char *const samples[] = {
		"0", "0.000", "7", "-7", "-1.5", "12345678901234567890.25", "-1e300",
		"1e-100", "-0.0000000000000000000000000000000000000000000000000000000000000000001"
	};

	if (numeric_header_state >= 0)
		return numeric_header_state == 1;
	numeric_header_state = 1;
	for (int i = 0; i < (int) lengthof(samples); i++)
	{
		Numeric		n = DatumGetNumeric(DirectFunctionCall3(numeric_in,
														CStringGetDatum(samples[i]),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
		int			sign,
					dscale;

		if (!numeric_header_read(n, &sign, &dscale) ||
			sign != num_sign(n) ||
			dscale != DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(n))))
			numeric_header_state = 0;
	}
	return numeric_header_state == 1;
}

/* n compared with a limit whose sign is known; as num_cmp */
static inline int
num_cmp_limit(Numeric n, Numeric lim, int lim_sign)
{
	int			sign,
				dscale;

	if (numeric_header_state == 1 && numeric_header_read(n, &sign, &dscale))
	{
		if (sign != lim_sign)
			return sign < lim_sign ? -1 : 1;
		if (lim_sign == 0)
			return 0;
	}
	return num_cmp(n, lim);
}

static bool
num_is_integer(Numeric n)
{
	Datum		fl;
	int			sign,
				dscale;

	/* display scale 0 is an integer; 1.0 needs the comparison */
	if (numeric_header_state == 1 && numeric_header_read(n, &sign, &dscale))
	{
		if (dscale == 0)
			return true;
	}
	else if (numeric_is_nan(n) || numeric_is_inf(n))
		return false;
	else if (DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(n))) == 0)
		return true;
	fl = DirectFunctionCall1(numeric_floor, NumericGetDatum(n));
	return num_cmp(n, DatumGetNumeric(fl)) == 0;
}

static bool
num_is_multiple(Numeric n, Numeric m)
{
	Datum		rem = DirectFunctionCall2(numeric_mod, NumericGetDatum(n), NumericGetDatum(m));

	return num_cmp(DatumGetNumeric(rem), int64_to_numeric(0)) == 0;
}

/* ---------------------------------------------------------------------
 * Compiling a plan (in the schema's memory context)
 * ---------------------------------------------------------------------
 */
/* keyword k of the schema object being compiled, as the table admits it */
#define KW(k) js_kw(t, (k), p->draft, true)

static JsPlan *plan_compile(JsPlanSet *ps, JsSchema *s, const JsonbValue *schema,
							const char *base, JsDraft draft);

/* The direct members of a container: values (and keys for objects). */
static int
members(const JsonbValue *x, JsonbValue **keys, JsonbValue **vals)
{
	const JsonbContainer *c = x->val.binary.data;
	int			n = JsonContainerSize(c);
	JsCursor	kc,
				vc;

	*vals = palloc(sizeof(JsonbValue) * Max(n, 1));
	if (keys)
		*keys = palloc(sizeof(JsonbValue) * Max(n, 1));
	if (JsonContainerIsObject(c))
	{
		cursor_init(&kc, c, 0);
		cursor_init(&vc, c, n);
		for (int i = 0; i < n; i++)
		{
			JsonbValue	k;

			cursor_next(&kc, keys ? &(*keys)[i] : &k);
			cursor_next(&vc, &(*vals)[i]);
		}
	}
	else
	{
		cursor_init(&vc, c, 0);
		for (int i = 0; i < n; i++)
			cursor_next(&vc, &(*vals)[i]);
	}
	return n;
}

static JsPlan **
compile_list(JsPlanSet *ps, JsSchema *s, const JsonbValue *arr, const char *base,
			 JsDraft draft, int *n)
{
	JsonbValue *vals;
	JsPlan	  **out;

	*n = members(arr, NULL, &vals);
	out = palloc(sizeof(JsPlan *) * Max(*n, 1));
	for (int i = 0; i < *n && !ps->unsupported; i++)
		out[i] = plan_compile(ps, s, &vals[i], base, draft);
	return out;
}

/* String members of an array, in jsonb key order without duplicates. */
static JsPlanKey *
key_list(const JsonbValue *arr, int *n)
{
	JsonbValue *vals;
	int			total = members(arr, NULL, &vals);
	JsPlanKey  *keys = palloc(sizeof(JsPlanKey) * Max(total, 1));
	int			k = 0;

	for (int i = 0; i < total; i++)
		if (vals[i].type == jbvString)
		{
			keys[k].s = vals[i].val.string.val;
			keys[k].len = vals[i].val.string.len;
			k++;
		}
	if (k > 1)
	{
		int			u = 1;

		qsort(keys, k, sizeof(JsPlanKey), plankey_cmp);
		for (int i = 1; i < k; i++)
			if (plankey_cmp(&keys[i], &keys[u - 1]) != 0)
				keys[u++] = keys[i];
		k = u;
	}
	*n = k;
	return keys;
}

/* An invalid pattern raises (it already did when the schema was compiled). */
static bool
compile_pattern(const JsonbValue *pat, JsPlanPattern *out)
{
	out->memo = palloc0(sizeof(JsPatternMemo) * PATTERN_MEMO_SLOTS);
	jsonschema_regex_prepare(&out->re, pat->val.string.val, pat->val.string.len);
	/* a fixed-length pattern matches for less than the memo costs */
	out->memo_off = jsonschema_regex_prepared_is_fixed(&out->re);
	out->lookups = out->hits = 0;
	out->present = true;
	return true;
}

static uint8
type_bit(const JsonbValue *name)
{
	static const struct
	{
		const char *name;
		uint8		bit;
	}			types[] = {
		{"null", T_NULL}, {"boolean", T_BOOLEAN}, {"object", T_OBJECT},
		{"array", T_ARRAY}, {"string", T_STRING}, {"number", T_NUMBER},
		{"integer", T_INTEGER}
	};

	if (name->type != jbvString)
		return 0;
	for (int i = 0; i < (int) lengthof(types); i++)
		if ((int) strlen(types[i].name) == name->val.string.len &&
			memcmp(types[i].name, name->val.string.val, name->val.string.len) == 0)
			return types[i].bit;
	return 0;
}

static void
compile_object_keywords(JsPlanSet *ps, JsSchema *s, JsPlan *p, const JsKwSlots *t)
{
	JsDraft		draft = p->draft;
	const char *base = p->base;
	JsonbValue *keys,
			   *vals;
	int			n;

	int			n_props = 0;

	if (KW(K_required) && js_is_array(KW(K_required)))
		p->required = key_list(KW(K_required), &p->n_required);
	if (KW(K_properties) && js_is_object(KW(K_properties)))
	{
		n_props = members(KW(K_properties), &keys, &vals);
		p->known = palloc(sizeof(JsPlanKnown) * (n_props + p->n_required + 1));
		for (int i = 0; i < n_props && !ps->unsupported; i++)
		{
			p->known[i].key.s = keys[i].val.string.val;
			p->known[i].key.len = keys[i].val.string.len;
			p->known[i].schema = plan_compile(ps, s, &vals[i], base, draft);
			p->known[i].required = false;
		}
	}
	else
		p->known = palloc(sizeof(JsPlanKnown) * (p->n_required + 1));
	p->n_known = n_props;
	if (ps->unsupported)
		return;
	/* merge the required names in; both lists are in key order */
	for (int r = 0; r < p->n_required; r++)
	{
		JsPlanKnown *k = bsearch(&p->required[r], p->known, n_props, sizeof(JsPlanKnown),
								 plankey_cmp);

		if (k == NULL)
		{
			k = &p->known[p->n_known++];
			k->key = p->required[r];
			k->schema = NULL;
		}
		k->required = true;
	}
	if (p->n_known > n_props)
		qsort(p->known, p->n_known, sizeof(JsPlanKnown), plankey_cmp);
	if (KW(K_patternProperties) && js_is_object(KW(K_patternProperties)))
	{
		n = members(KW(K_patternProperties), &keys, &vals);
		p->pprops = palloc(sizeof(JsPlanPattern) * Max(n, 1));
		for (int i = 0; i < n && !ps->unsupported; i++)
		{
			if (!compile_pattern(&keys[i], &p->pprops[i]))
				ps->unsupported = true;
			else
				p->pprops[i].schema = plan_compile(ps, s, &vals[i], base, draft);
		}
		p->n_pprops = n;
	}
	if (KW(K_additionalProperties))
		p->additional = plan_compile(ps, s, KW(K_additionalProperties), base, draft);
	if (KW(K_propertyNames))
		p->prop_names = plan_compile(ps, s, KW(K_propertyNames), base, draft);
	p->min_props = p->max_props = -1;
	if (KW(K_minProperties) && !js_keyword_count(KW(K_minProperties), &p->min_props))
		ps->unsupported = true;
	if (KW(K_maxProperties) && !js_keyword_count(KW(K_maxProperties), &p->max_props))
		ps->unsupported = true;

	/* dependentRequired (2019+), dependencies (all drafts), dependentSchemas (2019+) */
	for (int pass = 0; pass < 3 && !ps->unsupported; pass++)
	{
		JsKw		which = pass == 0 ? K_dependentRequired :
			pass == 1 ? K_dependencies : K_dependentSchemas;
		JsPlanDep  *more;

		if (KW(which) == NULL || !js_is_object(KW(which)))
			continue;
		n = members(KW(which), &keys, &vals);
		more = palloc0(sizeof(JsPlanDep) * (p->n_deps + n));
		if (p->n_deps > 0)
			memcpy(more, p->deps, sizeof(JsPlanDep) * p->n_deps);
		for (int i = 0; i < n && !ps->unsupported; i++)
		{
			JsPlanDep  *d = &more[p->n_deps];

			if (pass < 2 && js_is_array(&vals[i]))
				d->required = key_list(&vals[i], &d->n_required);
			else if (pass == 0)
				continue;		/* dependentRequired ignores anything else */
			else
				d->schema = plan_compile(ps, s, &vals[i], base, draft);
			d->key.s = keys[i].val.string.val;
			d->key.len = keys[i].val.string.len;
			p->n_deps++;
		}
		p->deps = more;
	}
	p->walk_keys = n_props > 0 || p->n_pprops > 0 || p->additional || p->prop_names;
	p->object_kw = p->walk_keys || p->n_required > 0 || p->min_props >= 0 ||
		p->max_props >= 0 || p->n_deps > 0;
}

static void
compile_array_keywords(JsPlanSet *ps, JsSchema *s, JsPlan *p, const JsKwSlots *t)
{
	JsDraft		draft = p->draft;
	const char *base = p->base;
	JsonbValue *tuple,
			   *items;
	const char *tuple_kw,
			   *items_kw;

	js_items_layout(t, draft, &tuple, &tuple_kw, &items, &items_kw);
	if (tuple)
		p->prefix = compile_list(ps, s, tuple, base, draft, &p->n_prefix);
	if (items)
		p->rest = plan_compile(ps, s, items, base, draft);
	p->max_contains = -1;
	p->min_items = p->max_items = -1;
	if (KW(K_contains))
	{
		p->contains = plan_compile(ps, s, KW(K_contains), base, draft);
		p->min_contains = 1;
		if (KW(K_minContains) &&
			!js_keyword_count(KW(K_minContains), &p->min_contains))
			ps->unsupported = true;
		if (KW(K_maxContains) &&
			!js_keyword_count(KW(K_maxContains), &p->max_contains))
			ps->unsupported = true;
	}
	if (KW(K_minItems) && !js_keyword_count(KW(K_minItems), &p->min_items))
		ps->unsupported = true;
	if (KW(K_maxItems) && !js_keyword_count(KW(K_maxItems), &p->max_items))
		ps->unsupported = true;
	p->unique = KW(K_uniqueItems) && KW(K_uniqueItems)->type == jbvBool &&
		KW(K_uniqueItems)->val.boolean;
	p->array_kw = p->n_prefix > 0 || p->rest || p->contains || p->min_items >= 0 ||
		p->max_items >= 0 || p->unique;
}

static Numeric
number_or_null(const JsonbValue *x)
{
	return x && x->type == jbvNumeric ? x->val.numeric : NULL;
}

static void
compile_number_keywords(JsPlan *p, const JsKwSlots *t)
{
	p->multiple_of = number_or_null(KW(K_multipleOf));
	if (p->multiple_of &&
		num_cmp(p->multiple_of, int64_to_numeric(0)) == 0)
		p->multiple_of_zero = true;
	if (p->draft == JS_DRAFT4)
	{
		JsonbValue *exmax = KW(K_exclusiveMaximum);
		JsonbValue *exmin = KW(K_exclusiveMinimum);
		Numeric		max = number_or_null(KW(K_maximum));
		Numeric		min = number_or_null(KW(K_minimum));

		/* draft 4: booleans that make maximum/minimum exclusive */
		if (exmax && exmax->type == jbvBool && exmax->val.boolean)
			p->ex_maximum = max;
		else
			p->maximum = max;
		if (exmin && exmin->type == jbvBool && exmin->val.boolean)
			p->ex_minimum = min;
		else
			p->minimum = min;
	}
	else
	{
		p->maximum = number_or_null(KW(K_maximum));
		p->minimum = number_or_null(KW(K_minimum));
		p->ex_maximum = number_or_null(KW(K_exclusiveMaximum));
		p->ex_minimum = number_or_null(KW(K_exclusiveMinimum));
	}
	p->number_kw = p->multiple_of || p->maximum || p->minimum || p->ex_maximum ||
		p->ex_minimum;
	p->maximum_sign = p->maximum ? num_sign(p->maximum) : 0;
	p->minimum_sign = p->minimum ? num_sign(p->minimum) : 0;
	p->ex_maximum_sign = p->ex_maximum ? num_sign(p->ex_maximum) : 0;
	p->ex_minimum_sign = p->ex_minimum ? num_sign(p->ex_minimum) : 0;
}

static void
compile_string_keywords(JsPlanSet *ps, JsPlan *p, const JsKwSlots *t)
{
	p->min_length = p->max_length = -1;
	if (KW(K_minLength) && !js_keyword_count(KW(K_minLength), &p->min_length))
		ps->unsupported = true;
	if (KW(K_maxLength) && !js_keyword_count(KW(K_maxLength), &p->max_length))
		ps->unsupported = true;
	if (KW(K_pattern) && KW(K_pattern)->type == jbvString &&
		!compile_pattern(KW(K_pattern), &p->pattern))
		ps->unsupported = true;
	p->format = -1;
	if (KW(K_format) && KW(K_format)->type == jbvString)
		p->format = jsonschema_format_id(KW(K_format)->val.string.val,
										 KW(K_format)->val.string.len);
	p->string_kw = p->min_length >= 0 || p->max_length >= 0 || p->pattern.present ||
		p->format >= 0;
}

static JsPlan *
plan_compile(JsPlanSet *ps, JsSchema *s, const JsonbValue *schema, const char *base,
			 JsDraft draft)
{
	const JsonbContainer *c;
	JsPlanMemo *memo;
	JsPlan	   *p;
	JsKwSlots	slots;
	const JsKwSlots *t = &slots;
	JsonbValue *vals;
	JsonbValue *x;
	int			n;
	bool		found;
	JsDraft		in_draft;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	if (ps->unsupported)
		return NULL;
	if (schema->type == jbvBool)
	{
		p = palloc0(sizeof(JsPlan));
		p->is_bool = true;
		p->bool_value = schema->val.boolean;
		return p;
	}
	if (!js_is_object(schema))
	{
		ps->unsupported = true; /* validate.c explains the error */
		return NULL;
	}
	c = schema->val.binary.data;
	memo = hash_search(ps->memo, &c, HASH_FIND, NULL);
	for (p = memo ? memo->plans : NULL; p; p = p->memo_next)
		if (p->in_draft == draft && strcmp(p->in_base, base) == 0)
			return p;

	p = palloc0(sizeof(JsPlan));
	p->memo_key = c;
	p->in_base = base;
	in_draft = draft;
	js_keywords_read(c, &slots);

	/* as validate.c's validate_node: $schema, then $id, then $ref */
	base = js_schema_enter(t, &draft, base);
	p->in_draft = in_draft;
	p->draft = draft;
	p->base = base;
	if (KW(K_D_ref) && KW(K_D_ref)->type == jbvString)
	{
		p->ref = pnstrdup(KW(K_D_ref)->val.string.val, KW(K_D_ref)->val.string.len);
		p->ref_only = draft <= JS_DRAFT7;
	}
	if (!p->ref_only)
	{
		/* keywords the table leaves to validate.c (annotations, dynamic scope) */
		for (int k = 0; k < K__COUNT; k++)
			if (!js_keywords[k].fast && KW(k))
			{
				ps->unsupported = true;
				return NULL;
			}
		if ((x = KW(K_type)) != NULL)
		{
			p->has_type = true;
			if (x->type == jbvString)
				p->types = type_bit(x);
			else if (js_is_array(x))
			{
				n = members(x, NULL, &vals);
				for (int i = 0; i < n; i++)
					p->types |= type_bit(&vals[i]);
			}
		}
		if ((x = KW(K_enum)) != NULL && js_is_array(x))
		{
			p->has_enum = true;
			p->n_enum = members(x, NULL, &p->enums);
		}
		p->const_val = KW(K_const);
		if (KW(K_allOf) && js_is_array(KW(K_allOf)))
			p->all_of = compile_list(ps, s, KW(K_allOf), base, draft, &p->n_all_of);
		if (KW(K_anyOf) && js_is_array(KW(K_anyOf)))
			p->any_of = compile_list(ps, s, KW(K_anyOf), base, draft, &p->n_any_of);
		if (KW(K_oneOf) && js_is_array(KW(K_oneOf)))
			p->one_of = compile_list(ps, s, KW(K_oneOf), base, draft, &p->n_one_of);
		if (KW(K_not))
			p->not_schema = plan_compile(ps, s, KW(K_not), base, draft);
		if (KW(K_if))
		{
			p->if_schema = plan_compile(ps, s, KW(K_if), base, draft);
			if (KW(K_then))
				p->then_schema = plan_compile(ps, s, KW(K_then), base, draft);
			if (KW(K_else))
				p->else_schema = plan_compile(ps, s, KW(K_else), base, draft);
		}
		p->applicators = p->n_all_of > 0 || p->n_any_of > 0 || p->n_one_of > 0 ||
			p->not_schema || p->if_schema;
		p->leaf = !p->ref && !p->applicators;
		/* the keywords of each instance type, if the schema has any */
		p->min_props = p->max_props = -1;
		p->max_contains = -1;
		p->min_items = p->max_items = -1;
		p->min_length = p->max_length = -1;
		p->format = -1;
		if (slots.applies & JS_FOR_OBJECT)
			compile_object_keywords(ps, s, p, t);
		if (slots.applies & JS_FOR_ARRAY)
			compile_array_keywords(ps, s, p, t);
		if (slots.applies & JS_FOR_NUMBER)
			compile_number_keywords(p, t);
		if (slots.applies & JS_FOR_STRING)
			compile_string_keywords(ps, p, t);
	}
	if (ps->unsupported)
		return NULL;
	/* remembered once complete: only $ref (resolved later) can recur */
	memo = hash_search(ps->memo, &c, HASH_ENTER, &found);
	if (!found)
		memo->plans = NULL;
	p->memo_next = memo->plans;
	memo->plans = p;
	return p;
}

/* The plan of s, compiled on first use; NULL when validate.c must decide. */
static JsPlanSet *
plan_of(JsSchema *s)
{
	JsPlanSet  *ps;
	MemoryContext old;
	HASHCTL		ctl;

	if (s->plan_status == PLAN_READY)
		return s->plan;
	(void) numeric_header_trusted();
	if (s->plan_status == PLAN_NONE)
		return NULL;
	if (!s->validation_vocab)
	{
		s->plan_status = PLAN_NONE;
		return NULL;
	}
	old = MemoryContextSwitchTo(s->cxt);
	ps = palloc0(sizeof(JsPlanSet));
	ctl.keysize = sizeof(JsonbContainer *);
	ctl.entrysize = sizeof(JsPlanMemo);
	ctl.hcxt = s->cxt;
	ps->memo = hash_create("candystore json schema plans", 64, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ps->root = plan_compile(ps, s, &s->root.value, s->root.base, s->root.draft);
	MemoryContextSwitchTo(old);
	if (ps->unsupported)
	{
		/* what was allocated stays in s->cxt, bounded by the schema's size */
		s->plan_status = PLAN_NONE;
		return NULL;
	}
	s->plan = ps;
	s->plan_status = PLAN_READY;
	return ps;
}

/* ---------------------------------------------------------------------
 * Walking
 * ---------------------------------------------------------------------
 */
static bool walk(JsWalker *w, const JsPlan *p, const JsonbValue *inst, int depth);
static bool walk_object(JsWalker *w, const JsPlan *p, const JsonbValue *inst, int depth);
static bool walk_array(JsWalker *w, const JsPlan *p, const JsonbValue *inst, int depth);
static bool walk_number(const JsPlan *p, Numeric n);
static bool walk_string(JsWalker *w, const JsPlan *p, const JsonbValue *inst);
static inline bool type_ok(const JsPlan *p, const JsonbValue *inst);

/* type, enum, const and the keywords of the instance's type */
static pg_attribute_always_inline bool
check_here(JsWalker *w, const JsPlan *p, const JsonbValue *inst, int depth)
{
	if (p->has_type && !type_ok(p, inst))
		return false;
	if (p->has_enum)
	{
		int			i;

		for (i = 0; i < p->n_enum; i++)
			if (js_json_equal(&p->enums[i], inst))
				break;
		if (i == p->n_enum)
			return false;
	}
	if (p->const_val && !js_json_equal(p->const_val, inst))
		return false;
	switch (inst->type)
	{
		case jbvBinary:
			if (JsonContainerIsObject(inst->val.binary.data))
				return !p->object_kw || walk_object(w, p, inst, depth);
			return !p->array_kw || walk_array(w, p, inst, depth);
		case jbvNumeric:
			return !p->number_kw || walk_number(p, inst->val.numeric);
		case jbvString:
			return !p->string_kw || walk_string(w, p, inst);
		default:
			return true;
	}
}

/*
 * A member of a container against its schema: scalars under schemas
 * without $ref or applicators (most of them) are checked without a call.
 */
static pg_attribute_always_inline bool
walk_member(JsWalker *w, const JsPlan *p, const JsonbValue *inst, int depth)
{
	if (p->is_bool)
		return p->bool_value;
	if (p->leaf && inst->type != jbvBinary)
		return check_here(w, p, inst, depth);
	return walk(w, p, inst, depth);
}


/* A cheap hash of a short string, 8 bytes a step (hash_bytes costs more). */
static inline uint32
memo_hash(const char *s, int len)
{
	uint64		h = (uint64) len * UINT64CONST(0x9E3779B97F4A7C15);
	int			i = 0;

	for (; i + 8 <= len; i += 8)
	{
		uint64		w;

		memcpy(&w, s + i, 8);
		h = (h ^ w) * UINT64CONST(0x100000001B3);
	}
	if (i < len)
	{
		uint64		w = 0;

		memcpy(&w, s + i, len - i);
		h = (h ^ w) * UINT64CONST(0x100000001B3);
	}
	return (uint32) (h >> 32) ^ (uint32) h;
}

static bool
pattern_matches(JsWalker *w, const JsPlanPattern *cpat, const char *str, int len)
{
	JsPlanPattern *pat = unconstify(JsPlanPattern *, cpat);
	JsPatternMemo *m;
	bool		verdict;

	if (pat->memo_off || len > PATTERN_MEMO_MAX_LEN)
		return jsonschema_regex_match_prepared(&pat->re, str, len);
	if (++pat->lookups == PATTERN_MEMO_ROUND)
	{
		if (pat->hits * 2 < PATTERN_MEMO_ROUND)
			pat->memo_off = true;
		pat->lookups = pat->hits = 0;
	}
	m = &pat->memo[memo_hash(str, len) % PATTERN_MEMO_SLOTS];
	if (m->s && m->len == len && memcmp(m->s, str, len) == 0)
	{
		pat->hits++;
		return m->verdict;
	}
	verdict = jsonschema_regex_match_prepared(&pat->re, str, len);
	if (m->s == NULL)
		m->s = MemoryContextAlloc(w->s->cxt, PATTERN_MEMO_MAX_LEN);
	memcpy(m->s, str, len);
	m->len = len;
	m->verdict = verdict;
	return verdict;
}

static bool
follow_ref(JsWalker *w, JsPlan *p, const JsonbValue *inst, int depth)
{
	JsJump		jump;

	check_stack_depth();
	if (!p->ref_resolved)
	{
		JsPlanSet  *ps = w->s->plan;
		MemoryContext old = MemoryContextSwitchTo(w->s->cxt);
		JsNode		target;
		JsPlan	   *t;

		if (!jsonschema_resolve(w->s, p->base, p->ref, &target, NULL))
		{
			/* validate.c reports it (or never gets there) */
			MemoryContextSwitchTo(old);
			w->gave_up = true;
			return false;
		}
		t = plan_compile(ps, w->s, &target.value, target.base, target.draft);
		MemoryContextSwitchTo(old);
		if (ps->unsupported)
		{
			w->s->plan_status = PLAN_NONE;
			w->gave_up = true;
			return false;
		}
		p->ref_target = t;
		p->ref_key = target.value.type == jbvBinary ? target.value.val.binary.data : NULL;
		p->ref_resolved = true;
	}
	if (p->ref_key)
	{
		/* the same target again without consuming the instance: a loop */
		for (const JsJump *j = w->jumps; j && j->depth == depth; j = j->up)
			if (j->target == p->ref_key)
			{
				w->gave_up = true;	/* validate.c raises the error */
				return false;
			}
	}
	jump.target = p->ref_key;
	jump.depth = depth;
	jump.up = w->jumps;
	w->jumps = &jump;
	if (!walk(w, p->ref_target, inst, depth))
	{
		w->jumps = jump.up;
		return false;
	}
	w->jumps = jump.up;
	return true;
}

static bool
required_missing(const JsonbValue *inst, const JsPlanKey *req, int n)
{
	for (int i = 0; i < n; i++)
		if (!has_key(inst, &req[i]))
			return true;
	return false;
}

static bool
walk_object(JsWalker *w, const JsPlan *p, const JsonbValue *inst, int depth)
{
	const JsonbContainer *c = inst->val.binary.data;
	int			n = JsonContainerSize(c);

	check_stack_depth();
	if (p->min_props >= 0 && n < p->min_props)
		return false;
	if (p->max_props >= 0 && n > p->max_props)
		return false;
	if (p->walk_keys)
	{
		JsCursor	kc,
					vc;
		int			ki = 0;

		cursor_init(&kc, c, 0);
		cursor_init(&vc, c, n);
		for (int i = 0; i < n; i++)
		{
			JsonbValue	key,
						val;
			bool		matched = false;

			CHECK_FOR_INTERRUPTS();
			cursor_next(&kc, &key);
			cursor_next(&vc, &val);
			/* properties and required are in key order too: merge */
			for (; ki < p->n_known; ki++)
			{
				const JsPlanKnown *k = &p->known[ki];
				int			cmp = key_cmp(k->key.s, k->key.len,
										  key.val.string.val, key.val.string.len);

				if (cmp > 0)
					break;
				if (cmp < 0)
				{
					if (k->required)
						return false;	/* passed over: missing */
					continue;
				}
				if (k->schema)
				{
					matched = true;
					if (!walk_member(w, k->schema, &val, depth + 1))
						return false;
				}
				ki++;
				break;
			}
			for (int k = 0; k < p->n_pprops; k++)
			{
				if (pattern_matches(w, &p->pprops[k], key.val.string.val, key.val.string.len))
				{
					matched = true;
					if (!walk_member(w, p->pprops[k].schema, &val, depth + 1))
						return false;
				}
			}
			if (!matched && p->additional && !walk_member(w, p->additional, &val, depth + 1))
				return false;
			if (p->prop_names && !walk(w, p->prop_names, &key, depth + 1))
				return false;
		}
		for (; ki < p->n_known; ki++)
			if (p->known[ki].required)
				return false;
	}
	else if (required_missing(inst, p->required, p->n_required))
		return false;
	for (int d = 0; d < p->n_deps; d++)
	{
		const JsPlanDep *dep = &p->deps[d];

		if (!has_key(inst, &dep->key))
			continue;
		if (required_missing(inst, dep->required, dep->n_required))
			return false;
		if (dep->schema && !walk(w, dep->schema, inst, depth))
			return false;
	}
	return true;
}

static bool
walk_array(JsWalker *w, const JsPlan *p, const JsonbValue *inst, int depth)
{
	const JsonbContainer *c = inst->val.binary.data;
	int			n = JsonContainerSize(c);
	JsCursor	cur;

	check_stack_depth();
	if (p->min_items >= 0 && n < p->min_items)
		return false;
	if (p->max_items >= 0 && n > p->max_items)
		return false;
	if (p->n_prefix > 0 || p->rest)
	{
		cursor_init(&cur, c, 0);
		for (int i = 0; i < n; i++)
		{
			JsonbValue	val;
			const JsPlan *sub = i < p->n_prefix ? p->prefix[i] : p->rest;

			CHECK_FOR_INTERRUPTS();
			if (sub == NULL)
				break;
			cursor_next(&cur, &val);
			if (!walk_member(w, sub, &val, depth + 1))
				return false;
		}
	}
	if (p->contains)
	{
		int64		matches = 0;

		cursor_init(&cur, c, 0);
		for (int i = 0; i < n; i++)
		{
			JsonbValue	val;

			CHECK_FOR_INTERRUPTS();
			cursor_next(&cur, &val);
			if (walk(w, p->contains, &val, depth + 1))
			{
				matches++;
				if (p->max_contains < 0 && matches >= p->min_contains)
					break;		/* nothing more to learn */
			}
			if (w->gave_up)
				return false;
		}
		if (matches < p->min_contains)
			return false;
		if (p->max_contains >= 0 && matches > p->max_contains)
			return false;
	}
	if (p->unique && n > 1)
	{
		JsonbValue *vals;

		members(inst, NULL, &vals);
		if (!js_values_unique(vals, n, NULL, NULL))
			return false;
	}
	return true;
}

static bool
walk_number(const JsPlan *p, Numeric n)
{
	if (p->multiple_of && (p->multiple_of_zero || !num_is_multiple(n, p->multiple_of)))
		return false;
	if (p->maximum && num_cmp_limit(n, p->maximum, p->maximum_sign) > 0)
		return false;
	if (p->minimum && num_cmp_limit(n, p->minimum, p->minimum_sign) < 0)
		return false;
	if (p->ex_maximum && num_cmp_limit(n, p->ex_maximum, p->ex_maximum_sign) >= 0)
		return false;
	if (p->ex_minimum && num_cmp_limit(n, p->ex_minimum, p->ex_minimum_sign) <= 0)
		return false;
	return true;
}

static bool
walk_string(JsWalker *w, const JsPlan *p, const JsonbValue *inst)
{
	const char *str = inst->val.string.val;
	int			len = inst->val.string.len;

	if (p->min_length >= 0 || p->max_length >= 0)
	{
		/* a character is 1 to max-length bytes: often the byte count decides */
		int64		chars = -1;

		if (p->min_length >= 0 && len < p->min_length)
			return false;
		if (p->min_length >= 0 && len / pg_database_encoding_max_length() < p->min_length)
			chars = pg_mbstrlen_with_len(str, len);
		if (chars >= 0 && chars < p->min_length)
			return false;
		if (p->max_length >= 0 && len > p->max_length)
		{
			if (chars < 0)
				chars = pg_mbstrlen_with_len(str, len);
			if (chars > p->max_length)
				return false;
		}
	}
	if (p->pattern.present && !pattern_matches(w, &p->pattern, str, len))
		return false;
	if (p->format >= 0 && jsonschema_format_assertion &&
		!jsonschema_format_check_id(p->format, str, len))
		return false;
	return true;
}

static inline bool
type_ok(const JsPlan *p, const JsonbValue *inst)
{
	uint8		t = p->types;

	switch (inst->type)
	{
		case jbvNull:
			return t & T_NULL;
		case jbvBool:
			return t & T_BOOLEAN;
		case jbvString:
			return t & T_STRING;
		case jbvNumeric:
			if (t & T_NUMBER)
				return true;
			return (t & T_INTEGER) && num_is_integer(inst->val.numeric);
		case jbvBinary:
			return t & (JsonContainerIsObject(inst->val.binary.data) ? T_OBJECT : T_ARRAY);
		default:
			return false;
	}
}

static bool
walk(JsWalker *w, const JsPlan *p, const JsonbValue *inst, int depth)
{
	/* check_stack_depth() where walks recurse: containers, $ref, applicators */
	if (p->is_bool)
		return p->bool_value;
	if (p->ref && !follow_ref(w, (JsPlan *) p, inst, depth))
		return false;
	if (p->ref_only)
		return true;
	if (!check_here(w, p, inst, depth))
		return false;
	if (!p->applicators)
		return true;
	check_stack_depth();
	for (int i = 0; i < p->n_all_of; i++)
		if (!walk(w, p->all_of[i], inst, depth))
			return false;
	if (p->n_any_of > 0)
	{
		int			i;

		for (i = 0; i < p->n_any_of; i++)
		{
			if (walk(w, p->any_of[i], inst, depth))
				break;
			if (w->gave_up)
				return false;
		}
		if (i == p->n_any_of)
			return false;
	}
	if (p->n_one_of > 0)
	{
		int			matched = 0;

		for (int i = 0; i < p->n_one_of && matched < 2; i++)
		{
			if (walk(w, p->one_of[i], inst, depth))
				matched++;
			if (w->gave_up)
				return false;
		}
		if (matched != 1)
			return false;
	}
	if (p->not_schema)
	{
		bool		r = walk(w, p->not_schema, inst, depth);

		if (r || w->gave_up)
			return false;
	}
	if (p->if_schema)
	{
		bool		r = walk(w, p->if_schema, inst, depth);
		const JsPlan *branch = r ? p->then_schema : p->else_schema;

		if (w->gave_up)
			return false;
		if (branch && !walk(w, branch, inst, depth))
			return false;
	}
	return true;
}

/*
 * Decides instance against s on the fast path.  Returns false when it
 * cannot (no plan for this schema, or the walk gave up): the caller then
 * asks validate.c.
 */
bool
jsonschema_plan_validate(JsSchema *s, const JsonbValue *instance, bool *valid)
{
	JsPlanSet  *ps = plan_of(s);
	JsWalker	w = {0};
	bool		ok;

	if (ps == NULL)
		return false;
	w.s = s;
	ok = walk(&w, ps->root, instance, 0);
	if (w.gave_up)
		return false;
	*valid = ok;
	return true;
}
