/*
 * publisher_send.c
 *	  Outbox rows to the broker: each row as a persistent message
 *	  (message_id = event id, content type application/json, the envelope as
 *	  the body, the row's headers) on a channel in confirm mode; and the
 *	  broker's confirms (basic.ack) and refusals (basic.nack), which settle
 *	  the rows of the batches in flight.
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

static void
settle_batch(OutboxBatch *b, uint64 tag, bool multiple, bool ack)
{
	uint64		from = multiple ? b->first_tag : tag;
	uint64		end = b->first_tag + b->sent;

	for (uint64 t = Max(from, b->first_tag); t <= tag && t < end; t++)
	{
		OutboxRow  *r = &b->rows[t - b->first_tag];

		if (r->outcome != ROW_UNSENT)
			continue;
		b->settled++;
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
 * Handles every frame already received, without blocking: confirms for the
 * batches in flight, heartbeats, and the broker closing the channel or
 * connection.  Returns false when the link is lost, with *error saying why.
 */
bool
publisher_read_confirms(AmqpLink *link, OutboxBatch *inflight, int ninflight, char **error)
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
		if (frame.frame_type == AMQP_FRAME_METHOD &&
			(frame.payload.method.id == AMQP_BASIC_ACK_METHOD ||
			 frame.payload.method.id == AMQP_BASIC_NACK_METHOD))
		{
			bool		ack = frame.payload.method.id == AMQP_BASIC_ACK_METHOD;
			uint64		tag;
			bool		multiple;

			if (ack)
			{
				amqp_basic_ack_t *m = frame.payload.method.decoded;

				tag = m->delivery_tag;
				multiple = m->multiple;
			}
			else
			{
				amqp_basic_nack_t *m = frame.payload.method.decoded;

				tag = m->delivery_tag;
				multiple = m->multiple;
			}
			for (int i = 0; i < ninflight; i++)
				settle_batch(&inflight[i], tag, multiple, ack);
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
 * Publishes the batch's rows (the last batch of inflight[0..ninflight)),
 * reading confirms as they come.  Returns false when the link is lost, or a
 * row's exchange does not exist (which closes the channel): that row is
 * failed, and the caller must drop the link.  Rows left ROW_UNSENT then may
 * or may not have reached the broker.
 */
bool
publisher_publish(AmqpLink *link, OutboxBatch *inflight, int ninflight, char **error)
{
	OutboxBatch *b = &inflight[ninflight - 1];
	uint64		now_s = (uint64) time(NULL);

	b->first_tag = link->next_tag;
	b->sent = 0;
	b->settled = 0;

	/* a missing exchange would close the channel mid-batch: find it first */
	for (int i = 0; i < b->n; i++)
	{
		if (!amqp_link_exchange_exists(link, b->rows[i].exchange, error))
		{
			b->rows[i].outcome = ROW_FAILED;
			b->rows[i].error = *error;
			return false;
		}
	}

	for (int i = 0; i < b->n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!publish_row(link, &b->rows[i], now_s, error))
			return false;
		b->sent++;
		if (b->sent % READ_EVERY == 0 && !publisher_read_confirms(link, inflight, ninflight, error))
			return false;
	}
	b->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), worker_outbox_confirm_timeout_ms);
	return true;
}
