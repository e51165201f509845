/*
 * archive_lines.h
 *	  Reading an archive's lines (archive.c): splitting the decompressed
 *	  stream into lines of any length, and parsing one line.  The lines come
 *	  from a file and are not trusted.
 */
#ifndef CANDYSTORE_ARCHIVE_LINES_H
#define CANDYSTORE_ARCHIVE_LINES_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

typedef struct ArchiveLineReader
{
	StringInfoData buf;			/* bytes not yet returned as lines */
	int			start;			/* where the next line starts in buf */
	bool		eof;			/* no more bytes will be fed */
} ArchiveLineReader;

typedef struct ArchiveLine
{
	Jsonb	   *envelope;		/* an object */
	char	   *routing_key;	/* or NULL */
} ArchiveLine;

extern void archive_line_reader_init(ArchiveLineReader *r);
extern void archive_line_reader_feed(ArchiveLineReader *r, const char *data, int len, bool eof);
extern bool archive_line_reader_next(ArchiveLineReader *r, char **line, int *len);

/* NULL, or why the text is not JSON (no error raised). */
extern Jsonb *archive_parse_json(const char *text, int len);
/* NULL, or why the line is not an archive line. */
extern const char *archive_line_parse(const char *line, int len, ArchiveLine *out);

#endif
