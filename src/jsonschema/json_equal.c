/*
 * json_equal.c
 *	  JSON equality as JSON Schema defines it for "enum", "const" and
 *	  "uniqueItems": same type, numbers equal as numbers (1 = 1.0), strings
 *	  equal code point for code point, objects equal member for member
 *	  whatever their order, arrays element for element.
 *
 *	  Both walkers use it (validate.c and plan.c), so it lives apart from
 *	  either.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "jsonschema.h"

/* a's members (keys and values) or elements, in its container's order */
static int
container_members(const JsonbValue *a, JsonbValue **keys, JsonbValue **vals)
{
	JsonbIterator *it = JsonbIteratorInit(a->val.binary.data);
	JsonbValue	tmp;
	JsonbIteratorToken tok;
	int			cap = JsonContainerSize(a->val.binary.data);
	int			n = 0;

	*keys = palloc(sizeof(JsonbValue) * Max(cap, 1));
	*vals = palloc(sizeof(JsonbValue) * Max(cap, 1));
	while ((tok = JsonbIteratorNext(&it, &tmp, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			(*keys)[n] = tmp;
		else if (tok == WJB_VALUE || tok == WJB_ELEM)
			(*vals)[n++] = tmp;
	}
	return n;
}

bool
js_json_equal(const JsonbValue *a, const JsonbValue *b)
{
	check_stack_depth();
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return DatumGetInt32(DirectFunctionCall2(numeric_cmp,
													 NumericGetDatum(a->val.numeric),
													 NumericGetDatum(b->val.numeric))) == 0;
		case jbvBinary:
			{
				JsonbContainer *ca = a->val.binary.data;
				JsonbContainer *cb = b->val.binary.data;
				JsonbValue *keys;
				JsonbValue *vals;
				int			n;

				if (JsonContainerIsObject(ca) != JsonContainerIsObject(cb) ||
					JsonContainerSize(ca) != JsonContainerSize(cb))
					return false;
				n = container_members(a, &keys, &vals);
				for (int i = 0; i < n; i++)
				{
					JsonbValue *other;

					CHECK_FOR_INTERRUPTS();
					if (JsonContainerIsObject(ca))
						other = getKeyJsonValueFromContainer(cb, keys[i].val.string.val,
															 keys[i].val.string.len, NULL);
					else
						other = getIthJsonbValueFromContainer(cb, i);
					if (other == NULL || !js_json_equal(&vals[i], other))
						return false;
				}
				return true;
			}
		default:
			return false;
	}
}
