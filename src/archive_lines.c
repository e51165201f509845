/*
 * archive_lines.c
 *	  Splitting an archive's decompressed bytes into lines and parsing a line
 *	  (archive_lines.h).  Lines have no length limit but the memory a jsonb
 *	  can take; a line that is not JSON, or lacks an object "envelope", is
 *	  reported to the caller, which refuses the archive.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "archive_lines.h"

void
archive_line_reader_init(ArchiveLineReader *r)
{
	initStringInfo(&r->buf);
	r->start = 0;
	r->eof = false;
}

void
archive_line_reader_feed(ArchiveLineReader *r, const char *data, int len, bool eof)
{
	/* Drop what was already returned before the buffer grows. */
	if (r->start > 0)
	{
		memmove(r->buf.data, r->buf.data + r->start, r->buf.len - r->start);
		r->buf.len -= r->start;
		r->buf.data[r->buf.len] = '\0';
		r->start = 0;
	}
	if (len > 0)
		appendBinaryStringInfo(&r->buf, data, len);
	r->eof = eof;
}

/*
 * The next whole line (without its newline), NUL-terminated in place; valid
 * until the next feed.  At the end, a last line without a newline is
 * returned too (restore then finds it truncated or not by parsing it).
 */
bool
archive_line_reader_next(ArchiveLineReader *r, char **line, int *len)
{
	char	   *begin = r->buf.data + r->start;
	int			left = r->buf.len - r->start;
	char	   *nl = memchr(begin, '\n', left);

	if (nl != NULL)
	{
		*nl = '\0';
		*line = begin;
		*len = nl - begin;
		r->start += *len + 1;
		return true;
	}
	if (r->eof && left > 0)
	{
		*line = begin;
		*len = left;
		r->start = r->buf.len;
		return true;
	}
	return false;
}

Jsonb *
archive_parse_json(const char *text, int len)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *copy;
	Jsonb	   *volatile jb = NULL;

	if (memchr(text, '\0', len) != NULL)
		return NULL;
	copy = pnstrdup(text, len);
	/* jsonb_in raises on bad input; the caller wants a verdict instead. */
	PG_TRY();
	{
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(copy)));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		jb = NULL;
	}
	PG_END_TRY();
	pfree(copy);
	return jb;
}

const char *
archive_line_parse(const char *line, int len, ArchiveLine *out)
{
	Jsonb	   *jb = archive_parse_json(line, len);
	JsonbValue	v;

	if (jb == NULL)
		return "not JSON (truncated or damaged)";
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		return "not a JSON object";
	if (getKeyJsonValueFromContainer(&jb->root, "envelope", 8, &v) == NULL ||
		v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
		return "no \"envelope\" object";
	out->envelope = JsonbValueToJsonb(&v);
	if (getKeyJsonValueFromContainer(&jb->root, "routing_key", 11, &v) == NULL ||
		v.type == jbvNull)
		out->routing_key = NULL;
	else if (v.type == jbvString)
		out->routing_key = pnstrdup(v.val.string.val, v.val.string.len);
	else
		return "\"routing_key\" is neither a string nor null";
	return NULL;
}
