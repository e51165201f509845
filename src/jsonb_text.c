/*
 * jsonb_text.c
 *	  JSON text to jsonb in one pass of PostgreSQL's own JSON parser.
 *
 *	  jsonb_in() throws on malformed JSON, and catching that needs a
 *	  subtransaction per message; checking the syntax first doubles the
 *	  lexing, which is the largest single cost of ingesting a message.  This
 *	  runs pg_parse_json() once, with de-escaping, and builds the jsonb
 *	  through pushJsonbValue() the way jsonb_in() does, so the result is the
 *	  same value (keys sorted, the last of duplicate keys kept), and a syntax
 *	  error comes back as a value.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "jsonb_text.h"

typedef struct BuildState
{
	JsonbParseState *parse;
	JsonbValue *result;
} BuildState;

/* jsonb's limit on a string's length, as jsonb_in enforces it */
static int
checked_length(size_t len)
{
	if (len > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("string too long to represent as jsonb string"),
				 errdetail("Due to an implementation restriction, jsonb strings cannot exceed %d bytes.",
						   JENTRY_OFFLENMASK)));
	return (int) len;
}

static void
object_start(void *state)
{
	BuildState *s = state;

	s->result = pushJsonbValue(&s->parse, WJB_BEGIN_OBJECT, NULL);
}

static void
object_end(void *state)
{
	BuildState *s = state;

	s->result = pushJsonbValue(&s->parse, WJB_END_OBJECT, NULL);
}

static void
array_start(void *state)
{
	BuildState *s = state;

	s->result = pushJsonbValue(&s->parse, WJB_BEGIN_ARRAY, NULL);
}

static void
array_end(void *state)
{
	BuildState *s = state;

	s->result = pushJsonbValue(&s->parse, WJB_END_ARRAY, NULL);
}

static void
object_field_start(void *state, char *fname, bool isnull pg_attribute_unused())
{
	BuildState *s = state;
	JsonbValue	key;

	key.type = jbvString;
	key.val.string.len = checked_length(strlen(fname));
	key.val.string.val = fname;
	s->result = pushJsonbValue(&s->parse, WJB_KEY, &key);
}

static void
scalar(void *state, char *token, JsonTokenType tokentype)
{
	BuildState *s = state;
	JsonbValue	v;

	switch (tokentype)
	{
		case JSON_TOKEN_STRING:
			v.type = jbvString;
			v.val.string.len = checked_length(strlen(token));
			v.val.string.val = token;
			break;
		case JSON_TOKEN_NUMBER:
			/* the lexer has checked the syntax; numeric_in throws only for range */
			v.type = jbvNumeric;
			v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(token),
																ObjectIdGetDatum(InvalidOid),
																Int32GetDatum(-1)));
			break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			v.type = jbvBool;
			v.val.boolean = tokentype == JSON_TOKEN_TRUE;
			break;
		case JSON_TOKEN_NULL:
			v.type = jbvNull;
			break;
		default:
			elog(ERROR, "unexpected JSON token type %d", (int) tokentype);
	}

	if (s->parse == NULL)
	{
		/* a scalar document: jsonb holds it as a one-element raw-scalar array */
		JsonbValue	wrapper;

		wrapper.type = jbvArray;
		wrapper.val.array.rawScalar = true;
		wrapper.val.array.nElems = 1;
		pushJsonbValue(&s->parse, WJB_BEGIN_ARRAY, &wrapper);
		pushJsonbValue(&s->parse, WJB_ELEM, &v);
		s->result = pushJsonbValue(&s->parse, WJB_END_ARRAY, NULL);
	}
	else if (s->parse->contVal.type == jbvArray)
		s->result = pushJsonbValue(&s->parse, WJB_ELEM, &v);
	else
		s->result = pushJsonbValue(&s->parse, WJB_VALUE, &v);
}

Jsonb *
jsonb_from_text(char *json, int len, JsonbTextError *error)
{
	BuildState	state = {0};
	JsonSemAction sem = {0};
	JsonLexContext *lex;
	JsonParseErrorType rc;

	sem.semstate = &state;
	sem.object_start = object_start;
	sem.object_end = object_end;
	sem.array_start = array_start;
	sem.array_end = array_end;
	sem.object_field_start = object_field_start;
	sem.scalar = scalar;

	lex = makeJsonLexContextCstringLen(json, len, GetDatabaseEncoding(), true);
	rc = pg_parse_json(lex, &sem);
	if (rc != JSON_SUCCESS)
	{
		/* the SQLSTATEs and words jsonb_in's errors carry */
		bool		escape = rc == JSON_UNICODE_CODE_POINT_ZERO || rc == JSON_UNICODE_HIGH_ESCAPE;

		error->sqlstate = escape ? ERRCODE_UNTRANSLATABLE_CHARACTER : ERRCODE_INVALID_TEXT_REPRESENTATION;
		error->message = psprintf("%s: %s",
								  escape ? "unsupported Unicode escape sequence" : "malformed JSON",
								  json_errdetail(rc, lex));
		return NULL;
	}
	return JsonbValueToJsonb(state.result);
}
