/*
 * stream_hub.c
 *	  One database reader feeding every stream client through a ring of
 *	  recent events (see stream_hub.h).
 *
 *	  Locking: one mutex (hub.lock) guards the ring, the client list and
 *	  every client's state.  The reader holds it only to append a batch and
 *	  to look over the clients once per batch; a client's read holds it while
 *	  it copies frames into the connection's buffer.  Database round trips
 *	  happen outside it.
 */
#include "stream_hub.h"

#include "../src/event_type_pattern.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The item a stream event carries (the same shape as GET /v1/events' items), in reading order. */
const char *const hub_page_sql =
"SELECT r.cursor, r.event_type,"
"       pg_catalog.json_build_object('cursor', r.cursor, 'position', r.position,"
"                                    'recorded_at', r.recorded_at, 'routing_key', e.routing_key,"
"                                    'event', r.envelope)::text"
"  FROM candystore.read_all($1::text, $2::int, pg_catalog.string_to_array($3::text, ',')) r"
"  LEFT JOIN candystore.events e ON e.position = r.position"
" ORDER BY r.cursor COLLATE \"C\"";

typedef struct ring_entry
{
	char		cursor[HUB_CURSOR_LEN + 1];
	char	   *type;
	char	   *frame;
	size_t		len;
	uint64_t	offset;			/* bytes of all frames before this one (for lag) */
} ring_entry;

typedef enum client_mode
{
	C_JOIN,						/* waiting to be placed: in the ring or catching up */
	C_CATCH_UP,					/* reading pages from the database */
	C_LIVE						/* reading the ring from next_seq */
} client_mode;

struct hub_client
{
	hub_client *prev,
			   *next;
	hub_hooks	hooks;
	client_mode mode;
	bool		from_now;		/* no cursor given: start at the newest event */
	bool		need_base;		/* caught up before the reader had a base: wait for it */
	char		pos[HUB_CURSOR_LEN + 1];	/* delivered (or skipped) everything up to here */
	uint64_t	next_seq;		/* C_LIVE: the next ring entry to look at */
	bool		behind_pos;		/* C_LIVE: ring entries from next_seq on may be at or before pos */
	size_t		frame_off;		/* C_LIVE: bytes of entry next_seq already copied */
	char	  **types;
	int			ntypes;
	char	   *types_csv;
	char	  **patterns;		/* its role's event type patterns; NULL: all types */
	int			npatterns;
	void	   *scratch;		/* for matching them (event_type_pattern.h) */
	size_t		scratch_len;	/* the longest type the scratch serves */
	char	   *buf;			/* bytes before the ring: the retry line, pages, keepalives */
	size_t		len,
				off,
				cap;
	bool		parked,
				cut,
				keepalive_due;
	int64_t		last_send_ms;
};

static struct
{
	pthread_mutex_t lock;
	hub_limits	lim;
	char	   *conninfo;
	char	   *role;
	bool		started,
				stopping,
				ready;			/* the reader has a base: clients can join the ring */
	/* the ring: entries first_seq .. next_seq - 1, at [seq % cap] */
	ring_entry *ring;
	uint64_t	cap,
				first_seq,
				next_seq;
	size_t		bytes;			/* frame bytes in the ring */
	uint64_t	total_bytes;	/* frame bytes ever appended */
	char		base[HUB_CURSOR_LEN + 1];	/* the ring holds every event after this ("" = all) */
	hub_client *clients;
	int			nclients;
	uint64_t	events_read,
				clients_cut,
				reads,
				waits,
				wait_timeouts;
	bool		reader_connected;
	PGcancel   *cancel;			/* the reader's current query, for hub_stop */
	pthread_t	reader,
				ticker;
	pthread_cond_t stop_cv;		/* signalled by hub_stop: the reader's and ticker's sleeps */
	pthread_cond_t gone_cv;		/* a client went */
} hub = {.lock = PTHREAD_MUTEX_INITIALIZER, .stop_cv = PTHREAD_COND_INITIALIZER,
.gone_cv = PTHREAD_COND_INITIALIZER};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
hub_log(const char *level, const char *msg, const char *detail)
{
	/* one JSON line, as the server logs; msg and detail come from us or libpq: escape quotes and controls */
	const char *parts[2] = {msg, detail ? detail : ""};
	char		out[2][512];

	for (int p = 0; p < 2; p++)
	{
		size_t		o = 0;

		for (const char *s = parts[p]; *s && o < sizeof(out[p]) - 7; s++)
		{
			unsigned char ch = (unsigned char) *s;

			if (ch == '"' || ch == '\\')
			{
				out[p][o++] = '\\';
				out[p][o++] = (char) ch;
			}
			else if (ch < 0x20)
				o += (size_t) snprintf(out[p] + o, 7, "\\u%04x", ch);
			else
				out[p][o++] = (char) ch;
		}
		out[p][o] = '\0';
	}
	fprintf(stderr, "{\"level\":\"%s\",\"component\":\"stream\",\"msg\":\"%s\",\"detail\":\"%s\"}\n",
			level, out[0], out[1]);
}

static size_t
env_size(const char *name, size_t dflt)
{
	const char *v = getenv(name);
	char	   *end;
	unsigned long long n;

	if (v == NULL || *v == '\0')
		return dflt;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || n == 0)
	{
		hub_log("warning", "ignoring an invalid setting", name);
		return dflt;
	}
	return (size_t) n;
}

void
hub_limits_default(hub_limits *lim)
{
	lim->max_clients = 2000;
	lim->ring_events = (int) env_size("CANDYSTORE_HTTP_STREAM_RING_EVENTS", 16384);
	lim->ring_bytes = env_size("CANDYSTORE_HTTP_STREAM_RING_BYTES", 32 << 20);
	lim->client_max_lag_bytes = env_size("CANDYSTORE_HTTP_STREAM_CLIENT_MAX_LAG_BYTES", 8 << 20);
	lim->page_events = (int) env_size("CANDYSTORE_HTTP_STREAM_PAGE_EVENTS", 500);
	lim->keepalive_s = (int) env_size("CANDYSTORE_HTTP_STREAM_KEEPALIVE_S", 15);
	lim->min_read_interval_ms = (int) env_size("CANDYSTORE_HTTP_STREAM_READ_INTERVAL_MS", 5);
	lim->timing = env_size("CANDYSTORE_HTTP_STREAM_TIMING", 0) != 0;
}

bool
hub_cursor_valid(const char *s)
{
	if (strlen(s) != HUB_CURSOR_LEN || s[16] != '-' || s[0] > '7' || s[17] > '7')
		return false;
	for (int i = 0; i < HUB_CURSOR_LEN; i++)
	{
		if (i == 16)
			continue;
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

char *
hub_format_frame(const char *cursor, const char *type, const char *json, size_t *len)
{
	size_t		cap = strlen(cursor) + strlen(type) + strlen(json) + 32;
	char	   *f = malloc(cap);
	int			n;

	if (f == NULL)
		return NULL;
	/* the type is checked by append() ([a-z0-9_.]); the item is one line (JSON text from PostgreSQL) */
	n = snprintf(f, cap, "id: %s\nevent: %s\ndata: %s\n\n", cursor, type, json);
	*len = (size_t) n;
	return f;
}

/*
 * Benchmark stamps (CANDYSTORE_HTTP_STREAM_TIMING): SSE comment lines, which
 * clients ignore, carrying the wall clock in µs: ": t <read> <queued>" before
 * each frame of the ring (when the reader's query returned, when the frame
 * entered the ring), ": w <written>" before the first frame of each block
 * handed to a client's connection.  Fixed width, so that the queued time can
 * be written into the frame in place.
 */
#define STAMP_DIGITS 16
#define T_STAMP_LEN (4 + STAMP_DIGITS + 1 + STAMP_DIGITS + 1)
#define W_STAMP_LEN (4 + STAMP_DIGITS + 1)

static int64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* frame with a ": t" stamp in front (queued left 0 for ring_append); frees frame */
static char *
stamp_frame(char *frame, size_t *len, int64_t read_us)
{
	char	   *f = frame ? malloc(T_STAMP_LEN + *len + 1) : NULL;

	if (f != NULL)
	{
		snprintf(f, T_STAMP_LEN + 1, ": t %0*lld %0*d\n", STAMP_DIGITS, (long long) read_us,
				 STAMP_DIGITS, 0);
		memcpy(f + T_STAMP_LEN, frame, *len);
		*len += T_STAMP_LEN;
	}
	free(frame);
	return f;
}

/* ---- the ring (hub.lock held) ---------------------------------------- */

static ring_entry *
entry(uint64_t seq)
{
	return &hub.ring[seq % hub.cap];
}

static const char *
head_cursor(void)
{
	return hub.next_seq > hub.first_seq ? entry(hub.next_seq - 1)->cursor : hub.base;
}

static void
evict_oldest(void)
{
	ring_entry *e = entry(hub.first_seq);

	memcpy(hub.base, e->cursor, sizeof(hub.base));
	hub.bytes -= e->len;
	free(e->frame);
	free(e->type);
	e->frame = e->type = NULL;
	hub.first_seq++;
}

static void
ring_append(const char *cursor, const char *type, char *frame, size_t len)
{
	ring_entry *e;

	while (hub.next_seq > hub.first_seq &&
		   (hub.next_seq - hub.first_seq >= hub.cap || hub.bytes + len > hub.lim.ring_bytes))
		evict_oldest();
	if (hub.lim.timing)
	{
		char		queued[STAMP_DIGITS + 1];

		snprintf(queued, sizeof(queued), "%0*lld", STAMP_DIGITS, (long long) wall_us());
		memcpy(frame + 4 + STAMP_DIGITS + 1, queued, STAMP_DIGITS);
	}
	e = entry(hub.next_seq);
	snprintf(e->cursor, sizeof(e->cursor), "%s", cursor);
	e->type = strdup(type);
	e->frame = frame;
	e->len = len;
	e->offset = hub.total_bytes;
	hub.total_bytes += len;
	hub.bytes += len;
	hub.next_seq++;
}

/* the first ring entry after cursor pos */
static uint64_t
seq_after(const char *pos)
{
	uint64_t	lo = hub.first_seq,
				hi = hub.next_seq;

	while (lo < hi)
	{
		uint64_t	mid = lo + (hi - lo) / 2;

		if (strcmp(entry(mid)->cursor, pos) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- clients (hub.lock held) ----------------------------------------- */

/* Whether c's role may see events of this type (its event type grants). */
static bool
permitted(hub_client *c, const char *type)
{
	size_t		len = strlen(type);

	if (c->patterns == NULL)
		return true;
	if (len > c->scratch_len)
	{
		void	   *bigger = realloc(c->scratch, EVENT_TYPE_PATTERN_SCRATCH(len));

		if (bigger == NULL)
			return false;		/* not shown rather than shown unchecked */
		c->scratch = bigger;
		c->scratch_len = len;
	}
	for (int i = 0; i < c->npatterns; i++)
		if (event_type_pattern_match(c->patterns[i], strlen(c->patterns[i]), type, len, c->scratch))
			return true;
	return false;
}

/*
 * Whether c wants ring entry e (c->pos being the last event it was given).
 * The cursor is compared too: a catch-up page can read events the reader
 * has not read yet, so a client may join the ring ahead of its head, and
 * the reader then appends events the client already has.
 */
static bool
wants(hub_client *c, const ring_entry *e)
{
	if (c->behind_pos)
	{
		if (strcmp(e->cursor, c->pos) <= 0)
			return false;		/* given already (from a catch-up page) */
		/* the ring's cursors only grow: every later entry is after pos too */
		c->behind_pos = false;
	}
	if (!permitted(c, e->type))
		return false;			/* the ring is read as the hub's role: filter as the client's */
	if (c->ntypes == 0)
		return true;
	for (int i = 0; i < c->ntypes; i++)
		if (strcmp(c->types[i], e->type) == 0)
			return true;
	return false;
}

static void
wake(hub_client *c)
{
	if (c->parked)
	{
		c->parked = false;
		c->hooks.wake(c->hooks.arg);
	}
}

/*
 * The reader's wakes of a batch, made once it has released the lock, so
 * that the connections' threads can take it (and send) while it resumes
 * the rest.  Deciding under the lock (parked = false) is what orders a
 * wake after its park: a suspended connection runs nothing, and is not
 * freed, until it is resumed.  Reader thread only.
 */
static struct
{
	hub_hooks  *hooks;
	int			n,
				cap;
} later;

static void
wake_later(hub_client *c)
{
	if (!c->parked)
		return;
	if (later.n == later.cap)
	{
		int			cap = later.cap ? later.cap * 2 : 256;
		hub_hooks  *bigger = realloc(later.hooks, sizeof(hub_hooks) * (size_t) cap);

		if (bigger == NULL)
		{
			wake(c);			/* now, under the lock, as before */
			return;
		}
		later.hooks = bigger;
		later.cap = cap;
	}
	c->parked = false;
	later.hooks[later.n++] = c->hooks;
}

/* hub.lock not held */
static void
wake_now(void)
{
	for (int i = 0; i < later.n; i++)
		later.hooks[i].wake(later.hooks[i].arg);
	later.n = 0;
}

static void
cut(hub_client *c)
{
	if (c->cut)
		return;
	c->cut = true;
	hub.clients_cut++;
	if (c->parked)
		wake(c);
	else if (c->hooks.cut)
		c->hooks.cut(c->hooks.arg);
}

/* Place a C_JOIN client: in the ring when it has everything before the ring, else catching up. */
static void
place(hub_client *c)
{
	if (!hub.ready && (c->from_now || c->need_base))
		return;					/* parks until the reader has its base */
	if (c->from_now)
	{
		memcpy(c->pos, head_cursor(), sizeof(c->pos));
		c->from_now = false;
	}
	c->need_base = false;
	if (hub.ready && strcmp(c->pos, hub.base) >= 0)
	{
		c->mode = C_LIVE;
		c->next_seq = seq_after(c->pos);
		c->frame_off = 0;
		c->behind_pos = true;
	}
	else
		c->mode = C_CATCH_UP;	/* the database has what the ring no longer holds */
}

/*
 * After the ring grew or moved (the reader, under the lock): cut clients too
 * far behind, and list the parked ones with something to read for
 * wake_now() once the lock is released.
 */
static void
look_over_clients(void)
{
	for (hub_client *c = hub.clients; c; c = c->next)
	{
		if (c->cut)
			continue;
		if (c->mode == C_JOIN)
		{
			if (hub.ready)
				wake_later(c);
			continue;
		}
		if (c->mode != C_LIVE)
			continue;
		if (c->next_seq < hub.first_seq ||
			(c->next_seq < hub.next_seq &&
			 hub.total_bytes - entry(c->next_seq)->offset - c->frame_off > hub.lim.client_max_lag_bytes))
		{
			cut(c);
			continue;
		}
		if (!c->parked)
			continue;
		/* a parked client has sent all it had: skip what it does not want */
		while (c->next_seq < hub.next_seq && !wants(c, entry(c->next_seq)))
			c->next_seq++;
		if (c->next_seq < hub.next_seq)
			wake_later(c);
	}
}

static bool
buf_append(hub_client *c, const char *data, size_t len)
{
	if (c->len + len > c->cap)
	{
		size_t		cap = c->cap ? c->cap : 4096;
		char	   *b;

		while (cap < c->len + len)
			cap *= 2;
		b = realloc(c->buf, cap);
		if (b == NULL)
			return false;
		c->buf = b;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, data, len);
	c->len += len;
	return true;
}

hub_client *
hub_client_new(const char *after, const char *const *types, int ntypes, const char *patterns_csv,
			   const hub_hooks *hooks, int max_clients)
{
	hub_client *c = calloc(1, sizeof(hub_client));
	size_t		csv = 1;

	if (c == NULL)
		return NULL;
	if (patterns_csv != NULL)
	{
		/* patterns hold no commas (event_type_pattern.h) */
		char	   *copy = strdup(patterns_csv);
		char	   *save = NULL;

		c->patterns = calloc(strlen(patterns_csv) / 2 + 2, sizeof(char *));
		c->scratch = malloc(EVENT_TYPE_PATTERN_SCRATCH(EVENT_TYPE_PATTERN_MAX_LEN));
		if (copy == NULL || c->patterns == NULL || c->scratch == NULL)
		{
			free(copy);
			free(c->patterns);
			free(c->scratch);
			free(c);
			return NULL;
		}
		c->scratch_len = EVENT_TYPE_PATTERN_MAX_LEN;
		for (char *p = strtok_r(copy, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save))
		{
			/* a pattern lost to a failed copy shows less, never more */
			if ((c->patterns[c->npatterns] = strdup(p)) != NULL)
				c->npatterns++;
		}
		free(copy);
	}
	c->hooks = *hooks;
	c->mode = C_JOIN;
	c->from_now = (after == NULL || *after == '\0');
	if (!c->from_now)
		snprintf(c->pos, sizeof(c->pos), "%s", after);
	c->types = calloc((size_t) ntypes + 1, sizeof(char *));
	for (int i = 0; i < ntypes; i++)
	{
		c->types[i] = strdup(types[i]);
		csv += strlen(types[i]) + 1;
	}
	c->ntypes = ntypes;
	if (ntypes > 0)
	{
		c->types_csv = calloc(1, csv);
		for (int i = 0; i < ntypes; i++)
		{
			if (i > 0)
				strcat(c->types_csv, ",");
			strcat(c->types_csv, types[i]);
		}
	}
	/* reconnect after 2 s, and a first line so that the client sees the stream open */
	buf_append(c, "retry: 2000\n\n", 13);
	c->last_send_ms = now_ms();

	pthread_mutex_lock(&hub.lock);
	if (!hub.started || hub.stopping || hub.nclients >= hub.lim.max_clients ||
		hub.nclients >= max_clients)
	{
		/*
		 * A parked client whose peer has gone is not noticed until it next
		 * sends: make every parked client send a keepalive now, so that the
		 * gone ones free their places for the retry.
		 */
		for (hub_client *p = hub.clients; p; p = p->next)
			if (p->parked)
			{
				p->keepalive_due = true;
				wake(p);
			}
		pthread_mutex_unlock(&hub.lock);
		c->hooks.arg = NULL;
		hub_client_free(c);
		return NULL;
	}
	c->next = hub.clients;
	if (hub.clients)
		hub.clients->prev = c;
	hub.clients = c;
	hub.nclients++;
	pthread_mutex_unlock(&hub.lock);
	return c;
}

void
hub_client_free(hub_client *c)
{
	if (c == NULL)
		return;
	if (c->hooks.arg != NULL)
	{
		pthread_mutex_lock(&hub.lock);
		if (c->prev)
			c->prev->next = c->next;
		else if (hub.clients == c)
			hub.clients = c->next;
		if (c->next)
			c->next->prev = c->prev;
		hub.nclients--;
		pthread_cond_broadcast(&hub.gone_cv);
		pthread_mutex_unlock(&hub.lock);
	}
	for (int i = 0; i < c->ntypes; i++)
		free(c->types[i]);
	free(c->types);
	free(c->types_csv);
	for (int i = 0; i < c->npatterns; i++)
		free(c->patterns[i]);
	free(c->patterns);
	free(c->scratch);
	free(c->buf);
	free(c);
}

const char *
hub_client_types_csv(const hub_client *c)
{
	return c->types_csv;
}

hub_read_status
hub_client_read(hub_client *c, char *buf, size_t max, size_t *n)
{
	size_t		got = 0;
	hub_read_status st;

	pthread_mutex_lock(&hub.lock);
	if (c->cut)
	{
		*n = 0;
		pthread_mutex_unlock(&hub.lock);
		return HUB_CUT;
	}
	/* the private bytes first */
	if (c->off < c->len)
	{
		size_t		k = c->len - c->off;

		if (k > max)
			k = max;
		memcpy(buf, c->buf + c->off, k);
		c->off += k;
		got += k;
	}
	if (c->off == c->len)
		c->off = c->len = 0;

	if (c->mode == C_JOIN && !hub.stopping)
		place(c);

	if (c->mode == C_LIVE)
	{
		if (c->next_seq < hub.first_seq)
		{
			cut(c);
			*n = got;
			pthread_mutex_unlock(&hub.lock);
			return got ? HUB_DATA : HUB_CUT;
		}
		bool		stamped = !hub.lim.timing;

		while (got < max && c->next_seq < hub.next_seq)
		{
			ring_entry *e = entry(c->next_seq);
			size_t		k;

			/* stopping: finish the frame under way, start no other */
			if (c->frame_off == 0 && (hub.stopping || !wants(c, e)))
			{
				if (hub.stopping)
					break;
				c->next_seq++;
				continue;
			}
			/* before the first frame that starts in this block */
			if (!stamped && c->frame_off == 0 && max - got > W_STAMP_LEN)
			{
				snprintf(buf + got, W_STAMP_LEN + 1, ": w %0*lld\n", STAMP_DIGITS, (long long) wall_us());
				got += W_STAMP_LEN;
				stamped = true;
			}
			k = e->len - c->frame_off;
			if (k > max - got)
				k = max - got;
			memcpy(buf + got, e->frame + c->frame_off, k);
			got += k;
			c->frame_off += k;
			if (c->frame_off == e->len)
			{
				memcpy(c->pos, e->cursor, sizeof(c->pos));
				c->next_seq++;
				c->frame_off = 0;
			}
		}
	}

	if (got > 0)
	{
		c->last_send_ms = now_ms();
		c->keepalive_due = false;
		st = HUB_DATA;
	}
	else if (hub.stopping)
		st = HUB_END;
	else if (c->mode == C_CATCH_UP)
		st = HUB_CATCH_UP;
	else if (c->keepalive_due || now_ms() - c->last_send_ms >= (int64_t) hub.lim.keepalive_s * 1000)
	{
		static const char ka[] = ": keepalive\n\n";

		got = sizeof(ka) - 1 < max ? sizeof(ka) - 1 : max;
		memcpy(buf, ka, got);
		c->last_send_ms = now_ms();
		c->keepalive_due = false;
		st = HUB_DATA;
	}
	else
	{
		c->parked = true;
		c->hooks.park(c->hooks.arg);
		st = HUB_PARKED;
	}
	*n = got;
	pthread_mutex_unlock(&hub.lock);
	return st;
}

void
hub_client_page_after(hub_client *c, char *after, char *base)
{
	pthread_mutex_lock(&hub.lock);
	memcpy(after, c->pos, HUB_CURSOR_LEN + 1);
	if (hub.ready)
		memcpy(base, hub.base, HUB_CURSOR_LEN + 1);
	else
		base[0] = '\x01';		/* no base yet: a short page cannot join the ring */
	base[HUB_CURSOR_LEN] = '\0';
	pthread_mutex_unlock(&hub.lock);
}

bool
hub_client_page_row(hub_client *c, const char *cursor, const char *type, const char *json)
{
	size_t		len;
	char	   *f = hub_format_frame(cursor, type, json, &len);
	bool		room;

	if (f == NULL)
		return false;
	pthread_mutex_lock(&hub.lock);
	if (strcmp(cursor, c->pos) > 0 && buf_append(c, f, len))
		snprintf(c->pos, sizeof(c->pos), "%s", cursor);
	room = c->len - c->off < hub.lim.client_max_lag_bytes;
	pthread_mutex_unlock(&hub.lock);
	free(f);
	return room;
}

void
hub_client_page_done(hub_client *c, bool full, const char *base)
{
	pthread_mutex_lock(&hub.lock);
	if (!full && base[0] != '\x01' && strcmp(base, c->pos) > 0)
	{
		/*
		 * Everything up to base was readable when the page was read (the
		 * reader read it before), so the short page brought every wanted
		 * event up to it.
		 */
		memcpy(c->pos, base, sizeof(c->pos));
	}
	if (!full && base[0] == '\x01')
	{
		c->mode = C_JOIN;		/* wait for the reader's base */
		c->need_base = true;
	}
	else if (hub.ready && strcmp(c->pos, hub.base) >= 0)
		c->mode = C_JOIN;		/* placed in the ring at the next read */
	pthread_mutex_unlock(&hub.lock);
}

void
hub_get_stats(hub_stats *st)
{
	pthread_mutex_lock(&hub.lock);
	st->clients = hub.nclients;
	st->ring_events = (int) (hub.next_seq - hub.first_seq);
	st->ring_bytes = hub.bytes;
	st->events_read = hub.events_read;
	st->reads = hub.reads;
	st->waits = hub.waits;
	st->wait_timeouts = hub.wait_timeouts;
	st->clients_cut = hub.clients_cut;
	st->reader_connected = hub.reader_connected;
	pthread_mutex_unlock(&hub.lock);
}

/* ---- the reader ------------------------------------------------------ */

/* Sleeps ms unless the hub stops; false when stopping. */
static bool
sleep_ms(int ms)
{
	struct timespec until;
	bool		stopping;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long) (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000)
	{
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&hub.lock);
	while (!hub.stopping)
		if (pthread_cond_timedwait(&hub.stop_cv, &hub.lock, &until) == ETIMEDOUT)
			break;
	stopping = hub.stopping;
	pthread_mutex_unlock(&hub.lock);
	return !stopping;
}

static PGconn *
reader_connect(void)
{
	const char *keys[] = {"dbname", "application_name", NULL};
	const char *vals[] = {hub.conninfo, "candystore-http stream", NULL};
	PGconn	   *pg = PQconnectdbParams(keys, vals, 1);
	PGresult   *res;

	if (PQstatus(pg) != CONNECTION_OK)
	{
		hub_log("error", "the stream reader cannot connect", PQerrorMessage(pg));
		PQfinish(pg);
		return NULL;
	}
	res = PQexec(pg, "SET TimeZone = 'UTC'");
	PQclear(res);
	if (hub.role[0] != '\0')
	{
		char	   *id = PQescapeIdentifier(pg, hub.role, strlen(hub.role));
		char		sql[512];

		snprintf(sql, sizeof(sql), "SET ROLE %s", id ? id : "\"\"");
		PQfreemem(id);
		res = PQexec(pg, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			hub_log("error", "the stream reader cannot take its role", PQerrorMessage(pg));
			PQclear(res);
			PQfinish(pg);
			return NULL;
		}
		PQclear(res);
	}
	return pg;
}

/* the newest readable event's cursor into base ("" when the store is empty); false on error */
static bool
reader_find_base(PGconn *pg, char *base)
{
	PGresult   *res = PQexec(pg,
							 "SELECT candystore.cursor_encode(xid, position) FROM candystore.event_stream"
							 " WHERE xid < candystore.read_horizon_xid()"
							 " ORDER BY xid DESC, position DESC LIMIT 1");

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		hub_log("error", "the stream reader cannot find the newest event", PQerrorMessage(pg));
		PQclear(res);
		return false;
	}
	base[0] = '\0';
	if (PQntuples(res) == 1)
		snprintf(base, HUB_CURSOR_LEN + 1, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

static void
set_cancel(PGconn *pg)
{
	pthread_mutex_lock(&hub.lock);
	if (hub.cancel)
		PQfreeCancel(hub.cancel);
	hub.cancel = pg ? PQgetCancel(pg) : NULL;
	hub.reader_connected = (pg != NULL);
	pthread_mutex_unlock(&hub.lock);
}

/* One page after the head into the ring; returns rows read, -1 on error. */
static int
reader_read(PGconn *pg)
{
	char		after[HUB_CURSOR_LEN + 1];
	char		limit[16];
	const char *params[3];
	PGresult   *res;
	int			rows;
	int64_t		read_us;

	pthread_mutex_lock(&hub.lock);
	memcpy(after, head_cursor(), sizeof(after));
	pthread_mutex_unlock(&hub.lock);
	snprintf(limit, sizeof(limit), "%d", hub.lim.page_events);
	params[0] = after[0] ? after : NULL;
	params[1] = limit;
	params[2] = NULL;
	res = PQexecParams(pg, hub_page_sql, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		hub_log("error", "the stream reader's read failed", PQerrorMessage(pg));
		PQclear(res);
		return -1;
	}
	rows = PQntuples(res);
	read_us = hub.lim.timing ? wall_us() : 0;
	pthread_mutex_lock(&hub.lock);
	hub.reads++;
	pthread_mutex_unlock(&hub.lock);
	if (rows > 0)
	{
		/* format outside the lock; append and look over the clients once per batch */
		char	  **frames = malloc(sizeof(char *) * (size_t) rows);
		size_t	   *lens = malloc(sizeof(size_t) * (size_t) rows);

		for (int i = 0; i < rows; i++)
		{
			frames[i] = hub_format_frame(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
										 PQgetvalue(res, i, 2), &lens[i]);
			if (hub.lim.timing)
				frames[i] = stamp_frame(frames[i], &lens[i], read_us);
		}
		pthread_mutex_lock(&hub.lock);
		for (int i = 0; i < rows; i++)
			if (frames[i] != NULL)
				ring_append(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), frames[i], lens[i]);
		hub.events_read += (uint64_t) rows;
		look_over_clients();
		pthread_mutex_unlock(&hub.lock);
		wake_now();
		free(frames);
		free(lens);
	}
	PQclear(res);
	return rows;
}

/* Blocks until read_all(head) has something or 10 s pass; false on error. */
static bool
reader_wait(PGconn *pg)
{
	char		after[HUB_CURSOR_LEN + 1];
	const char *params[1];
	PGresult   *res;
	bool		ok;

	pthread_mutex_lock(&hub.lock);
	memcpy(after, head_cursor(), sizeof(after));
	pthread_mutex_unlock(&hub.lock);
	params[0] = after[0] ? after : NULL;
	res = PQexecParams(pg, "SELECT candystore.wait_for_events($1::text, interval '10 seconds')",
					   1, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok && !hub.stopping)
		hub_log("error", "the stream reader's wait failed", PQerrorMessage(pg));
	pthread_mutex_lock(&hub.lock);
	hub.waits++;
	if (ok && strcmp(PQgetvalue(res, 0, 0), "f") == 0)
		hub.wait_timeouts++;
	pthread_mutex_unlock(&hub.lock);
	PQclear(res);
	return ok;
}

static void *
reader_main(void *arg)
{
	int			backoff_ms = 200;

	(void) arg;
	while (!hub.stopping)
	{
		PGconn	   *pg = reader_connect();

		if (pg == NULL)
		{
			if (!sleep_ms(backoff_ms))
				break;
			backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
			continue;
		}
		set_cancel(pg);
		if (!hub.ready)
		{
			char		base[HUB_CURSOR_LEN + 1];

			if (!reader_find_base(pg, base))
			{
				set_cancel(NULL);
				PQfinish(pg);
				if (!sleep_ms(backoff_ms))
					break;
				continue;
			}
			pthread_mutex_lock(&hub.lock);
			memcpy(hub.base, base, sizeof(hub.base));
			hub.ready = true;
			look_over_clients();
			pthread_mutex_unlock(&hub.lock);
			wake_now();
		}
		backoff_ms = 200;
		for (;;)
		{
			int64_t		started = now_ms();
			int			rows = reader_read(pg);

			if (rows < 0 || hub.stopping)
				break;
			if (rows >= hub.lim.page_events)
				continue;
			/*
			 * Caught up.  Every batch wakes every client, so read no more
			 * often than every min_read_interval_ms, and less often the more
			 * clients there are (1 ms per 60 clients, up to 15 ms): a burst
			 * of commits makes fewer, larger batches, and each client one
			 * write for many events.  At 1,000 clients × 1,000 events/s, 15
			 * ms rather than 25 took the p99 from 46 to 29-32 ms for a few
			 * points of a core; 10 ms saved 3 ms more for a tenth of one.
			 */
			{
				int			interval = hub.lim.min_read_interval_ms;
				int			by_clients = hub.nclients / 60;

				if (by_clients > 15)
					by_clients = 15;
				if (by_clients > interval)
					interval = by_clients;
				if (now_ms() - started < interval &&
					!sleep_ms((int) (interval - (now_ms() - started))))
					break;
			}
			if (!reader_wait(pg))
				break;
		}
		set_cancel(NULL);
		PQfinish(pg);
		if (!hub.stopping && !sleep_ms(backoff_ms))
			break;
	}
	return NULL;
}

/* Once a second: keepalives for parked clients that have been quiet for keepalive_s. */
static void *
ticker_main(void *arg)
{
	(void) arg;
	while (sleep_ms(1000))
	{
		int64_t		now = now_ms();

		pthread_mutex_lock(&hub.lock);
		for (hub_client *c = hub.clients; c; c = c->next)
			if (c->parked && now - c->last_send_ms >= (int64_t) hub.lim.keepalive_s * 1000)
			{
				c->keepalive_due = true;
				wake(c);
			}
		pthread_mutex_unlock(&hub.lock);
	}
	return NULL;
}

bool
hub_start(const char *conninfo, const char *role, const hub_limits *lim)
{
	pthread_mutex_lock(&hub.lock);
	hub.lim = *lim;
	if (hub.lim.ring_events < 1)
		hub.lim.ring_events = 1;
	hub.cap = (uint64_t) hub.lim.ring_events;
	hub.ring = calloc(hub.cap, sizeof(ring_entry));
	hub.conninfo = strdup(conninfo ? conninfo : "");
	hub.role = strdup(role ? role : "");
	hub.started = true;
	pthread_mutex_unlock(&hub.lock);
	if (hub.ring == NULL ||
		pthread_create(&hub.reader, NULL, reader_main, NULL) != 0)
	{
		hub_log("error", "cannot start the stream reader", NULL);
		return false;
	}
	if (pthread_create(&hub.ticker, NULL, ticker_main, NULL) != 0)
	{
		hub_log("error", "cannot start the stream ticker", NULL);
		return false;
	}
	return true;
}

void
hub_stop(int wait_ms)
{
	struct timespec until;

	pthread_mutex_lock(&hub.lock);
	if (!hub.started || hub.stopping)
	{
		pthread_mutex_unlock(&hub.lock);
		return;
	}
	hub.stopping = true;
	pthread_cond_broadcast(&hub.stop_cv);
	if (hub.cancel)
	{
		char		err[256];

		PQcancel(hub.cancel, err, sizeof(err));
	}
	for (hub_client *c = hub.clients; c; c = c->next)
		wake(c);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long) (wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000)
	{
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (hub.nclients > 0)
		if (pthread_cond_timedwait(&hub.gone_cv, &hub.lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&hub.lock);
	pthread_join(hub.reader, NULL);
	pthread_join(hub.ticker, NULL);
}
