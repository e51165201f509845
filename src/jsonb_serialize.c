/*
 * jsonb_serialize.c
 *	  A JsonbValue tree (objects, arrays and scalars, as the message parser
 *	  builds it) written as jsonb, byte for byte what JsonbValueToJsonb()
 *	  writes, into one allocation sized by a first walk: JsonbValueToJsonb()
 *	  grows a StringInfo a call at a time, which was a third of the ingest
 *	  worker's parse.  fuzz/target_jsonb_text.c checks the bytes against
 *	  jsonb_in().
 */
#include "postgres.h"

#include "utils/jsonb.h"

#include "jsonb_serialize.h"

typedef struct Writer
{
	char	   *buf;
	uint32		len;
} Writer;

/*
 * At most how many bytes v takes, padding included; -1 when the tree holds
 * anything write_value() does not write (jbvBinary, a datetime).
 */
static int64
bound(const JsonbValue *v)
{
	int64		size = 0;
	int64		part;

	switch (v->type)
	{
		case jbvNull:
		case jbvBool:
			return 0;
		case jbvString:
			return v->val.string.len;
		case jbvNumeric:
			return sizeof(int32) - 1 + VARSIZE_ANY(v->val.numeric);
		case jbvObject:
			size = sizeof(int32) - 1 + sizeof(uint32) + 2 * sizeof(JEntry) * v->val.object.nPairs;
			for (int i = 0; i < v->val.object.nPairs; i++)
			{
				if ((part = bound(&v->val.object.pairs[i].value)) < 0)
					return -1;
				size += v->val.object.pairs[i].key.val.string.len + part;
			}
			return size;
		case jbvArray:
			size = sizeof(int32) - 1 + sizeof(uint32) + sizeof(JEntry) * v->val.array.nElems;
			for (int i = 0; i < v->val.array.nElems; i++)
			{
				if ((part = bound(&v->val.array.elems[i])) < 0)
					return -1;
				size += part;
			}
			return size;
		default:
			return -1;
	}
}

/* Zeros up to a four-byte boundary (as jsonb pads); returns how many. */
static uint32
pad_to_int(Writer *w)
{
	uint32		pad = INTALIGN(w->len) - w->len;

	memset(w->buf + w->len, 0, pad);
	w->len += pad;
	return pad;
}

static JEntry write_value(Writer *w, const JsonbValue *v);

/*
 * An object's or array's header, its entries' JEntries (an offset every
 * JB_OFFSET_STRIDE entries, lengths otherwise), then the entries: an
 * object's keys before its values.
 */
static JEntry
write_container(Writer *w, const JsonbValue *v)
{
	uint32		base = w->len;
	bool		object = v->type == jbvObject;
	int			n = object ? v->val.object.nPairs : v->val.array.nElems;
	int			nentries = object ? 2 * n : n;
	uint32		header;
	uint32		entries;
	uint32		total = 0;

	pad_to_int(w);
	header = n | (object ? JB_FOBJECT : JB_FARRAY);
	if (!object && v->val.array.rawScalar)
		header |= JB_FSCALAR;
	memcpy(w->buf + w->len, &header, sizeof(header));
	w->len += sizeof(header);
	entries = w->len;
	w->len += sizeof(JEntry) * nentries;
	for (int i = 0; i < nentries; i++)
	{
		const JsonbValue *item = !object ? &v->val.array.elems[i] :
			i < n ? &v->val.object.pairs[i].key : &v->val.object.pairs[i - n].value;
		JEntry		meta = write_value(w, item);

		total += JBE_OFFLENFLD(meta);
		if (i % JB_OFFSET_STRIDE == 0)
			meta = (meta & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF;
		memcpy(w->buf + entries + sizeof(JEntry) * i, &meta, sizeof(meta));
	}
	return JENTRY_ISCONTAINER | (w->len - base);
}

static JEntry
write_value(Writer *w, const JsonbValue *v)
{
	uint32		pad;
	uint32		len;

	switch (v->type)
	{
		case jbvNull:
			return JENTRY_ISNULL;
		case jbvBool:
			return v->val.boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE;
		case jbvString:
			memcpy(w->buf + w->len, v->val.string.val, v->val.string.len);
			w->len += v->val.string.len;
			return JENTRY_ISSTRING | v->val.string.len;
		case jbvNumeric:
			len = VARSIZE_ANY(v->val.numeric);
			pad = pad_to_int(w);
			memcpy(w->buf + w->len, v->val.numeric, len);
			w->len += len;
			return JENTRY_ISNUMERIC | (pad + len);
		case jbvObject:
		case jbvArray:
			return write_container(w, v);
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	pg_unreachable();
}

Jsonb *
jsonb_serialize(JsonbValue *v)
{
	int64		size = v->type == jbvObject || v->type == jbvArray ? bound(v) : -1;
	Writer		w;

	/* what JsonbValueToJsonb() refuses, it refuses with its own error */
	if (size < 0 || size > JENTRY_OFFLENMASK)
		return JsonbValueToJsonb(v);
	w.buf = palloc(VARHDRSZ + size);
	w.len = VARHDRSZ;
	(void) write_container(&w, v);
	Assert(w.len <= VARHDRSZ + size);
	SET_VARSIZE(w.buf, w.len);
	return (Jsonb *) w.buf;
}
