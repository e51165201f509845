/*
 * settings.c
 *	  Settings of the JSON Schema engine.
 *
 * Both change what a schema accepts, and append(), publish() and
 * redrive_dead_letters() validate payloads against the registered schemas
 * with them: so only a superuser may change them (PGC_SUSET, which also
 * covers ALTER ROLE/DATABASE ... SET and a function's SET clause), or a
 * writer could switch a contract off for its own session.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "jsonschema.h"

bool		jsonschema_format_assertion = true;
int			jsonschema_default_draft = JS_DRAFT2020;
int			jsonschema_draft4_later_keywords = JS_DRAFT4_LATER_IGNORE;

static const struct config_enum_entry draft_options[] = {
	{"4", JS_DRAFT4, false},
	{"6", JS_DRAFT6, false},
	{"7", JS_DRAFT7, false},
	{"2019-09", JS_DRAFT2019, false},
	{"2020-12", JS_DRAFT2020, false},
	{NULL, 0, false}
};

static const struct config_enum_entry draft4_later_options[] = {
	{"ignore", JS_DRAFT4_LATER_IGNORE, false},
	{"honour", JS_DRAFT4_LATER_HONOUR, false},
	{"honor", JS_DRAFT4_LATER_HONOUR, true},
	{NULL, 0, false}
};

void
jsonschema_define_settings(void)
{
	DefineCustomBoolVariable("candystore.jsonschema_format_assertion",
							 "Whether the JSON Schema \"format\" keyword rejects invalid values.",
							 "When off, \"format\" is only an annotation, as the 2019-09 and 2020-12 drafts specify by default.",
							 &jsonschema_format_assertion,
							 true, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("candystore.jsonschema_default_draft",
							 "The JSON Schema draft of schemas without \"$schema\".",
							 NULL,
							 &jsonschema_default_draft,
							 JS_DRAFT2020, draft_options, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("candystore.jsonschema_draft4_later_keywords",
							 "Whether draft-04 schemas obey the keywords later drafts added (const, contains, propertyNames, if/then/else).",
							 "ignore: as draft 4 specifies, they are unknown words; honour: they apply, as ajv applies them.",
							 &jsonschema_draft4_later_keywords,
							 JS_DRAFT4_LATER_IGNORE, draft4_later_options, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.jsonschema_pattern_match_limit",
							"The most steps one JSON Schema pattern match may take.",
							"A match that needs more raises SQLSTATE 22V04 instead of answering.",
							&jsonschema_pattern_match_limit,
							10000000, 1000, INT_MAX, PGC_SUSET, 0, NULL, NULL, NULL);
}
