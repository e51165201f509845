/*
 * target_jsonschema.c
 *	  Fuzz target "jsonschema": compile + validate, as
 *	  candystore.jsonschema_validation_errors() does it, plus the schema
 *	  against its draft's meta-schema (candystore.jsonschema_is_valid()).
 *
 *	  Input: schema JSON, a NUL byte, instance JSON.  Without a NUL byte the
 *	  schema validates itself.  Both must parse as JSON (jsonb_in); when they
 *	  do not, that ERROR is the outcome.
 *
 *	  Oracle beyond "no crash": validating with and without collecting
 *	  errors gives the same verdict, and there are errors exactly when the
 *	  verdict is "invalid", each with JSON Pointers for paths.
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/pg_list.h"

#include "jsonschema/jsonschema.h"

#include "fuzz.h"

static JsSchema *(*get_compiled) (Jsonb *schema);
static bool (*validate) (JsSchema *s, JsonbValue *instance, List **errors);
static void (*value_from_jsonb) (Jsonb *jb, JsonbValue *v);
static PGFunction is_valid;

static void
init(void)
{
	get_compiled = fuzz_engine_symbol("jsonschema_get_compiled");
	validate = fuzz_engine_symbol("jsonschema_validate");
	value_from_jsonb = fuzz_engine_symbol("js_value_from_jsonb");
	is_valid = (PGFunction) fuzz_engine_symbol("jsonschema_is_valid");
}

static void
check_pointer(const char *what, const char *p)
{
	if (p == NULL || (p[0] != '\0' && p[0] != '/'))
		fuzz_finding("%s \"%s\" is not a JSON Pointer", what, p ? p : "(null)");
}

static void
run(const uint8_t *data, size_t size)
{
	const uint8_t *rest;
	size_t		restlen;
	size_t		schemalen = fuzz_split(data, size, &rest, &restlen);
	bool		has_instance = rest != data + size || restlen > 0;
	Jsonb	   *schema = fuzz_jsonb((const char *) data, schemalen);
	Jsonb	   *instance = has_instance ? fuzz_jsonb((const char *) rest, restlen) : schema;
	JsSchema   *s = get_compiled(schema);
	JsonbValue	inst;
	List	   *errors = NIL;
	ListCell   *lc;
	bool		valid;
	bool		quick;

	value_from_jsonb(instance, &inst);
	valid = validate(s, &inst, &errors);
	quick = validate(s, &inst, NULL);
	if (valid != quick)
		fuzz_finding("validation says %s when collecting errors, %s when not",
					 valid ? "valid" : "invalid", quick ? "valid" : "invalid");
	if (valid != (errors == NIL))
		fuzz_finding("verdict %s with %d errors", valid ? "valid" : "invalid",
					 list_length(errors));
	foreach(lc, errors)
	{
		JsError    *e = lfirst(lc);

		check_pointer("instance_path", e->instance_path);
		check_pointer("schema_path", e->schema_path);
		if (e->keyword == NULL || e->message == NULL || e->message[0] == '\0')
			fuzz_finding("an error without keyword or message at %s", e->schema_path);
	}

	(void) DirectFunctionCall1(is_valid, PointerGetDatum(schema));
}

const FuzzTarget fuzz_target_jsonschema = {"jsonschema", init, run};
