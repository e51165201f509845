/*
 * target_archive_lines.c
 *	  Fuzz target "archive_lines": restore_archive()'s reading of untrusted
 *	  archive bytes (src/archive_lines.c), the line splitter and the line
 *	  parser.
 *
 *	  The first byte picks how the bytes are fed (chunks of 1 to 256 bytes,
 *	  as gzread would hand them over).  Whatever the chunking: the lines
 *	  returned, joined with newlines, are the input (nothing lost or
 *	  invented), and each line the parser accepts is a JSON object whose
 *	  "envelope" is an object equal to what jsonb_in makes of it, with a
 *	  routing key that is its "routing_key" string or NULL.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "archive_lines.h"

#include "fuzz.h"

static void (*reader_init) (ArchiveLineReader *r);
static void (*reader_feed) (ArchiveLineReader *r, const char *data, int len, bool eof);
static bool (*reader_next) (ArchiveLineReader *r, char **line, int *len);
static const char *(*line_parse) (const char *line, int len, ArchiveLine *out);

static void
init(void)
{
	reader_init = fuzz_engine_symbol("archive_line_reader_init");
	reader_feed = fuzz_engine_symbol("archive_line_reader_feed");
	reader_next = fuzz_engine_symbol("archive_line_reader_next");
	line_parse = fuzz_engine_symbol("archive_line_parse");
}

static void
check_line(const char *line, int len)
{
	ArchiveLine al;
	const char *why;
	char	   *copy;
	Jsonb	   *oracle;
	ErrorData  *error = NULL;
	JsonbValue	v;

	/* exactly-sized, so ASan sees a read past the line's end */
	copy = malloc(len > 0 ? len : 1);
	memcpy(copy, line, len);
	why = line_parse(copy, len, &al);
	free(copy);
	if (why != NULL)
		return;

	oracle = memchr(line, '\0', len) ? NULL : fuzz_jsonb_in(pnstrdup(line, len), &error);
	if (oracle == NULL || !JB_ROOT_IS_OBJECT(oracle) || JB_ROOT_IS_SCALAR(oracle))
		fuzz_finding("an accepted line that jsonb_in does not make an object of");
	if (getKeyJsonValueFromContainer(&oracle->root, "envelope", 8, &v) == NULL ||
		v.type != jbvBinary)
		fuzz_finding("an accepted line without an envelope");
	if (!JB_ROOT_IS_OBJECT(al.envelope) ||
		DatumGetInt32(DirectFunctionCall2(jsonb_cmp, JsonbPGetDatum(al.envelope),
										  JsonbPGetDatum(JsonbValueToJsonb(&v)))) != 0)
		fuzz_finding("an accepted line whose envelope differs from jsonb_in's");
	if (getKeyJsonValueFromContainer(&oracle->root, "routing_key", 11, &v) != NULL &&
		v.type == jbvString)
	{
		if (al.routing_key == NULL || strlen(al.routing_key) != (size_t) v.val.string.len ||
			memcmp(al.routing_key, v.val.string.val, v.val.string.len) != 0)
			fuzz_finding("an accepted line whose routing key differs from jsonb_in's");
	}
	else if (al.routing_key != NULL)
		fuzz_finding("a routing key from a line without a string routing_key");
}

static void
run(const uint8_t *data, size_t size)
{
	ArchiveLineReader r;
	StringInfoData joined;
	int			chunk;
	size_t		at = 0;
	bool		first = true;
	char	   *line;
	int			len;

	if (size == 0)
		return;
	chunk = data[0] + 1;
	data++;
	size--;

	reader_init(&r);
	initStringInfo(&joined);
	do
	{
		size_t		n = Min((size_t) chunk, size - at);

		reader_feed(&r, (const char *) data + at, (int) n, at + n == size);
		at += n;
		while (reader_next(&r, &line, &len))
		{
			if (!first)
				appendStringInfoChar(&joined, '\n');
			first = false;
			appendBinaryStringInfo(&joined, line, len);
			check_line(line, len);
		}
	} while (at < size);

	/* a trailing newline ends the last line and starts none */
	if (size > 0 && data[size - 1] == '\n')
		appendStringInfoChar(&joined, '\n');
	if ((size_t) joined.len != size || memcmp(joined.data, data, size) != 0)
		fuzz_finding("the lines joined are not the input");
}

const FuzzTarget fuzz_target_archive_lines = {"archive_lines", init, run};
