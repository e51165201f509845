/*
 * target_jsonb_text.c
 *	  Fuzz target "jsonb_text": jsonb_from_text(), the ingest worker's
 *	  one-pass parse of message bodies, against jsonb_in() as the oracle.
 *
 *	  For every text: both accept it and build the very same jsonb (byte for
 *	  byte), or jsonb_from_text() reports it malformed and jsonb_in() raises
 *	  with the same SQLSTATE.  A text jsonb_from_text() accepts but jsonb_in()
 *	  refuses, or the reverse, is a finding.  Where jsonb_from_text() itself
 *	  raises (a number numeric cannot hold), jsonb_in() would too; the driver
 *	  checks that error's class.  One difference is by design: nesting
 *	  deeper than JSONB_TEXT_MAX_DEPTH is refused (54001) where jsonb_in()
 *	  goes on until the stack runs out; the text must then really nest that
 *	  deep.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "jsonb_text.h"

#include "fuzz.h"

static Jsonb *(*from_text) (char *json, int len, JsonbTextError *error);

static void
init(void)
{
	from_text = fuzz_engine_symbol("jsonb_from_text");
}

/* How deep the text's brackets nest, strings skipped. */
static int
nesting(const char *text)
{
	int			depth = 0;
	int			deepest = 0;
	bool		in_string = false;

	for (const char *c = text; *c; c++)
	{
		if (in_string)
		{
			if (*c == '\\' && c[1] != '\0')
				c++;
			else if (*c == '"')
				in_string = false;
		}
		else if (*c == '"')
			in_string = true;
		else if (*c == '[' || *c == '{')
			deepest = Max(deepest, ++depth);
		else if (*c == ']' || *c == '}')
			depth--;
	}
	return deepest;
}

/* jsonb_in(text), or NULL with *sqlstate set when it raises */
static Jsonb *
oracle(char *text, int *sqlstate)
{
	ErrorData  *error;
	Jsonb	   *result = fuzz_jsonb_in(text, &error);

	if (error != NULL)
		*sqlstate = error->sqlerrcode;
	return result;
}

static void
run(const uint8_t *data, size_t size)
{
	/* the worker hands it only NUL-free text valid in the database encoding */
	char	   *text = fuzz_cstring(data, size);
	JsonbTextError err = {0};
	Jsonb	   *mine;
	Jsonb	   *theirs;
	int			sqlstate = 0;

	if (text == NULL)
		return;
	mine = from_text(text, (int) size, &err);
	if (mine == NULL && err.sqlstate == ERRCODE_STATEMENT_TOO_COMPLEX)
	{
		if (nesting(text) <= JSONB_TEXT_MAX_DEPTH)
			fuzz_finding("jsonb_from_text says too deep for a text nested %d levels", nesting(text));
		return;
	}
	theirs = oracle(text, &sqlstate);
	if (mine == NULL && theirs != NULL)
		fuzz_finding("jsonb_from_text refused what jsonb_in accepts: %s", err.message);
	if (mine != NULL && theirs == NULL)
		fuzz_finding("jsonb_from_text accepted what jsonb_in refuses (%s)", unpack_sql_state(sqlstate));
	if (mine == NULL)
	{
		if (err.sqlstate != sqlstate)
			fuzz_finding("jsonb_from_text says %s, jsonb_in %s", pstrdup(unpack_sql_state(err.sqlstate)),
						 unpack_sql_state(sqlstate));
		if (err.message == NULL || err.message[0] == '\0')
			fuzz_finding("malformed JSON without a reason");
		return;
	}
	if (VARSIZE(mine) != VARSIZE(theirs) || memcmp(mine, theirs, VARSIZE(mine)) != 0)
		fuzz_finding("jsonb_from_text and jsonb_in built different jsonb");
}

const FuzzTarget fuzz_target_jsonb_text = {"jsonb_text", init, run};
