/*
 * http_stream_load.c
 *	  The load of bench/http_stream.sh: stores RATE events per second with
 *	  candystore.append() at a steady pace, PER_COMMIT events per statement
 *	  (one commit each, every PER_COMMIT / RATE seconds), for SECONDS, on
 *	  one libpq connection.  Each event's payload carries "seq" (1, 2, ...
 *	  in append order) and "sent_us" (the wall clock of its append() call,
 *	  inside the transaction).  When a COMMIT returns, the wall clock is
 *	  written for each of its events into COMMITS_FILE, an array of int64
 *	  µs indexed by seq that the clients (bench/sse_clients.c) map, so they
 *	  can measure commit → client exactly.
 *
 *	  http_stream_load CONNINFO RATE SECONDS PER_COMMIT COMMITS_FILE
 *
 *	  A commit that takes longer than its slot is not made up by skipping:
 *	  the next one carries every event due by then (at most 50 slots' worth),
 *	  so the rate stored stays the rate asked while the database keeps up.
 *	  Prints one line: "events E commits C seconds S rate R
 *	  commit_p50_ms P commit_p99_ms Q cpu_s U" (commit: the statement's
 *	  round trip, append and COMMIT; cpu: the loader's own).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "latency_stats.h"

static const char append_sql[] =
"SELECT count(candystore.append(jsonb_build_object("
"    'event_id', gen_random_uuid(), 'event_type', 'bench.stream', 'timestamp', '2026-01-27T10:15:00Z',"
"    'version', '1.0.0', 'source', jsonb_build_object('host', 'bench', 'type', 'webhook', 'app', 'bench', 'meta', NULL),"
"    'correlation_ids', '[]'::jsonb, 'agent_context', NULL,"
"    'payload', jsonb_build_object('seq', s, 'sent_us', (extract(epoch FROM clock_timestamp()) * 1e6)::bigint,"
"                                  'title', 'Team Standup', 'meeting_id', 'ff_meeting_456'))))"
"  FROM generate_series($1::bigint, $2::bigint) s";

int
main(int argc, char **argv)
{
	PGconn	   *pg;
	PGresult   *res;
	double		rate;
	int			seconds,
				per_commit,
				fd;
	long		cap,
				seq = 0,
				commits = 0;
	int64_t    *commit_us,
			   *round_trips,
				start,
				end;
	double		cpu0;
	struct stat st;

	if (argc != 6)
	{
		fprintf(stderr, "usage: http_stream_load CONNINFO RATE SECONDS PER_COMMIT COMMITS_FILE\n");
		return 2;
	}
	rate = atof(argv[2]);
	seconds = atoi(argv[3]);
	per_commit = atoi(argv[4]);
	if (rate <= 0 || seconds <= 0 || per_commit <= 0)
	{
		fprintf(stderr, "http_stream_load: RATE, SECONDS and PER_COMMIT must be positive\n");
		return 2;
	}
	/* room for every event of the run, and then some (a slow start is made up) */
	cap = (long) (rate * seconds) + 50L * per_commit + 2;
	/* grown, never shrunk: the clients may have mapped it already */
	fd = open(argv[5], O_RDWR | O_CREAT, 0644);
	if (fd < 0 || fstat(fd, &st) != 0 ||
		(st.st_size < cap * (long) sizeof(int64_t) && ftruncate(fd, cap * (long) sizeof(int64_t)) != 0))
	{
		perror(argv[5]);
		return 1;
	}
	commit_us = mmap(NULL, (size_t) cap * sizeof(int64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (commit_us == MAP_FAILED)
	{
		perror("mmap");
		return 1;
	}
	round_trips = calloc((size_t) cap, sizeof(int64_t));
	pg = PQconnectdb(argv[1]);
	if (PQstatus(pg) != CONNECTION_OK)
	{
		fprintf(stderr, "http_stream_load: %s", PQerrorMessage(pg));
		return 1;
	}
	res = PQprepare(pg, "append", append_sql, 2, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "http_stream_load: %s", PQerrorMessage(pg));
		return 1;
	}
	PQclear(res);

	cpu0 = cpu_seconds();
	start = now_us();
	end = start + (int64_t) seconds * 1000000;
	for (;;)
	{
		/* the next commit is due when PER_COMMIT more events are */
		int64_t		due_at = start + (int64_t) ((seq + per_commit) * 1e6 / rate);
		int64_t		now = now_us(),
					t0,
					t1;
		long		due,
					n;
		char		lo[24],
					hi[24];
		const char *params[2] = {lo, hi};

		if (due_at >= end)
			break;
		if (due_at > now)
			usleep((useconds_t) (due_at - now));
		/* every event due by now: a late commit is followed by a larger one */
		due = (long) ((now_us() - start) * rate / 1e6);
		n = due - seq;
		if (n < per_commit)
			n = per_commit;
		if (n > 50L * per_commit)
			n = 50L * per_commit;
		if (seq + n >= cap)
			break;
		snprintf(lo, sizeof(lo), "%ld", seq + 1);
		snprintf(hi, sizeof(hi), "%ld", seq + n);
		t0 = now_us();
		res = PQexecPrepared(pg, "append", 2, params, NULL, NULL, 0);
		t1 = now_us();
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fprintf(stderr, "http_stream_load: %s", PQerrorMessage(pg));
			return 1;
		}
		PQclear(res);
		for (long i = seq + 1; i <= seq + n; i++)
			commit_us[i] = t1;
		round_trips[commits++] = t1 - t0;
		seq += n;
	}
	{
		double		elapsed = (now_us() - start) / 1e6;

		qsort(round_trips, (size_t) commits, sizeof(int64_t), cmp_int64);
		printf("events %ld commits %ld seconds %.1f rate %.0f commit_p50_ms %.2f commit_p99_ms %.2f cpu_s %.2f\n",
			   seq, commits, elapsed, seq / elapsed, percentile_ms(round_trips, commits, 0.50),
			   percentile_ms(round_trips, commits, 0.99), cpu_seconds() - cpu0);
	}
	PQfinish(pg);
	return 0;
}
