/*
 * outbox_limits.h
 *	  What AMQP can carry: the checks an outbox row must pass, shared by the
 *	  SQL functions that enqueue (which refuse) and the outbox publisher
 *	  (which parks a row that still fails them).
 */
#ifndef CANDYSTORE_OUTBOX_LIMITS_H
#define CANDYSTORE_OUTBOX_LIMITS_H

#include "postgres.h"

#include "utils/jsonb.h"

#define AMQP_SHORTSTR_MAX 255

/* candystore.outbox_max_message_bytes (worker/settings.c, outbox_define_settings) */
extern int	outbox_max_message_bytes;

/*
 * Why a text of the database (an exchange or routing key) cannot be sent as
 * an AMQP shortstr, or NULL when it can.  *utf8 and *utf8_len get the value
 * as UTF-8 (converted when the database encoding is not UTF-8); *sqlerrcode
 * the SQLSTATE of the refusal.  Never throws.
 */
extern char *outbox_shortstr_problem(const char *what, const char *s, size_t len,
									 char **utf8, size_t *utf8_len, int *sqlerrcode);

/* Why a message body of len bytes cannot be sent, or NULL. */
extern char *outbox_body_problem(size_t len);

/*
 * Raises a class-22 error when the message of this event could not be sent
 * to the exchange (NULL: the publisher's candystore.exchange) with this
 * routing key; hint says how the caller can avoid it.
 */
extern void outbox_check_message(const char *event_id, text *exchange, text *routing_key,
								 Jsonb *envelope, const char *hint);

#endif
