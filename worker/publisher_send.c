/*
 * publisher_send.c
 *	  Outbox rows to the broker: each row as a persistent message
 *	  (message_id = event id, content type application/json, the envelope as
 *	  the body, the row's headers) on a channel in confirm mode; and the
 *	  broker's confirms (basic.ack) and refusals (basic.nack), which settle
 *	  the rows of the batches in flight.
 *
 *	  Confirm mode numbers the publishes on the channel 1, 2, 3, ...; publish
 *	  k of a batch whose first publish got tag t has tag t + k.  An ack or
 *	  nack with "multiple" settles every tag up to its own.
 *
 *	  A row AMQP cannot carry (a header table too large for a frame, keys over
 *	  255 bytes) is failed as unsendable and never published: sending it
 *	  would break the connection.  A row whose exchange does not exist is
 *	  found before the batch is published (a passive declare, which closes
 *	  the channel); the channel is then opened again on the same connection.
 */
#include "postgres.h"

#include <sys/time.h>
#include <time.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "amqp_link.h"
#include "publisher.h"
#include "settings.h"
#include "status.h"

#define AMQP_CHANNEL 1
#define READ_EVERY 64			/* publishes between reads of the confirms */
/* a content header frame's bytes besides the headers table, with room to spare */
#define HEADER_FRAME_OVERHEAD 256

static void
settle_batch(OutboxBatch *b, uint64 tag, bool multiple, bool ack)
{
	uint64		from = multiple ? b->first_tag : tag;
	uint64		end = b->first_tag + b->sent;

	for (uint64 t = Max(from, b->first_tag); t <= tag && t < end; t++)
	{
		OutboxRow  *r = &b->rows[b->sent_rows[t - b->first_tag]];

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
 * connection.  Unless OUTBOX_LINK_OK, *error says what happened.
 */
OutboxLinkResult
publisher_read_confirms(AmqpLink *link, OutboxBatch *inflight, int ninflight, char **error)
{
	struct timeval zero = {0, 0};

	for (;;)
	{
		amqp_frame_t frame;
		int			rc = amqp_simple_wait_frame_noblock(link->conn, &frame, &zero);

		if (rc == AMQP_STATUS_TIMEOUT)
			return OUTBOX_LINK_OK;
		if (rc != AMQP_STATUS_OK)
		{
			*error = psprintf("%s: %s", link->broker, amqp_error_string2(rc));
			return OUTBOX_LINK_LOST;
		}
		if ((*error = amqp_link_frame_error(link, &frame)) != NULL)
			return frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD &&
				frame.channel == AMQP_CHANNEL ? OUTBOX_CHANNEL_CLOSED : OUTBOX_LINK_LOST;
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

/* Bytes of a field value in a table as AMQP encodes it; false: cannot encode. */
static bool field_size(amqp_field_value_t *v, size_t *size);

static bool
table_size(amqp_table_t *t, size_t *size)
{
	*size += 4;
	for (int i = 0; i < t->num_entries; i++)
	{
		if (t->entries[i].key.len > 255)
			return false;
		*size += 1 + t->entries[i].key.len;
		if (!field_size(&t->entries[i].value, size))
			return false;
	}
	return true;
}

static bool
field_size(amqp_field_value_t *v, size_t *size)
{
	check_stack_depth();
	*size += 1;
	switch (v->kind)
	{
		case AMQP_FIELD_KIND_VOID:
			return true;
		case AMQP_FIELD_KIND_BOOLEAN:
			*size += 1;
			return true;
		case AMQP_FIELD_KIND_I64:
		case AMQP_FIELD_KIND_F64:
			*size += 8;
			return true;
		case AMQP_FIELD_KIND_UTF8:
		case AMQP_FIELD_KIND_BYTES:
			*size += 4 + v->value.bytes.len;
			return true;
		case AMQP_FIELD_KIND_TABLE:
			return table_size(&v->value.table, size);
		case AMQP_FIELD_KIND_ARRAY:
			*size += 4;
			for (int i = 0; i < v->value.array.num_entries; i++)
			{
				if (!field_size(&v->value.array.entries[i], size))
					return false;
			}
			return true;
		default:
			return false;		/* the publisher makes no other kinds */
	}
}

/* Fails the row as unsendable when its headers do not fit a content header frame. */
static void
check_headers(AmqpLink *link, OutboxRow *r)
{
	size_t		size = 0;
	int			frame_max = amqp_get_frame_max(link->conn);

	if (r->headers.num_entries == 0)
		return;
	if (!table_size(&r->headers, &size))
		r->error = "cannot be sent: a header name is longer than 255 bytes";
	else if (size + HEADER_FRAME_OVERHEAD > (size_t) frame_max)
		r->error = psprintf("cannot be sent: its headers take %zu bytes; an AMQP frame holds %d",
							size, frame_max);
	else
		return;
	r->outcome = ROW_FAILED;
	r->unsendable = true;
}

/*
 * Publishes one row.  On failure returns false with *error; when the row
 * itself could not be encoded it is failed as unsendable too.  Either way
 * the connection may carry part of a message: it must be dropped.
 */
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
		if (rc == AMQP_STATUS_BAD_AMQP_DATA || rc == AMQP_STATUS_TABLE_TOO_BIG)
		{
			r->outcome = ROW_FAILED;
			r->unsendable = true;
			r->error = psprintf("cannot be sent: %s", amqp_error_string2(rc));
		}
		return false;
	}
	link->next_tag++;
	return true;
}

/* Whether the last RPC failed because the broker closed our channel. */
static bool
channel_closed_by_rpc(AmqpLink *link)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(link->conn);

	return r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
		r.reply.id == AMQP_CHANNEL_CLOSE_METHOD;
}

/*
 * Publishes the batch's rows (the last batch of inflight[0..ninflight)),
 * reading confirms as they come, and leaves out the rows already failed and
 * those AMQP cannot carry.  Unless OUTBOX_LINK_OK, *error says what
 * happened: OUTBOX_ROW_REFUSED when a row's exchange does not exist (it and
 * the batch's other rows for that exchange are failed); rows left
 * ROW_UNSENT then may or may not have reached the broker.
 */
OutboxLinkResult
publisher_publish(AmqpLink *link, OutboxBatch *inflight, int ninflight, char **error)
{
	OutboxBatch *b = &inflight[ninflight - 1];
	uint64		now_s = (uint64) time(NULL);

	b->first_tag = link->next_tag;
	b->sent = 0;
	b->settled = 0;
	b->sent_rows = MemoryContextAlloc(b->cxt, sizeof(int) * Max(b->n, 1));

	for (int i = 0; i < b->n; i++)
	{
		if (b->rows[i].outcome == ROW_UNSENT)
			check_headers(link, &b->rows[i]);
	}

	/* a missing exchange would close the channel mid-batch: find it first */
	for (int i = 0; i < b->n; i++)
	{
		const char *exchange = b->rows[i].exchange;

		/* '' is the default exchange, which always exists and cannot be declared */
		if (b->rows[i].outcome != ROW_UNSENT || exchange[0] == '\0' ||
			amqp_link_exchange_exists(link, exchange, error))
			continue;
		if (!channel_closed_by_rpc(link))
			return OUTBOX_LINK_LOST;
		for (int j = i; j < b->n; j++)
		{
			if (b->rows[j].outcome == ROW_UNSENT && strcmp(b->rows[j].exchange, exchange) == 0)
			{
				b->rows[j].outcome = ROW_FAILED;
				b->rows[j].error = *error;
			}
		}
		return OUTBOX_ROW_REFUSED;
	}

	for (int i = 0; i < b->n; i++)
	{
		OutboxLinkResult res;

		CHECK_FOR_INTERRUPTS();
		if (b->rows[i].outcome != ROW_UNSENT)
			continue;
		if (!publish_row(link, &b->rows[i], now_s, error))
			return OUTBOX_LINK_LOST;
		b->sent_rows[b->sent++] = i;
		if (b->sent % READ_EVERY == 0 &&
			(res = publisher_read_confirms(link, inflight, ninflight, error)) != OUTBOX_LINK_OK)
			return res;
	}
	b->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), worker_outbox_confirm_timeout_ms);
	return OUTBOX_LINK_OK;
}

static char *
rpc_error(amqp_rpc_reply_t r, const char *what)
{
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return NULL;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
		return psprintf("%s: %s", what, amqp_error_string2(r.library_error));
	return psprintf("%s: the broker refused (method 0x%08X)", what, r.reply.id);
}

/*
 * The broker closed the channel (and its frames up to the close have been
 * read): acknowledge the close and open the channel again in confirm mode,
 * on the same connection.  Returns false, with *error, when that fails and
 * the connection must be dropped.
 */
bool
publisher_reopen_channel(AmqpLink *link, char **error)
{
	amqp_channel_close_ok_t close_ok = {0};
	int			rc;
	MemoryContext old;

	rc = amqp_send_method(link->conn, AMQP_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
	if (rc != AMQP_STATUS_OK)
	{
		*error = psprintf("%s: closing the channel: %s", link->broker, amqp_error_string2(rc));
		return false;
	}
	amqp_channel_open(link->conn, AMQP_CHANNEL);
	if ((*error = rpc_error(amqp_get_rpc_reply(link->conn), "opening the channel again")) != NULL)
		return false;
	amqp_confirm_select(link->conn, AMQP_CHANNEL);
	if ((*error = rpc_error(amqp_get_rpc_reply(link->conn), "enabling publisher confirms")) != NULL)
		return false;
	link->next_tag = 1;			/* a new channel numbers its publishes anew */

	/* an exchange seen on the old channel may be gone: check again */
	old = MemoryContextSwitchTo(GetMemoryChunkContext(link->broker));
	link->exchanges_ok = list_make1(pstrdup(worker_exchange));
	MemoryContextSwitchTo(old);
	return true;
}
