/*
 * problem.c — problem documents (problem.h).
 */
#include "problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

/* the type URI's last part for a problem that no SQLSTATE names */
static const char *
slug_for_status(unsigned status)
{
	switch (status)
	{
		case 400:
			return "bad-request";
		case 401:
			return "unauthorized";
		case 403:
			return "forbidden";
		case 404:
			return "not-found";
		case 405:
			return "method-not-allowed";
		case 409:
			return "conflict";
		case 413:
			return "content-too-large";
		case 415:
			return "unsupported-media-type";
		case 422:
			return "unprocessable-content";
		case 501:
			return "not-implemented";
		case 503:
			return "service-unavailable";
		default:
			return "internal-error";
	}
}

enum MHD_Result
cs_respond_problem(cs_request *r, unsigned status, const char *sqlstate,
				   const char *title, const char *detail, const char *hint,
				   const char *pointer)
{
	jbuf		b;
	bool		first = true;
	enum MHD_Result ret;

	jbuf_init(&b);
	jbuf_append(&b, "{", 1);
	jbuf_puts(&b, "\"type\":");
	first = false;
	{
		char		type[96];

		snprintf(type, sizeof(type), "https://candystore.dev/problems/%s",
				 sqlstate ? sqlstate : slug_for_status(status));
		jbuf_str(&b, type);
	}
	jbuf_field_str(&b, &first, "title", title);
	jbuf_printf(&b, ",\"status\":%u", status);
	jbuf_field_str(&b, &first, "detail", detail);
	jbuf_field_str(&b, &first, "hint", hint);
	jbuf_field_str(&b, &first, "sqlstate", sqlstate);
	jbuf_field_str(&b, &first, "pointer", pointer);
	jbuf_field_str(&b, &first, "request_id", cs_request_id(r));
	jbuf_append(&b, "}", 1);
	if (status == 401)
		cs_request_add_header(r, "WWW-Authenticate", "Bearer realm=\"candystore\"");
	if (status == 503)
		cs_request_add_header(r, "Retry-After", "1");
	ret = cs_respond(r, status, "application/problem+json", b.data, b.len);
	jbuf_free(&b);
	return ret;
}

unsigned
problem_status_for_sqlstate(const char *s)
{
	if (s == NULL || strlen(s) != 5)
		return 503;
	/* a stored event with this id, or a schema change the registry calls incompatible */
	if (strcmp(s, "23505") == 0 || strcmp(s, "22V03") == 0)
		return 409;
	if (strncmp(s, "22", 2) == 0 || strcmp(s, "23502") == 0 || strcmp(s, "23514") == 0)
		return 422;
	if (strcmp(s, "42501") == 0)
		return 403;
	if (strcmp(s, "P0002") == 0 || strcmp(s, "02000") == 0)
		return 404;
	if (strcmp(s, "57014") == 0 || strncmp(s, "53", 2) == 0 || strncmp(s, "08", 2) == 0 ||
		strncmp(s, "57P0", 4) == 0 || strcmp(s, "55V01") == 0 || strcmp(s, "40001") == 0 ||
		strcmp(s, "40P01") == 0)
		return 503;
	return 500;
}

/*
 * append() names the refused part in its message:
 *   invalid envelope: "source" must be an object
 *   invalid payload for event type "x.y": /payload/a/b: ...
 */
char *
problem_pointer_from_message(const char *m)
{
	const char *p;

	if (m == NULL)
		return NULL;
	if (strncmp(m, "invalid envelope: \"", 19) == 0)
	{
		const char *start = m + 19;
		const char *end = strchr(start, '"');
		char	   *out;

		if (end == NULL || end == start)
			return NULL;
		out = malloc((size_t) (end - start) + 2);
		if (out == NULL)
			return NULL;
		out[0] = '/';
		memcpy(out + 1, start, (size_t) (end - start));
		out[end - start + 1] = '\0';
		return out;
	}
	if (strncmp(m, "invalid payload for event type ", 31) == 0 &&
		(p = strstr(m, ": /payload")) != NULL)
	{
		const char *start = p + 2;
		const char *end = strstr(start, ": ");

		return end ? strndup(start, (size_t) (end - start)) : strdup(start);
	}
	return NULL;
}

enum MHD_Result
problem_from_result(cs_request *r, const PGresult *res, unsigned invalid_input_status,
					const char *pointer_prefix)
{
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	unsigned	status = problem_status_for_sqlstate(sqlstate);
	char	   *pointer;
	enum MHD_Result ret;

	if (status == 422 && invalid_input_status != 0)
		status = invalid_input_status;
	if (status == 500 || sqlstate == NULL)
	{
		jbuf		f;
		bool		first = true;

		jbuf_init(&f);
		jbuf_field_str(&f, &first, "sqlstate", sqlstate);
		jbuf_field_str(&f, &first, "error", message ? message : PQresultErrorMessage(res));
		jbuf_field_str(&f, &first, "detail", detail);
		cs_log(CS_LOG_ERROR, cs_request_id(r), "database error", f.data);
		jbuf_free(&f);
		if (status == 500)
			return cs_respond_problem(r, 500, NULL, "Internal Server Error",
									  "The error is logged with this request id.", NULL, NULL);
		return cs_respond_problem(r, 503, NULL, "Database unavailable",
								  "The connection to the database failed.", NULL, NULL);
	}
	pointer = problem_pointer_from_message(message);
	if (pointer_prefix != NULL && pointer_prefix[0] != '\0')
	{
		size_t		n = strlen(pointer_prefix) + (pointer ? strlen(pointer) : 0) + 1;
		char	   *full = malloc(n);

		if (full == NULL)
			abort();
		snprintf(full, n, "%s%s", pointer_prefix, pointer ? pointer : "");
		free(pointer);
		pointer = full;
	}
	ret = cs_respond_problem(r, status, sqlstate, message, detail, hint, pointer);
	free(pointer);
	return ret;
}

enum MHD_Result
problem_unavailable(cs_request *r, const char *why)
{
	jbuf		f;
	bool		first = true;

	jbuf_init(&f);
	jbuf_field_str(&f, &first, "reason", why);
	cs_log(CS_LOG_WARN, cs_request_id(r), "database unavailable", f.data);
	jbuf_free(&f);
	return cs_respond_problem(r, 503, NULL, "Database unavailable",
							  "No database connection could be had in time.", NULL, NULL);
}
