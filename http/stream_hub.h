/*
 * stream_hub.h
 *	  The fan-out behind GET /v1/stream, independent of the HTTP library:
 *	  one database reader (a thread with its own libpq connection) reads
 *	  candystore.read_all() and appends each event, formatted once as an
 *	  SSE frame, to a bounded ring of recent events; every client reads the
 *	  ring from its own position.  A client whose cursor is older than the
 *	  ring catches up from the database in pages (the caller runs the page
 *	  query, as the client's role, and hands the rows in), then joins the
 *	  ring.  Clients hold no thread and no database connection: when a
 *	  client has nothing to send, the hub calls its "park" hook (the HTTP
 *	  layer suspends the connection) under the hub's lock, and later its
 *	  "wake" hook (resume), decided under the lock, so a wake never
 *	  overtakes its park (the reader makes its wakes just after releasing
 *	  the lock: a parked connection runs nothing until it is woken).
 *
 *	  Cursors (16 hex digits, '-', 16 hex digits) sort as text in reading
 *	  order, so the hub orders and de-duplicates by strcmp(): a client never
 *	  gets an event at or before the last cursor it was given.
 */
#ifndef CS_STREAM_HUB_H
#define CS_STREAM_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_CURSOR_LEN 33		/* 16 + '-' + 16 */

typedef struct hub_limits
{
	int			max_clients;		/* more: hub_client_new() refuses */
	int			ring_events;		/* events kept in memory for clients to catch up from */
	size_t		ring_bytes;			/* ... and at most this many bytes of frames */
	size_t		client_max_lag_bytes;	/* a live client this far behind the newest event is cut */
	int			page_events;		/* rows per read_all() call (reader and catch-up pages) */
	int			keepalive_s;		/* a comment to an idle client this often */
	int			min_read_interval_ms;	/* the reader reads at most this often when caught up */
	bool		timing;			/* benchmarks: stamp frames with when they were read, queued, written */
} hub_limits;

/* The defaults; each can be overridden by an environment variable (see stream_hub.c). */
void		hub_limits_default(hub_limits *lim);

/*
 * Starts the reader (conninfo: libpq connection string; role: SET ROLE to
 * this role after connecting, "" for none) and the ticker that sends
 * keepalives.  false (with a message on stderr) when a thread cannot start.
 */
bool		hub_start(const char *conninfo, const char *role, const hub_limits *lim);

/*
 * Ends every client's stream (each gets END once its pending bytes are
 * sent), waits up to wait_ms for them to go, and stops the threads.
 */
void		hub_stop(int wait_ms);

typedef struct hub_client hub_client;

/* called under the hub's lock: park (suspend) or wake (resume) the client's connection, or cut it */
typedef void (*hub_hook) (void *arg);

typedef struct hub_hooks
{
	hub_hook	park;
	hub_hook	wake;
	hub_hook	cut;			/* make a connection that is not reading fail now (e.g. shutdown()) */
	void	   *arg;
} hub_hooks;

/*
 * A new client reading after the cursor (NULL or "": from the newest event
 * on, i.e. live), only the given event types (ntypes 0: all), and of those
 * only the types one of the event type patterns its role is restricted to
 * matches (patterns_csv, comma-separated; NULL: not restricted).  The
 * cursor must be well-formed (hub_cursor_valid).  NULL when max_clients (or
 * the hub's own limit) are connected already or the hub is stopping.
 */
hub_client *hub_client_new(const char *after, const char *const *types, int ntypes,
						   const char *patterns_csv, const hub_hooks *hooks, int max_clients);
void		hub_client_free(hub_client *c);

typedef enum hub_read_status
{
	HUB_DATA,					/* bytes were written to buf */
	HUB_PARKED,					/* nothing now; park() was called, wake() will follow */
	HUB_CATCH_UP,				/* behind the ring: fetch a page (hub_client_page_after) */
	HUB_END,					/* the server is stopping: end the stream cleanly */
	HUB_CUT						/* too slow (fell behind the ring or its lag limit): close */
} hub_read_status;

/* Up to max bytes of the client's stream into buf; *n set to the count. */
hub_read_status hub_client_read(hub_client *c, char *buf, size_t max, size_t *n);

/*
 * For HUB_CATCH_UP: the cursor to read a page after (written to
 * after[HUB_CURSOR_LEN + 1], "" for the beginning) and the ring's base at
 * this moment (passed back to hub_client_page_done).
 */
void		hub_client_page_after(hub_client *c, char *after, char *base);

/*
 * One row of a catch-up page, in order: its cursor, type and item JSON.
 * false when the client's buffer is full (past client_max_lag_bytes): stop
 * there and call hub_client_page_done(c, true, ...); the next page starts
 * after the last row taken.
 */
bool		hub_client_page_row(hub_client *c, const char *cursor, const char *type,
								const char *json);

/*
 * The page is done: full is whether it returned as many rows as asked;
 * base what hub_client_page_after gave.  A short page means the client
 * has everything up to base: it joins the ring.
 */
void		hub_client_page_done(hub_client *c, bool full, const char *base);

/* types of one client, for the page query (NULL when unfiltered): "a,b" */
const char *hub_client_types_csv(const hub_client *c);

/* true when s is a well-formed cursor */
bool		hub_cursor_valid(const char *s);

/* Gauges for /metrics. */
typedef struct hub_stats
{
	int			clients;
	int			ring_events;
	size_t		ring_bytes;
	uint64_t	events_read;		/* by the reader since start */
	uint64_t	reads;				/* read_all() calls of the reader */
	uint64_t	waits,				/* wait_for_events() calls ... */
				wait_timeouts;		/* ... that returned false (nothing came) */
	uint64_t	clients_cut;		/* slow clients disconnected */
	bool		reader_connected;
} hub_stats;
void		hub_get_stats(hub_stats *st);

/* The SSE frame of one event ("id: ...\nevent: ...\ndata: ...\n\n"), malloc'd; *len its length. */
char	   *hub_format_frame(const char *cursor, const char *type, const char *json, size_t *len);

#endif
