/*
 * ingest.h
 *	  The ingest worker's batches: one batch recorded as stored, duplicate or
 *	  dead letter (outcome.c), and the event id of a body that is not an event (message_identity.c).
 */
#ifndef CANDYSTORE_INGEST_H
#define CANDYSTORE_INGEST_H

#include <amqp.h>

#include "access/xlogdefs.h"

/* outcome.c */
typedef struct Delivery
{
	uint64		delivery_tag;
	bool		redelivered;
	char	   *routing_key;
	char	   *body;			/* NUL-terminated copy */
	size_t		body_len;
	char	   *headers_json;	/* message headers as JSON text, or NULL */
	char	   *trace_context_json; /* from a valid traceparent header, or NULL */
	bool		from_broker_dlq;	/* consumed from the broker's dead-letter queue */
	/* while its batch is retried (outcome.c); zero for a new delivery */
	int			failures;		/* tries it failed, blamed on it */
	bool		suspect;		/* it failed the last try: tried last */
	int			last_sqlerrcode;	/* its last failure */
	char	   *last_error;
	/* what identifies the message and what to record with a dead letter */
	bool		routing_key_valid;	/* else routing_key is its escaped form */
	amqp_bytes_t exchange;		/* copies, rendered only for a dead letter */
	amqp_basic_properties_t properties; /* (all but the headers) */
} Delivery;

/* Why a batch could not be recorded (nothing of it committed). */
typedef struct BatchFault
{
	int			sqlerrcode;
	const char *cause;			/* error_cause()'s label */
	char	   *message;
	bool		blamed;			/* a failure was counted against a message */
} BatchFault;

/*
 * Records a batch; *flush_to is the WAL position to flush before the batch
 * is acked when it was committed asynchronously, else InvalidXLogRecPtr.
 */
extern bool outcome_record_batch(Delivery *batch, int n, bool *isolate, BatchFault *fault,
								 XLogRecPtr *flush_to);

/* message_identity.c */
extern char *message_event_id(char *body, size_t len);

#endif
