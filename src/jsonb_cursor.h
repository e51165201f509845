/*
 * jsonb_cursor.h
 *	  Reading a jsonb container as stored, entry by entry with a running
 *	  offset: no JsonbIterator (which allocates per container and copies
 *	  each value), no getJsonbOffset() per entry.  For the hot walks: the
 *	  JSON Schema plans (jsonschema/plan.c) and the canonical form (jcs.c).
 */
#ifndef CANDYSTORE_JSONB_CURSOR_H
#define CANDYSTORE_JSONB_CURSOR_H

#include "postgres.h"
#include "utils/jsonb.h"

typedef struct JsCursor
{
	const JsonbContainer *c;
	const char *data;			/* start of the variable-length part */
	int			index;
	uint32		offset;
} JsCursor;

/*
 * At entry first: of an object's 2n entries, the keys are 0..n-1 and the
 * values n..2n-1, each in jsonb's key order (shorter first, then bytewise).
 */
static inline void
cursor_init(JsCursor *cur, const JsonbContainer *c, int first)
{
	uint32		n = JsonContainerSize(c);

	cur->c = c;
	cur->data = (const char *) &c->children[JsonContainerIsObject(c) ? 2 * n : n];
	cur->index = first;
	cur->offset = first == 0 ? 0 : getJsonbOffset(c, first);
}

/* The entry at the cursor, which moves on; a container as jbvBinary. */
static inline void
cursor_next(JsCursor *cur, JsonbValue *out)
{
	JEntry		e = cur->c->children[cur->index];
	uint32		off = cur->offset;
	uint32		len = JBE_HAS_OFF(e) ? JBE_OFFLENFLD(e) - off : JBE_OFFLENFLD(e);

	if (JBE_ISSTRING(e))
	{
		out->type = jbvString;
		out->val.string.val = (char *) cur->data + off;
		out->val.string.len = len;
	}
	else if (JBE_ISNUMERIC(e))
	{
		out->type = jbvNumeric;
		out->val.numeric = (Numeric) (cur->data + INTALIGN(off));
	}
	else if (JBE_ISBOOL_TRUE(e))
	{
		out->type = jbvBool;
		out->val.boolean = true;
	}
	else if (JBE_ISBOOL_FALSE(e))
	{
		out->type = jbvBool;
		out->val.boolean = false;
	}
	else if (JBE_ISNULL(e))
		out->type = jbvNull;
	else
	{
		out->type = jbvBinary;
		out->val.binary.data = (JsonbContainer *) (cur->data + INTALIGN(off));
		out->val.binary.len = len - (INTALIGN(off) - off);
	}
	cur->offset = off + len;
	cur->index++;
}

#endif
