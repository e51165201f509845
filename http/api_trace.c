/*
 * api_trace.c — causation: the trace as JSON, Mermaid, DOT or an SVG
 * picture, ancestors, descendants, and a session's timeline.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include "api.h"
#include "log.h"

/* an event that is not stored has no trace: NULL, answered 404 */
static const char trace_json_sql[] =
	"WITH t AS (SELECT * FROM candystore.trace($1::uuid))"
	" SELECT CASE WHEN EXISTS (SELECT 1 FROM candystore.events e WHERE e.event_id = $1::uuid) THEN"
	"  json_build_object("
	"   'root', $1::uuid,"
	"   'nodes', coalesce((SELECT json_agg(json_build_object('event_id', t.event_id,"
	"                                'event_type', t.event_type, 'occurred_at', t.occurred_at,"
	"                                'depth', t.depth) ORDER BY t.depth, t.occurred_at, t.event_id)"
	"                       FROM t), '[]'::json),"
	"   'edges', coalesce((SELECT json_agg(json_build_object('from', p.parent, 'to', t.event_id)"
	"                                ORDER BY t.depth, t.event_id, p.n)"
	"                       FROM t, unnest(t.parent_ids) WITH ORDINALITY p(parent, n)), '[]'::json)"
	"  )::text END";

static const char trace_render_sql[] =
	"SELECT CASE WHEN EXISTS (SELECT 1 FROM candystore.events e WHERE e.event_id = $1::uuid)"
	" THEN candystore.trace_render($1::uuid, $2) END";

static const char not_stored[] = "No event with this id is stored.";

enum MHD_Result
api_get_trace(cs_request *r)
{
	const char *params[2];
	const char *format;
	enum MHD_Result ret;

	if (!api_event_id(r, &params[0], &ret) ||
		!api_query_text(r, "format", 16, &format, &ret))
		return ret;
	if (format == NULL || strcmp(format, "json") == 0)
		return api_query_one(r, trace_json_sql, 1, params, "application/json", not_stored, 400);
	if (strcmp(format, "mermaid") != 0 && strcmp(format, "dot") != 0 && strcmp(format, "tree") != 0)
		return cs_respond_problem(r, 400, NULL, "Bad Request",
								  "Query parameter \"format\" is one of json, mermaid, dot, tree.",
								  NULL, NULL);
	params[1] = format;
	return api_query_one(r, trace_render_sql, 2, params, "text/plain; charset=utf-8", not_stored, 400);
}

/*
 * Graphviz's context and layout engines keep global state: one rendering at
 * a time.
 */
static pthread_mutex_t gv_lock = PTHREAD_MUTEX_INITIALIZER;
static GVC_t *gvc;

enum MHD_Result
api_get_trace_svg(cs_request *r)
{
	const char *params[2];
	enum MHD_Result ret;
	PGresult   *res;
	Agraph_t   *g;
	char	   *svg = NULL;
	unsigned int svglen = 0;

	if (!api_event_id(r, &params[0], &ret))
		return ret;
	params[1] = "dot";
	res = api_query(r, trace_render_sql, 2, params, 400, &ret);
	if (res == NULL)
		return ret;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		return cs_respond_problem(r, 404, NULL, "Not Found", not_stored, NULL, NULL);
	}

	pthread_mutex_lock(&gv_lock);
	if (gvc == NULL)
		gvc = gvContext();
	g = agmemread(PQgetvalue(res, 0, 0));
	if (g != NULL && gvLayout(gvc, g, "dot") == 0)
	{
		if (gvRenderData(gvc, g, "svg", &svg, &svglen) != 0)
			svg = NULL;
		gvFreeLayout(gvc, g);
	}
	if (g != NULL)
		agclose(g);
	if (svg != NULL)
		ret = cs_respond(r, 200, "image/svg+xml", svg, svglen);
	else
	{
		cs_log(CS_LOG_ERROR, cs_request_id(r), "graphviz could not render the trace", NULL);
		ret = cs_respond_problem(r, 500, NULL, "Internal Server Error",
								 "The trace could not be drawn.", NULL, NULL);
	}
	if (svg != NULL)
		gvFreeRenderData(svg);
	pthread_mutex_unlock(&gv_lock);
	PQclear(res);
	return ret;
}

static enum MHD_Result
relatives(cs_request *r, const char *sql)
{
	const char *params[2];
	long		max_depth;
	char		depth_text[16];
	enum MHD_Result ret;

	if (!api_event_id(r, &params[0], &ret) ||
		!api_query_int(r, "max_depth", 0, 1000000, -1, &max_depth, &ret))
		return ret;
	snprintf(depth_text, sizeof(depth_text), "%ld", max_depth);
	params[1] = max_depth >= 0 ? depth_text : NULL;
	return api_query_one(r, sql, 2, params, "application/json", not_stored, 400);
}

#define RELATIVES_SQL(fn) \
	"SELECT CASE WHEN EXISTS (SELECT 1 FROM candystore.events e WHERE e.event_id = $1::uuid) THEN" \
	" json_build_object('events', coalesce((SELECT json_agg(json_build_object(" \
	"   'event_id', a.event_id, 'event_type', a.event_type, 'occurred_at', a.occurred_at," \
	"   'depth', a.depth, 'parent_ids', a.parent_ids) ORDER BY a.depth, a.occurred_at, a.event_id)" \
	"  FROM candystore." fn "($1::uuid, $2::int) a), '[]'::json))::text END"

enum MHD_Result
api_get_ancestors(cs_request *r)
{
	return relatives(r, RELATIVES_SQL("ancestors"));
}

enum MHD_Result
api_get_descendants(cs_request *r)
{
	return relatives(r, RELATIVES_SQL("descendants"));
}

/* GET /v1/sessions/{session_id}/timeline: an unknown session has no events (200, empty) */
enum MHD_Result
api_get_session_timeline(cs_request *r)
{
	static const char sql[] =
		"SELECT json_build_object('session_id', $1::text,"
		" 'events', coalesce((SELECT json_agg(json_build_object('position', t.position,"
		"   'event_id', t.event_id, 'event_type', t.event_type, 'occurred_at', t.occurred_at,"
		"   'event', t.envelope) ORDER BY t.occurred_at, t.position)"
		"  FROM candystore.session_timeline($1::text) t), '[]'::json))::text";
	const char *session = cs_request_param(r, "session_id");

	if (strlen(session) > 1024)
		return cs_respond_problem(r, 400, NULL, "Bad Request", "The session id is too long.",
								  NULL, NULL);
	return api_query_one(r, sql, 1, &session, "application/json", NULL, 400);
}
