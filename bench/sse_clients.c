/*
 * sse_clients.c
 *	  Many concurrent Server-Sent Events clients of candystore-http's
 *	  GET /v1/stream, in one process (epoll, raw sockets), for
 *	  bench/http_stream.sh.  Each event the benchmark appends carries
 *	  payload.sent_us, the wall clock (µs) when its append() ran, just
 *	  before its commit; for every event every client receives, the latency
 *	  is the time of receipt minus that: append → client, an upper bound of
 *	  commit → client (it includes the commit and its flush).  Server and
 *	  clients share one machine, so one clock.
 *
 *	  sse_clients HOST PORT TOKEN CLIENTS SECONDS READY_FILE
 *
 *	  Connects CLIENTS clients, writes READY_FILE once all have their
 *	  response headers, reads for SECONDS, then prints one line:
 *	  "clients C ok O events E min_per_client A max_per_client B
 *	   p50_ms p95_ms p99_ms max_ms".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "latency_stats.h"

#define BUCKET_US 10			/* histogram resolution */
#define MAX_US (10 * 1000 * 1000)
#define NBUCKETS (MAX_US / BUCKET_US + 1)

typedef struct client
{
	int			fd;
	bool		headers;
	int			status;
	char	   *buf;
	size_t		len,
				cap;
	long		events;
} client;

static uint32_t *hist;
static long samples;
static int64_t max_lat;

static void
record(int64_t lat)
{
	if (lat < 0)
		lat = 0;
	if (lat > max_lat)
		max_lat = lat;
	hist[lat >= MAX_US ? NBUCKETS - 1 : lat / BUCKET_US]++;
	samples++;
}

static double
hist_pct(double p)
{
	long		want = (long) (p * samples + 0.999999),
				seen = 0;

	if (samples == 0)
		return 0;
	for (long b = 0; b < NBUCKETS; b++)
	{
		seen += hist[b];
		if (seen >= want)
			return (b * BUCKET_US + BUCKET_US / 2) / 1000.0;
	}
	return max_lat / 1000.0;
}

/* consume complete frames ("...\n\n") of c's buffer */
static void
frames(client *c, int64_t now)
{
	char	   *start = c->buf,
			   *end = c->buf + c->len,
			   *sep;

	if (!c->headers)
	{
		char	   *h = memmem(start, c->len, "\r\n\r\n", 4);

		if (h == NULL)
			return;
		c->status = atoi(start + 9);	/* "HTTP/1.x NNN" */
		c->headers = true;
		start = h + 4;
	}
	while ((sep = memmem(start, (size_t) (end - start), "\n\n", 2)) != NULL)
	{
		char	   *s = memmem(start, (size_t) (sep - start), "\"sent_us\": ", 11);

		if (memmem(start, (size_t) (sep - start), "id: ", 4) != NULL)
			c->events++;
		if (s != NULL)
			record(now - strtoll(s + 11, NULL, 10));
		start = sep + 2;
	}
	c->len = (size_t) (end - start);
	memmove(c->buf, start, c->len);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in addr = {0};
	int			n,
				seconds,
				ep,
				ready = 0;
	client	   *cs;
	char		req[1024];
	struct rlimit rl;
	int64_t		end;
	bool		announced = false;
	long		total = 0,
				lo = -1,
				hi = 0;
	int			ok = 0;

	if (argc != 7)
	{
		fprintf(stderr, "usage: sse_clients HOST PORT TOKEN CLIENTS SECONDS READY_FILE\n");
		return 2;
	}
	n = atoi(argv[4]);
	seconds = atoi(argv[5]);
	rl.rlim_cur = rl.rlim_max = (rlim_t) n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		perror("setrlimit");
	hist = calloc(NBUCKETS, sizeof(uint32_t));
	cs = calloc((size_t) n, sizeof(client));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t) atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &addr.sin_addr);
	snprintf(req, sizeof(req),
			 "GET /v1/stream HTTP/1.0\r\nHost: %s\r\nAccept: text/event-stream\r\nAuthorization: Bearer %s\r\n\r\n",
			 argv[1], argv[3]);
	ep = epoll_create1(0);
	for (int i = 0; i < n; i++)
	{
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};

		cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(cs[i].fd, (struct sockaddr *) &addr, sizeof(addr)) != 0 ||
			write(cs[i].fd, req, strlen(req)) != (ssize_t) strlen(req))
		{
			fprintf(stderr, "sse_clients: client %d: %s\n", i, strerror(errno));
			return 1;
		}
		fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
		cs[i].cap = 1 << 16;
		cs[i].buf = malloc(cs[i].cap);
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
	}

	end = now_us() + (int64_t) 3600 * 1000000;
	while (now_us() < end)
	{
		struct epoll_event evs[256];
		int			k = epoll_wait(ep, evs, 256, 100);

		for (int e = 0; e < k; e++)
		{
			client	   *c = evs[e].data.ptr;

			for (;;)
			{
				ssize_t		r;

				if (c->cap - c->len < 8192)
				{
					c->cap *= 2;
					c->buf = realloc(c->buf, c->cap);
				}
				r = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
				if (r > 0)
				{
					bool		had = c->headers;

					c->len += (size_t) r;
					frames(c, now_us());
					if (!had && c->headers)
						ready++;
					continue;
				}
				if (r == 0)
				{
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
					close(c->fd);
					c->fd = -1;
				}
				break;
			}
		}
		if (!announced && ready == n)
		{
			FILE	   *f = fopen(argv[6], "w");

			if (f)
				fclose(f);
			announced = true;
			end = now_us() + (int64_t) seconds * 1000000;
			samples = 0;		/* count from here */
			memset(hist, 0, NBUCKETS * sizeof(uint32_t));
			max_lat = 0;
			for (int i = 0; i < n; i++)
				cs[i].events = 0;
		}
	}
	for (int i = 0; i < n; i++)
	{
		if (cs[i].status == 200 && cs[i].fd >= 0)
			ok++;
		total += cs[i].events;
		if (lo < 0 || cs[i].events < lo)
			lo = cs[i].events;
		if (cs[i].events > hi)
			hi = cs[i].events;
	}
	printf("clients %d ok %d events %ld min_per_client %ld max_per_client %ld %.2f %.2f %.2f %.2f\n",
		   n, ok, total, lo, hi, hist_pct(0.50), hist_pct(0.95), hist_pct(0.99), max_lat / 1000.0);
	return 0;
}
