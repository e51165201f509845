/*
 * api_events.c — /v1/events: the stream in pages, one event, appending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "json.h"
#include "pool.h"
#include "problem.h"

#define MAX_TYPES 64
#define MAX_CURSOR_LEN 64
#define MAX_TYPE_LEN 255

/* value %-encoded for a query string */
static void
urlencode(jbuf *b, const char *s)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~')
			jbuf_append(b, (const char *) &c, 1);
		else
			jbuf_printf(b, "%%%02X", c);
	}
}

/*
 * GET /v1/events?after=&limit=&type= — read_all() in pages.  The types
 * travel as one comma-separated parameter (an event type has no comma).
 */
enum MHD_Result
api_list_events(cs_request *r)
{
	static const char sql[] =
		"SELECT r.cursor,"
		"       json_build_object('cursor', r.cursor, 'position', r.position,"
		"                         'recorded_at', r.recorded_at,"
		"                         'routing_key', (SELECT e.routing_key FROM candystore.events e"
		"                                          WHERE e.position = r.position),"
		"                         'event', r.envelope)::text"
		"  FROM candystore.read_all($1, $2::int, string_to_array($3, ',')) r"
		" ORDER BY r.cursor COLLATE \"C\"";
	const char *after;
	long		limit;
	const char *types[MAX_TYPES];
	size_t		ntypes;
	jbuf		typelist,
				body;
	char		limit_text[16];
	const char *params[3];
	enum MHD_Result ret;
	PGresult   *res;
	int			n;

	if (!api_query_text(r, "after", MAX_CURSOR_LEN, &after, &ret) ||
		!api_query_int(r, "limit", 1, 1000, 100, &limit, &ret))
		return ret;
	ntypes = cs_request_query_all(r, "type", types, MAX_TYPES);
	if (ntypes > MAX_TYPES)
		return cs_respond_problem(r, 400, NULL, "Bad Request",
								  "At most 64 \"type\" parameters.", NULL, NULL);
	jbuf_init(&typelist);
	for (size_t i = 0; i < ntypes; i++)
	{
		if (!utf8_valid(types[i], strlen(types[i])) || strlen(types[i]) > MAX_TYPES * (MAX_TYPE_LEN + 1))
		{
			jbuf_free(&typelist);
			return cs_respond_problem(r, 400, NULL, "Bad Request",
									  "Query parameter \"type\" is not valid UTF-8, holds a NUL byte or is too long.",
									  NULL, NULL);
		}
		if (i > 0)
			jbuf_append(&typelist, ",", 1);
		jbuf_puts(&typelist, types[i]);
	}
	if (after != NULL && after[0] == '\0')
		after = NULL;
	snprintf(limit_text, sizeof(limit_text), "%ld", limit);
	params[0] = after;
	params[1] = limit_text;
	params[2] = ntypes > 0 ? typelist.data : NULL;
	res = api_query(r, sql, 3, params, 400, &ret);
	if (res == NULL)
	{
		jbuf_free(&typelist);
		return ret;
	}

	n = PQntuples(res);
	jbuf_init(&body);
	jbuf_puts(&body, "{\"events\":[");
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			jbuf_append(&body, ",", 1);
		jbuf_append(&body, PQgetvalue(res, i, 1), (size_t) PQgetlength(res, i, 1));
	}
	jbuf_puts(&body, "],\"next\":");
	if (n > 0 && n == limit)
	{
		const char *next = PQgetvalue(res, n - 1, 0);
		jbuf		link;

		jbuf_str(&body, next);
		jbuf_init(&link);
		jbuf_puts(&link, "</v1/events?after=");
		urlencode(&link, next);
		jbuf_printf(&link, "&limit=%ld", limit);
		if (ntypes > 0)
		{
			jbuf_puts(&link, "&type=");
			urlencode(&link, typelist.data);
		}
		jbuf_puts(&link, ">; rel=\"next\"");
		cs_request_add_header(r, "Link", link.data);
		jbuf_free(&link);
	}
	else
		jbuf_puts(&body, "null");
	jbuf_append(&body, "}", 1);
	PQclear(res);
	ret = cs_respond_json(r, 200, body.data, body.len);
	jbuf_free(&body);
	jbuf_free(&typelist);
	return ret;
}

/* does an If-None-Match list name etag (or "*")? */
static bool
etag_matches(const char *inm, const char *etag)
{
	size_t		n = strlen(etag);

	if (inm == NULL)
		return false;
	for (const char *p = inm; *p;)
	{
		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p == '*' || strncmp(p, etag, n) == 0)
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

/*
 * GET /v1/events/{event_id} — the envelope as stored.  Its position names it
 * for ever (positions are never reused), so it is the ETag, and the response
 * may be cached for a year.
 */
enum MHD_Result
api_get_event(cs_request *r)
{
	static const char sql[] =
		"SELECT position, envelope::text FROM candystore.events WHERE event_id = $1::uuid";
	const char *id;
	enum MHD_Result ret;
	PGresult   *res;
	char		etag[40];

	if (!api_event_id(r, &id, &ret))
		return ret;
	res = api_query_batched(r, sql, 1, &id, 400, &ret);
	if (res == NULL)
		return ret;
	if (PQntuples(res) != 1)
	{
		PQclear(res);
		return cs_respond_problem(r, 404, NULL, "Not Found", "No event with this id is stored.",
								  NULL, NULL);
	}
	snprintf(etag, sizeof(etag), "\"%s\"", PQgetvalue(res, 0, 0));
	cs_request_add_header(r, "ETag", etag);
	cs_request_add_header(r, "Cache-Control", "public, max-age=31536000, immutable");
	if (etag_matches(cs_request_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH), etag))
	{
		PQclear(res);
		return cs_respond(r, 304, NULL, "", 0);
	}
	/* the envelope as the result holds it, not copied */
	return cs_respond_json_result(r, 200, res, 0, 1);
}

/* the first non-blank byte of the body */
static char
first_char(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	return *s;
}

/*
 * One envelope in one round trip: append(), then, in the same transaction
 * (pool_exec_steps_as()), the stored row: stored by this transaction
 * (created, 201) or by an earlier one (an identical duplicate, 200).  A
 * duplicate may leave the transaction without an xid: then it is not ours.
 */
static enum MHD_Result
post_one(cs_request *r, const char *body)
{
	static const char *const sqls[] = {
		"SELECT candystore.append($1::jsonb)",
		"SELECT json_build_object('event_id', s.event_id, 'position', s.position,"
		"         'cursor', candystore.cursor_encode(s.xid, s.position),"
		"         'created', coalesce(s.xid = pg_current_xact_id_if_assigned(), false))::text,"
		"       coalesce(s.xid = pg_current_xact_id_if_assigned(), false), s.event_id"
		"  FROM candystore.event_stream s WHERE s.event_id = ($1::jsonb->>'event_id')::uuid"
	};
	enum MHD_Result ret;
	PGconn	   *conn = pool_acquire(2000);
	PGresult   *res;
	char		location[80];

	if (conn == NULL)
		return problem_unavailable(r, pool_acquire_error());
	res = pool_exec_steps_as(conn, cs_request_role(r), config_current()->statement_timeout_ms,
							 sqls, 2, 1, &body);
	pool_release(conn, PQstatus(conn) != CONNECTION_OK);
	if (!pool_result_ok(res) || PQntuples(res) != 1)
	{
		ret = problem_from_result(r, res, 422, NULL);
		PQclear(res);
		return ret;
	}
	snprintf(location, sizeof(location), "/v1/events/%s", PQgetvalue(res, 0, 2));
	cs_request_add_header(r, "Location", location);
	ret = cs_respond_json(r, PQgetvalue(res, 0, 1)[0] == 't' ? 201 : 200,
						  PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0));
	PQclear(res);
	return ret;
}

/*
 * The element an error of append_many() is about, as a JSON pointer prefix
 * ("/2" for the third element), read off its CONTEXT line
 * ("envelope 3 of 4 given to append_many (envelopes[3])"); "" when none.
 */
static void
element_pointer(const PGresult *res, char *out, size_t size)
{
	const char *context = PQresultErrorField(res, PG_DIAG_CONTEXT);
	const char *p = context ? strstr(context, "given to append_many (envelopes[") : NULL;
	long		n;

	out[0] = '\0';
	if (p == NULL)
		return;
	n = strtol(p + strlen("given to append_many (envelopes["), NULL, 10);
	if (n >= 1 && n <= 1000000000L)
		snprintf(out, size, "/%ld", n - 1);
}

/*
 * POST /v1/events — one envelope: append(); an array: append_many(), one
 * statement in one transaction (all or nothing), and the outcome of each
 * element in the array's order: "stored" (201 when any was) or an identical
 * duplicate of one stored before (200).
 */
enum MHD_Result
api_post_events(cs_request *r)
{
	/*
	 * The statement's snapshot predates append_many(): an event it stored
	 * is not visible to it, and its transaction is this one's.
	 */
	static const char many_sql[] =
		"SELECT json_agg(json_build_object('event_id', a.event_id, 'position', a.position,"
		"                  'cursor', candystore.cursor_encode("
		"                      coalesce((SELECT s.xid FROM candystore.event_stream s"
		"                                 WHERE s.position = a.position),"
		"                               pg_current_xact_id()), a.position),"
		"                  'created', a.outcome = 'stored')"
		"                ORDER BY a.ordinality)::text,"
		"       coalesce(bool_or(a.outcome = 'stored'), false)"
		"  FROM candystore.append_many(ARRAY(SELECT e FROM jsonb_array_elements($1::jsonb) e)) a";
	size_t		len;
	const char *body = cs_request_body(r, &len);
	PGconn	   *conn;
	PGresult   *res;
	enum MHD_Result ret;

	if (len == 0)
		return cs_respond_problem(r, 422, NULL, "Unprocessable Content",
								  "The body is empty: send an envelope or an array of envelopes.",
								  NULL, NULL);
	if (first_char(body) != '[')
		return post_one(r, body);
	conn = pool_acquire(2000);
	if (conn == NULL)
		return problem_unavailable(r, pool_acquire_error());
	res = pool_exec_as(conn, cs_request_role(r), config_current()->statement_timeout_ms,
					   many_sql, 1, &body);
	pool_release(conn, PQstatus(conn) != CONNECTION_OK);
	if (!pool_result_ok(res) || PQntuples(res) != 1)
	{
		char		prefix[24];

		element_pointer(res, prefix, sizeof(prefix));
		ret = problem_from_result(r, res, 422, prefix);
	}
	else if (PQgetisnull(res, 0, 0))
		ret = cs_respond_problem(r, 422, NULL, "Unprocessable Content",
								 "The array is empty.", NULL, "");
	else
		ret = cs_respond_json(r, PQgetvalue(res, 0, 1)[0] == 't' ? 201 : 200,
							  PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0));
	PQclear(res);
	return ret;
}
