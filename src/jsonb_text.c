/*
 * jsonb_text.c
 *	  JSON text to jsonb in one pass, with PostgreSQL's own JSON lexer.
 *
 *	  jsonb_in() throws on malformed JSON, and catching that needs a
 *	  subtransaction per message.  Parsing is also the largest single cost of
 *	  ingesting a message: PostgreSQL 15's lexer, asked for de-escaped
 *	  strings, copies every character of every string one call at a time.
 *	  So this lexes the document without de-escaping (json_lex() still
 *	  checks every token, escapes included), takes a string without a
 *	  backslash as it stands in the text, and has the lexer de-escape only
 *	  the strings that have escapes, each as it is lexed; a string with
 *	  neither escapes nor control characters, the common case, is found
 *	  eight bytes at a time without the lexer.  The grammar is
 *	  pg_parse_json()'s, with the same errors; the jsonb is built through
 *	  pushJsonbValue() as jsonb_in() builds it (keys sorted, the last of
 *	  duplicate keys kept).  fuzz/target_jsonb_text.c checks, against
 *	  jsonb_in() itself, that both accept the same texts and build the same
 *	  bytes.
 *
 *	  It never throws for what a message can hold beyond jsonb's limits:
 *	  nesting deeper than JSONB_TEXT_MAX_DEPTH (checked before recursing,
 *	  so the stack is never the limit) and a string longer than jsonb can
 *	  hold are reported as values, with the SQLSTATEs jsonb_in's errors
 *	  carry (54001, 54000), like malformed JSON.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "json_plain_bytes.h"
#include "jsonb_text.h"
#include "jsonb_text_fast.h"
#include "pg_compat.h"		/* the JSON lexer's API is 15's */

typedef struct Parser
{
	JsonLexContext *lex;		/* the document, lexed without de-escaping */
	StringInfo	escaped;		/* the current token de-escaped, if it is a
								 * string with escapes */
	JsonLexContext *error_lex;	/* the de-escaping lexer that found the
								 * error, if one did */
	JsonbParseState *state;
	JsonbValue *result;			/* what the last pushJsonbValue() returned */
	int			depth;			/* containers open */
	int			limit_sqlstate; /* a limit exceeded: its SQLSTATE, */
	char	   *limit_message;	/* and why */
} Parser;

/* what parse_*() return when a limit is exceeded (p->limit_* say which) */
#define JSON_LIMIT_EXCEEDED ((JsonParseErrorType) (JSON_UNICODE_LOW_SURROGATE + 100))

static JsonParseErrorType parse_value(Parser *p);

static JsonParseErrorType
limit_exceeded(Parser *p, int sqlstate, char *message)
{
	p->limit_sqlstate = sqlstate;
	p->limit_message = message;
	return JSON_LIMIT_EXCEEDED;
}

/* jsonb's limit on a string's length, as jsonb_in enforces it */
static JsonParseErrorType
check_length(Parser *p, size_t len)
{
	if (unlikely(len > JENTRY_OFFLENMASK))
		return limit_exceeded(p, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
							  psprintf("string too long to represent as jsonb string: "
									   "jsonb strings cannot exceed %d bytes", JENTRY_OFFLENMASK));
	return JSON_SUCCESS;
}

/* The error pg_parse_json gives for an unexpected token in this place. */
static JsonParseErrorType
unexpected(JsonLexContext *lex, JsonParseErrorType in_place)
{
	if (lex->token_start == NULL || lex->token_type == JSON_TOKEN_END)
		return JSON_EXPECTED_MORE;
	return in_place;
}

/*
 * A string token without escapes or control characters, lexed here eight
 * bytes at a time: PostgreSQL 15's lexer tests each character of a string
 * several times, and strings are most of a message's bytes.  Leaves the
 * lexer as json_lex() would and returns true; for any other token returns
 * false and leaves the lexer untouched, for json_lex() to lex it.
 */
static bool
lex_plain_string(JsonLexContext *lex)
{
	char	   *end = lex->input + lex->input_length;
	char	   *s = lex->token_terminator;
	char	   *c;
	int			line_number = lex->line_number;
	char	   *line_start = lex->line_start;

	while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
	{
		if (*s++ == '\n')
		{
			line_number++;
			line_start = s;
		}
	}
	if (s >= end || *s != '"')
		return false;
	c = s + 1 + json_plain_words(s + 1, end);
	for (; c < end; c++)
	{
		unsigned char ch = (unsigned char) *c;

		if (ch == '"')
		{
			lex->line_number = line_number;
			lex->line_start = line_start;
			lex->token_start = s;
			lex->prev_token_terminator = lex->token_terminator;
			lex->token_terminator = c + 1;
			lex->token_type = JSON_TOKEN_STRING;
			return true;
		}
		if (ch == '\\' || ch < 0x20)
			return false;
	}
	return false;
}

/*
 * The next token.  A token the lexer refuses, and a string with escapes, are
 * lexed again by a lexer that de-escapes, from the same place: a string is
 * then de-escaped as soon as it is lexed, and a bad token gets the error
 * pg_parse_json would report for it (a \u0000 before a control character,
 * say, which only de-escaping finds).
 */
static JsonParseErrorType
next_token(Parser *p)
{
	JsonLexContext *lex = p->lex;
	char	   *from = lex->token_terminator;
	JsonParseErrorType rc;
	JsonLexContext *again;
	JsonParseErrorType again_rc;

	p->escaped = NULL;
	if (lex_plain_string(lex))
		return JSON_SUCCESS;
	rc = json_lex(lex);
	if (rc == JSON_SUCCESS &&
		(lex->token_type != JSON_TOKEN_STRING ||
		 memchr(lex->token_start, '\\', lex->token_terminator - lex->token_start) == NULL))
		return JSON_SUCCESS;

	again = makeJsonLexContextCstringLen(from, lex->input + lex->input_length - from,
										 lex->input_encoding, true);
	again_rc = json_lex(again);
	if (again_rc != JSON_SUCCESS)
	{
		p->error_lex = again;
		return again_rc;
	}
	if (rc == JSON_SUCCESS)
		p->escaped = again->strval;
	return rc;
}

/* Moves past the current token if it is `token`. */
static JsonParseErrorType
expect(Parser *p, JsonTokenType token, JsonParseErrorType in_place)
{
	if (p->lex->token_type != token)
		return unexpected(p->lex, in_place);
	return next_token(p);
}

/* The value of the current token, a string. */
static JsonParseErrorType
string_value(Parser *p, JsonbValue *v)
{
	size_t		len;

	v->type = jbvString;
	if (p->escaped != NULL)
	{
		v->val.string.val = p->escaped->data;
		len = p->escaped->len;
	}
	else
	{
		/* the text itself, which the lexer found free of control characters */
		v->val.string.val = p->lex->token_start + 1;
		len = p->lex->token_terminator - p->lex->token_start - 2;
	}
	v->val.string.len = (int) len;
	return check_length(p, len);
}

/* A string, number, true, false or null, then past it. */
static JsonParseErrorType
parse_scalar(Parser *p)
{
	JsonLexContext *lex = p->lex;
	JsonTokenType type = lex->token_type;
	char	   *number = NULL;
	JsonbValue	v;
	JsonParseErrorType rc;

	switch (type)
	{
		case JSON_TOKEN_STRING:
			if ((rc = string_value(p, &v)) != JSON_SUCCESS)
				return rc;
			break;
		case JSON_TOKEN_NUMBER:
			number = pnstrdup(lex->token_start, lex->token_terminator - lex->token_start);
			break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			v.type = jbvBool;
			v.val.boolean = type == JSON_TOKEN_TRUE;
			break;
		case JSON_TOKEN_NULL:
			v.type = jbvNull;
			break;
		default:
			return unexpected(lex, JSON_EXPECTED_JSON);
	}
	/* as pg_parse_json: the next token is lexed before the number is read */
	if ((rc = next_token(p)) != JSON_SUCCESS)
		return rc;
	if (number != NULL)
	{
		/* the lexer has checked the syntax; numeric_in throws only for range */
		v.type = jbvNumeric;
		v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(number),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
	}

	if (p->state == NULL)
	{
		/* a scalar document: jsonb holds it as a one-element raw-scalar array */
		JsonbValue	wrapper;

		wrapper.type = jbvArray;
		wrapper.val.array.rawScalar = true;
		wrapper.val.array.nElems = 1;
		pushJsonbValue(&p->state, WJB_BEGIN_ARRAY, &wrapper);
		pushJsonbValue(&p->state, WJB_ELEM, &v);
		p->result = pushJsonbValue(&p->state, WJB_END_ARRAY, NULL);
	}
	else
		p->result = pushJsonbValue(&p->state,
								   p->state->contVal.type == jbvArray ? WJB_ELEM : WJB_VALUE, &v);
	return JSON_SUCCESS;
}

/* An object's member: a key, a colon, a value. */
static JsonParseErrorType
parse_member(Parser *p)
{
	JsonbValue	key;
	JsonParseErrorType rc;

	if (p->lex->token_type != JSON_TOKEN_STRING)
		return unexpected(p->lex, JSON_EXPECTED_STRING);
	if ((rc = string_value(p, &key)) != JSON_SUCCESS ||
		(rc = next_token(p)) != JSON_SUCCESS ||
		(rc = expect(p, JSON_TOKEN_COLON, JSON_EXPECTED_COLON)) != JSON_SUCCESS)
		return rc;
	pushJsonbValue(&p->state, WJB_KEY, &key);
	return parse_value(p);
}

/* An object (members) or an array (values), from its opening token on. */
static JsonParseErrorType
parse_container(Parser *p, bool object)
{
	JsonLexContext *lex = p->lex;
	JsonTokenType end = object ? JSON_TOKEN_OBJECT_END : JSON_TOKEN_ARRAY_END;
	JsonParseErrorType rc;

	/*
	 * Nesting is bounded here, before recursing: deeper is a value, not an
	 * ERROR, and the recursion never needs more stack than the limit's.
	 */
	if (unlikely(++p->depth > JSONB_TEXT_MAX_DEPTH))
		return limit_exceeded(p, ERRCODE_STATEMENT_TOO_COMPLEX,
							  psprintf("JSON nested too deeply: more than %d levels of objects and arrays",
									   JSONB_TEXT_MAX_DEPTH));
	pushJsonbValue(&p->state, object ? WJB_BEGIN_OBJECT : WJB_BEGIN_ARRAY, NULL);
	if ((rc = next_token(p)) != JSON_SUCCESS)	/* past '{' or '[' */
		return rc;
	if (lex->token_type != end)
	{
		/* pg_parse_json names a bad first member apart from later ones */
		if (object && lex->token_type != JSON_TOKEN_STRING)
			return unexpected(lex, JSON_EXPECTED_OBJECT_FIRST);
		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			if ((rc = object ? parse_member(p) : parse_value(p)) != JSON_SUCCESS)
				return rc;
			if (lex->token_type != JSON_TOKEN_COMMA)
				break;
			if ((rc = next_token(p)) != JSON_SUCCESS)
				return rc;
		}
	}
	if ((rc = expect(p, end, object ? JSON_EXPECTED_OBJECT_NEXT : JSON_EXPECTED_ARRAY_NEXT)) != JSON_SUCCESS)
		return rc;
	p->result = pushJsonbValue(&p->state, object ? WJB_END_OBJECT : WJB_END_ARRAY, NULL);
	p->depth--;
	return JSON_SUCCESS;
}

static JsonParseErrorType
parse_value(Parser *p)
{
	switch (p->lex->token_type)
	{
		case JSON_TOKEN_OBJECT_START:
			return parse_container(p, true);
		case JSON_TOKEN_ARRAY_START:
			return parse_container(p, false);
		default:
			return parse_scalar(p);
	}
}

Jsonb *
jsonb_from_text(char *json, int len, JsonbTextError *error)
{
	Parser		p = {0};
	JsonParseErrorType rc;
	Jsonb	   *fast = jsonb_from_text_fast(json, len);

	if (fast != NULL)
		return fast;
	p.lex = makeJsonLexContextCstringLen(json, len, GetDatabaseEncoding(), false);
	rc = next_token(&p);
	if (rc == JSON_SUCCESS)
		rc = parse_value(&p);
	if (rc == JSON_SUCCESS)
		rc = expect(&p, JSON_TOKEN_END, JSON_EXPECTED_END);
	if (rc == JSON_LIMIT_EXCEEDED)
	{
		error->sqlstate = p.limit_sqlstate;
		error->message = p.limit_message;
		return NULL;
	}
	if (rc != JSON_SUCCESS)
	{
		/* the SQLSTATEs and words jsonb_in's errors carry */
		bool		escape = rc == JSON_UNICODE_CODE_POINT_ZERO || rc == JSON_UNICODE_HIGH_ESCAPE;

		error->sqlstate = escape ? ERRCODE_UNTRANSLATABLE_CHARACTER : ERRCODE_INVALID_TEXT_REPRESENTATION;
		error->message = psprintf("%s: %s",
								  escape ? "unsupported Unicode escape sequence" : "malformed JSON",
								  json_errdetail(rc, p.error_lex ? p.error_lex : p.lex));
		return NULL;
	}
	return JsonbValueToJsonb(p.result);
}
