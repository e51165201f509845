/*
 * store.h
 *	  Appending envelopes to candystore.event_log: the one write path shared
 *	  by candystore.append(), candystore.append_many() and the ingest worker.
 */
#ifndef CANDYSTORE_STORE_H
#define CANDYSTORE_STORE_H

#include "fmgr.h"

#include "envelope.h"

typedef enum AppendOutcome
{
	APPEND_STORED,				/* a new event */
	APPEND_DUPLICATE			/* already stored with the same content */
} AppendOutcome;

/* One envelope to append, and what became of it. */
typedef struct StoreRow
{
	Jsonb	   *envelope;		/* accepted by envelope_parse() */
	const Envelope *parsed;		/* what envelope_parse() extracted */
	text	   *routing_key;	/* or NULL */
	AppendOutcome outcome;		/* set by store_append_rows() */
	int64		position;		/* set by store_append_rows() */
} StoreRow;

/*
 * Stores the rows in order, in as few statements as it can, and sets each
 * row's outcome and position.  Raises unique_violation when an event id is
 * stored with other content, and, unless duplicates_expected, when it is
 * stored at all (the cheaper insert for rows that are almost always new);
 * rows before it may be inserted by then, so the caller's (sub)transaction
 * must roll back.  Runs as the current user.
 */
extern void store_append_rows(StoreRow *rows, int n, bool duplicates_expected);

/*
 * Stores an envelope that envelope_parse() accepted and returns its position.
 * Raises unique_violation when the event id is stored with other content.
 * Runs as the current user: callers hold the privileges on event_log.
 */
extern int64 store_append(Jsonb *envelope, const Envelope *parsed,
						  text *routing_key, AppendOutcome *outcome);

/*
 * The SQL-callable form: arguments (envelope jsonb, routing_key text).  Raises
 * for a NULL or invalid envelope.  *routing_key gets the key stored with the
 * event: the argument, or the event type when it is NULL and
 * routing_key_defaults_to_type.
 */
extern int64 store_append_from_args(FunctionCallInfo fcinfo, bool routing_key_defaults_to_type,
									text **routing_key, AppendOutcome *outcome);

/* True while candystore itself is removing events (retention). */
extern bool store_removal_allowed;

#endif
