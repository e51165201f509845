/*
 * cs_publish.c
 *	  Test and benchmark publisher, independent of the worker: publishes
 *	  seed-like envelopes to a topic exchange as persistent messages with
 *	  publisher confirms, so that every message it counts is on the broker.
 *
 *	  cs_publish HOST PORT EXCHANGE ROUTING_KEY RUN COUNT POISON_EVERY COPIES [PAD [WINDOW [FLOWS]]]
 *
 *	  Event ids are derived from RUN and the message number, so the test can
 *	  count them.  Every POISON_EVERY-th message (0: none) is bad: malformed
 *	  JSON and invalid envelopes alternate.  COPIES publishes each message
 *	  that many times (duplicates).  PAD adds that many bytes to the payload.
 *	  WINDOW (default 500) is how far publishing runs ahead of the confirms:
 *	  every WINDOW publishes it waits until all but the last WINDOW / 2 are
 *	  confirmed.
 *	  0 pipelines everything: it never waits until all are sent (confirms
 *	  already received are read on the way), then waits for the last one.
 *	  FLOWS > 0 sets the correlation_id property, the flow key cells split
 *	  the stream by, to "flow-RUN-F" with F = message number % FLOWS.
 */
#include "cs_amqp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int
main(int argc, char **argv)
{
	amqp_connection_state_t conn;
	amqp_basic_properties_t props;
	long		run, count, poison_every, copies, pad = 0, window = 500, flows = 0;
	char		flow_key[64];
	uint64_t	sent = 0, confirmed = 0;
	char	   *padding, *body;
	size_t		body_cap;

	cs_amqp_program = "cs_publish";
	if (argc < 9)
		cs_amqp_die("usage: cs_publish HOST PORT EXCHANGE ROUTING_KEY RUN COUNT POISON_EVERY COPIES [PAD [WINDOW [FLOWS]]]");
	run = atol(argv[5]);
	count = atol(argv[6]);
	poison_every = atol(argv[7]);
	copies = atol(argv[8]);
	if (argc > 9)
		pad = atol(argv[9]);
	if (argc > 10)
		window = atol(argv[10]);
	if (argc > 11)
		flows = atol(argv[11]);
	padding = malloc(pad + 1);
	memset(padding, 'x', pad);
	padding[pad] = '\0';
	body_cap = 1024 + pad;
	body = malloc(body_cap);

	conn = cs_amqp_connect(argv[1], argv[2]);
	amqp_confirm_select(conn, 1);
	cs_amqp_check(amqp_get_rpc_reply(conn), "confirm.select");

	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
	props.content_type = amqp_cstring_bytes("application/json");
	props.delivery_mode = 2;
	if (flows > 0)
		props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;

	for (long i = 1; i <= count; i++)
	{
		int			len;

		if (poison_every > 0 && i % poison_every == 0 && (i / poison_every) % 2 == 1)
			len = snprintf(body, body_cap, "{\"event_id\": \"%08lx-0000-4000-8000-%012lx\", not json", run, i);
		else if (poison_every > 0 && i % poison_every == 0)
			len = snprintf(body, body_cap,
						   "{\"event_id\":\"%08lx-0000-4000-8000-%012lx\",\"event_type\":\"test.poison\","
						   "\"timestamp\":\"not a time\",\"version\":\"1.0.0\","
						   "\"source\":{\"host\":\"t\",\"type\":\"test\",\"app\":\"cs_publish\"},"
						   "\"correlation_ids\":[],\"payload\":{}}", run, i);
		else
			len = snprintf(body, body_cap,
						   "{\"event_id\":\"%08lx-0000-4000-8000-%012lx\",\"event_type\":\"fireflies.transcript.ready\","
						   "\"timestamp\":\"2026-01-27T10:15:00.123456Z\",\"version\":\"1.0.0\","
						   "\"source\":{\"host\":\"bigchungus\",\"type\":\"webhook\",\"app\":\"fireflies\",\"meta\":null},"
						   "\"correlation_ids\":[],\"agent_context\":null,"
						   "\"payload\":{\"id\":\"ff_%ld\",\"n\":%ld,\"pad\":\"%s\"}}",
						   run, i, i, i, padding);
		if (flows > 0)
		{
			snprintf(flow_key, sizeof(flow_key), "flow-%ld-%ld", run, i % flows);
			props.correlation_id = amqp_cstring_bytes(flow_key);
		}
		for (long c = 0; c < copies; c++)
		{
			amqp_bytes_t b = {(size_t) len, body};

			if (amqp_basic_publish(conn, 1, amqp_cstring_bytes(argv[3]),
								   amqp_cstring_bytes(argv[4]), 0, 0, &props, b) != AMQP_STATUS_OK)
				cs_amqp_die("publish failed");
			sent++;
			if (window > 0 && sent % window == 0)
				cs_amqp_await_confirms(conn, sent - window / 2, &confirmed, NULL);
			else if (window == 0 && sent % 500 == 0)
				cs_amqp_take_confirms(conn, &confirmed);
		}
	}
	cs_amqp_await_confirms(conn, sent, &confirmed, NULL);
	cs_amqp_close(conn);
	printf("%lu\n", (unsigned long) sent);
	return 0;
}
