/*
 * stream.c — GET /v1/stream?after=&type=: Server-Sent Events.
 *
 * The events come from the hub (stream_hub.c): one database reader for all
 * clients.  Each client is a libmicrohttpd response from a callback; when
 * the hub has nothing for it, the connection is suspended (no thread, no
 * database connection held) and the hub resumes it when events arrive or a
 * keepalive is due.  A client behind the hub's ring reads pages from the
 * database through the pool, as its own role, in the connection's thread.
 *
 * Each event: "id: <cursor>\nevent: <event_type>\ndata: <item>\n\n"; a
 * client that reconnects with Last-Event-ID (which wins over ?after=) gets
 * every event after it exactly once.  Without either, the stream starts at
 * the newest event (live).  The role must be allowed to read the store:
 * checked once, at connect, by reading as that role.
 */
#include "stream.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "health.h"
#include "log.h"
#include "pool.h"
#include "problem.h"
#include "stream_hub.h"

#define ACQUIRE_TIMEOUT_MS 5000
#define MAX_TYPES 64
#define MAX_TYPE_LEN 255
#define BLOCK_SIZE (16 * 1024)
#define STOP_WAIT_MS 5000

extern const char *const hub_page_sql;

typedef struct stream_conn
{
	struct MHD_Connection *conn;
	hub_client *client;
	char	   *role;
	char		request_id[64];
} stream_conn;

static int	page_events;

bool
stream_start(const cs_config *cfg)
{
	hub_limits	lim;
	const char *role = getenv("CANDYSTORE_HTTP_STREAM_ROLE");

	hub_limits_default(&lim);
	lim.max_clients = INT_MAX;	/* the setting is checked per connect: SIGHUP may change it */
	page_events = lim.page_events;
	return hub_start(cfg->db, role && *role ? role : HEALTH_DEFAULT_ROLE, &lim);
}

void
stream_stop(void)
{
	hub_stop(STOP_WAIT_MS);
}

/* ---- hooks the hub calls under its lock ------------------------------ */

static void
park(void *arg)
{
	stream_conn *sc = arg;

	MHD_suspend_connection(sc->conn);
}

static void
wake(void *arg)
{
	stream_conn *sc = arg;

	MHD_resume_connection(sc->conn);
}

/*
 * A slow client that does not read has no callback running: make its next
 * send fail, so libmicrohttpd closes it.  The socket is still open: the hub
 * forgets the client (free_cb) before libmicrohttpd closes it.
 */
static void
cut_conn(void *arg)
{
	stream_conn *sc = arg;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(sc->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	if (ci != NULL)
		shutdown(ci->connect_fd, SHUT_RDWR);
}

/* ---- the response ---------------------------------------------------- */

/* One page from the database after the client's position, as its role; false on error. */
static bool
read_page(stream_conn *sc)
{
	char		after[HUB_CURSOR_LEN + 1];
	char		base[HUB_CURSOR_LEN + 1];
	char		limit[16];
	const char *params[3];
	PGconn	   *conn;
	PGresult   *res;
	int			rows;

	hub_client_page_after(sc->client, after, base);
	snprintf(limit, sizeof(limit), "%d", page_events);
	params[0] = after[0] ? after : NULL;
	params[1] = limit;
	params[2] = hub_client_types_csv(sc->client);
	conn = pool_acquire(ACQUIRE_TIMEOUT_MS);
	if (conn == NULL)
	{
		cs_log(CS_LOG_WARN, sc->request_id, "stream catch-up: no database connection", NULL);
		return false;
	}
	res = pool_exec_as(conn, sc->role, config_current()->statement_timeout_ms, hub_page_sql, 3, params);
	if (!pool_result_ok(res))
	{
		jbuf		f;
		bool		first = true;

		jbuf_init(&f);
		jbuf_field_str(&f, &first, "error", PQresultErrorMessage(res));
		cs_log(CS_LOG_WARN, sc->request_id, "stream catch-up failed", f.data);
		jbuf_free(&f);
		pool_release(conn, PQstatus(conn) != CONNECTION_OK);
		PQclear(res);
		return false;
	}
	pool_release(conn, false);
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++)
		if (!hub_client_page_row(sc->client, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
								 PQgetvalue(res, i, 2)))
		{
			rows = page_events; /* buffer full: the rest with the next page */
			break;
		}
	hub_client_page_done(sc->client, rows >= page_events, base);
	PQclear(res);
	return true;
}

static ssize_t
content_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	stream_conn *sc = cls;

	(void) pos;
	/*
	 * At most a block a call: a client with a backlog would otherwise fill
	 * the connection's whole buffer (its memory pool), and a thousand
	 * of them would hold that much memory each.
	 */
	if (max > BLOCK_SIZE)
		max = BLOCK_SIZE;
	for (;;)
	{
		size_t		n = 0;

		switch (hub_client_read(sc->client, buf, max, &n))
		{
			case HUB_DATA:
				return (ssize_t) n;
			case HUB_PARKED:
				return 0;		/* suspended: resumed by the hub */
			case HUB_CATCH_UP:
				if (!read_page(sc))
					return MHD_CONTENT_READER_END_WITH_ERROR;
				continue;
			case HUB_END:
				return MHD_CONTENT_READER_END_OF_STREAM;
			case HUB_CUT:
				cs_log(CS_LOG_INFO, sc->request_id, "stream client cut: too far behind", NULL);
				return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
}

static void
free_cb(void *cls)
{
	stream_conn *sc = cls;

	hub_client_free(sc->client);
	free(sc->role);
	free(sc);
}

/* ---- the request ----------------------------------------------------- */

static bool
type_valid(const char *t, size_t len)
{
	if (len == 0 || len > MAX_TYPE_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '_' || t[i] == '.'))
			return false;
	return true;
}

enum MHD_Result
stream_handle(cs_request *r)
{
	const char *last = cs_request_header(r, "Last-Event-ID");
	const char *after = last != NULL ? last : cs_request_query(r, "after");
	const char *values[MAX_TYPES];
	size_t		nvalues = cs_request_query_all(r, "type", values, MAX_TYPES);
	char	   *types[MAX_TYPES];
	int			ntypes = 0;
	char	   *csv = NULL;
	char	   *patterns = NULL;	/* the role's event type patterns, when restricted */
	stream_conn *sc;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (after != NULL && *after == '\0')
		after = NULL;
	if (after != NULL && !hub_cursor_valid(after))
		return cs_respond_problem(r, 400, "22P02", "Invalid cursor",
								  "A cursor is a value the stream or GET /v1/events returned: 16 hex digits, \"-\", 16 hex digits.",
								  "Leave out after (and Last-Event-ID) to start at the newest event.",
								  last != NULL ? NULL : "after");

	/* type: repeatable, or a comma list */
	for (size_t i = 0; i < nvalues; i++)
	{
		const char *v = values[i];

		while (*v)
		{
			size_t		len = strcspn(v, ",");

			if (!type_valid(v, len) || ntypes == MAX_TYPES)
			{
				for (int k = 0; k < ntypes; k++)
					free(types[k]);
				return cs_respond_problem(r, 400, "22023", "Invalid event type filter",
										  "type is an event type ([a-z0-9_.], at most 255 characters), repeated or comma-separated, at most 64 of them.",
										  NULL, "type");
			}
			types[ntypes++] = strndup(v, len);
			v += len;
			if (*v == ',')
				v++;
		}
	}

	/* may this role read the store, and is the cursor one it could have read? */
	{
		PGconn	   *conn = pool_acquire(ACQUIRE_TIMEOUT_MS);
		PGresult   *res;
		const char *params[3];
		size_t		csvlen = 1;

		for (int k = 0; k < ntypes; k++)
			csvlen += strlen(types[k]) + 1;
		if (ntypes > 0)
		{
			csv = calloc(1, csvlen);
			for (int k = 0; k < ntypes; k++)
			{
				if (k > 0)
					strcat(csv, ",");
				strcat(csv, types[k]);
			}
		}
		if (conn == NULL)
		{
			for (int k = 0; k < ntypes; k++)
				free(types[k]);
			free(csv);
			return problem_unavailable(r, pool_acquire_error());
		}
		params[0] = after;
		params[1] = csv;
		res = pool_exec_as(conn, cs_request_role(r), config_current()->statement_timeout_ms,
						   "SELECT pg_catalog.count(*),"
						   "       pg_catalog.array_to_string(candystore.event_type_patterns(), ',')"
						   "  FROM candystore.read_all($1::text, 1,"
						   " pg_catalog.string_to_array($2::text, ','))", 2, params);
		if (!pool_result_ok(res))
		{
			pool_release(conn, PQstatus(conn) != CONNECTION_OK);
			for (int k = 0; k < ntypes; k++)
				free(types[k]);
			free(csv);
			ret = problem_from_result(r, res, 400, NULL);
			PQclear(res);
			return ret;
		}
		/* the live ring is read as the hub's role: the client's event type grants filter it */
		if (!PQgetisnull(res, 0, 1))
			patterns = strdup(PQgetvalue(res, 0, 1));
		PQclear(res);
		pool_release(conn, false);
		free(csv);
	}

	sc = calloc(1, sizeof(stream_conn));
	sc->conn = cs_request_connection(r);
	sc->role = strdup(cs_request_role(r) ? cs_request_role(r) : HEALTH_DEFAULT_ROLE);
	snprintf(sc->request_id, sizeof(sc->request_id), "%s", cs_request_id(r) ? cs_request_id(r) : "");
	{
		hub_hooks	hooks = {park, wake, cut_conn, sc};

		sc->client = hub_client_new(after, (const char *const *) types, ntypes, patterns, &hooks,
									config_current()->max_stream_clients);
	}
	free(patterns);
	for (int k = 0; k < ntypes; k++)
		free(types[k]);
	if (sc->client == NULL)
	{
		free(sc->role);
		free(sc);
		cs_request_add_header(r, "Retry-After", "5");
		return cs_respond_problem(r, 503, NULL, "Too many stream clients",
								  "The server has as many stream clients as --max-stream-clients allows, or it is stopping.",
								  "Reconnect later, with Last-Event-ID to miss nothing.", NULL);
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK_SIZE, content_cb, sc, free_cb);
	if (resp == NULL)
	{
		free_cb(sc);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	return cs_respond_with(r, 200, resp);
}
