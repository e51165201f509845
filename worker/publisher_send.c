/*
 * publisher_send.c
 *	  One batch of outbox rows to the broker: each row as a persistent
 *	  message (message_id = event id, content type application/json, the
 *	  envelope as the body, the row's headers), on a channel in confirm mode,
 *	  then waiting until the broker has confirmed (basic.ack) or refused
 *	  (basic.nack) every message of the batch.
 *
 *	  Confirm mode numbers the publishes on the channel 1, 2, 3, ...; row i
 *	  of a batch whose first publish got tag t has tag t + i.  An ack or nack
 *	  with "multiple" settles every tag up to its own.
 */
#include "postgres.h"

#include <sys/time.h>
#include <time.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "worker.h"

#define AMQP_CHANNEL 1
#define READ_EVERY 64			/* publishes between reads of the confirms */

typedef struct Confirms
{
	OutboxRow  *rows;
	int			sent;			/* rows published so far */
	uint64		first_tag;		/* tag of rows[0] */
	int			settled;		/* rows acked or nacked */
} Confirms;

static void
settle(Confirms *c, uint64 tag, bool multiple, bool ack)
{
	uint64		from = multiple ? c->first_tag : tag;

	for (uint64 t = Max(from, c->first_tag); t <= tag && t < c->first_tag + c->sent; t++)
	{
		OutboxRow  *r = &c->rows[t - c->first_tag];

		if (r->outcome != ROW_UNSENT)
			continue;
		c->settled++;
		if (ack)
		{
			r->outcome = ROW_CONFIRMED;
			worker_stats_add(WC_OUTBOX_CONFIRMS, 1);
		}
		else
		{
			r->outcome = ROW_FAILED;
			r->error = "the broker refused the message (basic.nack)";
			worker_stats_add(WC_OUTBOX_NACKS, 1);
		}
	}
}

/*
 * Handles every frame already received, without blocking: confirms, and the
 * broker closing the channel or connection.  Returns false when the link is
 * lost, with *error saying why.
 */
static bool
read_frames(AmqpLink *link, Confirms *c, char **error)
{
	struct timeval zero = {0, 0};

	for (;;)
	{
		amqp_frame_t frame;
		int			rc = amqp_simple_wait_frame_noblock(link->conn, &frame, &zero);

		if (rc == AMQP_STATUS_TIMEOUT)
			return true;
		if (rc != AMQP_STATUS_OK)
		{
			*error = psprintf("%s: %s", link->broker, amqp_error_string2(rc));
			return false;
		}
		if ((*error = amqp_link_frame_error(link, &frame)) != NULL)
			return false;
		if (frame.frame_type == AMQP_FRAME_METHOD && c != NULL)
		{
			if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD)
			{
				amqp_basic_ack_t *m = frame.payload.method.decoded;

				settle(c, m->delivery_tag, m->multiple, true);
			}
			else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD)
			{
				amqp_basic_nack_t *m = frame.payload.method.decoded;

				settle(c, m->delivery_tag, m->multiple, false);
			}
		}
		amqp_maybe_release_buffers(link->conn);
	}
}

static bool
publish_row(AmqpLink *link, OutboxRow *r, uint64 now_s, char **error)
{
	amqp_basic_properties_t props;
	int			rc;

	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
		AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
	props.content_type = amqp_cstring_bytes("application/json");
	props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	props.message_id = amqp_cstring_bytes(r->event_id);
	props.timestamp = now_s;
	if (r->headers.num_entries > 0)
	{
		props._flags |= AMQP_BASIC_HEADERS_FLAG;
		props.headers = r->headers;
	}
	rc = amqp_basic_publish(link->conn, AMQP_CHANNEL, amqp_cstring_bytes(r->exchange),
							amqp_cstring_bytes(r->routing_key), 0, 0, &props,
							(amqp_bytes_t) {r->body_len, r->body});
	if (rc != AMQP_STATUS_OK)
	{
		*error = psprintf("%s: publishing: %s", link->broker, amqp_error_string2(rc));
		return false;
	}
	link->next_tag++;
	return true;
}

/*
 * Publishes rows[0..n) and waits for their confirms; sets each row's
 * outcome.  Returns false when the link is lost (or a row's exchange does
 * not exist, which closes the channel): the caller must drop the link.  Rows
 * left ROW_UNSENT then may or may not have reached the broker.
 */
bool
publisher_send_batch(AmqpLink *link, OutboxRow *rows, int n, char **error)
{
	Confirms	c = {rows, 0, link->next_tag, 0};
	uint64		now_s = (uint64) time(NULL);
	TimestampTz deadline;

	/* a missing exchange would close the channel mid-batch: find it first */
	for (int i = 0; i < n; i++)
	{
		if (!amqp_link_exchange_exists(link, rows[i].exchange, error))
		{
			rows[i].outcome = ROW_FAILED;
			rows[i].error = *error;
			return false;
		}
	}

	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!publish_row(link, &rows[i], now_s, error))
			return false;
		c.sent++;
		if (c.sent % READ_EVERY == 0 && !read_frames(link, &c, error))
			return false;
	}

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), worker_outbox_confirm_timeout_ms);
	for (;;)
	{
		long		remaining;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		if (!read_frames(link, &c, error))
			return false;
		if (c.settled >= c.sent)
			return true;
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
		{
			*error = psprintf("%s: no publisher confirm within %d ms", link->broker,
							  worker_outbox_confirm_timeout_ms);
			return false;
		}
		rc = WaitLatchOrSocket(MyLatch,
							   WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							   amqp_link_socket(link), remaining, PG_WAIT_EXTENSION);
		/* a commit's wake-up is not lost: the caller reads again after a batch */
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
	}
}

/*
 * Keeps an idle link alive: reads what the broker sent (heartbeats, a close)
 * and lets rabbitmq-c send its heartbeats.  Returns false when the link is
 * lost.
 */
bool
publisher_poll_link(AmqpLink *link, char **error)
{
	return read_frames(link, NULL, error);
}
