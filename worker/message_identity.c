/*
 * message_identity.c
 *	  The event id a dead-lettered body carries, as far as the body can be
 *	  read: the first "event_id" member of its top-level object that is a
 *	  string, found by lexing from the start and stopping at the first
 *	  error.  So `{"event_id": "…", not json` still names its event, and a
 *	  redelivery of it is recognised by that id (outcome.c).  Only the
 *	  failure path reads it; it neither recurses nor throws.
 */
#include "postgres.h"

#include <limits.h>

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "ingest.h"

/* longer "event ids" are not taken as an identity */
#define EVENT_ID_MAX_LEN 200

char *
message_event_id(char *body, size_t len)
{
	JsonLexContext *lex;
	int			depth = 0;		/* containers open inside the member's value */
	bool		expect_key = true;
	bool		want_value = false;

	if (len == 0 || len > INT_MAX)
		return NULL;
	lex = makeJsonLexContextCstringLen(body, (int) len, GetDatabaseEncoding(), true);
	if (json_lex(lex) != JSON_SUCCESS || lex->token_type != JSON_TOKEN_OBJECT_START)
		return NULL;
	for (;;)
	{
		JsonTokenType t;

		CHECK_FOR_INTERRUPTS();
		if (json_lex(lex) != JSON_SUCCESS)
			return NULL;
		t = lex->token_type;
		if (t == JSON_TOKEN_END)
			return NULL;
		if (depth == 0 && expect_key)
		{
			/* a member's key, then its colon */
			if (t != JSON_TOKEN_STRING)
				return NULL;
			want_value = strcmp(lex->strval->data, "event_id") == 0;
			if (json_lex(lex) != JSON_SUCCESS || lex->token_type != JSON_TOKEN_COLON)
				return NULL;
			expect_key = false;
			continue;
		}
		if (depth == 0 && !expect_key && (t == JSON_TOKEN_COMMA || t == JSON_TOKEN_OBJECT_END))
		{
			/* after the member's value */
			if (t == JSON_TOKEN_OBJECT_END)
				return NULL;
			expect_key = true;
			continue;
		}
		if (depth == 0 && want_value)
		{
			if (t == JSON_TOKEN_STRING && lex->strval->len <= EVENT_ID_MAX_LEN)
				return pstrdup(lex->strval->data);
			want_value = false;
		}
		if (t == JSON_TOKEN_OBJECT_START || t == JSON_TOKEN_ARRAY_START)
			depth++;
		else if (t == JSON_TOKEN_OBJECT_END || t == JSON_TOKEN_ARRAY_END)
		{
			if (--depth < 0)
				return NULL;
		}
	}
}
