/*
 * cs_consume.c
 *	  Test and benchmark consumer, independent of candystore.
 *
 *	  cs_consume HOST PORT declare QUEUE EXCHANGE BINDING_KEY
 *	      declares the durable topic exchange and a durable queue bound to it
 *	  cs_consume HOST PORT consume QUEUE MAX IDLE_MS [body]
 *	      consumes (acking) until MAX messages or IDLE_MS without one, and
 *	      prints a line per message:
 *	      RECEIPT_US ROUTING_KEY MESSAGE_ID DELIVERY_MODE CONTENT_TYPE REPLAY TIMESTAMP [BODY]
 *	      RECEIPT_US is the wall clock in microseconds; REPLAY is the
 *	      x-candystore-replay header (true/false) or "-" when absent.
 *	      With "trace" instead of "body", the line ends with
 *	      traceparent=VALUE tracestate=VALUE ("-" when absent).
 */
#include "cs_amqp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static const char *
replay_header(amqp_basic_properties_t *p)
{
	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return "-";
	for (int i = 0; i < p->headers.num_entries; i++)
	{
		amqp_table_entry_t *e = &p->headers.entries[i];

		if (e->key.len == strlen("x-candystore-replay") &&
			memcmp(e->key.bytes, "x-candystore-replay", e->key.len) == 0)
		{
			if (e->value.kind != AMQP_FIELD_KIND_BOOLEAN)
				return "not-a-boolean";
			return e->value.value.boolean ? "true" : "false";
		}
	}
	return "-";
}

static void print_bytes(amqp_bytes_t b);

/* a string header's value, "-" when absent */
static void
print_string_header(amqp_basic_properties_t *p, const char *key)
{
	printf(" %s=", key);
	if (p->_flags & AMQP_BASIC_HEADERS_FLAG)
		for (int i = 0; i < p->headers.num_entries; i++)
		{
			amqp_table_entry_t *e = &p->headers.entries[i];

			if (e->key.len == strlen(key) && memcmp(e->key.bytes, key, e->key.len) == 0 &&
				(e->value.kind == AMQP_FIELD_KIND_UTF8 || e->value.kind == AMQP_FIELD_KIND_BYTES))
			{
				print_bytes(e->value.value.bytes);
				return;
			}
		}
	fputs("-", stdout);
}

static void
print_bytes(amqp_bytes_t b)
{
	if (b.len == 0)
		fputs("-", stdout);
	else
		fwrite(b.bytes, 1, b.len, stdout);
}

int
main(int argc, char **argv)
{
	amqp_connection_state_t conn;

	cs_amqp_program = "cs_consume";
	if (argc < 7)
		cs_amqp_die("usage: cs_consume HOST PORT declare QUEUE EXCHANGE KEY | HOST PORT consume QUEUE MAX IDLE_MS [body|trace]");
	conn = cs_amqp_connect(argv[1], argv[2]);

	if (strcmp(argv[3], "declare") == 0)
	{
		amqp_exchange_declare(conn, 1, amqp_cstring_bytes(argv[5]), amqp_cstring_bytes("topic"),
							  0, 1, 0, 0, amqp_empty_table);
		cs_amqp_check(amqp_get_rpc_reply(conn), "exchange.declare");
		amqp_queue_declare(conn, 1, amqp_cstring_bytes(argv[4]), 0, 1, 0, 0, amqp_empty_table);
		cs_amqp_check(amqp_get_rpc_reply(conn), "queue.declare");
		amqp_queue_bind(conn, 1, amqp_cstring_bytes(argv[4]), amqp_cstring_bytes(argv[5]),
						amqp_cstring_bytes(argv[6]), amqp_empty_table);
		cs_amqp_check(amqp_get_rpc_reply(conn), "queue.bind");
	}
	else
	{
		long		max = atol(argv[5]);
		long		idle_ms = atol(argv[6]);
		int			with_body = argc > 7 && strcmp(argv[7], "body") == 0;
		int			with_trace = argc > 7 && strcmp(argv[7], "trace") == 0;
		long		n = 0;

		amqp_basic_qos(conn, 1, 0, 1000, 0);
		amqp_basic_consume(conn, 1, amqp_cstring_bytes(argv[4]), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
		cs_amqp_check(amqp_get_rpc_reply(conn), "basic.consume");
		while (n < max)
		{
			amqp_envelope_t env;
			struct timeval timeout = {idle_ms / 1000, (idle_ms % 1000) * 1000};
			struct timeval now;
			amqp_rpc_reply_t r;
			amqp_basic_properties_t *p;

			amqp_maybe_release_buffers(conn);
			r = amqp_consume_message(conn, &env, &timeout, 0);
			if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
				break;
			if (r.reply_type != AMQP_RESPONSE_NORMAL)
				cs_amqp_die("consume");
			gettimeofday(&now, NULL);
			p = &env.message.properties;
			printf("%lld ", (long long) now.tv_sec * 1000000 + now.tv_usec);
			print_bytes(env.routing_key);
			putchar(' ');
			print_bytes((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) ? p->message_id : amqp_empty_bytes);
			printf(" %d ", (p->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG) ? p->delivery_mode : 0);
			print_bytes((p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG) ? p->content_type : amqp_empty_bytes);
			printf(" %s %llu", replay_header(p),
				   (unsigned long long) ((p->_flags & AMQP_BASIC_TIMESTAMP_FLAG) ? p->timestamp : 0));
			if (with_trace)
			{
				print_string_header(p, "traceparent");
				print_string_header(p, "tracestate");
			}
			if (with_body)
			{
				putchar(' ');
				print_bytes(env.message.body);
			}
			putchar('\n');
			if (amqp_basic_ack(conn, 1, env.delivery_tag, 0) != AMQP_STATUS_OK)
				cs_amqp_die("ack");
			amqp_destroy_envelope(&env);
			n++;
		}
	}
	fflush(stdout);
	cs_amqp_close(conn);
	return 0;
}
