/*
 * amqp_headers.c
 *	  A message's AMQP headers and properties as JSON text that jsonb always
 *	  accepts, whatever a publisher put in them: every field type (nested
 *	  tables and arrays, byte arrays, decimals, timestamps, void, integers
 *	  and floats of every width, booleans), and text that is not valid.
 *
 *	  Text (header keys and values, text properties, the routing key) is
 *	  kept as it is when it is valid UTF-8 and valid in the database
 *	  encoding, with no NUL byte.  Otherwise it is escaped: each byte that is
 *	  not part of a valid character becomes \xNN and each backslash \\, so
 *	  the result is always valid and the original bytes can be read back.
 *	  Floats that JSON cannot write (NaN, infinities) become strings; a
 *	  decimal is written as its exact value (digits, then e-scale); tables
 *	  and arrays nested deeper than AMQP_HEADERS_MAX_DEPTH become a string
 *	  saying so.  Nothing here throws but palloc.
 *
 *	  fuzz/target_amqp_headers.c checks that jsonb_in accepts whatever these
 *	  functions write.
 */
#include "postgres.h"

#include <math.h>
#include <stddef.h>

#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/json.h"

#include "amqp_headers.h"

static const char hex[] = "0123456789abcdef";

bool
amqp_text_valid(const void *bytes, size_t len)
{
	const char *s = bytes;
	int			enc = GetDatabaseEncoding();

	if (len > 0 && memchr(s, '\0', len) != NULL)
		return false;
	if (!pg_verify_mbstr(PG_UTF8, s, (int) len, true))
		return false;
	return enc == PG_UTF8 || pg_verify_mbstr(enc, s, (int) len, true);
}

char *
amqp_text(const void *bytes, size_t len, bool *valid)
{
	const unsigned char *s = bytes;
	StringInfoData buf;
	bool		keep_utf8 = GetDatabaseEncoding() == PG_UTF8;

	*valid = amqp_text_valid(bytes, len);
	if (len == 0)
		return pstrdup("");
	if (*valid)
		return pnstrdup((const char *) s, len);

	initStringInfo(&buf);
	for (size_t i = 0; i < len;)
	{
		int			mblen = pg_utf_mblen(&s[i]);

		if (s[i] == '\\')
		{
			appendStringInfoString(&buf, "\\\\");
			i++;
		}
		else if (s[i] != '\0' && s[i] < 0x80)
			appendStringInfoChar(&buf, (char) s[i++]);
		else if (keep_utf8 && s[i] >= 0x80 && (size_t) mblen <= len - i &&
				 pg_utf8_islegal(&s[i], mblen))
		{
			appendBinaryStringInfo(&buf, (const char *) &s[i], mblen);
			i += mblen;
		}
		else
		{
			appendStringInfoString(&buf, "\\x");
			appendStringInfoChar(&buf, hex[s[i] >> 4]);
			appendStringInfoChar(&buf, hex[s[i] & 0xf]);
			i++;
		}
	}
	return buf.data;
}

/* bytes as a JSON string, escaped when they are not valid text */
static void
append_text_json(StringInfo buf, const void *bytes, size_t len)
{
	bool		valid;

	escape_json(buf, amqp_text(bytes, len, &valid));
}

static void append_field_json(StringInfo buf, const amqp_field_value_t *v, int depth);

static void
append_table_json(StringInfo buf, const amqp_table_t *t, int depth)
{
	appendStringInfoChar(buf, '{');
	for (int i = 0; i < t->num_entries; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		append_text_json(buf, t->entries[i].key.bytes, t->entries[i].key.len);
		appendStringInfoChar(buf, ':');
		append_field_json(buf, &t->entries[i].value, depth);
	}
	appendStringInfoChar(buf, '}');
}

/* a float: JSON has no NaN or infinities, so those are strings */
static void
append_double_json(StringInfo buf, double d, bool single)
{
	char		digits[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(d))
		appendStringInfoString(buf, "\"NaN\"");
	else if (isinf(d))
		appendStringInfoString(buf, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
	{
		if (single)
			float_to_shortest_decimal_buf((float) d, digits);
		else
			double_to_shortest_decimal_buf(d, digits);
		appendStringInfoString(buf, digits);
	}
}

static void
append_field_json(StringInfo buf, const amqp_field_value_t *v, int depth)
{
	switch (v->kind)
	{
		case AMQP_FIELD_KIND_BOOLEAN:
			appendStringInfoString(buf, v->value.boolean ? "true" : "false");
			break;
		case AMQP_FIELD_KIND_I8:
			appendStringInfo(buf, "%d", v->value.i8);
			break;
		case AMQP_FIELD_KIND_U8:
			appendStringInfo(buf, "%u", v->value.u8);
			break;
		case AMQP_FIELD_KIND_I16:
			appendStringInfo(buf, "%d", v->value.i16);
			break;
		case AMQP_FIELD_KIND_U16:
			appendStringInfo(buf, "%u", v->value.u16);
			break;
		case AMQP_FIELD_KIND_I32:
			appendStringInfo(buf, "%d", v->value.i32);
			break;
		case AMQP_FIELD_KIND_U32:
			appendStringInfo(buf, "%u", v->value.u32);
			break;
		case AMQP_FIELD_KIND_I64:
			appendStringInfo(buf, INT64_FORMAT, (int64) v->value.i64);
			break;
		case AMQP_FIELD_KIND_U64:
		case AMQP_FIELD_KIND_TIMESTAMP:	/* seconds since the epoch */
			appendStringInfo(buf, UINT64_FORMAT, (uint64) v->value.u64);
			break;
		case AMQP_FIELD_KIND_F32:
			append_double_json(buf, v->value.f32, true);
			break;
		case AMQP_FIELD_KIND_F64:
			append_double_json(buf, v->value.f64, false);
			break;
		case AMQP_FIELD_KIND_DECIMAL:
			/* value * 10^-decimals, exactly */
			appendStringInfo(buf, "%u", v->value.decimal.value);
			if (v->value.decimal.decimals != 0)
				appendStringInfo(buf, "e%d", -v->value.decimal.decimals);
			break;
		case AMQP_FIELD_KIND_UTF8:
		case AMQP_FIELD_KIND_BYTES:
			append_text_json(buf, v->value.bytes.bytes, v->value.bytes.len);
			break;
		case AMQP_FIELD_KIND_TABLE:
			if (depth >= AMQP_HEADERS_MAX_DEPTH)
				appendStringInfo(buf, "\"(table nested deeper than %d levels)\"", AMQP_HEADERS_MAX_DEPTH);
			else
				append_table_json(buf, &v->value.table, depth + 1);
			break;
		case AMQP_FIELD_KIND_ARRAY:
			if (depth >= AMQP_HEADERS_MAX_DEPTH)
			{
				appendStringInfo(buf, "\"(array nested deeper than %d levels)\"", AMQP_HEADERS_MAX_DEPTH);
				break;
			}
			appendStringInfoChar(buf, '[');
			for (int i = 0; i < v->value.array.num_entries; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				append_field_json(buf, &v->value.array.entries[i], depth + 1);
			}
			appendStringInfoChar(buf, ']');
			break;
		case AMQP_FIELD_KIND_VOID:
		default:
			appendStringInfoString(buf, "null");
			break;
	}
}

char *
amqp_headers_json(const amqp_table_t *headers)
{
	StringInfoData buf;

	initStringInfo(&buf);
	append_table_json(&buf, headers, 1);
	return buf.data;
}

static void
append_text_property(StringInfo buf, const char *name, amqp_flags_t flags, amqp_flags_t flag,
					 amqp_bytes_t value)
{
	if (!(flags & flag))
		return;
	if (buf->len > 1)
		appendStringInfoChar(buf, ',');
	escape_json(buf, name);
	appendStringInfoChar(buf, ':');
	append_text_json(buf, value.bytes, value.len);
}

static void
append_number_property(StringInfo buf, const char *name, amqp_flags_t flags, amqp_flags_t flag,
					   uint64 value)
{
	if (!(flags & flag))
		return;
	if (buf->len > 1)
		appendStringInfoChar(buf, ',');
	escape_json(buf, name);
	appendStringInfo(buf, ":" UINT64_FORMAT, value);
}

/* the text properties, by offset in amqp_basic_properties_t, with their flags */
static const struct
{
	size_t		offset;
	amqp_flags_t flag;
}			text_properties[] = {
	{offsetof(amqp_basic_properties_t, content_type), AMQP_BASIC_CONTENT_TYPE_FLAG},
	{offsetof(amqp_basic_properties_t, content_encoding), AMQP_BASIC_CONTENT_ENCODING_FLAG},
	{offsetof(amqp_basic_properties_t, correlation_id), AMQP_BASIC_CORRELATION_ID_FLAG},
	{offsetof(amqp_basic_properties_t, reply_to), AMQP_BASIC_REPLY_TO_FLAG},
	{offsetof(amqp_basic_properties_t, expiration), AMQP_BASIC_EXPIRATION_FLAG},
	{offsetof(amqp_basic_properties_t, message_id), AMQP_BASIC_MESSAGE_ID_FLAG},
	{offsetof(amqp_basic_properties_t, type), AMQP_BASIC_TYPE_FLAG},
	{offsetof(amqp_basic_properties_t, user_id), AMQP_BASIC_USER_ID_FLAG},
	{offsetof(amqp_basic_properties_t, app_id), AMQP_BASIC_APP_ID_FLAG},
	{offsetof(amqp_basic_properties_t, cluster_id), AMQP_BASIC_CLUSTER_ID_FLAG},
};

#define PROPERTY(props, i) ((amqp_bytes_t *) ((char *) (props) + text_properties[i].offset))

void
amqp_properties_copy(amqp_basic_properties_t *dst, amqp_bytes_t *dst_exchange,
					 const amqp_basic_properties_t *src, amqp_bytes_t exchange)
{
	size_t		total = exchange.len;
	char	   *block;

	*dst = *src;
	dst->_flags &= ~AMQP_BASIC_HEADERS_FLAG;
	dst->headers = amqp_empty_table;
	for (size_t i = 0; i < lengthof(text_properties); i++)
		if (src->_flags & text_properties[i].flag)
			total += PROPERTY(src, i)->len;
	block = palloc(Max(total, 1));
	dst_exchange->len = exchange.len;
	dst_exchange->bytes = block;
	if (exchange.len > 0)
		memcpy(block, exchange.bytes, exchange.len);
	block += exchange.len;
	for (size_t i = 0; i < lengthof(text_properties); i++)
	{
		amqp_bytes_t *from = PROPERTY(src, i);
		amqp_bytes_t *to = PROPERTY(dst, i);

		if (!(src->_flags & text_properties[i].flag))
			continue;
		to->len = from->len;
		to->bytes = block;
		if (from->len > 0)
			memcpy(block, from->bytes, from->len);
		block += from->len;
	}
}

char *
amqp_properties_json(const amqp_basic_properties_t *props, amqp_bytes_t exchange)
{
	StringInfoData buf;
	amqp_flags_t f = props->_flags;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"exchange\":");
	append_text_json(&buf, exchange.bytes, exchange.len);
	append_text_property(&buf, "content_type", f, AMQP_BASIC_CONTENT_TYPE_FLAG, props->content_type);
	append_text_property(&buf, "content_encoding", f, AMQP_BASIC_CONTENT_ENCODING_FLAG, props->content_encoding);
	append_number_property(&buf, "delivery_mode", f, AMQP_BASIC_DELIVERY_MODE_FLAG, props->delivery_mode);
	append_number_property(&buf, "priority", f, AMQP_BASIC_PRIORITY_FLAG, props->priority);
	append_text_property(&buf, "correlation_id", f, AMQP_BASIC_CORRELATION_ID_FLAG, props->correlation_id);
	append_text_property(&buf, "reply_to", f, AMQP_BASIC_REPLY_TO_FLAG, props->reply_to);
	append_text_property(&buf, "expiration", f, AMQP_BASIC_EXPIRATION_FLAG, props->expiration);
	append_text_property(&buf, "message_id", f, AMQP_BASIC_MESSAGE_ID_FLAG, props->message_id);
	append_number_property(&buf, "timestamp", f, AMQP_BASIC_TIMESTAMP_FLAG, props->timestamp);
	append_text_property(&buf, "type", f, AMQP_BASIC_TYPE_FLAG, props->type);
	append_text_property(&buf, "user_id", f, AMQP_BASIC_USER_ID_FLAG, props->user_id);
	append_text_property(&buf, "app_id", f, AMQP_BASIC_APP_ID_FLAG, props->app_id);
	append_text_property(&buf, "cluster_id", f, AMQP_BASIC_CLUSTER_ID_FLAG, props->cluster_id);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}
