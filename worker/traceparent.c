/*
 * traceparent.c
 *	  The W3C traceparent (and tracestate) an AMQP message may carry in its
 *	  headers.  The ingest worker records it as the event's trace_context
 *	  when the envelope has none, marked "source": "amqp_header" so that a
 *	  reader can tell it from one the producer wrote; the outbox sends it
 *	  back out (publisher_batch.c).  A header that is not a valid
 *	  traceparent is ignored (it stays in the dead letter's headers, were
 *	  the message dead-lettered): a trace is a hint, not a reason to refuse
 *	  an event.  Nothing here throws but palloc.
 *
 *	  fuzz/target_amqp_headers.c checks the parser against its definition
 *	  and that the JSON written is always accepted by jsonb_in.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/json.h"

#include "traceparent.h"

bool
traceparent_lower_hex(const char *s, int n, bool nonzero)
{
	bool		zero = true;

	for (int i = 0; i < n; i++)
	{
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
		if (s[i] != '0')
			zero = false;
	}
	return !(nonzero && zero);
}

bool
traceparent_parse(const char *s, size_t len, Traceparent *out)
{
	if (len < TRACEPARENT_LEN)
		return false;
	if (!traceparent_lower_hex(s, 2, false) || s[2] != '-' ||
		!traceparent_lower_hex(s + 3, 32, true) || s[35] != '-' ||
		!traceparent_lower_hex(s + 36, 16, true) || s[52] != '-' ||
		!traceparent_lower_hex(s + 53, 2, false))
		return false;
	if (s[0] == 'f' && s[1] == 'f')
		return false;			/* version ff is invalid */
	if (len > TRACEPARENT_LEN && (memcmp(s, "00", 2) == 0 || s[TRACEPARENT_LEN] != '-'))
		return false;			/* 00 has nothing after the flags */
	memcpy(out->version, s, 2);
	out->version[2] = '\0';
	memcpy(out->trace_id, s + 3, 32);
	out->trace_id[32] = '\0';
	memcpy(out->parent_id, s + 36, 16);
	out->parent_id[16] = '\0';
	memcpy(out->flags, s + 53, 2);
	out->flags[2] = '\0';
	return true;
}

bool
tracestate_acceptable(const char *s, size_t len)
{
	if (len == 0 || len > TRACESTATE_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* The text of a header, if it is one (a long string or bytes). */
static bool
header_text(const amqp_table_t *headers, const char *key, const char **s, size_t *len)
{
	size_t		keylen = strlen(key);

	for (int i = 0; i < headers->num_entries; i++)
	{
		const amqp_table_entry_t *e = &headers->entries[i];

		if (e->key.len != keylen || memcmp(e->key.bytes, key, keylen) != 0)
			continue;
		if (e->value.kind != AMQP_FIELD_KIND_UTF8 && e->value.kind != AMQP_FIELD_KIND_BYTES)
			return false;
		*s = e->value.value.bytes.bytes;
		*len = e->value.value.bytes.len;
		return *s != NULL || *len == 0;
	}
	return false;
}

char *
trace_context_from_headers(const amqp_table_t *headers)
{
	const char *s;
	size_t		len;
	Traceparent tp;
	StringInfoData buf;

	if (headers == NULL || !header_text(headers, "traceparent", &s, &len) ||
		!traceparent_parse(s, len, &tp))
		return NULL;
	initStringInfo(&buf);
	/* only version 00's fields are known: what is recorded is that much */
	appendStringInfo(&buf, "{\"traceparent\": \"%s-%s-%s-%s\", \"trace_id\": \"%s\", "
					 "\"span_id\": \"%s\", \"trace_flags\": \"%s\"",
					 tp.version, tp.trace_id, tp.parent_id, tp.flags,
					 tp.trace_id, tp.parent_id, tp.flags);
	if (header_text(headers, "tracestate", &s, &len) && tracestate_acceptable(s, len))
	{
		char	   *state = pnstrdup(s, len);

		appendStringInfoString(&buf, ", \"tracestate\": ");
		escape_json(&buf, state);
		pfree(state);
	}
	appendStringInfoString(&buf, ", \"source\": \"amqp_header\"}");
	return buf.data;
}
