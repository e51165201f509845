/*
 * publisher_trace.c
 *	  The W3C trace headers of an outbox message, from the stored envelope's
 *	  trace_context: its traceparent when that is one (version-traceid-
 *	  parentid-flags in lowercase hex, version not ff, ids not all zeros),
 *	  else one made of trace_id and span_id (and trace_flags, else 01) when
 *	  they are lowercase hex and not all zeros; and its tracestate, when a
 *	  string and the trace_context has a traceparent or trace_id.  The row's
 *	  own headers win over these.
 *
 *	  Worked out here, once per row, rather than in the query that reads the
 *	  batch, where each of the conditions looked the trace_context up again.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "publisher.h"
#include "traceparent.h"

/*
 * The value of key as ->> gives it: false for a missing key or JSON null,
 * else its text (a string's contents, a number or container as JSON).
 */
static bool
field_text(JsonbContainer *tc, const char *key, const char **s, int *len, bool *is_string)
{
	JsonbValue	v;

	*is_string = false;
	if (!getKeyJsonValueFromContainer(tc, key, strlen(key), &v))
		return false;
	switch (v.type)
	{
		case jbvNull:
			return false;
		case jbvString:
			*s = v.val.string.val;
			*len = v.val.string.len;
			*is_string = true;
			return true;
		case jbvNumeric:
			*s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
			break;
		case jbvBool:
			*s = v.val.boolean ? "true" : "false";
			break;
		default:
			*s = JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
			break;
	}
	*len = strlen(*s);
	return true;
}

static bool
valid_traceparent(const char *s, int len)
{
	return len == 55 && s[2] == '-' && s[35] == '-' && s[52] == '-' &&
		traceparent_lower_hex(s, 2, false) && strncmp(s, "ff", 2) != 0 &&
		traceparent_lower_hex(s + 3, 32, true) && traceparent_lower_hex(s + 36, 16, true) && traceparent_lower_hex(s + 53, 2, false);
}

static bool
has_key(const amqp_table_t *t, const char *key)
{
	for (int i = 0; i < t->num_entries; i++)
	{
		if (t->entries[i].key.len == strlen(key) &&
			memcmp(t->entries[i].key.bytes, key, t->entries[i].key.len) == 0)
			return true;
	}
	return false;
}

static void
add_text(amqp_table_entry_t *entries, int *n, const char *key, const char *value, int len)
{
	entries[*n].key = amqp_cstring_bytes(key);
	entries[*n].value.kind = AMQP_FIELD_KIND_UTF8;
	entries[*n].value.value.bytes = (amqp_bytes_t) {len, (void *) value};
	(*n)++;
}

/*
 * Adds the trace headers of trace_context (the envelope's, or NULL) to
 * *headers (the row's), leaving out those the row sets itself.  Allocates
 * in the current memory context.
 */
void
publisher_add_trace_headers(Jsonb *trace_context, amqp_table_t *headers)
{
	JsonbContainer *tc;
	const char *tp = NULL,
			   *trace_id = NULL,
			   *span_id = NULL,
			   *flags = NULL,
			   *state = NULL;
	int			tp_len = 0,
				trace_id_len = 0,
				span_id_len = 0,
				flags_len = 0,
				state_len = 0;
	bool		has_tp,
				has_trace_id,
				has_span_id,
				has_flags,
				has_state,
				is_string;
	char	   *traceparent = NULL;
	amqp_table_entry_t *entries;
	int			n;

	if (trace_context == NULL || !JB_ROOT_IS_OBJECT(trace_context) || JB_ROOT_IS_SCALAR(trace_context))
		return;
	tc = &trace_context->root;
	has_tp = field_text(tc, "traceparent", &tp, &tp_len, &is_string);
	has_trace_id = field_text(tc, "trace_id", &trace_id, &trace_id_len, &is_string);
	has_span_id = field_text(tc, "span_id", &span_id, &span_id_len, &is_string);
	has_flags = field_text(tc, "trace_flags", &flags, &flags_len, &is_string);
	has_state = field_text(tc, "tracestate", &state, &state_len, &is_string) && is_string;

	if (has_tp && valid_traceparent(tp, tp_len))
		traceparent = pnstrdup(tp, tp_len);
	else if (has_trace_id && trace_id_len == 32 && traceparent_lower_hex(trace_id, 32, true) &&
			 has_span_id && span_id_len == 16 && traceparent_lower_hex(span_id, 16, true))
		traceparent = psprintf("00-%.*s-%.*s-%.*s", 32, trace_id, 16, span_id, 2,
							   has_flags && flags_len == 2 && traceparent_lower_hex(flags, 2, false) ? flags : "01");
	if (!(has_state && (has_tp || has_trace_id)))
		state = NULL;
	if (traceparent == NULL && state == NULL)
		return;

	entries = palloc(sizeof(amqp_table_entry_t) * (headers->num_entries + 2));
	if (headers->num_entries > 0)
		memcpy(entries, headers->entries, sizeof(amqp_table_entry_t) * headers->num_entries);
	n = headers->num_entries;
	if (traceparent != NULL && !has_key(headers, "traceparent"))
		add_text(entries, &n, "traceparent", traceparent, strlen(traceparent));
	if (state != NULL && !has_key(headers, "tracestate"))
		add_text(entries, &n, "tracestate", state, state_len);
	headers->entries = entries;
	headers->num_entries = n;
}
