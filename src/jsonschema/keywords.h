/*
 * keywords.h
 *	  The JSON Schema keywords the engine knows, described once.
 *
 *	  Both walkers read a schema object through this table: validate.c (the
 *	  full validator, errors and annotations) and plan.c (the fast yes/no
 *	  path, which decodes each schema object once into a plan).  A row says
 *	  what a keyword is:
 *
 *	    drafts   the drafts that define it; in any other draft the keyword
 *	             is an unknown word and both walkers ignore it
 *	    vocab    VALIDATION keywords apply only while the schema uses the
 *	             validation vocabulary (2019-09+ "$vocabulary"); CORE,
 *	             APPLICATOR and FORMAT keywords always do
 *	    applies  the instance type it constrains (ANY: every instance); a
 *	             walker skips the keywords of other types
 *	    fast     YES: plan.c decides it; NO: it needs annotations or the
 *	             dynamic scope, and a schema using it has no plan (validate.c
 *	             decides every document)
 *	    step     where each walker handles it: for object, array, number
 *	             and string, plan.c decodes it in compile_<step>_keywords and
 *	             checks it in walk_<step>, validate.c in validate_<step>;
 *	             node keywords (core, in-place applicators, type/enum/const)
 *	             are in plan_compile/walk and validate_node.  A walker calls
 *	             a step only when the schema object has a keyword that
 *	             applies to the instance's type
 *
 *	  Adding a keyword: a row here, then its decoding and check in the
 *	  step the row names, in both walkers.  Changing which drafts have a
 *	  keyword, or whether a vocabulary gates it, is the row alone.
 *
 *	  Draft membership and vocabulary are applied by js_kw() when a walker
 *	  reads a keyword, so no walker spells "draft >= 6" for a keyword again.
 *	  What a keyword means in each draft (items as an array before 2020-12,
 *	  draft 4's boolean exclusiveMaximum) stays with the shared decoders
 *	  below.
 */
#ifndef CANDYSTORE_JSONSCHEMA_KEYWORDS_H
#define CANDYSTORE_JSONSCHEMA_KEYWORDS_H

#include "jsonschema.h"

/* drafts, as bits */
#define JS_D4		0x01
#define JS_D6		0x02
#define JS_D7		0x04
#define JS_D2019	0x08
#define JS_D2020	0x10
#define JS_ALL		(JS_D4 | JS_D6 | JS_D7 | JS_D2019 | JS_D2020)
#define JS_FROM6	(JS_D6 | JS_D7 | JS_D2019 | JS_D2020)
#define JS_FROM7	(JS_D7 | JS_D2019 | JS_D2020)
#define JS_FROM2019 (JS_D2019 | JS_D2020)
/* draft 4 too under candystore.jsonschema_draft4_later_keywords = honour */
#define JS_D4_LATER 0x20

/* instance types a keyword constrains */
#define JS_FOR_ANY		0x0F
#define JS_FOR_OBJECT	0x01
#define JS_FOR_ARRAY	0x02
#define JS_FOR_NUMBER	0x04
#define JS_FOR_STRING	0x08

typedef enum JsVocab
{
	JS_VOCAB_CORE,
	JS_VOCAB_APPLICATOR,
	JS_VOCAB_VALIDATION,
	JS_VOCAB_FORMAT
} JsVocab;

/*
 * The table: X(id, name, drafts, vocab, applies, fast, step).  Rows are in
 * byte order of the name (js_keywords_read() searches them by bisection).
 * minContains/maxContains and the array form of "dependencies" are not
 * gated by the validation vocabulary (as before this table existed).
 */
#define JS_KEYWORDS(X) \
	X(D_dynamicRef,			"$dynamicRef",			JS_D2020,	APPLICATOR, ANY,	NO,  node) \
	X(D_id,					"$id",					JS_FROM6,	CORE,		ANY,	YES, node) \
	X(D_recursiveRef,		"$recursiveRef",		JS_D2019,	APPLICATOR, ANY,	NO,  node) \
	X(D_ref,				"$ref",					JS_ALL,		CORE,		ANY,	YES, node) \
	X(D_schema,				"$schema",				JS_ALL,		CORE,		ANY,	YES, node) \
	X(additionalItems,		"additionalItems",		JS_D4 | JS_D6 | JS_D7 | JS_D2019, APPLICATOR, ARRAY, YES, array) \
	X(additionalProperties, "additionalProperties", JS_ALL,		APPLICATOR, OBJECT, YES, object) \
	X(allOf,				"allOf",				JS_ALL,		APPLICATOR, ANY,	YES, node) \
	X(anyOf,				"anyOf",				JS_ALL,		APPLICATOR, ANY,	YES, node) \
	X(const,				"const",				JS_FROM6 | JS_D4_LATER,	VALIDATION, ANY,	YES, node) \
	X(contains,				"contains",				JS_FROM6 | JS_D4_LATER,	APPLICATOR, ARRAY,	YES, array) \
	X(dependencies,			"dependencies",			JS_ALL,		APPLICATOR, OBJECT, YES, object) \
	X(dependentRequired,	"dependentRequired",	JS_FROM2019, VALIDATION, OBJECT, YES, object) \
	X(dependentSchemas,		"dependentSchemas",		JS_FROM2019, APPLICATOR, OBJECT, YES, object) \
	X(else,					"else",					JS_FROM7 | JS_D4_LATER,	APPLICATOR, ANY,	YES, node) \
	X(enum,					"enum",					JS_ALL,		VALIDATION, ANY,	YES, node) \
	X(exclusiveMaximum,		"exclusiveMaximum",		JS_ALL,		VALIDATION, NUMBER, YES, number) \
	X(exclusiveMinimum,		"exclusiveMinimum",		JS_ALL,		VALIDATION, NUMBER, YES, number) \
	X(format,				"format",				JS_ALL,		FORMAT,		STRING, YES, string) \
	X(id,					"id",					JS_D4,		CORE,		ANY,	YES, node) \
	X(if,					"if",					JS_FROM7 | JS_D4_LATER,	APPLICATOR, ANY,	YES, node) \
	X(items,				"items",				JS_ALL,		APPLICATOR, ARRAY,	YES, array) \
	X(maxContains,			"maxContains",			JS_FROM2019, APPLICATOR, ARRAY, YES, array) \
	X(maxItems,				"maxItems",				JS_ALL,		VALIDATION, ARRAY,	YES, array) \
	X(maxLength,			"maxLength",			JS_ALL,		VALIDATION, STRING, YES, string) \
	X(maxProperties,		"maxProperties",		JS_ALL,		VALIDATION, OBJECT, YES, object) \
	X(maximum,				"maximum",				JS_ALL,		VALIDATION, NUMBER, YES, number) \
	X(minContains,			"minContains",			JS_FROM2019, APPLICATOR, ARRAY, YES, array) \
	X(minItems,				"minItems",				JS_ALL,		VALIDATION, ARRAY,	YES, array) \
	X(minLength,			"minLength",			JS_ALL,		VALIDATION, STRING, YES, string) \
	X(minProperties,		"minProperties",		JS_ALL,		VALIDATION, OBJECT, YES, object) \
	X(minimum,				"minimum",				JS_ALL,		VALIDATION, NUMBER, YES, number) \
	X(multipleOf,			"multipleOf",			JS_ALL,		VALIDATION, NUMBER, YES, number) \
	X(not,					"not",					JS_ALL,		APPLICATOR, ANY,	YES, node) \
	X(oneOf,				"oneOf",				JS_ALL,		APPLICATOR, ANY,	YES, node) \
	X(pattern,				"pattern",				JS_ALL,		VALIDATION, STRING, YES, string) \
	X(patternProperties,	"patternProperties",	JS_ALL,		APPLICATOR, OBJECT, YES, object) \
	X(prefixItems,			"prefixItems",			JS_D2020,	APPLICATOR, ARRAY,	YES, array) \
	X(properties,			"properties",			JS_ALL,		APPLICATOR, OBJECT, YES, object) \
	X(propertyNames,		"propertyNames",		JS_FROM6 | JS_D4_LATER,	APPLICATOR, OBJECT, YES, object) \
	X(required,				"required",				JS_ALL,		VALIDATION, OBJECT, YES, object) \
	X(then,					"then",					JS_FROM7 | JS_D4_LATER,	APPLICATOR, ANY,	YES, node) \
	X(type,					"type",					JS_ALL,		VALIDATION, ANY,	YES, node) \
	X(unevaluatedItems,		"unevaluatedItems",		JS_FROM2019, APPLICATOR, ARRAY, NO,  node) \
	X(unevaluatedProperties, "unevaluatedProperties", JS_FROM2019, APPLICATOR, OBJECT, NO, node) \
	X(uniqueItems,			"uniqueItems",			JS_ALL,		VALIDATION, ARRAY,	YES, array)

typedef enum JsKw
{
#define JS_KW_ENUM(id, name, drafts, vocab, applies, fast, step) K_##id,
	JS_KEYWORDS(JS_KW_ENUM)
#undef JS_KW_ENUM
	K__COUNT
} JsKw;

typedef struct JsKeyword
{
	const char *name;
	int			len;
	uint8		drafts;
	JsVocab		vocab;
	uint8		applies;
	bool		fast;
} JsKeyword;

extern const JsKeyword js_keywords[K__COUNT];

/* The keywords of one schema object, each found once. */
typedef struct JsKwSlots
{
	JsonbValue *slot[K__COUNT];	/* NULL: absent */
	uint8		applies;		/* union of the present keywords' types */
} JsKwSlots;

static inline uint8
js_draft_bit(JsDraft d)
{
	switch (d)
	{
		case JS_DRAFT4:
			return jsonschema_draft4_later_keywords == JS_DRAFT4_LATER_HONOUR ?
				JS_D4 | JS_D4_LATER : JS_D4;
		case JS_DRAFT6:
			return JS_D6;
		case JS_DRAFT7:
			return JS_D7;
		case JS_DRAFT2019:
			return JS_D2019;
		default:
			return JS_D2020;
	}
}

/*
 * Keyword k of a schema object as a walker sees it: NULL when absent, not
 * a keyword of draft, or a validation keyword while that vocabulary is off.
 */
static inline JsonbValue *
js_kw(const JsKwSlots *t, JsKw k, JsDraft draft, bool validation_vocab)
{
	JsonbValue *x = t->slot[k];

	if (x == NULL || !(js_keywords[k].drafts & js_draft_bit(draft)))
		return NULL;
	if (js_keywords[k].vocab == JS_VOCAB_VALIDATION && !validation_vocab)
		return NULL;
	return x;
}

/* Reads the keywords of a schema object (in the current memory context). */
extern void js_keywords_read(const JsonbContainer *schema, JsKwSlots *out);

/*
 * Entering a schema object, as both walkers do: "$schema" sets the draft,
 * then "$id" ("id" in draft 4) moves the base URI, except beside "$ref" up
 * to draft 7.  Returns the new base (palloc'd or base itself).
 */
extern const char *js_schema_enter(const JsKwSlots *t, JsDraft *draft, const char *base);

/*
 * The array keywords' layout in a draft: the schemas of the first items
 * (prefixItems in 2020-12, items as an array before) and of the items after
 * them (items, or additionalItems beside an array items).  Each NULL when
 * absent; *tuple_kw and *rest_kw name the keyword for error paths.  Inline:
 * out of line, its out-parameters would take stack in validate_node, whose
 * frame bounds how deep an instance can be.
 */
static inline void
js_items_layout(const JsKwSlots *t, JsDraft draft,
				JsonbValue **tuple, const char **tuple_kw,
				JsonbValue **rest, const char **rest_kw)
{
	JsonbValue *items = js_kw(t, K_items, draft, true);

	*tuple = NULL;
	*tuple_kw = NULL;
	*rest = items;
	*rest_kw = "items";
	if (draft >= JS_DRAFT2020)
	{
		*tuple = js_kw(t, K_prefixItems, draft, true);
		*tuple_kw = "prefixItems";
	}
	else if (items && js_is_array(items))
	{
		/* before 2020-12 an array "items" is the tuple */
		*tuple = items;
		*tuple_kw = "items";
		*rest = js_kw(t, K_additionalItems, draft, true);
		*rest_kw = "additionalItems";
	}
	if (*tuple && !js_is_array(*tuple))
		*tuple = NULL;
}

/* A count keyword's value (minLength, maxItems, ...); false if none is. */
extern bool js_keyword_count(const JsonbValue *x, int64 *out);

/* "uniqueItems": the first pair of equal values, if any (NULLs: not wanted). */
extern bool js_values_unique(const JsonbValue *vals, int n, int *first, int *second);

#endif
