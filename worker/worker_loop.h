/*
 * worker_loop.h
 *	  The main loop both background workers run (worker_loop.c): start-up,
 *	  the reload check, the broker link opened with capped exponential
 *	  backoff and reopened when a reload changed its settings, the status in
 *	  worker_status(), and the latch wait.  Each worker supplies what is its
 *	  own as callbacks: the ingest worker consumes, stores and acks
 *	  (ingest.c); the publisher claims, sends and confirms (publisher.c).
 */
#ifndef CANDYSTORE_WORKER_LOOP_H
#define CANDYSTORE_WORKER_LOOP_H

#include "utils/timestamp.h"

#include "amqp_link.h"
#include "status.h"

typedef struct WorkerLoop WorkerLoop;

typedef struct WorkerLoopOps
{
	/* The settings whose change needs a new connection, as one string. */
	char	   *(*connection_settings) (void);
	/* Nothing is pending on the link: closing it now loses nothing. */
	bool		(*link_idle) (void *arg);
	/* After a configuration reload (may be NULL). */
	void		(*reloaded) (void *arg);
	/* A connection attempt failed with error (may be NULL). */
	void		(*connect_failed) (void *arg, const char *error);
	/* The link was opened (may be NULL). */
	void		(*connected) (void *arg);
	/*
	 * One turn with the link open: its work, and its wait (worker_loop_wait).
	 * What it allocates in the current memory context is freed after it.
	 */
	void		(*turn) (WorkerLoop *loop, void *arg);
	/*
	 * A database error escaped the turn (its transaction is aborted): forget
	 * what the turn had in hand.  The loop logs it, shows it in
	 * worker_status() and tries again after a backoff.  NULL: the worker
	 * handles its database errors itself, and any that escapes ends the
	 * process.
	 */
	void		(*fault) (WorkerLoop *loop, void *arg);
} WorkerLoopOps;

struct WorkerLoop
{
	/* the worker's, set before worker_loop_start() */
	int			slot;			/* its worker_status() slot */
	const char *who;			/* starts its log lines: "candystore ingest worker 1" */
	const char *connected_state;	/* its state once connected: "consuming" */
	const char *connected_verb; /* "consuming from" (the broker) */
	WorkerCounter reconnect_counter;	/* counted at each connection but the first */
	/*
	 * true: the backoff starts again from its minimum at every connection;
	 * false: only after worker_loop_progress() or a connection that lasted
	 * longer than its cap (a link lost again before anything got through
	 * waits before it is reopened).
	 */
	bool		reset_backoff_on_connect;
	const WorkerLoopOps *ops;
	void	   *arg;				/* passed to the callbacks */
	AmqpLink	link;			/* link.conn is NULL while not connected */

	/* the loop's own */
	MemoryContext link_cxt;		/* the link's allocations, per connection */
	MemoryContext turn_cxt;		/* one turn's */
	char	   *settings;		/* connection_settings() of the link */
	bool		reconnect_pending;	/* a reload changed them */
	bool		ever_connected;
	int			backoff_ms;
	bool		wait_before_connect;
	bool		progressed;		/* since the last connection */
	TimestampTz connected_at;
	int			fault_backoff_ms;	/* before the turn after a database error */
	TimestampTz fault_at;		/* the last database error */
};

/* Start-up: signals, the database connection, durability, "starting". */
extern void worker_loop_start(WorkerLoop *loop, const char *appname);
/* Runs the loop for good (SIGTERM ends the process). */
extern void worker_loop_run(WorkerLoop *loop) pg_attribute_noreturn();

/* Applies a pending SIGHUP reload; true when there was one. */
extern bool worker_loop_reload(WorkerLoop *loop);
/* A reload changed the connection's settings: the link is reopened once idle. */
extern bool worker_loop_reconnect_pending(WorkerLoop *loop);
/* Sets the worker's state (with the broker while connected). */
extern void worker_loop_status(WorkerLoop *loop, const char *state);
/* Sets the state "retrying: <cause>" (error_cause.c's labels). */
extern void worker_loop_retrying(WorkerLoop *loop, const char *cause);
/* Something got through (and was recorded): the backoffs start anew. */
extern void worker_loop_progress(WorkerLoop *loop);
/* The link is lost (error says why): logs, reports, closes it. */
extern void worker_loop_link_lost(WorkerLoop *loop, const char *error);
/*
 * Waits up to timeout_ms for the latch or the broker socket (not at all when
 * rabbitmq-c holds unread data); returns WaitLatchOrSocket's events, 0 when
 * it did not wait.  It wakes at least every half heartbeat (without
 * WL_TIMEOUT when that ended it first): the caller's next read of the link
 * keeps the heartbeats going.
 */
extern int	worker_loop_wait(WorkerLoop *loop, long timeout_ms);
/*
 * timeout_ms (-1: none), shortened to half of candystore.amqp_heartbeat:
 * the longest a worker may go without reading the link, so that rabbitmq-c
 * sends its heartbeats and notices a silent broker.
 */
extern long worker_loop_keepalive_ms(long timeout_ms);
/*
 * Sleeps ms, answering interrupts; ends early for a configuration reload,
 * not for other latch wake-ups (a commit's, for the publisher).
 */
extern void worker_loop_sleep(long ms);

#endif
