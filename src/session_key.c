/*
 * session_key.c
 *	  The session key append stores with each event (event_log.session_key).
 *
 * The rule (docs/reference.md, "Session timeline"): the payload's top-level "session_id"
 * as text, or when it has none (or it is JSON null), its top-level
 * "meeting_id"; exactly what coalesce(envelope->'payload'->>'session_id',
 * envelope->'payload'->>'meeting_id') gives.  Computed once here rather than
 * by an expression index, which would evaluate the expression twice (the
 * index predicate and key) and set it up afresh for every append.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "session_key.h"

/* What ->> gives for a member's value: NULL for JSON null. */
static text *
member_as_text(JsonbContainer *object, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = getKeyJsonValueFromContainer(object, key, strlen(key), &buf);

	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvBool:
			return cstring_to_text(v->val.boolean ? "true" : "false");
		case jbvString:
			return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return cstring_to_text(DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(v->val.numeric))));
		case jbvBinary:
			return cstring_to_text(JsonbToCString(NULL, v->val.binary.data, v->val.binary.len));
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return NULL;				/* keep the compiler quiet */
}

text *
session_key(Jsonb *envelope)
{
	JsonbValue	buf;
	JsonbValue *payload;
	text	   *key;

	if (!JB_ROOT_IS_OBJECT(envelope))
		return NULL;
	payload = getKeyJsonValueFromContainer(&envelope->root, "payload", strlen("payload"), &buf);
	if (payload == NULL || payload->type != jbvBinary ||
		!JsonContainerIsObject(payload->val.binary.data))
		return NULL;
	key = member_as_text(payload->val.binary.data, "session_id");
	if (key == NULL)
		key = member_as_text(payload->val.binary.data, "meeting_id");
	return key;
}
