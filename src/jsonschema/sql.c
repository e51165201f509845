/*
 * sql.c
 *	  SQL entry points of the JSON Schema engine.
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "jsonschema.h"

PG_FUNCTION_INFO_V1(jsonb_matches_schema);
PG_FUNCTION_INFO_V1(jsonschema_validation_errors);
PG_FUNCTION_INFO_V1(jsonschema_is_valid);
PG_FUNCTION_INFO_V1(jsonschema_reset_cache);
PG_FUNCTION_INFO_V1(jsonschema_unresolved_references);

/* Validates in a short-lived context so a million calls leave no trace. */
static bool
validate_jsonb(Jsonb *schema, Jsonb *instance, List **errors, MemoryContext keep)
{
	JsSchema   *s = jsonschema_get_compiled(schema);
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "candystore json validation",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(errors ? keep : work);
	JsonbValue	inst;
	bool		ok;

	js_value_from_jsonb(instance, &inst);
	ok = jsonschema_validate(s, &inst, errors);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	return ok;
}

/*
 * What one call site of jsonb_matches_schema keeps between rows, so that a
 * query validating a million rows against one schema finds its compiled
 * form by comparing the argument's bytes as passed (not even detoasted),
 * and reuses one memory context instead of creating one per row.
 */
typedef struct JsCallSite
{
	MemoryContext scratch;		/* a row's validation allocations */
	char	   *raw;			/* schema argument as passed; NULL: none */
	Size		raw_len;
	JsSchema   *schema;			/* its compiled form ... */
	uint64		generation;		/* ... while the cache has freed nothing */
	int			default_draft;	/* ... and these settings are unchanged */
	int			draft4_later;
} JsCallSite;

static JsSchema *
schema_for_call(FunctionCallInfo fcinfo, JsCallSite *site)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(0));
	bool		inline_value = !VARATT_IS_EXTERNAL(raw);
	Size		len = inline_value ? VARSIZE_ANY(raw) : 0;
	JsSchema   *s;

	if (site->raw && inline_value && site->raw_len == len &&
		site->generation == jsonschema_cache_generation() &&
		site->default_draft == jsonschema_default_draft &&
		site->draft4_later == jsonschema_draft4_later_keywords &&
		memcmp(site->raw, raw, len) == 0)
		return site->schema;
	s = jsonschema_get_compiled(PG_GETARG_JSONB_P(0));
	if (site->raw)
		pfree(site->raw);
	site->raw = NULL;
	if (inline_value)
	{
		site->raw = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len);
		memcpy(site->raw, raw, len);
		site->raw_len = len;
		site->schema = s;
		site->generation = jsonschema_cache_generation();
		site->default_draft = jsonschema_default_draft;
		site->draft4_later = jsonschema_draft4_later_keywords;
	}
	return s;
}

Datum
jsonb_matches_schema(PG_FUNCTION_ARGS)
{
	JsCallSite *site = fcinfo->flinfo->fn_extra;
	MemoryContext old;
	JsonbValue	inst;
	JsSchema   *s;
	bool		ok;

	if (site == NULL)
	{
		site = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(JsCallSite));
		/* default sizes: a detoasted document fits the kept first block */
		site->scratch = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
											  "candystore json validation",
											  ALLOCSET_DEFAULT_SIZES);
		fcinfo->flinfo->fn_extra = site;
	}
	old = MemoryContextSwitchTo(site->scratch);
	s = schema_for_call(fcinfo, site);
	js_value_from_jsonb(PG_GETARG_JSONB_P(1), &inst);
	ok = jsonschema_validate(s, &inst, NULL);
	MemoryContextSwitchTo(old);
	/* a no-op when the row allocated nothing */
	MemoryContextReset(site->scratch);
	PG_RETURN_BOOL(ok);
}

Datum
jsonschema_validation_errors(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *errors = NIL;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	validate_jsonb(PG_GETARG_JSONB_P(0), PG_GETARG_JSONB_P(1), &errors, CurrentMemoryContext);
	foreach(lc, errors)
	{
		JsError    *e = lfirst(lc);
		Datum		values[4];
		bool		nulls[4] = {0};

		values[0] = CStringGetTextDatum(e->instance_path);
		values[1] = CStringGetTextDatum(e->schema_path);
		values[2] = CStringGetTextDatum(e->keyword);
		values[3] = CStringGetTextDatum(e->message);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* The schema against the meta-schema of its draft. */
Datum
jsonschema_is_valid(PG_FUNCTION_ARGS)
{
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);
	JsonbValue	root;
	JsDraft		draft = JS_DRAFT2020;
	const char *meta;
	Jsonb	   *wrapper;

	js_value_from_jsonb(schema, &root);
	if (root.type == jbvBinary || root.type == jbvBool)
		draft = jsonschema_draft_of(&root, JS_DRAFT2020);
	switch (draft)
	{
		case JS_DRAFT4:
			meta = "http://json-schema.org/draft-04/schema#";
			break;
		case JS_DRAFT6:
			meta = "http://json-schema.org/draft-06/schema#";
			break;
		case JS_DRAFT7:
			meta = "http://json-schema.org/draft-07/schema#";
			break;
		case JS_DRAFT2019:
			meta = "https://json-schema.org/draft/2019-09/schema";
			break;
		default:
			meta = "https://json-schema.org/draft/2020-12/schema";
			break;
	}
	wrapper = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												 CStringGetDatum(psprintf("{\"$ref\": \"%s\"}", meta))));
	PG_RETURN_BOOL(validate_jsonb(wrapper, schema, NULL, NULL));
}

/* Drops this backend's compiled schemas (after resources change). */
Datum
jsonschema_reset_cache(PG_FUNCTION_ARGS)
{
	(void) fcinfo;
	jsonschema_cache_reset();
	PG_RETURN_VOID();
}

/*
 * candystore.jsonschema_unresolved_refs(schema jsonb) RETURNS text[]: the
 * absolute URIs its references (and those of the documents they lead to)
 * name that resolve to nothing.  Compiled aside, not cached.
 */
Datum
jsonschema_unresolved_references(PG_FUNCTION_ARGS)
{
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);
	JsSchema   *s = jsonschema_compile(schema, CurrentMemoryContext);
	List	   *missing = jsonschema_unresolved_refs(s);
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(missing) + 1));
	int			n = 0;
	ListCell   *lc;
	ArrayType  *result;

	foreach(lc, missing)
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	result = construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
	MemoryContextDelete(s->cxt);
	PG_RETURN_ARRAYTYPE_P(result);
}
