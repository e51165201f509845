/*
 * openapi.c — GET /openapi.json: the static document with
 * components.schemas extended, at the moment of the request, by the
 * envelope's schema ("Envelope") and every payload schema in the registry,
 * named <event_type>.v<version>, so a client generates its types from the
 * contracts the store enforces.  PostgreSQL does the merge (jsonb).
 */
#include "api.h"
#include "openapi.h"

enum MHD_Result
api_get_openapi(cs_request *r)
{
	static const char sql[] =
		"SELECT jsonb_set($1::jsonb, '{components,schemas}',"
		"         ($1::jsonb #> '{components,schemas}')"
		"         || jsonb_build_object('Envelope', $2::jsonb)"
		"         || coalesce((SELECT jsonb_object_agg(s.event_type || '.v' || s.version, s.schema)"
		"                        FROM candystore.schemas s), '{}'::jsonb))::text";
	const char *params[2] = {cs_openapi_json, cs_envelope_schema_json};

	return api_query_one(r, sql, 2, params, "application/json", NULL, 400);
}
