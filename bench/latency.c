/*
 * latency.c
 *	  Publish→committed latency of the ingest worker, for
 *	  bench/ingest_latency.sh.  Publishes RATE envelopes per second for
 *	  SECONDS to a topic exchange, each carrying its send time (CLOCK_REALTIME,
 *	  µs) in payload.sent_us, and LISTENs on candystore_events, which the store
 *	  notifies once per committing transaction, after the commit.  On each
 *	  notification it reads the newly committed events and takes
 *	  receive time − send time for each: an upper bound of the time from
 *	  publish to commit (it includes the notification's delivery).  Both
 *	  times come from this one process's clock.
 *
 *	  Single-threaded: between publishes it sleeps in poll() on the
 *	  PostgreSQL socket, so notifications are taken as they arrive.
 *
 *	  latency HOST PORT EXCHANGE ROUTING_KEY RATE SECONDS CONNINFO
 *
 *	  Prints "received sent p50_ms p95_ms p99_ms max_ms".
 */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "latency_stats.h"

#define DRAIN_TIMEOUT_US (30 * 1000000LL)	/* wait for stragglers */

static void
die(const char *what)
{
	fprintf(stderr, "latency: %s\n", what);
	exit(1);
}

/* Reads the events committed after *last; records their latencies. */
static void
collect(PGconn *pg, int64_t received_at, long long *last, int64_t *lat, long *nlat, long cap)
{
	char		lastbuf[32];
	const char *params[1] = {lastbuf};
	PGresult   *res;

	snprintf(lastbuf, sizeof(lastbuf), "%lld", *last);
	res = PQexecParams(pg,
					   "SELECT position, (envelope #>> '{payload,sent_us}')::bigint"
					   "  FROM candystore.event_log"
					   " WHERE position > $1 AND event_type = 'bench.latency'"
					   " ORDER BY position",
					   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die(PQerrorMessage(pg));
	for (int r = 0; r < PQntuples(res); r++)
	{
		*last = atoll(PQgetvalue(res, r, 0));
		if (*nlat < cap)
			lat[(*nlat)++] = received_at - atoll(PQgetvalue(res, r, 1));
	}
	PQclear(res);
}

/* Takes pending notifications; true if there was at least one. */
static int
take_notifications(PGconn *pg)
{
	PGnotify   *n;
	int			any = 0;

	if (!PQconsumeInput(pg))
		die(PQerrorMessage(pg));
	while ((n = PQnotifies(pg)) != NULL)
	{
		any = 1;
		PQfreemem(n);
	}
	return any;
}

int
main(int argc, char **argv)
{
	amqp_connection_state_t conn;
	amqp_socket_t *sock;
	amqp_basic_properties_t props;
	PGconn	   *pg;
	PGresult   *res;
	long		rate, seconds, total, sent = 0, nlat = 0;
	long long	last;
	int64_t    *lat;
	int64_t		start, deadline;
	unsigned	run;

	if (argc < 8)
		die("usage: latency HOST PORT EXCHANGE ROUTING_KEY RATE SECONDS CONNINFO");
	rate = atol(argv[5]);
	seconds = atol(argv[6]);
	total = rate * seconds;
	if (rate <= 0 || seconds <= 0)
		die("RATE and SECONDS must be positive");
	lat = malloc(sizeof(int64_t) * total);
	run = (unsigned) (now_us() & 0xffffffff);

	pg = PQconnectdb(argv[7]);
	if (PQstatus(pg) != CONNECTION_OK)
		die(PQerrorMessage(pg));
	res = PQexec(pg, "SELECT coalesce(max(position), 0) FROM candystore.event_log");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die(PQerrorMessage(pg));
	last = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	res = PQexec(pg, "LISTEN candystore_events");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die(PQerrorMessage(pg));
	PQclear(res);

	conn = amqp_new_connection();
	sock = amqp_tcp_socket_new(conn);
	if (amqp_socket_open(sock, argv[1], atoi(argv[2])) != AMQP_STATUS_OK)
		die("cannot connect to the broker");
	if (amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest").reply_type != AMQP_RESPONSE_NORMAL)
		die("login");
	amqp_channel_open(conn, 1);
	if (amqp_get_rpc_reply(conn).reply_type != AMQP_RESPONSE_NORMAL)
		die("channel");

	/* persistent, as Bloodbank publishes */
	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
	props.content_type = amqp_cstring_bytes("application/json");
	props.delivery_mode = 2;

	start = now_us();
	deadline = start + seconds * 1000000LL + DRAIN_TIMEOUT_US;
	while (nlat < total && now_us() < deadline)
	{
		int64_t		t = now_us();
		long		due = (long) ((t - start) * rate / 1000000) + 1;
		struct pollfd pfd = {PQsocket(pg), POLLIN, 0};
		int			wait_ms;

		/* publish what is due by now (catching up after a slow read) */
		while (sent < total && sent < due)
		{
			char		body[1024];
			int			len;
			amqp_bytes_t b;

			sent++;
			len = snprintf(body, sizeof(body),
						   "{\"event_id\":\"%08x-0000-4000-8000-%012lx\",\"event_type\":\"bench.latency\","
						   "\"timestamp\":\"2026-01-27T10:15:00.123456Z\",\"version\":\"1.0.0\","
						   "\"source\":{\"host\":\"bigchungus\",\"type\":\"webhook\",\"app\":\"fireflies\",\"meta\":null},"
						   "\"correlation_ids\":[],\"agent_context\":null,"
						   "\"payload\":{\"id\":\"ff_%ld\",\"sent_us\":%lld}}",
						   run, sent, sent, (long long) now_us());
			b.len = (size_t) len;
			b.bytes = body;
			if (amqp_basic_publish(conn, 1, amqp_cstring_bytes(argv[3]),
								   amqp_cstring_bytes(argv[4]), 0, 0, &props, b) != AMQP_STATUS_OK)
				die("publish failed");
		}

		/* sleep until the next publish is due or a commit is notified */
		if (sent < total)
		{
			int64_t		next = start + (int64_t) sent * 1000000 / rate;

			wait_ms = next > t ? (int) ((next - t + 999) / 1000) : 0;
		}
		else
			wait_ms = 100;
		if (poll(&pfd, 1, wait_ms) > 0 && take_notifications(pg))
			collect(pg, now_us(), &last, lat, &nlat, total);
		/* the broker's heartbeats and the like are not read: nothing to wait for */
	}

	qsort(lat, nlat, sizeof(int64_t), cmp_int64);
	printf("%ld %ld %.1f %.1f %.1f %.1f\n", nlat, sent,
		   percentile_ms(lat, nlat, 0.50), percentile_ms(lat, nlat, 0.95),
		   percentile_ms(lat, nlat, 0.99), nlat ? lat[nlat - 1] / 1000.0 : 0.0);
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
	PQfinish(pg);
	free(lat);
	return nlat == total ? 0 : 2;
}
