/*
 * wait_latency.c
 *	  Commit → wait_for_events() return latency, for bench/wait_latency.sh.
 *	  A reader tailing the store: it calls candystore.wait_for_events(cursor)
 *	  and, when that returns true, notes the time (CLOCK_REALTIME, µs), reads
 *	  on with read_all() and takes, for each transaction the batch brings,
 *	  that time − the transaction's commit timestamp (track_commit_timestamp
 *	  must be on).  The commit timestamp is taken as the commit record is
 *	  written, before it is flushed, so each figure includes the flush: an
 *	  upper bound of commit → return.  The server and this process share
 *	  one machine, so one clock.  A transaction committed while the reader was
 *	  reading the previous batch counts from its commit too: the reader sees it
 *	  when it next waits, as a real one would.
 *
 *	  For comparison, a second process LISTENs on candystore_events (the
 *	  store notifies once per committing transaction, with its highest
 *	  position) and takes the same measure for the notification: how soon
 *	  any wake-up reaches a client on this machine at that moment.
 *
 *	  wait_latency CONNINFO SECONDS
 *
 *	  Starts after the events already stored; runs SECONDS.  Prints
 *	  "wait transactions events p50_ms p95_ms p99_ms max_ms" for the waiter and
 *	  "listen notifications p50_ms p95_ms p99_ms max_ms" for the listener.
 */
#include <libpq-fe.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "latency_stats.h"

static void
die(PGconn *pg, const char *what)
{
	fprintf(stderr, "wait_latency: %s: %s", what, pg ? PQerrorMessage(pg) : "\n");
	exit(1);
}

/* the batch's last cursor, and the commit time (µs since the epoch) of each of its transactions */
static const char *read_sql =
"WITH r AS (SELECT cursor FROM candystore.read_all($1, 10000))"
" SELECT (SELECT max(cursor COLLATE \"C\") FROM r), (SELECT count(*) FROM r),"
"        (extract(epoch FROM pg_xact_commit_timestamp(xid(('x' || d.h)::bit(64)::bigint::text::xid8))) * 1e6)::bigint"
"   FROM (SELECT DISTINCT substr(cursor, 1, 16) AS h FROM r) d";

/* The listener: commit → notification received, for each notification. */
static void
listen_until(const char *conninfo, int64_t end)
{
	PGconn	   *pg = PQconnectdb(conninfo);
	PGresult   *res;
	long		cap = 1 << 20, nlat = 0;
	int64_t    *lat = malloc(sizeof(int64_t) * cap);

	if (PQstatus(pg) != CONNECTION_OK)
		die(pg, "listener connect");
	res = PQexec(pg, "LISTEN candystore_events");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die(pg, "LISTEN");
	PQclear(res);
	while (now_us() < end)
	{
		struct pollfd pfd = {PQsocket(pg), POLLIN, 0};
		PGnotify   *n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (!PQconsumeInput(pg))
			die(pg, "listener");
		while ((n = PQnotifies(pg)) != NULL)
		{
			int64_t		received = now_us();
			const char *params[1] = {n->extra};

			res = PQexecParams(pg, "SELECT (extract(epoch FROM pg_xact_commit_timestamp(xid(xid))) * 1e6)::bigint"
							   "  FROM candystore.event_log WHERE position = $1::bigint", 1, NULL, params, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				die(pg, "listener read");
			if (PQntuples(res) == 1 && nlat < cap)
				lat[nlat++] = received - atoll(PQgetvalue(res, 0, 0));
			PQclear(res);
			PQfreemem(n);
		}
	}
	qsort(lat, nlat, sizeof(int64_t), cmp_int64);
	printf("listen %ld %.1f %.1f %.1f %.1f\n", nlat,
		   percentile_ms(lat, nlat, 0.50), percentile_ms(lat, nlat, 0.95),
		   percentile_ms(lat, nlat, 0.99), nlat ? lat[nlat - 1] / 1000.0 : 0.0);
	fflush(stdout);
	PQfinish(pg);
	free(lat);
}

int
main(int argc, char **argv)
{
	pid_t		listener;
	PGconn	   *pg;
	PGresult   *res;
	char	   *cursor = NULL;
	long		cap = 1 << 20, nlat = 0, events = 0;
	int64_t    *lat = malloc(sizeof(int64_t) * cap);
	int64_t		end;

	if (argc != 3)
	{
		fprintf(stderr, "usage: wait_latency CONNINFO SECONDS\n");
		return 1;
	}
	end = now_us() + atol(argv[2]) * 1000000LL;
	fflush(stdout);
	listener = fork();			/* before connecting: each process its own connection */
	if (listener < 0)
		die(NULL, "fork");
	if (listener == 0)
	{
		listen_until(argv[1], end);
		_exit(0);
	}
	pg = PQconnectdb(argv[1]);
	if (PQstatus(pg) != CONNECTION_OK)
		die(pg, "connect");
	res = PQexec(pg, "SELECT max(cursor COLLATE \"C\") FROM candystore.read_all(NULL, 2147483647)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die(pg, "start");
	if (!PQgetisnull(res, 0, 0))
		cursor = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);

	while (now_us() < end)
	{
		const char *params[1] = {cursor};
		int64_t		returned;

		res = PQexecParams(pg, "SELECT candystore.wait_for_events($1, '1 second')", 1, NULL, params, NULL, NULL, 0);
		returned = now_us();
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			die(pg, "wait_for_events");
		if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		{
			PQclear(res);
			continue;
		}
		PQclear(res);
		res = PQexecParams(pg, read_sql, 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			die(pg, "read_all");
		for (int i = 0; i < PQntuples(res); i++)
		{
			if (nlat < cap)
				lat[nlat++] = returned - atoll(PQgetvalue(res, i, 2));
		}
		if (PQntuples(res) > 0)
		{
			free(cursor);
			cursor = strdup(PQgetvalue(res, 0, 0));
			events += atol(PQgetvalue(res, 0, 1));
		}
		PQclear(res);
	}
	qsort(lat, nlat, sizeof(int64_t), cmp_int64);
	printf("wait %ld %ld %.1f %.1f %.1f %.1f\n", nlat, events,
		   percentile_ms(lat, nlat, 0.50), percentile_ms(lat, nlat, 0.95),
		   percentile_ms(lat, nlat, 0.99), nlat ? lat[nlat - 1] / 1000.0 : 0.0);
	fflush(stdout);
	PQfinish(pg);
	free(lat);
	free(cursor);
	waitpid(listener, NULL, 0);
	return 0;
}
