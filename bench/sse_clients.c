/*
 * sse_clients.c
 *	  Many concurrent Server-Sent Events clients of candystore-http's
 *	  GET /v1/stream, in one process (epoll, raw sockets), for
 *	  bench/http_stream.sh.  Each event the benchmark stores carries in its
 *	  payload "seq" (its number in the run) and "sent_us" (the wall clock
 *	  of its append() call); the loader (bench/http_stream_load.c) writes
 *	  the wall clock at which each event's COMMIT returned into
 *	  COMMITS_FILE (int64 µs indexed by seq), which the clients map.  The
 *	  server, run with CANDYSTORE_HTTP_STREAM_TIMING=1, stamps each frame
 *	  with when its reader's query returned and when it entered the ring,
 *	  and each block it hands a connection with when it did (SSE comments,
 *	  stream_hub.c).  For every event every client reads, the latencies:
 *
 *	    commit   commit returned → client read it (the target's figure)
 *	    append   append() → client read (includes the commit and its flush)
 *	    flush    append() → commit returned (the loader's side)
 *	    fetch    commit returned → the reader's query returned
 *	    queue    the reader's query returned → in the ring
 *	    write    in the ring → handed to the client's connection
 *	    read     handed to the connection → client read
 *
 *	  Server, loader and clients share one machine, so one clock; a stage
 *	  that comes out negative (the reader fetched before the loader saw
 *	  its COMMIT return) counts as 0 and is counted.
 *
 *	  sse_clients HOST PORT TOKEN CLIENTS SECONDS READY_FILE [COMMITS_FILE]
 *
 *	  Connects CLIENTS clients, spread over 4 threads (each its own epoll
 *	  set), so that on a shared machine the measuring side is not one
 *	  thread's share of the CPU; writes READY_FILE once all have their
 *	  response headers, reads for SECONDS, then prints
 *	  "clients C ok O events E min_per_client A max_per_client B cpu_s U
 *	   unresolved N" (cpu: the clients' process over the reading time;
 *	  unresolved: events whose commit time never came) and one line per
 *	  latency: "NAME samples p50_ms p95_ms p99_ms max_ms negative".
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
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "latency_stats.h"

/* histograms: 10 µs buckets up to 1 s, then 1 ms buckets up to 100 s */
#define FINE_US 10
#define FINE_END_US 1000000
#define COARSE_US 1000
#define NFINE (FINE_END_US / FINE_US)
#define NBUCKETS (NFINE + 99000 + 1)

enum
{
	L_COMMIT, L_APPEND, L_FLUSH, L_FETCH, L_QUEUE, L_WRITE, L_READ, NLAT
};
static const char *const lat_names[NLAT] = {"commit", "append", "flush", "fetch", "queue", "write", "read"};

typedef struct hist
{
	uint32_t   *b;
	long		n,
				negative;		/* samples below 0, counted as 0 */
	int64_t		max;
} hist;

/* one event read, its commit time maybe not written yet by the loader */
typedef struct delivery
{
	long		seq;
	int64_t		sent,
				read_at,		/* the reader's query returned */
				queued,
				written,
				now;
} delivery;

typedef struct client
{
	int			fd;
	bool		headers;
	int			status;
	char	   *buf;
	size_t		len,
				cap;
	long		events;
	int64_t		written;		/* the last ": w" stamp */
} client;

#define NTHREADS 4
#define MAX_PENDING (1 << 18)

typedef struct worker
{
	client	   *cs;
	int			n;
	hist		h[NLAT];
	delivery   *pending;
	long		npending;
	pthread_t	th;
} worker;

static struct sockaddr_in addr;
static char req[1024];
static atomic_int ready;		/* clients with their headers */
static atomic_int started;		/* all ready: count from now */
static _Atomic int64_t end_us;
static volatile const int64_t *commits;	/* by seq, from the loader; NULL: none */
static long ncommits;

static void
record(worker *w, int which, int64_t lat)
{
	hist	   *h = &w->h[which];
	long		b;

	if (lat < 0)
	{
		h->negative++;
		lat = 0;
	}
	if (lat > h->max)
		h->max = lat;
	b = lat < FINE_END_US ? lat / FINE_US : NFINE + (lat - FINE_END_US) / COARSE_US;
	h->b[b < NBUCKETS ? b : NBUCKETS - 1]++;
	h->n++;
}

/* the latencies of one delivery; false while its commit time is not known */
static bool
account(worker *w, const delivery *d)
{
	int64_t		commit = 0;

	if (commits != NULL && d->seq > 0 && d->seq < ncommits)
	{
		commit = commits[d->seq];
		if (commit == 0)
			return false;
	}
	if (d->sent > 0)
		record(w, L_APPEND, d->now - d->sent);
	if (commit > 0)
	{
		record(w, L_COMMIT, d->now - commit);
		if (d->sent > 0)
			record(w, L_FLUSH, commit - d->sent);
	}
	if (d->read_at > 0)
	{
		if (commit > 0)
			record(w, L_FETCH, d->read_at - commit);
		record(w, L_QUEUE, d->queued - d->read_at);
		if (d->written > 0)
		{
			record(w, L_WRITE, d->written - d->queued);
			record(w, L_READ, d->now - d->written);
		}
	}
	return true;
}

static void
resolve_pending(worker *w)
{
	long		kept = 0;

	for (long i = 0; i < w->npending; i++)
	{
		if (!account(w, &w->pending[i]))
			w->pending[kept++] = w->pending[i];
	}
	w->npending = kept;
}

/* the decimal digits at *p (after spaces), advancing *p past them; strtoll() costs more than the rest of a frame */
static int64_t
number(const char **p)
{
	const char *s = *p;
	int64_t		v = 0;

	while (*s == ' ')
		s++;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	*p = s;
	return v;
}

/*
 * The number after key in [start, end), 0 if absent.  Found by memchr() of
 * key's rarest character, anchor (an index into key), rather than memmem():
 * parsing must cost the measuring side little next to what it measures.
 */
static int64_t
field(const char *start, const char *end, const char *key, size_t keylen, size_t anchor, const char **at)
{
	const char *p = start + anchor;

	while (p < end && (p = memchr(p, key[anchor], (size_t) (end - p))) != NULL)
	{
		const char *k = p - anchor;

		if (k + keylen <= end && memcmp(k, key, keylen) == 0)
		{
			*at = k + keylen;
			return number(at);
		}
		p++;
	}
	return 0;
}

/* the end of the frame starting at p: its blank line, or NULL */
static char *
frame_end(char *p, char *end)
{
	while (p + 1 < end && (p = memchr(p, '\n', (size_t) (end - p - 1))) != NULL)
	{
		if (p[1] == '\n')
			return p;
		p++;
	}
	return NULL;
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
	while ((sep = frame_end(start, end)) != NULL)
	{
		const char *p = start;
		delivery	d = {0};

		/* the server's stamps (CANDYSTORE_HTTP_STREAM_TIMING) */
		if (strncmp(p, ": w ", 4) == 0)
		{
			p += 4;
			c->written = number(&p);
			p++;
		}
		if (strncmp(p, ": t ", 4) == 0)
		{
			p += 4;
			d.read_at = number(&p);
			d.queued = number(&p);
			p++;
		}
		if (strncmp(p, "id: ", 4) == 0)
		{
			const char *at = p;

			c->events++;
			/* "seq" and then "sent_us", in the payload's (jsonb's) key order */
			d.seq = field(p, sep, "\"seq\": ", 7, 3, &at);
			d.sent = field(at, sep, "\"sent_us\": ", 11, 5, &at);
			d.written = d.read_at ? c->written : 0;
			d.now = now;
			if (!account(w, &d) && w->npending < MAX_PENDING)
				w->pending[w->npending++] = d;
		}
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
			for (int l = 0; l < NLAT; l++)
			{
				w->h[l].n = 0;
				w->h[l].negative = 0;
				w->h[l].max = 0;
				memset(w->h[l].b, 0, NBUCKETS * sizeof(uint32_t));
			}
			w->npending = 0;
			for (int i = 0; i < w->n; i++)
				w->cs[i].events = 0;
		}
		if (w->npending > 0)
			resolve_pending(w);
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
					c->buf[c->len] = '\0';	/* number() stops there at the latest */
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
	/* the loader has stopped a second before: every commit time is written */
	resolve_pending(w);
	close(ep);
	return NULL;
}

static double
hist_pct(const hist *h, double p)
{
	long		want = (long) (p * h->n + 0.999999),
				seen = 0;

	if (h->n == 0)
		return 0;
	for (long b = 0; b < NBUCKETS; b++)
	{
		seen += h->b[b];
		if (seen >= want)
			return (b < NFINE ? b * FINE_US + FINE_US / 2
					: FINE_END_US + (b - NFINE) * COARSE_US + COARSE_US / 2) / 1000.0;
	}
	return h->max / 1000.0;
}

/* the loader's commit times, mapped read-only (the loader writes them as it goes) */
static void
map_commits(const char *path)
{
	int			fd = open(path, O_RDONLY);
	struct stat st;
	void	   *m;

	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < (off_t) sizeof(int64_t))
	{
		fprintf(stderr, "sse_clients: %s: not a commits file\n", path);
		exit(1);
	}
	m = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
	{
		perror("mmap");
		exit(1);
	}
	commits = m;
	ncommits = (long) (st.st_size / (off_t) sizeof(int64_t));
	close(fd);
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
				unresolved = 0;
	int64_t		deadline;
	hist		all[NLAT];
	int			ok = 0,
				per;
	double		cpu0;
	FILE	   *f;

	if (argc != 7 && argc != 8)
	{
		fprintf(stderr, "usage: sse_clients HOST PORT TOKEN CLIENTS SECONDS READY_FILE [COMMITS_FILE]\n");
		return 2;
	}
	n = atoi(argv[4]);
	seconds = atoi(argv[5]);
	if (argc == 8)
		map_commits(argv[7]);
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
		for (int l = 0; l < NLAT; l++)
		{
			ws[t].h[l].b = calloc(NBUCKETS, sizeof(uint32_t));
			ws[t].h[l].n = 0;
			ws[t].h[l].negative = 0;
			ws[t].h[l].max = 0;
		}
		ws[t].pending = malloc(MAX_PENDING * sizeof(delivery));
		ws[t].npending = 0;
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
	cpu0 = cpu_seconds();
	atomic_store(&end_us, now_us() + (int64_t) seconds * 1000000);
	atomic_store(&started, 1);
	if ((f = fopen(argv[6], "w")) != NULL)
		fclose(f);
	for (int l = 0; l < NLAT; l++)
	{
		all[l].b = calloc(NBUCKETS, sizeof(uint32_t));
		all[l].n = 0;
		all[l].negative = 0;
		all[l].max = 0;
	}
	for (int t = 0; t < NTHREADS; t++)
	{
		pthread_join(ws[t].th, NULL);
		for (int l = 0; l < NLAT; l++)
		{
			for (long b = 0; b < NBUCKETS; b++)
				all[l].b[b] += ws[t].h[l].b[b];
			all[l].n += ws[t].h[l].n;
			all[l].negative += ws[t].h[l].negative;
			if (ws[t].h[l].max > all[l].max)
				all[l].max = ws[t].h[l].max;
		}
		unresolved += ws[t].npending;
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
	printf("clients %d ok %d events %ld min_per_client %ld max_per_client %ld cpu_s %.2f unresolved %ld\n",
		   n, ok, total, lo, hi, cpu_seconds() - cpu0, unresolved);
	for (int l = 0; l < NLAT; l++)
		printf("%s %ld %.2f %.2f %.2f %.2f %ld\n", lat_names[l], all[l].n, hist_pct(&all[l], 0.50),
			   hist_pct(&all[l], 0.95), hist_pct(&all[l], 0.99), all[l].max / 1000.0, all[l].negative);
	return 0;
}
