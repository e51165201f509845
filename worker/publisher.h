/*
 * publisher.h
 *	  The outbox publisher's batches: the outbox rows, read and marked in
 *	  SQL (publisher_batch.c), and sent to the broker with publisher
 *	  confirms (publisher_send.c), for the loop in publisher.c.
 */
#ifndef CANDYSTORE_PUBLISHER_H
#define CANDYSTORE_PUBLISHER_H

#include <amqp.h>

#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "amqp_link.h"

/* publisher_batch.c */
typedef enum OutboxRowOutcome
{
	ROW_UNSENT,					/* not sent, or sent without a confirm */
	ROW_CONFIRMED,				/* the broker confirmed it */
	ROW_FAILED					/* refused or unsendable: retry later */
} OutboxRowOutcome;

typedef struct OutboxRow
{
	int64		id;
	char	   *exchange;		/* the row's, or candystore.exchange (UTF-8) */
	char	   *routing_key;	/* UTF-8 */
	char	   *event_id;
	char	   *body;			/* the stored envelope, as jsonb text (UTF-8) */
	size_t		body_len;
	amqp_table_t headers;		/* from the row's headers jsonb */
	OutboxRowOutcome outcome;
	char	   *error;			/* ROW_FAILED: why */
	bool		unsendable;		/* ROW_FAILED: AMQP cannot carry it; park now */
} OutboxRow;

/* A batch of rows published and waiting for (or holding) its confirms. */
typedef struct OutboxBatch
{
	MemoryContext cxt;			/* the batch's rows live here */
	MemoryContext messages_cxt; /* in cxt: the rows' bodies and headers, freed once sent */
	OutboxRow  *rows;
	int			n;				/* rows read */
	int		   *sent_rows;		/* publish k of the batch carried rows[sent_rows[k]] */
	int			sent;			/* publishes made */
	int			settled;		/* of those, acked or nacked */
	uint64		first_tag;		/* delivery tag of publish 0 */
	TimestampTz deadline;		/* when its confirms are overdue */
} OutboxBatch;

/* What became of the broker link while publishing or reading confirms. */
typedef enum OutboxLinkResult
{
	OUTBOX_LINK_OK,
	OUTBOX_ROW_REFUSED,			/* the broker closed the channel over a row now failed */
	OUTBOX_CHANNEL_CLOSED,		/* the broker closed the channel; which row is unknown */
	OUTBOX_LINK_LOST			/* the connection is gone or unusable */
} OutboxLinkResult;

/* publisher_fetch_due() finds no rows to read: */
#define OUTBOX_NO_EXTENSION (-1)	/* candystore is not created in the database */
#define OUTBOX_OLD_EXTENSION (-2)	/* an older version, before ALTER EXTENSION UPDATE */

extern int	publisher_fetch_due(OutboxRow *rows, int max, Datum *exclude, int nexclude,
								int64 after, MemoryContext messages_cxt, long *next_due_ms);
extern void publisher_record_outcomes(OutboxBatch *batches, int nbatches, List **failed_keys,
									  MemoryContext keys_cxt);
extern void publisher_record_outage(const char *error);

/* publisher_trace.c */
extern void publisher_add_trace_headers(Jsonb *trace_context, amqp_table_t *headers);

/* publisher_send.c */
extern OutboxLinkResult publisher_publish(AmqpLink *link, OutboxBatch *inflight, int ninflight,
										  char **error);
extern OutboxLinkResult publisher_read_confirms(AmqpLink *link, OutboxBatch *inflight,
												int ninflight, char **error);
extern bool publisher_reopen_channel(AmqpLink *link, char **error);

#endif
