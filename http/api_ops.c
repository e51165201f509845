/*
 * api_ops.c — operations: dead letters (list, redrive) and the ingest
 * worker's counters and status.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"

/* GET /v1/dead-letters?limit=&before= — newest first; before: an id, exclusive */
enum MHD_Result
api_list_dead_letters(cs_request *r)
{
	static const char sql[] =
		"SELECT json_build_object('dead_letters', coalesce(json_agg(row_to_json(d) ORDER BY d.id DESC), '[]'::json),"
		"  'next', CASE WHEN count(*) = $1::int THEN min(d.id) END)::text"
		"  FROM (SELECT id, received_at, sqlstate, reason, routing_key, event_id, redriven_at,"
		"               redrive_attempts, position, redelivered, possible_redelivery,"
		"               properties, headers"
		"          FROM candystore.dead_letters"
		"         WHERE $2::bigint IS NULL OR id < $2::bigint"
		"         ORDER BY id DESC LIMIT $1::int) d";
	long		limit,
				before;
	char		limit_text[16],
				before_text[24];
	const char *params[2];
	enum MHD_Result ret;

	if (!api_query_int(r, "limit", 1, 1000, 100, &limit, &ret) ||
		!api_query_int(r, "before", 1, 9223372036854775807L, -1, &before, &ret))
		return ret;
	snprintf(limit_text, sizeof(limit_text), "%ld", limit);
	snprintf(before_text, sizeof(before_text), "%ld", before);
	params[0] = limit_text;
	params[1] = before > 0 ? before_text : NULL;
	return api_query_one(r, sql, 2, params, "application/json", NULL, 400);
}

/* POST /v1/dead-letters/redrive — body {"ids":[1,2]} or {} (every one not yet redriven) */
enum MHD_Result
api_redrive_dead_letters(cs_request *r)
{
	static const char sql[] =
		"SELECT json_build_object('redriven', candystore.redrive_dead_letters("
		"   CASE WHEN b ? 'ids' THEN ARRAY(SELECT jsonb_array_elements_text(b->'ids')::bigint) END))::text"
		"  FROM (SELECT $1::jsonb AS b) z";
	size_t		len;
	const char *body = cs_request_body(r, &len);
	const char *p = body;

	while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
		p++;
	if (len == 0)
		body = "{}";
	else if (*p != '{')
		return cs_respond_problem(r, 422, NULL, "Unprocessable Content",
								  "The body is an object: {\"ids\": [1, 2]} or {} for all.",
								  NULL, "");
	return api_query_one(r, sql, 1, &body, "application/json", NULL, 422);
}

/* GET /v1/stats — the ingest counters and every worker's status */
enum MHD_Result
api_get_stats(cs_request *r)
{
	static const char sql[] =
		"SELECT json_build_object("
		"  'ingest', (SELECT row_to_json(s) FROM candystore.stats s),"
		"  'workers', coalesce((SELECT json_agg(row_to_json(w)) FROM candystore.worker_status() w), '[]'::json)"
		")::text";

	return api_query_one(r, sql, 0, NULL, "application/json", NULL, 400);
}
