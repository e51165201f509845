/*
 * compile.c
 *	  Compiling a schema: copy the document into its own memory context and
 *	  index every resource ($id), anchor ($anchor, $dynamicAnchor, draft <= 7
 *	  "#name" ids) with its base URI and draft, so $ref resolution during
 *	  validation is a lookup.  Documents referenced by absolute URI are
 *	  loaded on demand from candystore.schema_resources and the registered
 *	  event schemas (candystore.schemas, by $id; never the network).
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "jsonschema.h"

/* How a JSON location relates to schemas, for walking keyword-aware. */
typedef enum JsPlace
{
	PLACE_SCHEMA,				/* a schema */
	PLACE_MAP,					/* an object whose values are schemas */
	PLACE_ARRAY,				/* an array whose elements are schemas */
	PLACE_OTHER					/* plain data */
} JsPlace;

JsonbValue *
js_get_key(const JsonbValue *obj, const char *key)
{
	if (obj->type != jbvBinary || !JsonContainerIsObject(obj->val.binary.data))
		return NULL;
	return getKeyJsonValueFromContainer(obj->val.binary.data, key, strlen(key), NULL);
}

static char *
js_string(const JsonbValue *v)
{
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

bool
jsonschema_draft_from_uri(const char *uri, JsDraft *draft)
{
	if (strstr(uri, "json-schema.org/draft-04/schema"))
		*draft = JS_DRAFT4;
	else if (strstr(uri, "json-schema.org/draft-06/schema"))
		*draft = JS_DRAFT6;
	else if (strstr(uri, "json-schema.org/draft-07/schema"))
		*draft = JS_DRAFT7;
	else if (strstr(uri, "json-schema.org/draft/2019-09/schema"))
		*draft = JS_DRAFT2019;
	else if (strstr(uri, "json-schema.org/draft/2020-12/schema"))
		*draft = JS_DRAFT2020;
	else
		return false;
	return true;
}

JsDraft
jsonschema_draft_of(const JsonbValue *schema, JsDraft dflt)
{
	char	   *uri = js_string(js_get_key(schema, "$schema"));
	JsDraft		d;

	if (uri && jsonschema_draft_from_uri(uri, &d))
		return d;
	return dflt;
}

/* The $id (draft 4: id) that changes the base URI, or NULL. */
const char *
jsonschema_id_of(const JsonbValue *schema, JsDraft draft)
{
	char	   *id = js_string(js_get_key(schema, draft == JS_DRAFT4 ? "id" : "$id"));

	if (id == NULL)
		return NULL;
	/* Up to draft 7, $ref makes its siblings (the $id too) ignored. */
	if (draft <= JS_DRAFT7 && js_get_key(schema, "$ref") != NULL)
		return NULL;
	if (id[0] == '#')
		return NULL;			/* a plain-name anchor, not a base */
	return id;
}

/* Where the value under keyword key of a schema sits. */
static JsPlace
place_of_keyword(const char *key, const JsonbValue *val, JsDraft draft)
{
	static const char *const single[] = {
		"additionalItems", "additionalProperties", "contains", "propertyNames",
		"not", "if", "then", "else", "unevaluatedItems", "unevaluatedProperties",
		"contentSchema", NULL
	};
	static const char *const map[] = {
		"properties", "patternProperties", "definitions", "$defs",
		"dependencies", "dependentSchemas", NULL
	};
	static const char *const array[] = {"allOf", "anyOf", "oneOf", "prefixItems", NULL};
	int			i;

	(void) draft;
	if (strcmp(key, "items") == 0)
		return (val->type == jbvBinary && JsonContainerIsArray(val->val.binary.data)) ?
			PLACE_ARRAY : PLACE_SCHEMA;
	for (i = 0; single[i]; i++)
		if (strcmp(key, single[i]) == 0)
			return PLACE_SCHEMA;
	for (i = 0; map[i]; i++)
		if (strcmp(key, map[i]) == 0)
			return PLACE_MAP;
	for (i = 0; array[i]; i++)
		if (strcmp(key, array[i]) == 0)
			return PLACE_ARRAY;
	return PLACE_OTHER;
}

static JsIdent *
add_ident(JsSchema *s, char *key, const JsonbValue *v, const char *base, JsDraft draft)
{
	JsIdent    *id = palloc0(sizeof(JsIdent));

	id->key = key;
	id->node.value = *v;
	id->node.base = base;
	id->node.draft = draft;
	s->idents = lappend(s->idents, id);
	return id;
}

const JsIdent *
jsonschema_lookup(JsSchema *s, const char *key)
{
	ListCell   *lc;

	foreach(lc, s->idents)
	{
		JsIdent    *id = lfirst(lc);

		if (strcmp(id->key, key) == 0)
			return id;
	}
	return NULL;
}

/*
 * Enters a schema object: applies $schema and $id to *draft / *base, and
 * indexes it when it is a resource or carries anchors.
 */
static void
enter_schema(JsSchema *s, const JsonbValue *v, const char **base, JsDraft *draft,
			 bool index)
{
	const char *id;
	char	   *anchor;
	JsonbValue *ra;
	const char *parent = *base;	/* idents keep it: validation applies $id */

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		return;
	*draft = jsonschema_draft_of(v, *draft);
	id = jsonschema_id_of(v, *draft);
	if (id)
	{
		*base = uri_strip_fragment(uri_resolve(*base, id), NULL);
		if (index && !jsonschema_lookup(s, *base))
			add_ident(s, pstrdup(*base), v, parent, *draft);
	}
	if (!index)
		return;
	if (*draft <= JS_DRAFT7)
	{
		char	   *raw = js_string(js_get_key(v, *draft == JS_DRAFT4 ? "id" : "$id"));

		if (raw && raw[0] == '#' && !js_get_key(v, "$ref"))
			add_ident(s, psprintf("%s#%s", *base, raw + 1), v, parent, *draft);
		return;
	}
	anchor = js_string(js_get_key(v, "$anchor"));
	if (anchor)
		add_ident(s, psprintf("%s#%s", *base, anchor), v, parent, *draft);
	anchor = js_string(js_get_key(v, "$dynamicAnchor"));
	if (anchor && *draft >= JS_DRAFT2020)
		add_ident(s, psprintf("%s#%s", *base, anchor), v, parent, *draft)->dynamic = true;
	ra = js_get_key(v, "$recursiveAnchor");
	if (ra && ra->type == jbvBool && ra->val.boolean && *draft == JS_DRAFT2019)
	{
		ListCell   *lc;

		foreach(lc, s->idents)
		{
			JsIdent    *r = lfirst(lc);

			if (strcmp(r->key, *base) == 0)
				r->recursive = true;
		}
	}
}

/*
 * The references of one schema object that resolve to nothing, added (as
 * absolute URIs, each once) to *missing.  Resolving loads the documents
 * they name.
 */
static void
check_refs(JsSchema *s, const JsonbValue *v, const char *base, JsDraft draft, List **missing)
{
	const char *keywords[3];
	int			n = 0;
	int			i;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		return;
	keywords[n++] = "$ref";
	if (draft == JS_DRAFT2019)
		keywords[n++] = "$recursiveRef";
	if (draft >= JS_DRAFT2020)
		keywords[n++] = "$dynamicRef";
	for (i = 0; i < n; i++)
	{
		char	   *ref = js_string(js_get_key(v, keywords[i]));
		JsNode		target;
		char	   *uri;
		ListCell   *lc;
		bool		listed = false;

		if (ref == NULL || jsonschema_resolve(s, base, ref, &target, NULL))
			continue;
		uri = uri_resolve(base, ref);
		foreach(lc, *missing)
			if (strcmp(lfirst(lc), uri) == 0)
				listed = true;
		if (!listed)
			*missing = lappend(*missing, uri);
	}
}

static void walk_value(JsSchema *s, const JsonbValue *v, JsPlace place,
					   const char *base, JsDraft draft, List **missing);

static void
walk_children(JsSchema *s, const JsonbValue *v, JsPlace place,
			  const char *base, JsDraft draft, List **missing)
{
	JsonbIterator *it;
	JsonbValue	k,
				val;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (v->type != jbvBinary)
		return;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		CHECK_FOR_INTERRUPTS();
		if (tok == WJB_KEY)
			key = pnstrdup(k.val.string.val, k.val.string.len);
		else if (tok == WJB_VALUE)
		{
			val = k;
			if (place == PLACE_SCHEMA)
				walk_value(s, &val, place_of_keyword(key, &val, draft), base, draft, missing);
			else if (place == PLACE_MAP)
				walk_value(s, &val, PLACE_SCHEMA, base, draft, missing);
		}
		else if (tok == WJB_ELEM && place == PLACE_ARRAY)
		{
			val = k;
			walk_value(s, &val, PLACE_SCHEMA, base, draft, missing);
		}
	}
}

/*
 * Compiles a schema's "pattern" and "patternProperties" keys: an invalid
 * pattern is an error whatever the instance and whichever function asks.
 */
static void
compile_patterns(JsSchema *s, const JsonbValue *v)
{
	JsonbValue *pat;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		return;
	pat = js_get_key(v, "pattern");
	if (pat && pat->type == jbvString && s->validation_vocab)
		jsonschema_regex_check(pat->val.string.val, pat->val.string.len);
	pat = js_get_key(v, "patternProperties");
	if (pat && pat->type == jbvBinary && JsonContainerIsObject(pat->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(pat->val.binary.data);
		JsonbValue	k;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
			if (tok == WJB_KEY)
				jsonschema_regex_check(k.val.string.val, k.val.string.len);
	}
}

/*
 * Walks the schema objects under v, keyword-aware, keeping base URI and
 * draft current: indexes them (missing NULL), or lists the references that
 * resolve to nothing in *missing.
 */
static void
walk_value(JsSchema *s, const JsonbValue *v, JsPlace place, const char *base, JsDraft draft,
		   List **missing)
{
	check_stack_depth();
	if (place == PLACE_OTHER)
		return;
	if (place == PLACE_SCHEMA)
	{
		enter_schema(s, v, &base, &draft, missing == NULL);
		if (missing)
			check_refs(s, v, base, draft, missing);
		else
			compile_patterns(s, v);
	}
	walk_children(s, v, place, base, draft, missing);
}

/* Indexes a whole document found under uri. */
static void
index_document(JsSchema *s, const JsonbValue *root, const char *uri, JsDraft draft)
{
	draft = jsonschema_draft_of(root, draft);
	add_ident(s, pstrdup(uri), root, uri, draft);
	walk_value(s, root, PLACE_SCHEMA, uri, draft, NULL);
}

/*
 * The references of s, and of every document they lead to, that resolve to
 * nothing, as absolute URIs.  Validation resolves a reference only when it
 * reaches it; this resolves them all.
 */
List *
jsonschema_unresolved_refs(JsSchema *s)
{
	List	   *missing = NIL;
	MemoryContext old = MemoryContextSwitchTo(s->cxt);
	int			i;

	walk_value(s, &s->root.value, PLACE_SCHEMA, s->root.base, s->root.draft, &missing);
	/* s->loaded grows as references load documents */
	for (i = 0; i < list_length(s->loaded); i++)
	{
		const JsIdent *doc = jsonschema_lookup(s, list_nth(s->loaded, i));

		if (doc)
			walk_value(s, &doc->node.value, PLACE_SCHEMA, doc->node.base, doc->node.draft,
					   &missing);
	}
	MemoryContextSwitchTo(old);
	return missing;
}

void
js_value_from_jsonb(Jsonb *jb, JsonbValue *v)
{
	if (JB_ROOT_IS_SCALAR(jb))
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(&jb->root, 0);

		*v = *elem;
	}
	else
	{
		v->type = jbvBinary;
		v->val.binary.data = &jb->root;
		v->val.binary.len = VARSIZE(jb) - VARHDRSZ;
	}
}

/* Loads uri from the registry or candystore.schema_resources; false when absent. */
static bool
load_document(JsSchema *s, const char *uri, JsDraft draft)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Jsonb	   *doc = NULL;
	MemoryContext old;
	ListCell   *lc;
	JsonbValue	root;

	/* An indexed document is found by lookup; this guards re-indexing. */
	foreach(lc, s->loaded)
		if (strcmp(lfirst(lc), uri) == 0)
			return false;

	args[0] = CStringGetTextDatum(uri);
	SPI_connect();
	/*
	 * Registered event schemas are reachable by their $id too, and come
	 * first: a resource must never stand in for a registered contract
	 * (add_schema_resource() refuses their URIs; this also holds for rows
	 * added around it).
	 */
	if (SPI_execute_with_args("SELECT d.doc FROM ("
							  " SELECT 1 AS rank, schema AS doc FROM candystore.schemas WHERE schema_id = $1"
							  " UNION ALL"
							  " SELECT 2, document FROM candystore.schema_resources WHERE uri = $1) d"
							  " ORDER BY d.rank LIMIT 1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read candystore.schema_resources");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			old = MemoryContextSwitchTo(s->cxt);
			doc = DatumGetJsonbPCopy(d);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	if (doc == NULL)
		return false;
	old = MemoryContextSwitchTo(s->cxt);
	s->loaded = lappend(s->loaded, pstrdup(uri));
	js_value_from_jsonb(doc, &root);
	index_document(s, &root, pstrdup(uri), draft);
	MemoryContextSwitchTo(old);
	return true;
}

/* Follows a JSON Pointer from node, keeping base URI and draft current. */
static bool
follow_pointer(JsSchema *s, const JsNode *from, const char *ptr, JsNode *out)
{
	JsonbValue	cur = from->value;
	const char *base = from->base;
	JsDraft		draft = from->draft;
	JsPlace		place = PLACE_SCHEMA;
	const char *p = ptr;

	while (*p == '/')
	{
		const char *end = strchr(p + 1, '/');
		int			n = end ? end - (p + 1) : (int) strlen(p + 1);
		StringInfoData tok;
		JsonbValue *next = NULL;
		int			i;

		CHECK_FOR_INTERRUPTS();
		initStringInfo(&tok);
		for (i = 0; i < n; i++)
		{
			char		c = p[1 + i];

			if (c == '~' && i + 1 < n && p[2 + i] == '1')
			{
				appendStringInfoChar(&tok, '/');
				i++;
			}
			else if (c == '~' && i + 1 < n && p[2 + i] == '0')
			{
				appendStringInfoChar(&tok, '~');
				i++;
			}
			else
				appendStringInfoChar(&tok, c);
		}
		if (cur.type != jbvBinary)
			return false;
		if (place == PLACE_SCHEMA)
			enter_schema(s, &cur, &base, &draft, false);
		if (JsonContainerIsObject(cur.val.binary.data))
			next = getKeyJsonValueFromContainer(cur.val.binary.data, tok.data, tok.len, NULL);
		else
		{
			char	   *endp;
			long		idx = strtol(tok.data, &endp, 10);

			if (tok.len == 0 || *endp != '\0' || idx < 0)
				return false;
			next = getIthJsonbValueFromContainer(cur.val.binary.data, (uint32) idx);
		}
		if (next == NULL)
			return false;
		if (place == PLACE_SCHEMA)
			place = place_of_keyword(tok.data, next, draft);
		else if (place == PLACE_MAP || place == PLACE_ARRAY)
			place = PLACE_SCHEMA;
		cur = *next;
		p += 1 + n;
	}
	if (*p != '\0')
		return false;
	out->value = cur;
	out->base = base;
	out->draft = draft;
	return true;
}

/*
 * Resolves ref against base.  *resource (when not NULL) gets the ident the
 * target was found under.  False when the target does not exist.
 */
bool
jsonschema_resolve(JsSchema *s, const char *base, const char *ref,
				   JsNode *out, const JsIdent **resource)
{
	char	   *abs = uri_resolve(base, ref);
	char	   *frag;
	char	   *uri = uri_strip_fragment(abs, &frag);
	const JsIdent *id = jsonschema_lookup(s, uri);

	frag = uri_fragment_decode(frag);
	if (id == NULL)
	{
		if (!load_document(s, uri, s->root.draft))
			return false;
		id = jsonschema_lookup(s, uri);
		if (id == NULL)
			return false;
	}
	if (resource)
		*resource = id;
	if (frag[0] == '\0')
	{
		*out = id->node;
		return true;
	}
	if (frag[0] == '/')
		return follow_pointer(s, &id->node, frag, out);
	id = jsonschema_lookup(s, psprintf("%s#%s", uri, frag));
	if (id == NULL)
		return false;
	if (resource)
		*resource = id;
	*out = id->node;
	return true;
}

/*
 * A root "$schema" naming a custom meta-schema: the draft is that of the
 * meta-schema, and a "$vocabulary" without the validation vocabulary turns
 * the validation keywords (type, minimum, required ...) off.
 */
static void
apply_custom_metaschema(JsSchema *s)
{
	char	   *uri = js_string(js_get_key(&s->root.value, "$schema"));
	JsDraft		d;
	JsNode		meta;
	JsonbValue *voc;

	if (uri == NULL || jsonschema_draft_from_uri(uri, &d))
		return;
	if (!jsonschema_resolve(s, NULL, uri, &meta, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown JSON Schema meta-schema \"%s\"", uri),
				 errhint("Register it with candystore.add_schema_resource(uri, document).")));
	s->root.draft = jsonschema_draft_of(&meta.value, s->root.draft);
	voc = js_get_key(&meta.value, "$vocabulary");
	if (voc && voc->type == jbvBinary && JsonContainerIsObject(voc->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(voc->val.binary.data);
		JsonbValue	k;
		JsonbIteratorToken tok;
		bool		found = false;

		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
			if (tok == WJB_KEY && k.val.string.len >= 17 &&
				memcmp(k.val.string.val + k.val.string.len - 17, "/vocab/validation", 17) == 0)
				found = true;
		s->validation_vocab = found;
	}
}

JsSchema *
jsonschema_compile(Jsonb *schema, MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "candystore json schema",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	JsSchema   *s = palloc0(sizeof(JsSchema));
	s->cxt = cxt;
	s->doc = DatumGetJsonbPCopy(JsonbPGetDatum(schema));
	js_value_from_jsonb(s->doc, &s->root.value);
	if (s->root.value.type != jbvBinary && s->root.value.type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a JSON Schema must be an object or a boolean")));
	if (s->root.value.type == jbvBinary && !JsonContainerIsObject(s->root.value.val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a JSON Schema must be an object or a boolean")));
	s->root.draft = jsonschema_draft_of(&s->root.value, (JsDraft) jsonschema_default_draft);
	s->validation_vocab = true;
	apply_custom_metaschema(s);
	s->default_draft = jsonschema_default_draft;
	s->draft4_later = jsonschema_draft4_later_keywords;
	/* A schema without an absolute $id gets a private base URI. */
	s->root.base = "urn:candystore:root";
	index_document(s, &s->root.value, "urn:candystore:root", s->root.draft);
	MemoryContextSwitchTo(old);
	return s;
}
