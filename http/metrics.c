/*
 * metrics.c — GET /metrics: Prometheus text exposition format 0.0.4.
 *
 * The server's own series (requests by route template, method and status,
 * with a latency histogram; the stream's clients and reader) are kept here
 * in memory under one short mutex.  The database's are read per scrape
 * through the pool, as the scraper's role (or candystore_reader with
 * --public-ready), one small query per family: shared-memory counters
 * (worker_stats(), publisher_stats(), worker_status()), the outbox's pending
 * rows (its partial index), dead letters waiting by SQLSTATE, the newest
 * event (one index probe), the planner's estimates of events by type
 * (candystore.event_type_estimates(), from pg_stats: no count of the event
 * log), and the lag of the subscriptions the role may see.  Names match
 * monitoring/postgres-exporter-queries.yaml where both have a series, so
 * monitoring/candystore-alerts.yml works against either.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "health.h"
#include "json.h"
#include "pool.h"
#include "stream_hub.h"

#define ACQUIRE_TIMEOUT_MS 2000
#define MAX_SERIES 512
#define ROUTE_MAX 96

static const double bucket_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

/*
 * A series' labels are written once, under the lock, before nseries counts
 * it; its counters are atomics, so a request adds to a known series without
 * the lock (every handler thread observes every request).
 */
typedef struct series
{
	char		route[ROUTE_MAX];
	const char *method;			/* one of methods[] */
	unsigned	status;
	_Atomic uint64_t count;
	_Atomic uint64_t sum_ns;
	_Atomic uint64_t bucket[NBUCKETS];	/* not cumulative; summed when written */
} series;

/* what a scrape copies of a series */
typedef struct series_snapshot
{
	const char *route;
	const char *method;
	unsigned	status;
	uint64_t	count;
	double		sum;
	uint64_t	bucket[NBUCKETS];
} series_snapshot;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static series table[MAX_SERIES];
static _Atomic int nseries;

/* the series with these labels among the first n, or NULL */
static series *
find_series(int n, const char *route, const char *ml, unsigned status)
{
	for (int i = 0; i < n; i++)
		if (table[i].status == status && table[i].method == ml &&
			strncmp(table[i].route, route, ROUTE_MAX - 1) == 0)
			return &table[i];
	return NULL;
}

/* a client can send any method token: keep the label set bounded */
static const char *
method_label(const char *m)
{
	static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (m != NULL && strcmp(m, methods[i]) == 0)
			return methods[i];
	return "other";
}

void
metrics_observe_request(const char *route, const char *method, unsigned status, double seconds)
{
	const char *ml = method_label(method);
	series	   *s = NULL;
	size_t		b;

	if (route == NULL)
		route = "unmatched";
	if (status < 100 || status > 599)
		status = 0;
	s = find_series(atomic_load_explicit(&nseries, memory_order_acquire), route, ml, status);
	if (s == NULL)
	{
		int			n;

		pthread_mutex_lock(&lock);
		n = atomic_load_explicit(&nseries, memory_order_relaxed);
		s = find_series(n, route, ml, status);
		/* the label set is bounded by the routes; a full table folds the rest into "other" */
		if (s == NULL && n == MAX_SERIES)
			s = &table[MAX_SERIES - 1];
		else if (s == NULL)
		{
			s = &table[n];
			snprintf(s->route, sizeof(s->route), "%s", n + 1 == MAX_SERIES ? "other" : route);
			s->method = ml;
			s->status = status;
			atomic_store_explicit(&nseries, n + 1, memory_order_release);
		}
		pthread_mutex_unlock(&lock);
	}
	/* the count before the bucket: a scrape reads them the other way round, so +Inf >= every bucket */
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_ns, (uint64_t) (seconds * 1e9), memory_order_relaxed);
	for (b = 0; b < NBUCKETS && seconds > bucket_le[b]; b++)
		;
	if (b < NBUCKETS)
		atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_release);
}

/* ---- writing the exposition ------------------------------------------ */

static void
family(jbuf *o, const char *name, const char *type, const char *help)
{
	jbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* a label value, escaped as the format wants (\\, \", \n) */
static void
label_value(jbuf *o, const char *v)
{
	for (const char *p = v; *p; p++)
	{
		if (*p == '\\')
			jbuf_puts(o, "\\\\");
		else if (*p == '"')
			jbuf_puts(o, "\\\"");
		else if (*p == '\n')
			jbuf_puts(o, "\\n");
		else
			jbuf_append(o, p, 1);
	}
}

static void
http_series(jbuf *o)
{
	series_snapshot *snap;
	int			n = atomic_load_explicit(&nseries, memory_order_acquire);

	snap = malloc(sizeof(series_snapshot) * (size_t) (n > 0 ? n : 1));
	if (snap == NULL)
		return;
	for (int i = 0; i < n; i++)
	{
		snap[i].route = table[i].route;
		snap[i].method = table[i].method;
		snap[i].status = table[i].status;
		snap[i].sum = (double) atomic_load_explicit(&table[i].sum_ns, memory_order_relaxed) / 1e9;
		for (size_t b = 0; b < NBUCKETS; b++)
			snap[i].bucket[b] = atomic_load_explicit(&table[i].bucket[b], memory_order_acquire);
		/* read last: +Inf (the count) is never below a bucket read before it */
		snap[i].count = atomic_load_explicit(&table[i].count, memory_order_relaxed);
	}

	family(o, "candystore_http_requests_total", "counter",
		   "HTTP requests answered, by route template, method and status.");
	for (int i = 0; i < n; i++)
	{
		jbuf_puts(o, "candystore_http_requests_total{route=\"");
		label_value(o, snap[i].route);
		jbuf_printf(o, "\",method=\"%s\",status=\"%u\"} %llu\n", snap[i].method, snap[i].status,
					(unsigned long long) snap[i].count);
	}
	family(o, "candystore_http_request_duration_seconds", "histogram",
		   "Time from a request's arrival to its last byte queued, by route template, method and status.");
	for (int i = 0; i < n; i++)
	{
		uint64_t	cum = 0;
		jbuf		labels;

		jbuf_init(&labels);
		jbuf_puts(&labels, "route=\"");
		label_value(&labels, snap[i].route);
		jbuf_printf(&labels, "\",method=\"%s\",status=\"%u\"", snap[i].method, snap[i].status);
		for (size_t b = 0; b < NBUCKETS; b++)
		{
			cum += snap[i].bucket[b];
			jbuf_printf(o, "candystore_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
						labels.data, bucket_le[b], (unsigned long long) cum);
		}
		jbuf_printf(o, "candystore_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n",
					labels.data, (unsigned long long) snap[i].count);
		jbuf_printf(o, "candystore_http_request_duration_seconds_sum{%s} %.6f\n", labels.data, snap[i].sum);
		jbuf_printf(o, "candystore_http_request_duration_seconds_count{%s} %llu\n", labels.data,
					(unsigned long long) snap[i].count);
		jbuf_free(&labels);
	}
	free(snap);
}

static void
stream_series(jbuf *o)
{
	hub_stats	st;

	hub_get_stats(&st);
	family(o, "candystore_http_stream_clients", "gauge", "Clients connected to GET /v1/stream.");
	jbuf_printf(o, "candystore_http_stream_clients %d\n", st.clients);
	family(o, "candystore_http_stream_ring_events", "gauge",
		   "Recent events the stream keeps in memory for clients to catch up from.");
	jbuf_printf(o, "candystore_http_stream_ring_events %d\n", st.ring_events);
	family(o, "candystore_http_stream_ring_bytes", "gauge", "Bytes of the events the stream keeps in memory.");
	jbuf_printf(o, "candystore_http_stream_ring_bytes %zu\n", st.ring_bytes);
	family(o, "candystore_http_stream_events_read_total", "counter",
		   "Events the stream's database reader has read since the server started.");
	jbuf_printf(o, "candystore_http_stream_events_read_total %llu\n", (unsigned long long) st.events_read);
	family(o, "candystore_http_stream_reads_total", "counter",
		   "read_all() calls of the stream's database reader.");
	jbuf_printf(o, "candystore_http_stream_reads_total %llu\n", (unsigned long long) st.reads);
	family(o, "candystore_http_stream_waits_total", "counter",
		   "wait_for_events() calls of the stream's database reader (it waits when it has read everything).");
	jbuf_printf(o, "candystore_http_stream_waits_total %llu\n", (unsigned long long) st.waits);
	family(o, "candystore_http_stream_wait_timeouts_total", "counter",
		   "wait_for_events() calls that returned after their 10 s with nothing new.");
	jbuf_printf(o, "candystore_http_stream_wait_timeouts_total %llu\n", (unsigned long long) st.wait_timeouts);
	family(o, "candystore_http_stream_clients_cut_total", "counter",
		   "Stream clients disconnected for falling too far behind (they reconnect with Last-Event-ID).");
	jbuf_printf(o, "candystore_http_stream_clients_cut_total %llu\n", (unsigned long long) st.clients_cut);
	family(o, "candystore_http_stream_reader_connected", "gauge",
		   "1 while the stream's database reader is connected.");
	jbuf_printf(o, "candystore_http_stream_reader_connected %d\n", st.reader_connected ? 1 : 0);
}

/* ---- the database's series ------------------------------------------- */

typedef struct column
{
	const char *name;			/* candystore_<name> */
	const char *type;			/* counter or gauge */
	const char *help;
} column;

/*
 * One query, one family per value column: the first nlabels columns are
 * labels (named by the query's column names), the rest values, in the
 * order of cols.  A failed query leaves its families out and counts in
 * candystore_metrics_query_errors.
 */
static bool
db_families(jbuf *o, PGconn *conn, const char *role, const char *sql, int nlabels,
			const column *cols, int ncols)
{
	PGresult   *res = pool_exec_as(conn, role, config_current()->statement_timeout_ms, sql, 0, NULL);

	if (!pool_result_ok(res))
	{
		PQclear(res);
		return false;
	}
	for (int c = 0; c < ncols; c++)
	{
		family(o, cols[c].name, cols[c].type, cols[c].help);
		for (int row = 0; row < PQntuples(res); row++)
		{
			if (PQgetisnull(res, row, nlabels + c))
				continue;
			jbuf_puts(o, cols[c].name);
			for (int l = 0; l < nlabels; l++)
			{
				jbuf_printf(o, "%s%s=\"", l == 0 ? "{" : ",", PQfname(res, l));
				label_value(o, PQgetisnull(res, row, l) ? "" : PQgetvalue(res, row, l));
				jbuf_puts(o, "\"");
			}
			jbuf_printf(o, "%s %s\n", nlabels > 0 ? "}" : "", PQgetvalue(res, row, nlabels + c));
		}
	}
	PQclear(res);
	return true;
}

static const column ext_cols[] = {
	{"candystore_extension_installed", "gauge", "1 while candystore is installed in the database (label: its version)."},
};

static const column ingest_cols[] = {
	{"candystore_ingest_delivered_total", "counter", "Messages the ingest workers received from RabbitMQ."},
	{"candystore_ingest_stored_total", "counter", "Events the ingest workers stored."},
	{"candystore_ingest_duplicates_total", "counter", "Deliveries of events already stored (acked, not stored again)."},
	{"candystore_ingest_dead_lettered_total", "counter", "Messages recorded in candystore.dead_letters."},
	{"candystore_ingest_redelivered_total", "counter", "Deliveries the broker marked as redelivered."},
	{"candystore_ingest_batches_total", "counter", "Batches committed by the ingest workers."},
	{"candystore_ingest_reconnects_total", "counter", "Times an ingest worker connected to the broker again."},
};

static const column publisher_cols[] = {
	{"candystore_publisher_published_total", "counter", "Outbox rows the publisher sent and the broker confirmed."},
	{"candystore_publisher_confirms_total", "counter", "Publisher confirms received."},
	{"candystore_publisher_nacks_total", "counter", "Messages the broker refused (nack or return)."},
	{"candystore_publisher_retries_total", "counter", "Outbox rows set to be tried again later."},
	{"candystore_publisher_batches_total", "counter", "Batches the publisher sent."},
	{"candystore_publisher_reconnects_total", "counter", "Times the publisher connected to the broker again."},
};

static const column worker_state_cols[] = {
	{"candystore_worker_state_current", "gauge", "1 when the worker is in this state, else 0."},
};

static const column worker_cols[] = {
	{"candystore_worker_connected_seconds", "gauge", "Seconds since the worker connected to the broker (0 when not connected)."},
};

static const column outbox_cols[] = {
	{"candystore_outbox_pending", "gauge", "Outbox rows not yet published."},
	{"candystore_outbox_oldest_pending_age_seconds", "gauge", "Age of the oldest outbox row not yet published (0 when none): the outbox lag."},
	{"candystore_outbox_parked", "gauge", "Outbox rows parked (the publisher cannot send them; see candystore.outbox.last_error)."},
	{"candystore_outbox_failing", "gauge", "Outbox rows not yet published whose last attempt failed."},
};

static const column dead_letter_cols[] = {
	{"candystore_dead_letters_waiting", "gauge", "Dead letters not yet redriven, by SQLSTATE."},
};

static const column events_cols[] = {
	{"candystore_events_newest_position", "gauge", "Position of the newest stored event (positions only grow)."},
	{"candystore_events_newest_age_seconds", "gauge", "Seconds since the newest event was recorded (0 when none)."},
	{"candystore_events_estimated", "gauge", "Stored events, as the planner estimates them (pg_class.reltuples, after ANALYZE)."},
};

static const column event_type_cols[] = {
	{"candystore_events_by_type_estimated", "gauge",
	 "Stored events by type, estimated from the planner's statistics (pg_stats, after ANALYZE); types outside its most common values are summed under event_type=\"(others)\"."},
};

static const column subscription_cols[] = {
	{"candystore_subscription_lag_events", "gauge", "Events readable after the subscription's checkpoint (subscriptions the scraping role may see)."},
	{"candystore_subscription_lag_seconds", "gauge", "How long the oldest unread event of the subscription has waited (0 when none)."},
};

#define NCOLS(a) ((int) (sizeof(a) / sizeof(a[0])))

static void
db_series(jbuf *o, const char *role)
{
	PGconn	   *conn = pool_acquire(ACQUIRE_TIMEOUT_MS);
	int			errors = 0;
	bool		installed = false;

	family(o, "candystore_database_up", "gauge", "1 when the scrape could reach the database.");
	jbuf_printf(o, "candystore_database_up %d\n", conn != NULL ? 1 : 0);
	if (conn == NULL)
		return;

	{
		size_t		before = o->len;

		if (!db_families(o, conn, role,
						 "SELECT extversion AS version, 1 FROM pg_catalog.pg_extension WHERE extname = 'candystore'",
						 1, ext_cols, NCOLS(ext_cols)))
			errors++;
		installed = strstr(o->data + before, "candystore_extension_installed{") != NULL;
	}
	if (installed)
	{
		struct
		{
			const char *sql;
			int			nlabels;
			const column *cols;
			int			ncols;
		}			q[] = {
			{"SELECT delivered, stored, duplicates, dead_lettered, redelivered, batches, reconnects"
				" FROM candystore.worker_stats()", 0, ingest_cols, NCOLS(ingest_cols)},
			{"SELECT published, confirms, nacks, retries, batches, reconnects FROM candystore.publisher_stats()",
				0, publisher_cols, NCOLS(publisher_cols)},
			{"SELECT w.worker::text AS worker, w.kind, s.state, (s.state = w.state)::int"
				"  FROM candystore.worker_status() w"
				" CROSS JOIN LATERAL (SELECT DISTINCT pg_catalog.unnest("
				"   CASE w.kind WHEN 'ingest' THEN ARRAY['not started', 'starting', 'reconfiguring', 'connecting',"
				"     'waiting to reconnect', 'consuming', 'disconnected']"
				"   ELSE ARRAY['not started', 'starting', 'reconfiguring', 'connecting', 'waiting to reconnect',"
				"     'waiting for CREATE EXTENSION', 'idle', 'publishing', 'disconnected'] END || w.state)) s(state)"
				" ORDER BY 1, 3", 3, worker_state_cols, NCOLS(worker_state_cols)},
			{"SELECT worker::text AS worker, kind,"
				"       coalesce(extract(epoch FROM pg_catalog.now() - connected_since), 0)::float8"
				"  FROM candystore.worker_status() ORDER BY worker", 2, worker_cols, NCOLS(worker_cols)},
			{"SELECT pg_catalog.count(*),"
				"       coalesce(extract(epoch FROM pg_catalog.now() - pg_catalog.min(enqueued_at)), 0)::float8,"
				"       pg_catalog.count(*) FILTER (WHERE parked_at IS NOT NULL),"
				"       pg_catalog.count(*) FILTER (WHERE last_error IS NOT NULL)"
				"  FROM candystore.outbox WHERE published_at IS NULL", 0, outbox_cols, NCOLS(outbox_cols)},
			{"SELECT sqlstate, pg_catalog.count(*) FROM candystore.dead_letters WHERE redriven_at IS NULL"
				" GROUP BY sqlstate ORDER BY sqlstate", 1, dead_letter_cols, NCOLS(dead_letter_cols)},
			{"SELECT coalesce(pg_catalog.max(n.position), 0),"
				"       coalesce(extract(epoch FROM pg_catalog.now() - pg_catalog.max(n.recorded_at)), 0)::float8,"
				"       (SELECT greatest(c.reltuples, 0) FROM pg_catalog.pg_class c"
				"         WHERE c.oid = 'candystore.event_log'::pg_catalog.regclass)"
				"  FROM (SELECT position, recorded_at FROM candystore.events ORDER BY position DESC LIMIT 1) n",
				0, events_cols, NCOLS(events_cols)},
			{"SELECT coalesce(event_type, '(others)') AS event_type, estimated"
				"  FROM candystore.event_type_estimates() ORDER BY 1", 1, event_type_cols, NCOLS(event_type_cols)},
			{"SELECT name AS subscription, member::text AS member, lag_events,"
				"       coalesce(extract(epoch FROM lag_time), 0)::float8"
				"  FROM candystore.subscriptions ORDER BY 1, 2", 2, subscription_cols, NCOLS(subscription_cols)},
		};

		for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++)
			if (!db_families(o, conn, role, q[i].sql, q[i].nlabels, q[i].cols, q[i].ncols))
				errors++;
	}
	pool_release(conn, PQstatus(conn) != CONNECTION_OK);
	family(o, "candystore_metrics_query_errors", "gauge",
		   "Queries of this scrape that failed (their series are left out; see the server log).");
	jbuf_printf(o, "candystore_metrics_query_errors %d\n", errors);
}

enum MHD_Result
metrics_handle(cs_request *r)
{
	jbuf		o;
	enum MHD_Result ret;

	jbuf_init(&o);
	http_series(&o);
	stream_series(&o);
	db_series(&o, health_role(r));
	ret = cs_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", o.data, o.len);
	jbuf_free(&o);
	return ret;
}
