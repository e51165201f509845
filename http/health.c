/*
 * health.c — GET /health/live and /health/ready.
 *
 * live: the process answers; no database.  ready: a load balancer or an
 * orchestrator may send traffic here — the database answers, candystore is
 * installed in it at the version of the library the server loaded
 * (pg_available_extensions.default_version: the control file next to the
 * library), every ingest worker is consuming (worker_status()), and the
 * oldest outbox row neither published nor parked is younger than
 * --ready-max-outbox-lag-s.  Otherwise 503 with the first failing check as
 * the reason and every check's finding.
 */
#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "stream_hub.h"

#define ACQUIRE_TIMEOUT_MS 2000

const char *
health_role(const cs_request *r)
{
	const char *role = cs_request_role(r);

	return role != NULL ? role : HEALTH_DEFAULT_ROLE;
}

enum MHD_Result
health_live(cs_request *r)
{
	static const char body[] = "{\"status\":\"ok\"}";

	return cs_respond_json(r, 200, body, sizeof(body) - 1);
}

static enum MHD_Result
answer(cs_request *r, const char *reason, jbuf *checks)
{
	jbuf		b;
	bool		first = true;
	enum MHD_Result ret;

	jbuf_init(&b);
	jbuf_puts(&b, "{");
	jbuf_field_str(&b, &first, "status", reason ? "not_ready" : "ready");
	jbuf_field_str(&b, &first, "reason", reason);
	jbuf_puts(&b, ",\"checks\":{");
	jbuf_append(&b, checks->data, checks->len);
	jbuf_puts(&b, "}}");
	if (reason != NULL)
		cs_request_add_header(r, "Retry-After", "5");
	ret = cs_respond_json(r, reason ? 503 : 200, b.data, b.len);
	jbuf_free(&b);
	return ret;
}

/* the message of a failed result, on one line */
static void
result_error(const PGresult *res, char *out, size_t size)
{
	const char *m = PQresultErrorMessage(res);

	snprintf(out, size, "%s", m && *m ? m : "the query failed");
	out[strcspn(out, "\n")] = '\0';
}

enum MHD_Result
health_ready(cs_request *r)
{
	const cs_config *cfg = config_current();
	const char *role = health_role(r);
	PGconn	   *conn;
	PGresult   *res;
	jbuf		checks;
	bool		first = true;
	char		reason[512];
	const char *why = NULL;
	enum MHD_Result ret;

	jbuf_init(&checks);
	conn = pool_acquire(ACQUIRE_TIMEOUT_MS);
	if (conn == NULL)
	{
		snprintf(reason, sizeof(reason), "database unreachable: %s", pool_acquire_error());
		jbuf_field_str(&checks, &first, "database", "unreachable");
		ret = answer(r, reason, &checks);
		jbuf_free(&checks);
		return ret;
	}

	/* the version installed and the library's, readable by anyone */
	res = pool_exec_as(conn, role, cfg->statement_timeout_ms,
					   "SELECT installed_version, default_version FROM pg_catalog.pg_available_extensions"
					   " WHERE name = 'candystore'", 0, NULL);
	if (!pool_result_ok(res))
	{
		result_error(res, reason, sizeof(reason));
		why = reason;
		jbuf_field_str(&checks, &first, "database", "error");
		pool_release(conn, PQstatus(conn) != CONNECTION_OK);
		PQclear(res);
		goto done;
	}
	jbuf_field_str(&checks, &first, "database", "ok");
	{
		const char *installed = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : NULL;
		const char *library = PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : NULL;

		jbuf_printf(&checks, ",\"extension\":{");
		first = true;
		jbuf_field_str(&checks, &first, "installed", installed);
		jbuf_field_str(&checks, &first, "library", library);
		jbuf_puts(&checks, "}");
		if (library == NULL)
			why = "candystore is not available on the database server";
		else if (installed == NULL)
			why = "the candystore extension is not created in this database";
		else if (strcmp(installed, library) != 0)
		{
			snprintf(reason, sizeof(reason),
					 "the candystore extension is at %s, the library at %s: run ALTER EXTENSION candystore UPDATE",
					 installed, library);
			why = reason;
		}
	}
	PQclear(res);
	if (why != NULL)
	{
		pool_release(conn, false);
		goto done;
	}

	/* the workers and the outbox */
	res = pool_exec_as(conn, role, cfg->statement_timeout_ms,
					   "SELECT (SELECT pg_catalog.count(*) FROM candystore.worker_status() WHERE kind = 'ingest'),"
					   "       (SELECT pg_catalog.count(*) FROM candystore.worker_status()"
					   "         WHERE kind = 'ingest' AND state = 'consuming'),"
					   "       (SELECT pg_catalog.string_agg(worker || ': ' || state, ', ' ORDER BY worker)"
					   "          FROM candystore.worker_status() WHERE kind = 'ingest' AND state <> 'consuming'),"
					   "       (SELECT coalesce(extract(epoch FROM pg_catalog.now() - pg_catalog.min(enqueued_at)), 0)"
					   "          FROM candystore.outbox WHERE published_at IS NULL AND parked_at IS NULL)::float8",
					   0, NULL);
	if (!pool_result_ok(res))
	{
		result_error(res, reason, sizeof(reason));
		why = reason;
		pool_release(conn, PQstatus(conn) != CONNECTION_OK);
		PQclear(res);
		goto done;
	}
	pool_release(conn, false);
	{
		long		running = atol(PQgetvalue(res, 0, 0));
		long		consuming = atol(PQgetvalue(res, 0, 1));
		double		lag = atof(PQgetvalue(res, 0, 3));

		jbuf_printf(&checks, ",\"ingest_workers\":{\"running\":%ld,\"consuming\":%ld}", running, consuming);
		jbuf_printf(&checks, ",\"outbox_lag_s\":%.3f,\"outbox_max_lag_s\":%d", lag,
					cfg->ready_max_outbox_lag_s);
		if (running == 0)
			why = "no ingest worker runs (is candystore in shared_preload_libraries?)";
		else if (consuming < running)
		{
			snprintf(reason, sizeof(reason), "ingest workers not consuming: %s", PQgetvalue(res, 0, 2));
			why = reason;
		}
		else if (lag > cfg->ready_max_outbox_lag_s)
		{
			snprintf(reason, sizeof(reason),
					 "outbox lag %.0f s is over %d s (the oldest row neither published nor parked)",
					 lag, cfg->ready_max_outbox_lag_s);
			why = reason;
		}
	}
	PQclear(res);

done:
	{
		/* reported, not required: streams wait (they do not fail) while the reader reconnects */
		hub_stats	st;

		hub_get_stats(&st);
		jbuf_printf(&checks, ",\"stream_reader\":\"%s\"", st.reader_connected ? "connected" : "disconnected");
	}
	ret = answer(r, why, &checks);
	jbuf_free(&checks);
	return ret;
}
