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
 *	  Connects CLIENTS clients, spread over 4 threads (each its own epoll
 *	  set), so that on a shared machine the measuring side is not one
 *	  thread's share of the CPU; writes READY_FILE once all have their
 *	  response headers, reads for SECONDS, then prints one line:
 *	  "clients C ok O events E min_per_client A max_per_client B
 *	   p50_ms p95_ms p99_ms max_ms".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
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

#define NTHREADS 4

typedef struct worker
{
	client	   *cs;
	int			n;
	uint32_t   *hist;
	long		samples;
	int64_t		max_lat;
	pthread_t	th;
} worker;

static struct sockaddr_in addr;
static char req[1024];
static atomic_int ready;		/* clients with their headers */
static atomic_int started;		/* all ready: count from now */
static _Atomic int64_t end_us;

static void
record(worker *w, int64_t lat)
{
	if (lat < 0)
		lat = 0;
	if (lat > w->max_lat)
		w->max_lat = lat;
	w->hist[lat >= MAX_US ? NBUCKETS - 1 : lat / BUCKET_US]++;
	w->samples++;
}

/* consume complete frames ("...\n\n") of c's buffer */
static void
frames(worker *w, client *c, int64_t now)
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
		atomic_fetch_add(&ready, 1);
		start = h + 4;
	}
	while ((sep = memmem(start, (size_t) (end - start), "\n\n", 2)) != NULL)
	{
		char	   *s = memmem(start, (size_t) (sep - start), "\"sent_us\": ", 11);

		if (memmem(start, (size_t) (sep - start), "id: ", 4) != NULL)
			c->events++;
		if (s != NULL)
			record(w, now - strtoll(s + 11, NULL, 10));
		start = sep + 2;
	}
	c->len = (size_t) (end - start);
	memmove(c->buf, start, c->len);
}

static void *
worker_main(void *arg)
{
	worker	   *w = arg;
	int			ep = epoll_create1(0);
	bool		counting = false;

	for (int i = 0; i < w->n; i++)
	{
		client	   *c = &w->cs[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

		c->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c->fd, (struct sockaddr *) &addr, sizeof(addr)) != 0 ||
			write(c->fd, req, strlen(req)) != (ssize_t) strlen(req))
		{
			fprintf(stderr, "sse_clients: connect: %s\n", strerror(errno));
			exit(1);
		}
		fcntl(c->fd, F_SETFL, O_NONBLOCK);
		c->cap = 1 << 16;
		c->buf = malloc(c->cap);
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	}
	while (!atomic_load(&started) || now_us() < atomic_load(&end_us))
	{
		struct epoll_event evs[256];
		int			k = epoll_wait(ep, evs, 256, 100);

		if (!counting && atomic_load(&started))
		{
			/* count from the moment every client was connected */
			counting = true;
			w->samples = 0;
			w->max_lat = 0;
			memset(w->hist, 0, NBUCKETS * sizeof(uint32_t));
			for (int i = 0; i < w->n; i++)
				w->cs[i].events = 0;
		}
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
					c->len += (size_t) r;
					frames(w, c, now_us());
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
	}
	close(ep);
	return NULL;
}

static double
hist_pct(const uint32_t *hist, long samples, int64_t max_lat, double p)
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

int
main(int argc, char **argv)
{
	int			n,
				seconds;
	client	   *cs;
	worker		ws[NTHREADS];
	struct rlimit rl;
	long		total = 0,
				lo = -1,
				hi = 0,
				samples = 0;
	int64_t		max_lat = 0,
				deadline;
	uint32_t   *hist;
	int			ok = 0,
				per;
	FILE	   *f;

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
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t) atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &addr.sin_addr);
	snprintf(req, sizeof(req),
			 "GET /v1/stream HTTP/1.0\r\nHost: %s\r\nAccept: text/event-stream\r\nAuthorization: Bearer %s\r\n\r\n",
			 argv[1], argv[3]);
	cs = calloc((size_t) n, sizeof(client));
	per = (n + NTHREADS - 1) / NTHREADS;
	for (int t = 0; t < NTHREADS; t++)
	{
		int			first = t * per;

		ws[t].cs = cs + (first < n ? first : n);
		ws[t].n = first >= n ? 0 : (n - first < per ? n - first : per);
		ws[t].hist = calloc(NBUCKETS, sizeof(uint32_t));
		ws[t].samples = 0;
		ws[t].max_lat = 0;
		pthread_create(&ws[t].th, NULL, worker_main, &ws[t]);
	}
	deadline = now_us() + (int64_t) 60 * 1000000;
	while (atomic_load(&ready) < n && now_us() < deadline)
		usleep(10000);
	if (atomic_load(&ready) < n)
	{
		fprintf(stderr, "sse_clients: only %d of %d clients got their headers\n", atomic_load(&ready), n);
		return 1;
	}
	atomic_store(&end_us, now_us() + (int64_t) seconds * 1000000);
	atomic_store(&started, 1);
	if ((f = fopen(argv[6], "w")) != NULL)
		fclose(f);
	hist = calloc(NBUCKETS, sizeof(uint32_t));
	for (int t = 0; t < NTHREADS; t++)
	{
		pthread_join(ws[t].th, NULL);
		for (long b = 0; b < NBUCKETS; b++)
			hist[b] += ws[t].hist[b];
		samples += ws[t].samples;
		if (ws[t].max_lat > max_lat)
			max_lat = ws[t].max_lat;
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
		   n, ok, total, lo, hi, hist_pct(hist, samples, max_lat, 0.50), hist_pct(hist, samples, max_lat, 0.95),
		   hist_pct(hist, samples, max_lat, 0.99), max_lat / 1000.0);
	return 0;
}
