/*
 * cs_amqp.c
 *	  Connection boilerplate of the test and benchmark AMQP tools.
 */
#include "cs_amqp.h"

#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

const char *cs_amqp_program = "cs_amqp";

void
cs_amqp_die(const char *what)
{
	fprintf(stderr, "%s: %s\n", cs_amqp_program, what);
	exit(1);
}

void
cs_amqp_check(amqp_rpc_reply_t r, const char *what)
{
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
		cs_amqp_die(what);
}

/* Connects and logs in as guest; channel 1 is open on return. */
amqp_connection_state_t
cs_amqp_connect(const char *host, const char *port)
{
	amqp_connection_state_t conn = amqp_new_connection();
	amqp_socket_t *sock = amqp_tcp_socket_new(conn);

	if (sock == NULL || amqp_socket_open(sock, host, atoi(port)) != AMQP_STATUS_OK)
		cs_amqp_die("cannot connect");
	cs_amqp_check(amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
	amqp_channel_open(conn, 1);
	cs_amqp_check(amqp_get_rpc_reply(conn), "channel");
	return conn;
}

void
cs_amqp_close(amqp_connection_state_t conn)
{
	amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
}

/*
 * Handles confirm frames until every message up to 'upto' is confirmed; with
 * 'wait' false only those already received, without blocking.
 */
static void
take_confirms(amqp_connection_state_t conn, uint64_t upto, uint64_t *confirmed,
			  const char *last_sent, int wait)
{
	struct timeval zero = {0, 0};

	while (*confirmed < upto)
	{
		amqp_frame_t frame;
		int			rc = wait ? amqp_simple_wait_frame(conn, &frame)
			: amqp_simple_wait_frame_noblock(conn, &frame, &zero);

		if (!wait && rc == AMQP_STATUS_TIMEOUT)
			return;
		if (rc != AMQP_STATUS_OK)
			cs_amqp_die("lost the broker while waiting for confirms");
		if (frame.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD)
		{
			amqp_basic_ack_t *ack = frame.payload.method.decoded;

			/* RabbitMQ confirms in order on one channel */
			if (ack->delivery_tag > *confirmed)
				*confirmed = ack->delivery_tag;
		}
		else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD)
			cs_amqp_die("the broker refused a message");
		else if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
				 frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)
		{
			/* both methods start with reply_code, reply_text */
			amqp_channel_close_t *m = frame.payload.method.decoded;

			fprintf(stderr, "%s: after \"%s\": %.*s\n", cs_amqp_program, last_sent ? last_sent : "",
					(int) m->reply_text.len, (char *) m->reply_text.bytes);
			cs_amqp_die(frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ?
						"the broker closed the channel" : "the broker closed the connection");
		}
		amqp_maybe_release_buffers(conn);
	}
}

void
cs_amqp_await_confirms(amqp_connection_state_t conn, uint64_t upto, uint64_t *confirmed,
					   const char *last_sent)
{
	take_confirms(conn, upto, confirmed, last_sent, 1);
}

void
cs_amqp_take_confirms(amqp_connection_state_t conn, uint64_t *confirmed)
{
	take_confirms(conn, UINT64_MAX, confirmed, NULL, 0);
}
