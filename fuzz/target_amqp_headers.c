/*
 * target_amqp_headers.c
 *	  Fuzz target "amqp_headers": the ingest worker's rendering of a
 *	  message's headers and properties as JSON (worker/amqp_headers.c).
 *
 *	  The input is a header table as it travels on the wire (its entries;
 *	  the length prefix is added here) and is decoded by rabbitmq-c's own
 *	  decoder, as the worker receives it; the same bytes, split at NULs, are
 *	  also the exchange and every text property (rendered as they are and
 *	  from the copy the worker keeps of them).  Oracle: whatever rabbitmq-c
 *	  decodes, the JSON written is valid in the database encoding, jsonb_in
 *	  accepts it, and the worker's own parse (jsonb_from_text) builds the
 *	  same jsonb; text kept as it was is valid, escaped text says so.
 *
 *	  The W3C trace context (worker/traceparent.c): the input is also parsed
 *	  as a traceparent, checked against its definition (independently
 *	  written here), and the trace_context the worker would record from the
 *	  decoded headers must be JSON jsonb_in accepts, holding a traceparent
 *	  the parser accepts.
 */
#include "postgres.h"

#include <amqp.h>

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "jsonb_text.h"
#include "worker/amqp_headers.h"
#include "worker/traceparent.h"

#include "fuzz.h"

/* rabbitmq-c's table decoder (amqp_private.h; exported by librabbitmq) */
extern int	amqp_decode_table(amqp_bytes_t encoded, amqp_pool_t *pool, amqp_table_t *output,
							  size_t *offset);

static char *(*headers_json) (const amqp_table_t *headers);
static char *(*properties_json) (const amqp_basic_properties_t *props, amqp_bytes_t exchange);
static void (*properties_copy) (amqp_basic_properties_t *dst, amqp_bytes_t *dst_exchange,
								const amqp_basic_properties_t *src, amqp_bytes_t exchange);
static char *(*escaped_text) (const void *bytes, size_t len, bool *valid);
static bool (*text_valid) (const void *bytes, size_t len);
static Jsonb *(*from_text) (char *json, int len, JsonbTextError *error);
static bool (*tp_parse) (const char *s, size_t len, Traceparent *out);
static char *(*tc_from_headers) (const amqp_table_t *headers);

static void
init(void)
{
	headers_json = fuzz_engine_symbol("amqp_headers_json");
	properties_json = fuzz_engine_symbol("amqp_properties_json");
	properties_copy = fuzz_engine_symbol("amqp_properties_copy");
	escaped_text = fuzz_engine_symbol("amqp_text");
	text_valid = fuzz_engine_symbol("amqp_text_valid");
	from_text = fuzz_engine_symbol("jsonb_from_text");
	tp_parse = fuzz_engine_symbol("traceparent_parse");
	tc_from_headers = fuzz_engine_symbol("trace_context_from_headers");
}

/* The definition, written again: n lowercase hex digits. */
static bool
is_lower_hex(const uint8_t *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool
all_zeros(const uint8_t *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] != '0')
			return false;
	return true;
}

static void
check_traceparent(const uint8_t *data, size_t len)
{
	Traceparent tp;
	bool		accepted = tp_parse((const char *) data, len, &tp);
	bool		expected = len >= 55 &&
		is_lower_hex(data, 2) && data[2] == '-' && is_lower_hex(data + 3, 32) && data[35] == '-' &&
		is_lower_hex(data + 36, 16) && data[52] == '-' && is_lower_hex(data + 53, 2) &&
		!(data[0] == 'f' && data[1] == 'f') && !all_zeros(data + 3, 32) && !all_zeros(data + 36, 16) &&
		(len == 55 || (!(data[0] == '0' && data[1] == '0') && data[55] == '-'));

	if (accepted != expected)
		fuzz_finding("traceparent_parse %s what the definition %s: %.*s",
					 accepted ? "accepts" : "refuses", expected ? "accepts" : "refuses",
					 (int) Min(len, 80), (const char *) data);
	if (accepted && (memcmp(tp.version, data, 2) != 0 || memcmp(tp.trace_id, data + 3, 32) != 0 ||
					 memcmp(tp.parent_id, data + 36, 16) != 0 || memcmp(tp.flags, data + 53, 2) != 0 ||
					 tp.trace_id[32] != '\0' || tp.parent_id[16] != '\0'))
		fuzz_finding("traceparent_parse's fields are not the input's");
}

/* jsonb_in(json), or a finding when it raises */
static Jsonb *
must_be_jsonb(const char *what, char *json)
{
	ErrorData  *edata;
	Jsonb	   *result;

	if (!pg_verifymbstr(json, strlen(json), true))
		fuzz_finding("%s: JSON not valid in the database encoding", what);
	result = fuzz_jsonb_in(json, &edata);
	if (edata != NULL)
		fuzz_finding("%s: jsonb_in refuses the JSON written (%s: %s): %.200s", what,
					 unpack_sql_state(edata->sqlerrcode), edata->message, json);
	return result;
}

static void
check_json(const char *what, char *json)
{
	Jsonb	   *theirs = must_be_jsonb(what, json);
	JsonbTextError err = {0};
	Jsonb	   *mine = from_text(json, (int) strlen(json), &err);

	if (mine == NULL)
		fuzz_finding("%s: the worker's parse refuses the JSON written: %s", what, err.message);
	if (VARSIZE(mine) != VARSIZE(theirs) || memcmp(mine, theirs, VARSIZE(mine)) != 0)
		fuzz_finding("%s: jsonb_from_text and jsonb_in differ", what);
}

static void
check_text(const uint8_t *data, size_t len)
{
	bool		valid;
	char	   *s = escaped_text(data, len, &valid);

	if (valid != text_valid(data, len))
		fuzz_finding("amqp_text and amqp_text_valid disagree");
	if (valid && (strlen(s) != len || memcmp(s, data, len) != 0))
		fuzz_finding("valid text not kept as it was");
	if (!pg_verifymbstr(s, strlen(s), true))
		fuzz_finding("escaped text not valid in the database encoding");
	if (!valid && len > 0 && strstr(s, "\\x") == NULL)
		fuzz_finding("invalid text without an escape");
}

static void
run(const uint8_t *data, size_t size)
{
	amqp_pool_t pool;
	amqp_table_t table;
	amqp_basic_properties_t props;
	amqp_basic_properties_t copy;
	amqp_bytes_t copy_exchange;
	char	   *json;
	amqp_bytes_t pieces[13];
	uint8_t    *encoded = palloc(size + 4);
	size_t		offset = 0;
	const uint8_t *rest = data;
	size_t		restlen = size;

	/* the headers: the input as a table's entries, after its length */
	encoded[0] = (uint8_t) (size >> 24);
	encoded[1] = (uint8_t) (size >> 16);
	encoded[2] = (uint8_t) (size >> 8);
	encoded[3] = (uint8_t) size;
	memcpy(encoded + 4, data, size);
	init_amqp_pool(&pool, 4096);
	if (amqp_decode_table((amqp_bytes_t) {size + 4, encoded}, &pool, &table, &offset) == AMQP_STATUS_OK)
	{
		PG_TRY();
		{
			char	   *tc;

			check_json("headers", headers_json(&table));
			tc = tc_from_headers(&table);
			if (tc != NULL)
			{
				Jsonb	   *jb = must_be_jsonb("trace_context", tc);
				JsonbValue	key = {.type = jbvString,.val.string = {.len = 11,.val = "traceparent"}};
				JsonbValue *v = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &key);
				Traceparent tp;

				if (v == NULL || v->type != jbvString ||
					!tp_parse(v->val.string.val, v->val.string.len, &tp))
					fuzz_finding("the trace_context's traceparent is not one: %s", tc);
			}
		}
		PG_FINALLY();
		{
			empty_amqp_pool(&pool);
		}
		PG_END_TRY();
	}
	else
		empty_amqp_pool(&pool);

	check_traceparent(data, size);

	/* the exchange and every text property: the input's NUL-separated pieces */
	for (int i = 0; i < 13; i++)
	{
		const uint8_t *piece = rest;
		size_t		len = fuzz_split(rest, restlen, &rest, &restlen);

		pieces[i] = (amqp_bytes_t) {len, (void *) piece};
		check_text(piece, len);
	}
	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
		AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG |
		AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
		AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_USER_ID_FLAG |
		AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_CLUSTER_ID_FLAG;
	props.content_type = pieces[1];
	props.content_encoding = pieces[2];
	props.correlation_id = pieces[3];
	props.reply_to = pieces[4];
	props.expiration = pieces[5];
	props.message_id = pieces[6];
	props.type = pieces[7];
	props.user_id = pieces[8];
	props.app_id = pieces[9];
	props.cluster_id = pieces[10];
	props.delivery_mode = size > 0 ? data[0] : 0;
	props.priority = size > 1 ? data[1] : 0;
	props.timestamp = UINT64_MAX - size;
	json = properties_json(&props, pieces[0]);
	check_json("properties", json);
	/* the worker keeps a copy, and renders it only for a dead letter */
	properties_copy(&copy, &copy_exchange, &props, pieces[0]);
	if (strcmp(properties_json(&copy, copy_exchange), json) != 0)
		fuzz_finding("the properties' copy renders differently");
}

const FuzzTarget fuzz_target_amqp_headers = {"amqp_headers", init, run};
