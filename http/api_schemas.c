/*
 * api_schemas.c — /v1/schemas: the payload schema registry.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "json.h"

enum MHD_Result
api_list_schemas(cs_request *r)
{
	static const char sql[] =
		"SELECT json_build_object('schemas', coalesce(json_agg(json_build_object("
		"   'event_type', s.event_type, 'latest_version', s.latest, 'versions', s.n)"
		"   ORDER BY s.event_type), '[]'::json))::text"
		"  FROM (SELECT event_type, max(version) AS latest, count(*) AS n"
		"          FROM candystore.schemas GROUP BY event_type) s";

	return api_query_one(r, sql, 0, NULL, "application/json", NULL, 400);
}

enum MHD_Result
api_get_schema(cs_request *r)
{
	static const char sql[] =
		"SELECT json_build_object('event_type', $1::text, 'versions', json_agg(json_build_object("
		"   'version', s.version, 'schema_id', s.schema_id, 'schema', s.schema,"
		"   'registered_at', s.registered_at) ORDER BY s.version))::text"
		"  FROM candystore.schemas s WHERE s.event_type = $1::text"
		" HAVING count(*) > 0";
	const char *type = cs_request_param(r, "event_type");

	return api_query_one(r, sql, 1, &type, "application/json",
						 "No schema is registered for this event type.", 400);
}

/*
 * POST /v1/schemas/{event_type}?force=true — register_schema().  The outer
 * statement's snapshot does not see the version being added, so the
 * subquery gives the latest before: a new version is 201, the same schema
 * again (register_schema() returns the latest) 200.
 */
enum MHD_Result
api_register_schema(cs_request *r)
{
	static const char sql[] =
		"SELECT v, v > coalesce(prev, 0)"
		"  FROM (SELECT candystore.register_schema($1::text, $2::jsonb, $3::boolean) AS v,"
		"               (SELECT max(version) FROM candystore.schemas WHERE event_type = $1::text) AS prev) x";
	const char *params[3];
	const char *force;
	enum MHD_Result ret;
	PGresult   *res;
	char		body[600];
	int			n;

	params[0] = cs_request_param(r, "event_type");
	params[1] = cs_request_body(r, NULL);
	if (!api_query_text(r, "force", 8, &force, &ret))
		return ret;
	if (force != NULL && strcmp(force, "true") != 0 && strcmp(force, "false") != 0)
		return cs_respond_problem(r, 400, NULL, "Bad Request",
								  "Query parameter \"force\" is true or false.", NULL, NULL);
	params[2] = force ? force : "false";
	if (strlen(params[0]) > 255)
		return cs_respond_problem(r, 422, NULL, "Unprocessable Content",
								  "An event type is at most 255 bytes.", NULL, NULL);
	res = api_query(r, sql, 3, params, 422, &ret);
	if (res == NULL)
		return ret;
	{
		jbuf		t;

		jbuf_init(&t);
		jbuf_str(&t, params[0]);
		n = snprintf(body, sizeof(body), "{\"event_type\":%s,\"version\":%s}", t.data,
					 PQgetvalue(res, 0, 0));
		jbuf_free(&t);
	}
	ret = cs_respond_json(r, PQgetvalue(res, 0, 1)[0] == 't' ? 201 : 200, body,
						  (size_t) (n < (int) sizeof(body) ? n : (int) sizeof(body) - 1));
	PQclear(res);
	return ret;
}
