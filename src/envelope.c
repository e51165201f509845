/*
 * envelope.c
 *	  Checks canonical envelopes (v1) by walking the jsonb in place.
 *
 * The rules accept what every seed-conformant producer sends (Bloodbank's
 * create_envelope, Holyfields' two envelope schemas) and refuse what none
 * should; docs/reference.md documents them field by field.  Unknown fields are
 * allowed and are never touched: the store keeps the envelope verbatim.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "envelope.h"
#include "formats.h"
#include "jsonb_cursor.h"

static const char *const trigger_types[] = {
	"manual", "agent", "scheduled", "webhook", "system", "file_watch", "hook"
};

static const char *
json_type_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "a JSON value";
	}
}

/* A short, safe description of a value for errdetail. */
static char *
describe_value(const JsonbValue *v)
{
	if (v->type == jbvString)
	{
		/* clip at a character boundary so the message stays valid text */
		int			len = pg_mbcliplen(v->val.string.val, v->val.string.len, 100);
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoString(&buf, "The value is ");
		escape_json(&buf, pnstrdup(v->val.string.val, len));
		if (len < v->val.string.len)
			appendStringInfo(&buf, " (first 100 of %d bytes)", v->val.string.len);
		appendStringInfoChar(&buf, '.');
		return buf.data;
	}
	return psprintf("The value is %s.", json_type_name(v));
}

static bool
fail(EnvelopeError *error, int sqlstate, const char *field, const JsonbValue *value,
	 const char *hint, const char *fmt,...) pg_attribute_printf(6, 7);

static bool
fail(EnvelopeError *error, int sqlstate, const char *field, const JsonbValue *value,
	 const char *hint, const char *fmt,...)
{
	va_list		args;
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	error->sqlstate = sqlstate;
	error->field = field;
	error->message = buf.data;
	error->detail = value ? describe_value(value) : NULL;
	error->hint = hint;
	return false;
}

static bool
is_object(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
is_array(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

/*
 * The members of an object that the rules name, found in one walk over its
 * entries instead of one binary search per name (fourteen per envelope).
 * The names are visited in jsonb's key order too (FieldNames), so the walk
 * is a merge of two sorted lists: each key is compared with one name, not
 * with all of them.
 */
#define MAX_FIELDS 10

typedef struct Fields
{
	JsonbValue	values[MAX_FIELDS];
	bool		found[MAX_FIELDS];
} Fields;

/* A set of names, and their order as jsonb sorts keys (computed once). */
typedef struct FieldNames
{
	const char *const *names;
	int			n;
	int			order[MAX_FIELDS];	/* indexes into names, in jsonb's order */
	int			lens[MAX_FIELDS];	/* of names[order[k]] */
	bool		ready;
} FieldNames;

static const char *const envelope_field_names[] = {
	"event_id", "event_type", "timestamp", "version", "source", "correlation_ids",
	"correlation_id", "agent_context", "trace_context", "payload"
};
enum
{
	F_EVENT_ID, F_EVENT_TYPE, F_TIMESTAMP, F_VERSION, F_SOURCE, F_CORRELATION_IDS,
	F_CORRELATION_ID, F_AGENT_CONTEXT, F_TRACE_CONTEXT, F_PAYLOAD
};
static FieldNames envelope_fields = {.names = envelope_field_names,.n = lengthof(envelope_field_names)};
static const char *const source_field_names[] = {"host", "type", "app", "meta"};
enum
{
	F_HOST, F_TYPE, F_APP, F_META
};
static FieldNames source_fields = {.names = source_field_names,.n = lengthof(source_field_names)};

/* jsonb's order of keys: shorter first, then bytewise */
static int
key_order(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

static void
sort_field_names(FieldNames *f)
{
	Assert(f->n <= MAX_FIELDS);
	for (int i = 0; i < f->n; i++)
	{
		int			len = (int) strlen(f->names[i]);
		int			j = i;

		/* insertion by jsonb's order */
		while (j > 0 && key_order(f->names[f->order[j - 1]], f->lens[j - 1], f->names[i], len) > 0)
		{
			f->order[j] = f->order[j - 1];
			f->lens[j] = f->lens[j - 1];
			j--;
		}
		f->order[j] = i;
		f->lens[j] = len;
	}
	f->ready = true;
}

static void
find_fields(JsonbContainer *obj, FieldNames *names, Fields *f)
{
	uint32		count = JsonContainerSize(obj);
	JsCursor	keys,
				values;
	int			k = 0;

	if (!names->ready)
		sort_field_names(names);
	memset(f->found, 0, sizeof(f->found));
	cursor_init(&keys, obj, 0);
	cursor_init(&values, obj, count);
	for (uint32 i = 0; i < count && k < names->n; i++)
	{
		JsonbValue	key = {0},	/* always a string: jsonb's keys are */
					value;
		int			c = 1;

		CHECK_FOR_INTERRUPTS();
		cursor_next(&keys, &key);
		cursor_next(&values, &value);
		/* the names before this key are not in the object */
		while (k < names->n &&
			   (c = key_order(names->names[names->order[k]], names->lens[k],
							  key.val.string.val, key.val.string.len)) < 0)
			k++;
		if (c == 0)
		{
			f->values[names->order[k]] = value;
			f->found[names->order[k]] = true;
			k++;
		}
	}
}

/* The member named by names[field], or NULL. */
static JsonbValue *
get_field(Fields *f, int field)
{
	return f->found[field] ? &f->values[field] : NULL;
}

/* event_type: two or more dot-separated segments of [a-z][a-z0-9_]*. */
static bool
valid_event_type(const char *s, int len)
{
	int			segments = 0;
	bool		at_segment_start = true;

	if (len == 0 || len > ENVELOPE_MAX_EVENT_TYPE_LEN)
		return false;
	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if (at_segment_start)
		{
			if (c < 'a' || c > 'z')
				return false;
			segments++;
			at_segment_start = false;
		}
		else if (c == '.')
			at_segment_start = true;
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return !at_segment_start && segments >= 2;
}

/* version: semantic "1.0.0" or Holyfields' "v1". */
static bool
valid_version(const char *s, int len)
{
	int			i = 0,
				parts = 0;

	if (len >= 2 && s[0] == 'v')
	{
		for (i = 1; i < len; i++)
			if (s[i] < '0' || s[i] > '9')
				return false;
		return true;
	}
	while (i < len)
	{
		int			start = i;

		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
		parts++;
		if (i < len)
		{
			if (s[i] != '.' || parts == 3)
				return false;
			i++;
			if (i == len)
				return false;
		}
	}
	return parts == 3;
}

static bool
is_nil_uuid(const pg_uuid_t *u)
{
	for (int i = 0; i < UUID_LEN; i++)
		if (u->data[i] != 0)
			return false;
	return true;
}

static bool
check_source(JsonbValue *source, EnvelopeError *error)
{
	Fields		fields;
	JsonbValue *v;
	bool		known = false;

	if (!is_object(source))
		return fail(error, ERRCODE_INVALID_PARAMETER_VALUE, "source", source,
					"source looks like {\"host\": \"bigchungus\", \"type\": \"webhook\", \"app\": \"fireflies\"}.",
					"must be an object");
	find_fields(source->val.binary.data, &source_fields, &fields);

	v = get_field(&fields, F_HOST);
	if (v == NULL || v->type == jbvNull)
		return fail(error, ERRCODE_NULL_VALUE_NOT_ALLOWED, "source.host", NULL,
					"Name the machine that produced the event.", "is required");
	if (v->type != jbvString || v->val.string.len == 0)
		return fail(error, ERRCODE_INVALID_PARAMETER_VALUE, "source.host", v, NULL,
					"must be a non-empty string");

	v = get_field(&fields, F_TYPE);
	if (v == NULL || v->type == jbvNull)
		return fail(error, ERRCODE_NULL_VALUE_NOT_ALLOWED, "source.type", NULL,
					"The trigger types are manual, agent, scheduled, webhook, system, file_watch and hook.",
					"is required");
	if (v->type == jbvString)
		for (size_t i = 0; i < lengthof(trigger_types); i++)
			if (strlen(trigger_types[i]) == (size_t) v->val.string.len &&
				memcmp(trigger_types[i], v->val.string.val, v->val.string.len) == 0)
				known = true;
	if (!known)
		return fail(error, ERRCODE_INVALID_PARAMETER_VALUE, "source.type", v,
					"The trigger types are manual, agent, scheduled, webhook, system, file_watch and hook.",
					"must be a trigger type");

	v = get_field(&fields, F_APP);
	if (v != NULL && v->type != jbvNull && v->type != jbvString)
		return fail(error, ERRCODE_INVALID_PARAMETER_VALUE, "source.app", v, NULL,
					"must be a string or null");

	v = get_field(&fields, F_META);
	if (v != NULL && v->type != jbvNull && !is_object(v))
		return fail(error, ERRCODE_INVALID_PARAMETER_VALUE, "source.meta", v, NULL,
					"must be an object or null");
	return true;
}

/*
 * The parent ids being collected, in first-seen order without repeats.  A
 * hash set takes over from the linear scan when an envelope lists many, so
 * a hostile list of a million ids costs linear time.
 */
#define PARENTS_LINEAR_LIMIT 16

typedef struct Parents
{
	Datum	   *ids;
	int			n;
	HTAB	   *seen;			/* NULL while n <= PARENTS_LINEAR_LIMIT */
} Parents;

static bool
parents_add_if_new(Parents *p, pg_uuid_t *u)
{
	if (p->seen == NULL && p->n >= PARENTS_LINEAR_LIMIT)
	{
		HASHCTL		ctl = {.keysize = UUID_LEN, .entrysize = UUID_LEN, .hcxt = CurrentMemoryContext};

		p->seen = hash_create("candystore parent ids", 4 * PARENTS_LINEAR_LIMIT, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		for (int i = 0; i < p->n; i++)
			(void) hash_search(p->seen, DatumGetUUIDP(p->ids[i])->data, HASH_ENTER, NULL);
	}
	if (p->seen != NULL)
	{
		bool		found;

		(void) hash_search(p->seen, u->data, HASH_ENTER, &found);
		if (found)
			return false;
	}
	else
	{
		for (int i = 0; i < p->n; i++)
			if (memcmp(DatumGetUUIDP(p->ids[i])->data, u->data, UUID_LEN) == 0)
				return false;
	}
	p->ids[p->n++] = UUIDPGetDatum(u);
	return true;
}

/* Parses one parent id and adds it to the parents unless already there. */
static bool
add_parent(JsonbValue *v, const char *field, const char *what,
		   Parents *parents, EnvelopeError *error)
{
	pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

	if (v->type != jbvString ||
		!uuid_parse_hyphenated(v->val.string.val, v->val.string.len, u))
		return fail(error, ERRCODE_INVALID_TEXT_REPRESENTATION, field, v,
					"Parent event ids are UUIDs such as \"0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1\".",
					"%s", what);
	if (!parents_add_if_new(parents, u))
		pfree(u);
	return true;
}

bool
envelope_parse(Jsonb *envelope, Envelope *out, EnvelopeError *error)
{
	Fields		fields;
	JsonbValue *v;
	const char *why;
	Parents		parents = {0};

	memset(error, 0, sizeof(*error));
	if (!JB_ROOT_IS_OBJECT(envelope) || JB_ROOT_IS_SCALAR(envelope))
		return fail(error, ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL,
					"An envelope is a JSON object with event_id, event_type, timestamp, version, source and payload.",
					"must be a JSON object");
	find_fields(&envelope->root, &envelope_fields, &fields);

	/* event_id */
	v = get_field(&fields, F_EVENT_ID);
	if (v == NULL || v->type == jbvNull)
		return fail(error, ERRCODE_NULL_VALUE_NOT_ALLOWED, "event_id", NULL,
					"Every event needs a unique UUID.", "is required");
	if (v->type != jbvString ||
		!uuid_parse_hyphenated(v->val.string.val, v->val.string.len, &out->event_id))
		return fail(error, ERRCODE_INVALID_TEXT_REPRESENTATION, "event_id", v,
					"Use the hyphenated form, e.g. \"0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1\".",
					"must be a UUID string");
	if (is_nil_uuid(&out->event_id))
		return fail(error, ERRCODE_INVALID_PARAMETER_VALUE, "event_id", v, NULL,
					"must not be the nil UUID");

	/* event_type */
	v = get_field(&fields, F_EVENT_TYPE);
	if (v == NULL || v->type == jbvNull)
		return fail(error, ERRCODE_NULL_VALUE_NOT_ALLOWED, "event_type", NULL,
					"Name the event type, e.g. \"fireflies.transcript.ready\".", "is required");
	if (v->type != jbvString || !valid_event_type(v->val.string.val, v->val.string.len))
		return fail(error, ERRCODE_INVALID_TEXT_REPRESENTATION, "event_type", v,
					"Event types are two or more dot-separated lowercase segments of letters, digits and underscores, at most 255 characters, e.g. \"fireflies.transcript.ready\" or \"theboard.meeting.created.v1\".",
					"must be a dot-separated lowercase event type");
	out->event_type = cstring_to_text_with_len(v->val.string.val, v->val.string.len);

	/* timestamp */
	v = get_field(&fields, F_TIMESTAMP);
	if (v == NULL || v->type == jbvNull)
		return fail(error, ERRCODE_NULL_VALUE_NOT_ALLOWED, "timestamp", NULL,
					"Give the time the event happened, e.g. \"2026-01-27T10:15:00.123456Z\".", "is required");
	if (v->type != jbvString)
		return fail(error, ERRCODE_INVALID_DATETIME_FORMAT, "timestamp", v, NULL,
					"must be an RFC 3339 date-time string");
	if (!rfc3339_parse_datetime(v->val.string.val, v->val.string.len,
								&out->occurred_at, &why))
		return fail(error, ERRCODE_INVALID_DATETIME_FORMAT, "timestamp", v,
					"Use the form \"2026-01-27T10:15:00.123456Z\" or \"2026-01-27T11:15:00+01:00\".",
					"must be an RFC 3339 date-time: %s", why);

	/* version */
	v = get_field(&fields, F_VERSION);
	if (v == NULL || v->type == jbvNull)
		return fail(error, ERRCODE_NULL_VALUE_NOT_ALLOWED, "version", NULL,
					"The envelope version, e.g. \"1.0.0\" or \"v1\".", "is required");
	if (v->type != jbvString || !valid_version(v->val.string.val, v->val.string.len))
		return fail(error, ERRCODE_INVALID_TEXT_REPRESENTATION, "version", v,
					"Versions look like \"1.0.0\" or \"v1\".",
					"must be a version such as \"1.0.0\" or \"v1\"");

	/* source */
	v = get_field(&fields, F_SOURCE);
	if (v == NULL || v->type == jbvNull)
		return fail(error, ERRCODE_NULL_VALUE_NOT_ALLOWED, "source", NULL,
					"source looks like {\"host\": \"bigchungus\", \"type\": \"webhook\"}.", "is required");
	if (!check_source(v, error))
		return false;

	/* correlation_ids, with a legacy singular correlation_id merged in */
	v = get_field(&fields, F_CORRELATION_IDS);
	if (v != NULL && !is_array(v))
		return fail(error, ERRCODE_INVALID_PARAMETER_VALUE, "correlation_ids", v,
					"List the parent event ids, or leave the field out for none.",
					"must be an array of UUID strings");
	parents.ids = palloc(sizeof(Datum) * (1 + (v ? JsonContainerSize(v->val.binary.data) : 0)));
	if (v != NULL)
	{
		JsonbContainer *arr = v->val.binary.data;
		int			n = JsonContainerSize(arr);

		for (int i = 0; i < n; i++)
		{
			JsonbValue *item = getIthJsonbValueFromContainer(arr, i);

			CHECK_FOR_INTERRUPTS();
			if (!add_parent(item, "correlation_ids", "must hold only UUID strings",
							&parents, error))
				return false;
			pfree(item);
		}
	}
	v = get_field(&fields, F_CORRELATION_ID);
	if (v != NULL && v->type != jbvNull &&
		!add_parent(v, "correlation_id", "must be a UUID string or null",
					&parents, error))
		return false;
	out->correlation_ids = construct_array(parents.ids, parents.n, UUIDOID, UUID_LEN, false,
										   TYPALIGN_CHAR);
	if (parents.seen != NULL)
		hash_destroy(parents.seen);

	/* agent_context, trace_context: optional objects */
	v = get_field(&fields, F_AGENT_CONTEXT);
	if (v != NULL && v->type != jbvNull && !is_object(v))
		return fail(error, ERRCODE_INVALID_PARAMETER_VALUE, "agent_context", v, NULL,
					"must be an object or null");
	v = get_field(&fields, F_TRACE_CONTEXT);
	if (v != NULL && v->type != jbvNull && !is_object(v))
		return fail(error, ERRCODE_INVALID_PARAMETER_VALUE, "trace_context", v, NULL,
					"must be an object or null");

	/* payload */
	v = get_field(&fields, F_PAYLOAD);
	if (v == NULL || v->type == jbvNull)
		return fail(error, ERRCODE_NULL_VALUE_NOT_ALLOWED, "payload", NULL,
					"Events without data carry an empty object: \"payload\": {}.",
					"is required");
	if (!is_object(v))
		return fail(error, ERRCODE_INVALID_PARAMETER_VALUE, "payload", v, NULL,
					"must be an object");

	return true;
}

/* "invalid envelope: "field" what", or "invalid envelope: what" for the whole. */
static char *
headline(const EnvelopeError *error)
{
	if (error->field == NULL)
		return psprintf("invalid envelope: %s", error->message);
	return psprintf("invalid envelope: \"%s\" %s", error->field, error->message);
}

void
envelope_raise(const EnvelopeError *error)
{
	ereport(ERROR,
			(errcode(error->sqlstate),
			 errmsg_internal("%s", headline(error)),
			 error->detail ? errdetail_internal("%s", error->detail) : 0,
			 error->hint ? errhint("%s", error->hint) : 0));
	pg_unreachable();
}

char *
envelope_error_text(const EnvelopeError *error)
{
	return psprintf("%s%s%s", headline(error), error->detail ? ". " : "",
					error->detail ? error->detail : "");
}
