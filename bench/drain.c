/*
 * drain.c
 *	  Benchmark baselines for bench/ingest.sh, consuming COUNT messages from
 *	  QUEUE with manual acks:
 *	    noop    acks without doing anything (acks batched every ACK_EVERY
 *	            deliveries, as the worker does): the broker's drain limit
 *	    append  the seeds' design: one candystore.append() and one commit
 *	            per message, then its ack
 *	  Prints the elapsed seconds.
 *
 *	  drain HOST PORT QUEUE COUNT noop|append [CONNINFO]
 */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACK_EVERY 500

static void
die(const char *what)
{
	fprintf(stderr, "drain: %s\n", what);
	exit(1);
}

int
main(int argc, char **argv)
{
	amqp_connection_state_t conn;
	amqp_socket_t *sock;
	long		count;
	int			append;
	PGconn	   *pg = NULL;
	struct timespec t0, t1;

	if (argc < 6)
		die("usage: drain HOST PORT QUEUE COUNT noop|append [CONNINFO]");
	count = atol(argv[4]);
	append = strcmp(argv[5], "append") == 0;
	if (append)
	{
		if (argc < 7)
			die("append needs CONNINFO");
		pg = PQconnectdb(argv[6]);
		if (PQstatus(pg) != CONNECTION_OK)
			die(PQerrorMessage(pg));
	}

	conn = amqp_new_connection();
	sock = amqp_tcp_socket_new(conn);
	if (amqp_socket_open(sock, argv[1], atoi(argv[2])) != AMQP_STATUS_OK)
		die("cannot connect");
	if (amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest").reply_type != AMQP_RESPONSE_NORMAL)
		die("login");
	amqp_channel_open(conn, 1);
	amqp_basic_qos(conn, 1, 0, 2000, 0);
	amqp_basic_consume(conn, 1, amqp_cstring_bytes(argv[3]), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	if (amqp_get_rpc_reply(conn).reply_type != AMQP_RESPONSE_NORMAL)
		die("consume");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 1; i <= count; i++)
	{
		amqp_envelope_t env;

		amqp_maybe_release_buffers(conn);
		if (amqp_consume_message(conn, &env, NULL, 0).reply_type != AMQP_RESPONSE_NORMAL)
			die("consume_message");
		if (append)
		{
			char	   *body = strndup(env.message.body.bytes, env.message.body.len);
			char	   *rk = strndup(env.routing_key.bytes, env.routing_key.len);
			const char *params[2] = {body, rk};
			PGresult   *res = PQexecParams(pg, "SELECT candystore.append($1::jsonb, $2)",
										   2, NULL, params, NULL, NULL, 0);

			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				die(PQerrorMessage(pg));
			PQclear(res);
			free(body);
			free(rk);
			amqp_basic_ack(conn, 1, env.delivery_tag, 0);
		}
		else if (i % ACK_EVERY == 0 || i == count)
			amqp_basic_ack(conn, 1, env.delivery_tag, 1);
		amqp_destroy_envelope(&env);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.3f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
	if (pg)
		PQfinish(pg);
	return 0;
}
