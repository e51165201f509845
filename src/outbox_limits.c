/*
 * outbox_limits.c
 *	  What AMQP can carry.  An exchange name and a routing key travel as
 *	  shortstr: at most 255 bytes, which RabbitMQ reads as UTF-8 (it does not
 *	  restrict an exchange name's characters further: any UTF-8 name
 *	  declares).  The body, the stored envelope as JSON text, is limited by
 *	  candystore.outbox_max_message_bytes, which should not exceed the
 *	  broker's max_message_size (RabbitMQ closes the channel on a larger
 *	  message).
 *
 *	  publish(), replay() and replay_trace() refuse a message that fails
 *	  these checks, so nothing unsendable is enqueued; the outbox publisher
 *	  checks again and parks a row that still fails them (rows a superuser
 *	  inserted, rows of an upgraded 0.1.0 installation, a limit lowered since).
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "outbox_limits.h"

char *
outbox_shortstr_problem(const char *what, const char *s, size_t len,
						char **utf8, size_t *utf8_len, int *sqlerrcode)
{
	*utf8 = (char *) s;
	*utf8_len = len;
	if (GetDatabaseEncoding() == PG_SQL_ASCII)
	{
		/* bytes nobody checked: they are sent as they are, if UTF-8 */
		if (!pg_verify_mbstr(PG_UTF8, s, (int) len, true))
		{
			*sqlerrcode = ERRCODE_CHARACTER_NOT_IN_REPERTOIRE;
			return psprintf("The %s is not valid UTF-8.", what);
		}
	}
	else if (GetDatabaseEncoding() != PG_UTF8)
	{
		*utf8 = pg_server_to_any(s, (int) len, PG_UTF8);
		*utf8_len = strlen(*utf8);
	}
	if (*utf8_len > AMQP_SHORTSTR_MAX)
	{
		*sqlerrcode = ERRCODE_STRING_DATA_RIGHT_TRUNCATION;
		return psprintf("The %s is %zu bytes long in UTF-8; AMQP allows at most %d.",
						what, *utf8_len, AMQP_SHORTSTR_MAX);
	}
	return NULL;
}

char *
outbox_body_problem(size_t len)
{
	if (len > (size_t) outbox_max_message_bytes)
		return psprintf("The message body (the envelope as JSON text) is %zu bytes long;"
						" candystore.outbox_max_message_bytes is %d.",
						len, outbox_max_message_bytes);
	return NULL;
}

static void
check_shortstr(const char *what, const char *event_id, text *value, const char *hint)
{
	char	   *utf8;
	size_t		utf8_len;
	int			code;
	char	   *problem = outbox_shortstr_problem(what, VARDATA_ANY(value),
												  VARSIZE_ANY_EXHDR(value),
												  &utf8, &utf8_len, &code);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(code),
				 errmsg("event %s cannot be published: its %s is not an AMQP short string",
						event_id, what),
				 errdetail_internal("%s", problem),
				 errhint("%s", hint)));
}

/*
 * An upper bound of the length of the envelope's text as JsonbToCString
 * writes it, found by walking the jsonb without writing anything: a string
 * (or key) of n bytes takes at most 6n + 2 (every byte escaped as \u00XX,
 * and its quotes), a number exactly its numeric_out, anything else and each
 * separator a few bytes.  Writing the text costs ten times as much as the walk,
 * and is needed only when this bound is over the limit.
 */
static size_t
text_length_bound(Jsonb *envelope)
{
	JsonbIterator *it = JsonbIteratorInit(&envelope->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	size_t		bound = 0;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		/* brackets, ", " and ": ", true, false, null: 8 covers each token's */
		bound += 8;
		if ((tok == WJB_KEY || tok == WJB_VALUE || tok == WJB_ELEM) && v.type == jbvString)
			bound += 6 * (size_t) v.val.string.len;
		else if ((tok == WJB_VALUE || tok == WJB_ELEM) && v.type == jbvNumeric)
			bound += strlen(DatumGetCString(DirectFunctionCall1(numeric_out,
																NumericGetDatum(v.val.numeric))));
	}
	return bound;
}

void
outbox_check_message(const char *event_id, text *exchange, text *routing_key,
					 Jsonb *envelope, const char *hint)
{
	char	   *body;
	char	   *problem;

	if (exchange != NULL)
		check_shortstr("exchange name", event_id, exchange, hint);
	check_shortstr("routing key", event_id, routing_key, hint);

	/* the text's bytes are its UTF-8 ones: the bound holds for them */
	if ((GetDatabaseEncoding() == PG_UTF8 || GetDatabaseEncoding() == PG_SQL_ASCII) &&
		outbox_body_problem(text_length_bound(envelope)) == NULL)
		return;

	/* the body the publisher will send: the envelope as jsonb's text */
	body = JsonbToCString(NULL, &envelope->root, VARSIZE(envelope));
	if (GetDatabaseEncoding() != PG_UTF8 && GetDatabaseEncoding() != PG_SQL_ASCII)
		body = pg_server_to_any(body, strlen(body), PG_UTF8);
	problem = outbox_body_problem(strlen(body));
	pfree(body);
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("event %s cannot be published: the message is too large", event_id),
				 errdetail_internal("%s", problem),
				 errhint("%s", hint)));
}
