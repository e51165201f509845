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
	/*
	 * Each schema moves under #/components/schemas/<name>: its own
	 * references ("#/$defs/x", "#") are rewritten to point there, and its
	 * $id dropped, so that OpenAPI tools, which resolve "#" against the
	 * whole document, find what the schema means.  jsonb's text form writes
	 * every "$ref" key as "$ref": "...", which the pattern relies on.
	 */
	static const char sql[] =
		"WITH s AS ("
		"  SELECT x.name,"
		"         regexp_replace((x.doc - '$id')::text, '\"\\$ref\": \"#(/|\")',"
		"                        '\"$ref\": \"#/components/schemas/' || x.name || '\\1', 'g')::jsonb AS doc"
		"    FROM (SELECT 'Envelope' AS name, $2::jsonb AS doc"
		"          UNION ALL"
		"          SELECT r.event_type || '.v' || r.version, r.schema FROM candystore.schemas r) x)"
		" SELECT jsonb_set($1::jsonb, '{components,schemas}',"
		"          ($1::jsonb #> '{components,schemas}') || (SELECT jsonb_object_agg(s.name, s.doc) FROM s))::text";
	const char *params[2] = {cs_openapi_json, cs_envelope_schema_json};

	return api_query_one(r, sql, 2, params, "application/json", NULL, 400);
}
