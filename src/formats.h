/*
 * formats.h
 *	  Strict parsers for the text formats events carry: RFC 3339 date-times
 *	  and hyphenated UUIDs.  Shared by the envelope checker and the JSON
 *	  Schema engine's "format" keyword, so both accept exactly the same text.
 */
#ifndef CANDYSTORE_FORMATS_H
#define CANDYSTORE_FORMATS_H

#include "postgres.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)".  Returns false, with
 * *why set to a static explanation, when the text is not such a date-time.
 * On success *result (when not NULL) is the instant, rounded to microseconds.
 */
extern bool rfc3339_parse_datetime(const char *s, int len, TimestampTz *result,
								   const char **why);

/* RFC 3339 "full-date" and "full-time" alone (JSON Schema date / time). */
extern bool rfc3339_valid_date(const char *s, int len);
extern bool rfc3339_valid_time(const char *s, int len);

/*
 * Parses the 8-4-4-4-12 hexadecimal form (either case).  On success
 * *result (when not NULL) holds the 16 bytes.
 */
extern bool uuid_parse_hyphenated(const char *s, int len, pg_uuid_t *result);

#endif
