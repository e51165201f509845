/*
 * event_type_pattern.h
 *	  Event type patterns (candystore.grant_event_types()): RabbitMQ's topic
 *	  rules applied to the dotted event type.  Dot-separated segments; "*"
 *	  matches exactly one segment of the type, "#" zero or more, any other
 *	  segment ([a-z][a-z0-9_]*) itself.
 *
 *	  Plain C with no PostgreSQL dependency: the extension (which checks
 *	  every read and write) and the HTTP server (which filters its shared live
 *	  stream per client) match with the same code.
 */
#ifndef CANDYSTORE_EVENT_TYPE_PATTERN_H
#define CANDYSTORE_EVENT_TYPE_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#define EVENT_TYPE_PATTERN_MAX_LEN 255

/*
 * 0 when pattern[0..len) is a valid pattern; else -1 when its length is
 * not 1 to EVENT_TYPE_PATTERN_MAX_LEN bytes, or the number (from 1) of its
 * first malformed segment.
 */
extern int	event_type_pattern_check(const char *pattern, size_t len);

/* Bytes of scratch event_type_pattern_match() needs for a type of tlen bytes. */
#define EVENT_TYPE_PATTERN_SCRATCH(tlen) (((tlen) + 2) * (sizeof(size_t) + sizeof(bool)))

/*
 * Whether type[0..tlen) matches the (valid) pattern[0..plen), in time
 * proportional to the product of their segment counts whatever the number
 * of "#".  scratch: EVENT_TYPE_PATTERN_SCRATCH(tlen) bytes, suitably aligned
 * for size_t (malloc'd or palloc'd).
 */
extern bool event_type_pattern_match(const char *pattern, size_t plen,
									 const char *type, size_t tlen, void *scratch);

#endif
