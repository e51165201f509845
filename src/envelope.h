/*
 * envelope.h
 *	  The canonical event envelope, v1: checking an envelope and extracting
 *	  the fields the store indexes.  docs/reference.md ("The envelope") states the
 *	  rules; schemas/core/event-envelope.v1.schema.json states them as JSON
 *	  Schema.
 */
#ifndef CANDYSTORE_ENVELOPE_H
#define CANDYSTORE_ENVELOPE_H

#include "postgres.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#define ENVELOPE_MAX_EVENT_TYPE_LEN 255

/* Why an envelope was refused: enough for ereport and for a dead letter. */
typedef struct EnvelopeError
{
	int			sqlstate;
	const char *field;			/* dotted path, e.g. "source.type"; NULL for
								 * the envelope as a whole */
	char	   *message;		/* what is wrong with it */
	char	   *detail;			/* the offending value, or NULL */
	const char *hint;			/* how to fix it, or NULL */
} EnvelopeError;

/* What the store extracts from an accepted envelope. */
typedef struct Envelope
{
	pg_uuid_t	event_id;
	text	   *event_type;
	TimestampTz occurred_at;
	ArrayType  *correlation_ids;	/* uuid[]: parents, deduplicated, with a
									 * legacy "correlation_id" merged in */
} Envelope;

/*
 * Checks the envelope; on success fills *out (palloc'd in the current
 * context) and returns true, otherwise fills *error and returns false.
 * Never throws for bad input.
 */
extern bool envelope_parse(Jsonb *envelope, Envelope *out, EnvelopeError *error);

/* Raises the error envelope_parse reported. */
extern void envelope_raise(const EnvelopeError *error) pg_attribute_noreturn();

/* "invalid envelope: ..." as one line, for dead-letter reasons. */
extern char *envelope_error_text(const EnvelopeError *error);

#endif
