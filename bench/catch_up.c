/*
 * catch_up.c
 *	  A client catching up with the store, for bench/read_all.sh:
 *
 *	  catch_up CONNINFO read_all|position
 *
 *	  reads every stored event in batches of 1,000, each batch's rows all
 *	  received (every column, the envelope as text), the next batch after the
 *	  last row's cursor (read_all) or position (the plain scan).  Prints the
 *	  events read and the events per second.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const queries[] = {
	"SELECT cursor, position, event_id, event_type, occurred_at, recorded_at, envelope"
	"  FROM candystore.read_all($1, 1000)",
	"SELECT position, position, event_id, event_type, occurred_at, recorded_at, envelope"
	"  FROM candystore.event_log WHERE position > coalesce($1::bigint, 0)"
	" ORDER BY position LIMIT 1000",
};

int
main(int argc, char **argv)
{
	PGconn	   *pg;
	int			which;
	char	   *after = NULL;
	long		events = 0;
	struct timespec t0, t1;
	double		seconds;

	if (argc != 3 || (strcmp(argv[2], "read_all") != 0 && strcmp(argv[2], "position") != 0))
	{
		fprintf(stderr, "usage: catch_up CONNINFO read_all|position\n");
		return 2;
	}
	which = strcmp(argv[2], "read_all") == 0 ? 0 : 1;
	pg = PQconnectdb(argv[1]);
	if (PQstatus(pg) != CONNECTION_OK)
	{
		fprintf(stderr, "catch_up: %s", PQerrorMessage(pg));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;)
	{
		const char *params[1] = {after};
		PGresult   *res = PQexecParams(pg, queries[which], 1, NULL, params, NULL, NULL, 0);
		int			n;

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fprintf(stderr, "catch_up: %s", PQerrorMessage(pg));
			return 1;
		}
		n = PQntuples(res);
		if (n == 0)
		{
			PQclear(res);
			break;
		}
		events += n;
		free(after);
		after = strdup(PQgetvalue(res, n - 1, 0));
		PQclear(res);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%ld %.0f\n", events, events / seconds);
	free(after);
	PQfinish(pg);
	return 0;
}
