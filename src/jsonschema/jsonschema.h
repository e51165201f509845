/*
 * jsonschema.h
 *	  The JSON Schema engine: a schema is compiled once (its resources,
 *	  anchors and draft indexed) and then validated directly against jsonb
 *	  as PostgreSQL stores it.
 */
#ifndef CANDYSTORE_JSONSCHEMA_H
#define CANDYSTORE_JSONSCHEMA_H

#include "postgres.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"

/* Whether a jsonb value is an object (or an array) held as a container. */
static inline bool
js_is_object(const JsonbValue *x)
{
	return x->type == jbvBinary && JsonContainerIsObject(x->val.binary.data);
}

static inline bool
js_is_array(const JsonbValue *x)
{
	return x->type == jbvBinary && JsonContainerIsArray(x->val.binary.data);
}

typedef enum JsDraft
{
	JS_DRAFT4 = 4,
	JS_DRAFT6 = 6,
	JS_DRAFT7 = 7,
	JS_DRAFT2019 = 2019,
	JS_DRAFT2020 = 2020
} JsDraft;

/* A location in a compiled schema: a schema value, its base URI and draft. */
typedef struct JsNode
{
	JsonbValue	value;			/* jbvBinary (object) or jbvBool */
	const char *base;			/* absolute base URI, no fragment */
	JsDraft		draft;
	const void *kw;				/* its JsKwSlots (keywords.h), once entered */
} JsNode;

/* One identified thing: a resource (uri), or an anchor (uri#name). */
typedef struct JsIdent
{
	char	   *key;
	JsNode		node;
	bool		dynamic;		/* a $dynamicAnchor */
	bool		recursive;		/* resource with "$recursiveAnchor": true */
} JsIdent;

typedef struct JsSchema
{
	MemoryContext cxt;			/* owns everything below */
	Jsonb	   *doc;			/* copy of the root document */
	JsNode		root;
	List	   *idents;			/* of JsIdent * */
	List	   *loaded;			/* URIs of documents already indexed */
	int			default_draft;	/* jsonschema_default_draft when compiled */
	int			draft4_later;	/* jsonschema_draft4_later_keywords then */
	bool		validation_vocab;	/* validation keywords apply */
	HTAB	   *keywords;		/* validate.c: JsKwSlots per schema object */
	int			plan_status;	/* plan.c: untried, ready or none */
	void	   *plan;			/* plan.c: the fast boolean path's plan */
} JsSchema;

typedef struct JsError
{
	char	   *instance_path;
	char	   *schema_path;
	const char *keyword;
	char	   *message;
} JsError;

/* compile.c */
extern JsSchema *jsonschema_compile(Jsonb *schema, MemoryContext parent);
extern const JsIdent *jsonschema_lookup(JsSchema *s, const char *key);
extern bool jsonschema_resolve(JsSchema *s, const char *base, const char *ref,
							   JsNode *out, const JsIdent **resource);
extern JsDraft jsonschema_draft_of(const JsonbValue *schema, JsDraft dflt);
extern const char *jsonschema_id_of(const JsonbValue *schema, JsDraft draft);
extern List *jsonschema_unresolved_refs(JsSchema *s);
extern bool jsonschema_draft_from_uri(const char *uri, JsDraft *draft);

/* validate.c: returns validity; with errors != NULL appends JsError * */
extern bool jsonschema_validate(JsSchema *s, JsonbValue *instance, List **errors);

/* plan.c: the fast verdict; false when validate.c must decide */
extern bool jsonschema_plan_validate(JsSchema *s, const JsonbValue *instance, bool *valid);

/* cache.c */
extern JsSchema *jsonschema_get_compiled(Jsonb *schema);
extern void jsonschema_cache_reset(void);
extern uint64 jsonschema_cache_generation(void);

/* uri.c */
extern char *uri_resolve(const char *base, const char *ref);
extern char *uri_strip_fragment(const char *uri, char **fragment);
extern char *uri_fragment_decode(const char *frag);

/* regex.c */
/* 22V04: a pattern reached candystore.jsonschema_pattern_match_limit */
#define ERRCODE_PATTERN_MATCH_LIMIT MAKE_SQLSTATE('2','2','V','0','4')

/* A pattern compiled once and matched many times (plan.c). */
typedef struct JsRegexHandle
{
	const char *pattern;		/* the text, kept by the caller */
	int			patlen;
	struct JsRegex *re;			/* valid while generation is the cache's */
	uint64		generation;
} JsRegexHandle;

extern int	jsonschema_pattern_match_limit;
extern bool jsonschema_regex_match(const char *pattern, int patlen,
								   const char *s, int len);
extern void jsonschema_regex_check(const char *pattern, int patlen);
extern bool jsonschema_regex_valid(const char *pattern, int patlen);
extern void jsonschema_regex_prepare(JsRegexHandle *h, const char *pattern, int patlen);
extern bool jsonschema_regex_match_prepared(JsRegexHandle *h, const char *s, int len);
extern bool jsonschema_regex_prepared_is_fixed(const JsRegexHandle *h);

/* regex_fixed.c: fixed-length patterns over ASCII sets, matched directly */
typedef struct JsFixedPattern JsFixedPattern;
extern JsFixedPattern *jsonschema_fixed_pattern(const char *pattern, int patlen);
extern bool jsonschema_fixed_match(const JsFixedPattern *f, const char *s, int len);

/* format.c */
extern bool jsonschema_format_check(const char *format, const char *s, int len,
									bool *known);
extern int	jsonschema_format_id(const char *name, int len);
extern bool jsonschema_format_check_id(int id, const char *s, int len);

/* settings.c */
extern bool jsonschema_format_assertion;
extern int	jsonschema_default_draft;

/* candystore.jsonschema_draft4_later_keywords */
typedef enum JsDraft4Later
{
	JS_DRAFT4_LATER_IGNORE,		/* draft 4 as specified: unknown words */
	JS_DRAFT4_LATER_HONOUR		/* as ajv: they apply */
} JsDraft4Later;
extern int	jsonschema_draft4_later_keywords;
extern void jsonschema_define_settings(void);

/* compile.c: shared lookups */
extern JsonbValue *js_get_key(const JsonbValue *obj, const char *key);
extern void js_value_from_jsonb(Jsonb *jb, JsonbValue *v);

/* json_equal.c: JSON equality ("enum", "const", "uniqueItems") */
extern bool js_json_equal(const JsonbValue *a, const JsonbValue *b);

#endif
