/*
 * validate.c
 *	  Applies a compiled schema's keywords to a jsonb instance, walking both
 *	  in place.  Annotations for unevaluatedProperties/unevaluatedItems are
 *	  kept as sets of evaluated key/element indices of the instance.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "utils/hsearch.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "jsonschema.h"
#include "keywords.h"

/* What the keywords applied to one instance evaluated (its annotations). */
typedef struct JsEval
{
	Bitmapset  *props;			/* indices of evaluated object keys */
	Bitmapset  *items;			/* indices of evaluated array elements */
	bool		all_items;
} JsEval;

typedef struct JsRefFrame
{
	const void *target;
	int			ilen;
} JsRefFrame;

typedef struct JsValidator
{
	JsSchema   *s;
	List	  **errors;			/* NULL: only the verdict is wanted */
	bool		collect;		/* report errors at this point */
	StringInfoData ipath;		/* instance location, JSON Pointer */
	StringInfoData spath;		/* keyword location, JSON Pointer */
	List	   *scope;			/* dynamic scope: base URIs, outermost first */
	List	   *refs;			/* active $ref jumps, to catch loops */
} JsValidator;

/* An object or array instance laid out for indexed access. */
typedef struct JsView
{
	int			n;
	JsonbValue *keys;			/* objects only */
	JsonbValue *vals;
} JsView;

/* The keywords of one schema object (keywords.h), found once per compiled schema. */
typedef struct JsKwTable
{
	const JsonbContainer *key;	/* hash key: the schema object */
	JsKwSlots	slots;
} JsKwTable;

/* keyword k as the table admits it in this draft and vocabulary */
#define KW(k) js_kw(kwt, (k), draft, vocab)
/* the same in validate_node, without locals: its frame bounds instance depth */
#define NKW(k) js_kw(kwt, (k), node.draft, v->s->validation_vocab)

static const JsKwSlots *
kw_table(JsSchema *s, const JsonbValue *schema)
{
	const JsonbContainer *c = schema->val.binary.data;
	JsKwTable  *t;
	bool		found;

	if (s->keywords == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(JsonbContainer *);
		ctl.entrysize = sizeof(JsKwTable);
		ctl.hcxt = s->cxt;
		s->keywords = hash_create("candystore json schema keywords", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	t = hash_search(s->keywords, &c, HASH_ENTER, &found);
	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(s->cxt);

		js_keywords_read(c, &t->slots);
		MemoryContextSwitchTo(old);
	}
	return &t->slots;
}

static bool validate_node(JsValidator *v, const JsNode *node, const JsonbValue *inst,
						  JsEval *ev);

static void
build_view(const JsonbValue *x, JsView *view)
{
	JsonbIterator *it = JsonbIteratorInit(x->val.binary.data);
	JsonbValue	tmp;
	JsonbIteratorToken tok;
	int			cap = JsonContainerSize(x->val.binary.data);
	int			n = 0;

	view->keys = palloc(sizeof(JsonbValue) * Max(cap, 1));
	view->vals = palloc(sizeof(JsonbValue) * Max(cap, 1));
	while ((tok = JsonbIteratorNext(&it, &tmp, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			view->keys[n] = tmp;
		else if (tok == WJB_VALUE || tok == WJB_ELEM)
			view->vals[n++] = tmp;
	}
	view->n = n;
}

/* --- paths and errors --- */

static int
path_push(StringInfo path, const char *seg, int len)
{
	int			old = path->len;
	int			i;

	appendStringInfoChar(path, '/');
	/* the common case: nothing to escape */
	if (memchr(seg, '~', len) == NULL && memchr(seg, '/', len) == NULL)
	{
		appendBinaryStringInfo(path, seg, len);
		return old;
	}
	for (i = 0; i < len; i++)
	{
		if (seg[i] == '~')
			appendStringInfoString(path, "~0");
		else if (seg[i] == '/')
			appendStringInfoString(path, "~1");
		else
			appendStringInfoChar(path, seg[i]);
	}
	return old;
}

static int
path_push_str(StringInfo path, const char *seg)
{
	return path_push(path, seg, strlen(seg));
}

static int
path_push_index(StringInfo path, int i)
{
	int			old = path->len;

	appendStringInfo(path, "/%d", i);
	return old;
}

static void
path_pop(StringInfo path, int old)
{
	path->len = old;
	path->data[old] = '\0';
}

static void
add_error(JsValidator *v, const char *keyword, const char *fmt,...) pg_attribute_printf(3, 4);

static void
add_error(JsValidator *v, const char *keyword, const char *fmt,...)
{
	JsError    *e;
	StringInfoData msg;
	int			old;

	if (!v->collect || v->errors == NULL)
		return;
	initStringInfo(&msg);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&msg, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&msg, needed);
	}
	e = palloc(sizeof(JsError));
	e->instance_path = pstrdup(v->ipath.data);
	old = path_push_str(&v->spath, keyword);
	e->schema_path = pstrdup(v->spath.data);
	path_pop(&v->spath, old);
	e->keyword = keyword;
	e->message = msg.data;
	*v->errors = lappend(*v->errors, e);
}

/* --- values --- */

static int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

static char *
num_text(Numeric n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

static bool
num_is_integer(Numeric n)
{
	Datum		fl;

	if (numeric_is_nan(n) || numeric_is_inf(n))
		return false;
	fl = DirectFunctionCall1(numeric_floor, NumericGetDatum(n));
	return num_cmp(n, DatumGetNumeric(fl)) == 0;
}

static bool
num_is_zero(Numeric n)
{
	return num_cmp(n, int64_to_numeric(0)) == 0;
}

static bool
num_is_multiple(Numeric n, Numeric m)
{
	Datum		rem;

	if (num_is_zero(m))
		return false;
	rem = DirectFunctionCall2(numeric_mod, NumericGetDatum(n), NumericGetDatum(m));
	return num_is_zero(DatumGetNumeric(rem));
}

static const char *
type_name(const JsonbValue *x)
{
	switch (x->type)
	{
		case jbvNull:
			return "null";
		case jbvBool:
			return "boolean";
		case jbvString:
			return "string";
		case jbvNumeric:
			return num_is_integer(x->val.numeric) ? "integer" : "number";
		case jbvBinary:
			return JsonContainerIsObject(x->val.binary.data) ? "object" : "array";
		default:
			return "unknown";
	}
}

static bool
type_matches(const JsonbValue *x, const char *name, int len)
{
	const char *actual = type_name(x);

	if (len == 6 && strncmp(name, "number", 6) == 0 && x->type == jbvNumeric)
		return true;
	return (int) strlen(actual) == len && strncmp(actual, name, len) == 0;
}

static char *
value_text(const JsonbValue *x)
{
	if (x->type == jbvBinary)
		return JsonbToCString(NULL, x->val.binary.data, x->val.binary.len);
	return JsonbToCString(NULL, &JsonbValueToJsonb((JsonbValue *) x)->root, 0);
}

static bool
number_of(const JsonbValue *x, Numeric *n)
{
	if (x == NULL || x->type != jbvNumeric)
		return false;
	*n = x->val.numeric;
	return true;
}

static bool
count_of(const JsonbValue *x, int64 *out, const char *keyword)
{
	if (!js_keyword_count(x, out))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JSON Schema: \"%s\" must be a non-negative integer", keyword)));
	return true;
}

static void
merge_eval(JsEval *into, const JsEval *from)
{
	if (into == NULL)
		return;
	into->props = bms_union(into->props, from->props);
	into->items = bms_union(into->items, from->items);
	into->all_items |= from->all_items;
}

/* Validates inst against sub (a schema value) below the current node. */
static bool
apply(JsValidator *v, const JsNode *parent, const JsonbValue *sub, const JsonbValue *inst,
	  JsEval *ev)
{
	JsNode		node;
	JsEval		child = {0};
	bool		ok;

	node.value = *sub;
	node.base = parent->base;
	node.draft = parent->draft;
	ok = validate_node(v, &node, inst, &child);
	if (ok)
		merge_eval(ev, &child);
	return ok;
}

/* Same, quietly: for anyOf/oneOf/not/if/contains, whose branches may fail. */
static bool
apply_quiet(JsValidator *v, const JsNode *parent, const JsonbValue *sub,
			const JsonbValue *inst, JsEval *ev)
{
	bool		saved = v->collect;
	bool		ok;

	v->collect = false;
	ok = apply(v, parent, sub, inst, ev);
	v->collect = saved;
	return ok;
}

static bool
jump(JsValidator *v, const char *keyword, const char *ref, const JsNode *target,
	 const JsonbValue *inst, JsEval *ev)
{
	const void *key = target->value.type == jbvBinary ?
		(const void *) target->value.val.binary.data : (const void *) ref;
	ListCell   *lc;
	JsRefFrame *frame;
	JsEval		child = {0};
	int			old;
	bool		ok;

	foreach(lc, v->refs)
	{
		JsRefFrame *f = lfirst(lc);

		if (f->target == key && f->ilen == v->ipath.len)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("JSON Schema %s \"%s\" loops without consuming the instance",
							keyword, ref),
					 errdetail("At instance location \"%s\", schema location \"%s\".",
							   v->ipath.data, v->spath.data)));
	}
	frame = palloc(sizeof(JsRefFrame));
	frame->target = key;
	frame->ilen = v->ipath.len;
	v->refs = lappend(v->refs, frame);
	old = path_push_str(&v->spath, keyword);
	ok = validate_node(v, target, inst, &child);
	path_pop(&v->spath, old);
	v->refs = list_delete_last(v->refs);
	if (ok)
		merge_eval(ev, &child);
	return ok;
}

static void
unresolvable(const char *keyword, const char *ref, const char *base)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("could not resolve JSON Schema %s \"%s\"", keyword, ref),
			 errdetail("The reference resolves to \"%s\", which is neither in the schema nor in candystore.schema_resources.",
					   uri_resolve(base, ref)),
			 errhint("Register the document with candystore.add_schema_resource(uri, document).")));
}

static bool
do_ref(JsValidator *v, const JsNode *node, const char *ref, const JsonbValue *inst, JsEval *ev)
{
	JsNode		target;

	if (!jsonschema_resolve(v->s, node->base, ref, &target, NULL))
		unresolvable("$ref", ref, node->base);
	return jump(v, "$ref", ref, &target, inst, ev);
}

static bool
do_dynamic_ref(JsValidator *v, const JsNode *node, const char *ref, const JsonbValue *inst,
			   JsEval *ev)
{
	JsNode		target;
	const JsIdent *res = NULL;
	char	   *frag;

	if (!jsonschema_resolve(v->s, node->base, ref, &target, &res))
		unresolvable("$dynamicRef", ref, node->base);
	uri_strip_fragment(ref, &frag);
	frag = uri_fragment_decode(frag);
	if (frag[0] != '\0' && frag[0] != '/' && res && res->dynamic)
	{
		ListCell   *lc;

		foreach(lc, v->scope)
		{
			const JsIdent *id = jsonschema_lookup(v->s, psprintf("%s#%s", (char *) lfirst(lc), frag));

			if (id && id->dynamic)
			{
				target = id->node;
				break;
			}
		}
	}
	return jump(v, "$dynamicRef", ref, &target, inst, ev);
}

static bool
do_recursive_ref(JsValidator *v, const JsNode *node, const char *ref, const JsonbValue *inst,
				 JsEval *ev)
{
	JsNode		target;
	const JsIdent *res = NULL;

	if (!jsonschema_resolve(v->s, node->base, ref, &target, &res))
		unresolvable("$recursiveRef", ref, node->base);
	{
		const char *id = target.value.type == jbvBinary ?
			jsonschema_id_of(&target.value, target.draft) : NULL;

		res = jsonschema_lookup(v->s, id ? uri_strip_fragment(uri_resolve(target.base, id), NULL) :
								target.base);
	}
	if (res && res->recursive)
	{
		ListCell   *lc;

		foreach(lc, v->scope)
		{
			const JsIdent *id = jsonschema_lookup(v->s, (char *) lfirst(lc));

			if (id && id->recursive)
			{
				target = id->node;
				break;
			}
		}
	}
	return jump(v, "$recursiveRef", ref, &target, inst, ev);
}

/* --- keyword groups --- */

static bool
pattern_matches(const JsonbValue *pat, const JsonbValue *s)
{
	return jsonschema_regex_match(pat->val.string.val, pat->val.string.len,
								  s->val.string.val, s->val.string.len);
}

static bool
validate_object(JsValidator *v, const JsNode *node, const JsonbValue *inst, JsEval *ev,
				JsView *view)
{
	const JsKwSlots *kwt = node->kw;
	JsDraft		draft = node->draft;
	bool		vocab = v->s->validation_vocab;
	JsonbValue *props = KW(K_properties);
	JsonbValue *pprops = KW(K_patternProperties);
	JsonbValue *addl = KW(K_additionalProperties);
	JsonbValue *kw;
	JsView		pview = {0};
	bool		ok = true;
	int			i,
				old,
				olds;

	if (pprops && js_is_object(pprops))
		build_view(pprops, &pview);

	for (i = 0; i < view->n; i++)
	{
		JsonbValue *key = &view->keys[i];
		bool		matched = false;
		int			p;

		CHECK_FOR_INTERRUPTS();
		old = path_push(&v->ipath, key->val.string.val, key->val.string.len);
		if (props && js_is_object(props))
		{
			JsonbValue *sub = getKeyJsonValueFromContainer(props->val.binary.data,
														   key->val.string.val,
														   key->val.string.len, NULL);

			if (sub)
			{
				matched = true;
				olds = path_push_str(&v->spath, "properties");
				path_push(&v->spath, key->val.string.val, key->val.string.len);
				ok &= apply(v, node, sub, &view->vals[i], NULL);
				path_pop(&v->spath, olds);
			}
		}
		for (p = 0; p < pview.n; p++)
		{
			if (pview.keys[p].type == jbvString && pattern_matches(&pview.keys[p], key))
			{
				matched = true;
				olds = path_push_str(&v->spath, "patternProperties");
				path_push(&v->spath, pview.keys[p].val.string.val, pview.keys[p].val.string.len);
				ok &= apply(v, node, &pview.vals[p], &view->vals[i], NULL);
				path_pop(&v->spath, olds);
			}
		}
		if (!matched && addl)
		{
			bool		saved = v->collect;
			bool		sub_ok;

			/* one clear error for a disallowed property, not "false schema" */
			if (addl->type == jbvBool && !addl->val.boolean)
				v->collect = false;
			olds = path_push_str(&v->spath, "additionalProperties");
			sub_ok = apply(v, node, addl, &view->vals[i], NULL);
			path_pop(&v->spath, olds);
			v->collect = saved;
			if (!sub_ok && addl->type == jbvBool)
			{
				path_pop(&v->ipath, old);
				add_error(v, "additionalProperties",
						  "additional property \"%.*s\" is not allowed",
						  key->val.string.len, key->val.string.val);
				old = path_push(&v->ipath, key->val.string.val, key->val.string.len);
			}
			ok &= sub_ok;
			matched = true;
		}
		if (matched)
			ev->props = bms_add_member(ev->props, i);
		path_pop(&v->ipath, old);
		if (!ok && !v->collect)
			return false;
	}

	if ((kw = KW(K_propertyNames)) != NULL)
	{
		olds = path_push_str(&v->spath, "propertyNames");
		for (i = 0; i < view->n; i++)
		{
			old = path_push(&v->ipath, view->keys[i].val.string.val, view->keys[i].val.string.len);
			ok &= apply(v, node, kw, &view->keys[i], NULL);
			path_pop(&v->ipath, old);
		}
		path_pop(&v->spath, olds);
	}
	if ((kw = KW(K_required)) != NULL && js_is_array(kw))
	{
		JsView		req;

		build_view(kw, &req);
		for (i = 0; i < req.n; i++)
		{
			if (req.vals[i].type != jbvString)
				continue;
			if (!getKeyJsonValueFromContainer(inst->val.binary.data, req.vals[i].val.string.val,
											  req.vals[i].val.string.len, NULL))
			{
				add_error(v, "required", "required property \"%.*s\" is missing",
						  req.vals[i].val.string.len, req.vals[i].val.string.val);
				ok = false;
			}
		}
	}
	if ((kw = KW(K_minProperties)) != NULL)
	{
		int64		n;

		count_of(kw, &n, "minProperties");
		if (view->n < n)
		{
			add_error(v, "minProperties", "object has %d properties, fewer than %lld",
					  view->n, (long long) n);
			ok = false;
		}
	}
	if ((kw = KW(K_maxProperties)) != NULL)
	{
		int64		n;

		count_of(kw, &n, "maxProperties");
		if (view->n > n)
		{
			add_error(v, "maxProperties", "object has %d properties, more than %lld",
					  view->n, (long long) n);
			ok = false;
		}
	}
	/* dependentRequired (2019+) and the array form of dependencies (<= 7) */
	for (int pass = 0; pass < 2; pass++)
	{
		const char *name = pass == 0 ? "dependentRequired" : "dependencies";
		JsView		deps;
		int			d;

		if ((kw = KW(pass == 0 ? K_dependentRequired : K_dependencies)) == NULL || !js_is_object(kw))
			continue;
		build_view(kw, &deps);
		for (d = 0; d < deps.n; d++)
		{
			if (!getKeyJsonValueFromContainer(inst->val.binary.data, deps.keys[d].val.string.val,
											  deps.keys[d].val.string.len, NULL))
				continue;
			if (js_is_array(&deps.vals[d]))
			{
				JsView		req;
				int			r;

				build_view(&deps.vals[d], &req);
				for (r = 0; r < req.n; r++)
				{
					if (req.vals[r].type == jbvString &&
						!getKeyJsonValueFromContainer(inst->val.binary.data, req.vals[r].val.string.val,
													  req.vals[r].val.string.len, NULL))
					{
						add_error(v, name, "property \"%.*s\" requires property \"%.*s\"",
								  deps.keys[d].val.string.len, deps.keys[d].val.string.val,
								  req.vals[r].val.string.len, req.vals[r].val.string.val);
						ok = false;
					}
				}
			}
			else if (pass == 1)
			{
				olds = path_push_str(&v->spath, name);
				path_push(&v->spath, deps.keys[d].val.string.val, deps.keys[d].val.string.len);
				ok &= apply(v, node, &deps.vals[d], inst, ev);
				path_pop(&v->spath, olds);
			}
		}
	}
	if ((kw = KW(K_dependentSchemas)) != NULL && js_is_object(kw))
	{
		JsView		deps;
		int			d;

		build_view(kw, &deps);
		for (d = 0; d < deps.n; d++)
		{
			if (!getKeyJsonValueFromContainer(inst->val.binary.data, deps.keys[d].val.string.val,
											  deps.keys[d].val.string.len, NULL))
				continue;
			olds = path_push_str(&v->spath, "dependentSchemas");
			path_push(&v->spath, deps.keys[d].val.string.val, deps.keys[d].val.string.len);
			ok &= apply(v, node, &deps.vals[d], inst, ev);
			path_pop(&v->spath, olds);
		}
	}
	return ok;
}

static bool
validate_array(JsValidator *v, const JsNode *node, const JsonbValue *inst, JsEval *ev,
			   JsView *view)
{
	const JsKwSlots *kwt = node->kw;
	JsDraft		draft = node->draft;
	bool		vocab = v->s->validation_vocab;
	JsonbValue *kw;
	JsonbValue *items;
	bool		ok = true;
	int			prefix = 0;
	int			i,
				old,
				olds;
	JsonbValue *tuple;
	const char *tuple_kw;
	const char *kwname;

	(void) inst;

	js_items_layout(kwt, draft, &tuple, &tuple_kw, &items, &kwname);
	if (tuple)
	{
		JsView		tv;

		build_view(tuple, &tv);
		prefix = tv.n;
		for (i = 0; i < tv.n && i < view->n; i++)
		{
			old = path_push_index(&v->ipath, i);
			olds = path_push_str(&v->spath, tuple_kw);
			path_push_index(&v->spath, i);
			ok &= apply(v, node, &tv.vals[i], &view->vals[i], NULL);
			path_pop(&v->spath, olds);
			path_pop(&v->ipath, old);
			ev->items = bms_add_member(ev->items, i);
		}
	}
	/* items after the tuple (or all items) */
	if (items)
	{
		for (i = prefix; i < view->n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			old = path_push_index(&v->ipath, i);
			olds = path_push_str(&v->spath, kwname);
			ok &= apply(v, node, items, &view->vals[i], NULL);
			path_pop(&v->spath, olds);
			path_pop(&v->ipath, old);
			if (!ok && !v->collect)
				return false;
		}
		ev->all_items = true;
	}
	if ((kw = KW(K_contains)) != NULL)
	{
		int64		min = 1,
					max = -1;
		int			matches = 0;
		JsonbValue *mk;

		if ((mk = KW(K_minContains)) != NULL)
			count_of(mk, &min, "minContains");
		if ((mk = KW(K_maxContains)) != NULL)
			count_of(mk, &max, "maxContains");
		olds = path_push_str(&v->spath, "contains");
		for (i = 0; i < view->n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (apply_quiet(v, node, kw, &view->vals[i], NULL))
			{
				matches++;
				if (draft >= JS_DRAFT2020)
					ev->items = bms_add_member(ev->items, i);
			}
		}
		path_pop(&v->spath, olds);
		if (matches < min)
		{
			add_error(v, matches == 0 ? "contains" : "minContains",
					  "array contains %d matching items, fewer than %lld",
					  matches, (long long) min);
			ok = false;
		}
		if (max >= 0 && matches > max)
		{
			add_error(v, "maxContains", "array contains %d matching items, more than %lld",
					  matches, (long long) max);
			ok = false;
		}
	}
	if ((kw = KW(K_minItems)) != NULL)
	{
		int64		n;

		count_of(kw, &n, "minItems");
		if (view->n < n)
		{
			add_error(v, "minItems", "array has %d items, fewer than %lld", view->n, (long long) n);
			ok = false;
		}
	}
	if ((kw = KW(K_maxItems)) != NULL)
	{
		int64		n;

		count_of(kw, &n, "maxItems");
		if (view->n > n)
		{
			add_error(v, "maxItems", "array has %d items, more than %lld", view->n, (long long) n);
			ok = false;
		}
	}
	if ((kw = KW(K_uniqueItems)) != NULL && kw->type == jbvBool && kw->val.boolean)
	{
		int			j;

		if (!js_values_unique(view->vals, view->n, &i, &j))
		{
			add_error(v, "uniqueItems", "items %d and %d are equal", i, j);
			ok = false;
		}
	}
	return ok;
}

static bool
validate_number(JsValidator *v, const JsNode *node, Numeric n)
{
	const JsKwSlots *kwt = node->kw;
	JsDraft		draft = node->draft;
	bool		vocab = v->s->validation_vocab;
	JsonbValue *kw;
	Numeric		lim;
	bool		ok = true;

	if ((kw = KW(K_multipleOf)) != NULL && number_of(kw, &lim) &&
		!num_is_multiple(n, lim))
	{
		add_error(v, "multipleOf", "%s is not a multiple of %s", num_text(n), num_text(lim));
		ok = false;
	}
	if (draft == JS_DRAFT4)
	{
		JsonbValue *exmax = KW(K_exclusiveMaximum);
		JsonbValue *exmin = KW(K_exclusiveMinimum);
		bool		xmax = exmax && exmax->type == jbvBool && exmax->val.boolean;
		bool		xmin = exmin && exmin->type == jbvBool && exmin->val.boolean;

		if ((kw = KW(K_maximum)) != NULL && number_of(kw, &lim) &&
			(xmax ? num_cmp(n, lim) >= 0 : num_cmp(n, lim) > 0))
		{
			add_error(v, "maximum", "%s is greater than %s%s", num_text(n),
					  xmax ? "or equal to " : "", num_text(lim));
			ok = false;
		}
		if ((kw = KW(K_minimum)) != NULL && number_of(kw, &lim) &&
			(xmin ? num_cmp(n, lim) <= 0 : num_cmp(n, lim) < 0))
		{
			add_error(v, "minimum", "%s is less than %s%s", num_text(n),
					  xmin ? "or equal to " : "", num_text(lim));
			ok = false;
		}
		return ok;
	}
	if ((kw = KW(K_maximum)) != NULL && number_of(kw, &lim) && num_cmp(n, lim) > 0)
	{
		add_error(v, "maximum", "%s is greater than the maximum %s", num_text(n), num_text(lim));
		ok = false;
	}
	if ((kw = KW(K_minimum)) != NULL && number_of(kw, &lim) && num_cmp(n, lim) < 0)
	{
		add_error(v, "minimum", "%s is less than the minimum %s", num_text(n), num_text(lim));
		ok = false;
	}
	if ((kw = KW(K_exclusiveMaximum)) != NULL && number_of(kw, &lim) &&
		num_cmp(n, lim) >= 0)
	{
		add_error(v, "exclusiveMaximum", "%s is not less than %s", num_text(n), num_text(lim));
		ok = false;
	}
	if ((kw = KW(K_exclusiveMinimum)) != NULL && number_of(kw, &lim) &&
		num_cmp(n, lim) <= 0)
	{
		add_error(v, "exclusiveMinimum", "%s is not greater than %s", num_text(n), num_text(lim));
		ok = false;
	}
	return ok;
}

static bool
validate_string(JsValidator *v, const JsNode *node, const JsonbValue *inst)
{
	const JsKwSlots *kwt = node->kw;
	JsDraft		draft = node->draft;
	bool		vocab = v->s->validation_vocab;
	JsonbValue *kw;
	bool		ok = true;
	int			chars = -1;

	if ((kw = KW(K_minLength)) != NULL)
	{
		int64		n;

		count_of(kw, &n, "minLength");
		chars = pg_mbstrlen_with_len(inst->val.string.val, inst->val.string.len);
		if (chars < n)
		{
			add_error(v, "minLength", "string has %d characters, fewer than %lld", chars, (long long) n);
			ok = false;
		}
	}
	if ((kw = KW(K_maxLength)) != NULL)
	{
		int64		n;

		count_of(kw, &n, "maxLength");
		if (chars < 0)
			chars = pg_mbstrlen_with_len(inst->val.string.val, inst->val.string.len);
		if (chars > n)
		{
			add_error(v, "maxLength", "string has %d characters, more than %lld", chars, (long long) n);
			ok = false;
		}
	}
	if ((kw = KW(K_pattern)) != NULL && kw->type == jbvString &&
		!pattern_matches(kw, inst))
	{
		add_error(v, "pattern", "string does not match pattern \"%.*s\"",
				  kw->val.string.len, kw->val.string.val);
		ok = false;
	}
	if (jsonschema_format_assertion && (kw = KW(K_format)) != NULL &&
		kw->type == jbvString)
	{
		char	   *fmt = pnstrdup(kw->val.string.val, kw->val.string.len);
		bool		known;

		if (!jsonschema_format_check(fmt, inst->val.string.val, inst->val.string.len, &known) && known)
		{
			add_error(v, "format", "string is not a valid \"%s\"", fmt);
			ok = false;
		}
	}
	return ok;
}

static bool
validate_node(JsValidator *v, const JsNode *in, const JsonbValue *inst, JsEval *ev)
{
	JsNode		node = *in;
	const JsonbValue *schema = &node.value;
	const JsKwSlots *kwt;
	JsonbValue *kw;
	bool		ok = true;
	bool		pushed = false;
	JsView		view = {0};
	bool		have_view = false;
	int			olds;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	if (schema->type == jbvBool)
	{
		if (!schema->val.boolean)
		{
			add_error(v, "false", "no value is allowed here (schema false)");
			return false;
		}
		return true;
	}
	if (!js_is_object(schema))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JSON Schema: a schema must be an object or a boolean"),
				 errdetail("At schema location \"%s\".", v->spath.data)));

	kwt = kw_table(v->s, schema);
	node.kw = kwt;
	node.base = js_schema_enter(kwt, &node.draft, node.base);
	if (v->scope == NIL || strcmp(llast(v->scope), node.base) != 0)
	{
		v->scope = lappend(v->scope, (void *) node.base);
		pushed = true;
	}

	kw = NKW(K_D_ref);
	if (kw && kw->type == jbvString)
	{
		char	   *ref = pnstrdup(kw->val.string.val, kw->val.string.len);

		ok = do_ref(v, &node, ref, inst, ev);
		/* Up to draft 7, $ref overrides every sibling keyword. */
		if (node.draft <= JS_DRAFT7)
			goto done;
	}
	if (!ok && !v->collect)
		goto done;
	if ((kw = NKW(K_D_dynamicRef)) != NULL &&
		kw->type == jbvString)
		ok &= do_dynamic_ref(v, &node, pnstrdup(kw->val.string.val, kw->val.string.len), inst, ev);
	if ((kw = NKW(K_D_recursiveRef)) != NULL &&
		kw->type == jbvString)
		ok &= do_recursive_ref(v, &node, pnstrdup(kw->val.string.val, kw->val.string.len), inst, ev);

	if ((kw = NKW(K_type)) != NULL)
	{
		bool		match = false;

		if (kw->type == jbvString)
			match = type_matches(inst, kw->val.string.val, kw->val.string.len);
		else if (js_is_array(kw))
		{
			JsView		tv;
			int			i;

			build_view(kw, &tv);
			for (i = 0; i < tv.n && !match; i++)
				if (tv.vals[i].type == jbvString)
					match = type_matches(inst, tv.vals[i].val.string.val, tv.vals[i].val.string.len);
		}
		if (!match)
		{
			add_error(v, "type", "%s is not of type %s", type_name(inst), value_text(kw));
			ok = false;
		}
	}
	if ((kw = NKW(K_enum)) != NULL && js_is_array(kw))
	{
		JsView		ev_;
		bool		found = false;
		int			i;

		build_view(kw, &ev_);
		for (i = 0; i < ev_.n && !found; i++)
			found = js_json_equal(&ev_.vals[i], inst);
		if (!found)
		{
			add_error(v, "enum", "value is not one of %s", value_text(kw));
			ok = false;
		}
	}
	if ((kw = NKW(K_const)) != NULL &&
		!js_json_equal(kw, inst))
	{
		add_error(v, "const", "value is not equal to %s", value_text(kw));
		ok = false;
	}
	if (!ok && !v->collect)
		goto done;

	/* in-place applicators */
	if ((kw = NKW(K_allOf)) != NULL && js_is_array(kw))
	{
		JsView		sv;
		int			i;

		build_view(kw, &sv);
		for (i = 0; i < sv.n; i++)
		{
			olds = path_push_str(&v->spath, "allOf");
			path_push_index(&v->spath, i);
			ok &= apply(v, &node, &sv.vals[i], inst, ev);
			path_pop(&v->spath, olds);
		}
	}
	if ((kw = NKW(K_anyOf)) != NULL && js_is_array(kw))
	{
		JsView		sv;
		bool		any = false;
		int			i;

		build_view(kw, &sv);
		olds = path_push_str(&v->spath, "anyOf");
		for (i = 0; i < sv.n; i++)
			any |= apply_quiet(v, &node, &sv.vals[i], inst, ev);
		path_pop(&v->spath, olds);
		if (!any)
		{
			add_error(v, "anyOf", "value does not match any schema of anyOf");
			ok = false;
		}
	}
	if ((kw = NKW(K_oneOf)) != NULL && js_is_array(kw))
	{
		JsView		sv;
		int			matched = 0;
		int			i;

		build_view(kw, &sv);
		olds = path_push_str(&v->spath, "oneOf");
		for (i = 0; i < sv.n; i++)
			if (apply_quiet(v, &node, &sv.vals[i], inst, ev))
				matched++;
		path_pop(&v->spath, olds);
		if (matched != 1)
		{
			add_error(v, "oneOf", "value matches %d schemas of oneOf, not exactly one", matched);
			ok = false;
		}
	}
	if ((kw = NKW(K_not)) != NULL)
	{
		olds = path_push_str(&v->spath, "not");
		if (apply_quiet(v, &node, kw, inst, NULL))
		{
			path_pop(&v->spath, olds);
			add_error(v, "not", "value matches the schema in \"not\"");
			ok = false;
		}
		else
			path_pop(&v->spath, olds);
	}
	if ((kw = NKW(K_if)) != NULL)
	{
		JsonbValue *branch;
		const char *bname;

		olds = path_push_str(&v->spath, "if");
		if (apply_quiet(v, &node, kw, inst, ev))
			branch = NKW(K_then), bname = "then";
		else
			branch = NKW(K_else), bname = "else";
		path_pop(&v->spath, olds);
		if (branch)
		{
			olds = path_push_str(&v->spath, bname);
			ok &= apply(v, &node, branch, inst, ev);
			path_pop(&v->spath, olds);
		}
	}
	if (!ok && !v->collect)
		goto done;

	/* the keywords of the instance's type, if the schema has any */
	switch (inst->type)
	{
		case jbvBinary:
			if (JsonContainerIsObject(inst->val.binary.data))
			{
				if (!(kwt->applies & JS_FOR_OBJECT))
					break;
				build_view(inst, &view);
				have_view = true;
				ok &= validate_object(v, &node, inst, ev, &view);
			}
			else
			{
				if (!(kwt->applies & JS_FOR_ARRAY))
					break;
				build_view(inst, &view);
				have_view = true;
				ok &= validate_array(v, &node, inst, ev, &view);
			}
			break;
		case jbvNumeric:
			if (kwt->applies & JS_FOR_NUMBER)
				ok &= validate_number(v, &node, inst->val.numeric);
			break;
		case jbvString:
			if (kwt->applies & JS_FOR_STRING)
				ok &= validate_string(v, &node, inst);
			break;
		default:
			break;
	}
	if (!ok && !v->collect)
		goto done;

	/* unevaluated*: last, once every other keyword has left its annotations */
	if (have_view)
	{
		bool		isobj = JsonContainerIsObject(inst->val.binary.data);

		kw = NKW(isobj ? K_unevaluatedProperties : K_unevaluatedItems);
		if (kw && !(!isobj && ev->all_items))
		{
			const char *name = isobj ? "unevaluatedProperties" : "unevaluatedItems";
			int			i,
						old;

			for (i = 0; i < view.n; i++)
			{
				bool		sub_ok;
				bool		saved = v->collect;

				if (bms_is_member(i, isobj ? ev->props : ev->items))
					continue;
				if (isobj)
					old = path_push(&v->ipath, view.keys[i].val.string.val, view.keys[i].val.string.len);
				else
					old = path_push_index(&v->ipath, i);
				if (kw->type == jbvBool && !kw->val.boolean)
					v->collect = false;
				olds = path_push_str(&v->spath, name);
				sub_ok = apply(v, &node, kw, &view.vals[i], NULL);
				path_pop(&v->spath, olds);
				v->collect = saved;
				path_pop(&v->ipath, old);
				if (!sub_ok && kw->type == jbvBool)
				{
					if (isobj)
						add_error(v, name, "unevaluated property \"%.*s\" is not allowed",
								  view.keys[i].val.string.len, view.keys[i].val.string.val);
					else
						add_error(v, name, "unevaluated item %d is not allowed", i);
				}
				ok &= sub_ok;
				if (isobj)
					ev->props = bms_add_member(ev->props, i);
				else
					ev->items = bms_add_member(ev->items, i);
			}
		}
	}

done:
	if (pushed)
		v->scope = list_delete_last(v->scope);
	return ok;
}

bool
jsonschema_validate(JsSchema *s, JsonbValue *instance, List **errors)
{
	JsValidator v = {0};
	JsEval		ev = {0};
	bool		valid;

	/* only the verdict wanted: plan.c's walk, when it can decide */
	if (errors == NULL && jsonschema_plan_validate(s, instance, &valid))
	{
#ifdef JS_PLAN_CROSSCHECK
		/* make COPT=-DJS_PLAN_CROSSCHECK: every fast verdict checked here */
		JsValidator v2 = {0};
		JsEval		ev2 = {0};
		bool		slow;

		v2.s = s;
		initStringInfo(&v2.ipath);
		initStringInfo(&v2.spath);
		slow = validate_node(&v2, &s->root, instance, &ev2);
		if (slow != valid)
			elog(ERROR, "CROSSCHECK plan says %d, validate.c says %d", valid, slow);
		elog(DEBUG1, "CROSSCHECK ok");
#endif
		return valid;
	}
	v.s = s;
	v.errors = errors;
	v.collect = errors != NULL;
	initStringInfo(&v.ipath);
	initStringInfo(&v.spath);
	return validate_node(&v, &s->root, instance, &ev);
}
