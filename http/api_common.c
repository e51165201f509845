/*
 * api_common.c — what the REST handlers share (api.h): a statement run in
 * the request role's transaction, and the checks of path and query
 * parameters.  Every value reaches PostgreSQL as a parameter, never as SQL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "json.h"
#include "lookup_queue.h"
#include "pool.h"
#include "problem.h"

/* how long a request waits for a database connection before 503 */
#define ACQUIRE_TIMEOUT_MS 2000

PGresult *
api_query(cs_request *r, const char *sql, int nparams, const char *const *values,
		  unsigned invalid_input_status, enum MHD_Result *ret)
{
	PGconn	   *conn = pool_acquire(ACQUIRE_TIMEOUT_MS);
	PGresult   *res;

	if (conn == NULL)
	{
		*ret = problem_unavailable(r, pool_acquire_error());
		return NULL;
	}
	res = pool_exec_as(conn, cs_request_role(r), config_current()->statement_timeout_ms,
					   sql, nparams, values);
	pool_release(conn, PQstatus(conn) != CONNECTION_OK);
	if (!pool_result_ok(res))
	{
		*ret = problem_from_result(r, res, invalid_input_status, NULL);
		PQclear(res);
		return NULL;
	}
	return res;
}

PGresult *
api_query_batched(cs_request *r, const char *sql, int nparams, const char *const *values,
				  unsigned invalid_input_status, enum MHD_Result *ret)
{
	PGresult   *res;
	const char *error;

	if (!lookup_queue_result(r, &res, &error))
	{
		if (!lookup_queue_submit(r, sql, nparams, values))
			return api_query(r, sql, nparams, values, invalid_input_status, ret);
		*ret = MHD_YES;			/* suspended: called again with the result */
		return NULL;
	}
	if (res == NULL)
	{
		*ret = problem_unavailable(r, error);
		return NULL;
	}
	if (!pool_result_ok(res))
	{
		*ret = problem_from_result(r, res, invalid_input_status, NULL);
		PQclear(res);
		return NULL;
	}
	return res;
}

enum MHD_Result
api_query_one(cs_request *r, const char *sql, int nparams, const char *const *values,
			  const char *content_type, const char *not_found, unsigned invalid_input_status)
{
	enum MHD_Result ret;
	PGresult   *res = api_query(r, sql, nparams, values, invalid_input_status, &ret);

	if (res == NULL)
		return ret;
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
		ret = cs_respond_problem(r, 404, NULL, "Not Found", not_found, NULL, NULL);
	else
		ret = cs_respond(r, 200, content_type, PQgetvalue(res, 0, 0),
						 (size_t) PQgetlength(res, 0, 0));
	PQclear(res);
	return ret;
}

bool
api_is_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (s == NULL || strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < sizeof(shape) - 1; i++)
	{
		char		c = s[i];

		if (shape[i] == '-')
		{
			if (c != '-')
				return false;
		}
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static enum MHD_Result
bad_parameter(cs_request *r, const char *name, const char *what)
{
	char		detail[256];

	snprintf(detail, sizeof(detail), "Query parameter \"%s\" %s.", name, what);
	return cs_respond_problem(r, 400, NULL, "Bad Request", detail, NULL, NULL);
}

bool
api_query_text(cs_request *r, const char *name, size_t maxlen, const char **value,
			   enum MHD_Result *ret)
{
	const char *v = cs_request_query(r, name);

	*value = v;
	if (v == NULL)
		return true;
	if (!utf8_valid(v, strlen(v)))
	{
		*ret = bad_parameter(r, name, "is not valid UTF-8 or holds a NUL byte");
		return false;
	}
	if (strlen(v) > maxlen)
	{
		*ret = bad_parameter(r, name, "is too long");
		return false;
	}
	return true;
}

bool
api_query_int(cs_request *r, const char *name, long min, long max, long dflt, long *value,
			  enum MHD_Result *ret)
{
	const char *v = cs_request_query(r, name);
	char	   *end;
	long		n;

	*value = dflt;
	if (v == NULL)
		return true;
	errno = 0;
	n = strtol(v, &end, 10);
	if (v[0] == '\0' || *end != '\0' || errno != 0 || n < min || n > max)
	{
		char		what[96];

		snprintf(what, sizeof(what), "must be an integer from %ld to %ld", min, max);
		*ret = bad_parameter(r, name, what);
		return false;
	}
	*value = n;
	return true;
}

bool
api_event_id(cs_request *r, const char **id, enum MHD_Result *ret)
{
	*id = cs_request_param(r, "event_id");
	if (!api_is_uuid(*id))
	{
		*ret = cs_respond_problem(r, 400, NULL, "Bad Request",
								  "The event id is not a UUID (8-4-4-4-12 hexadecimal digits).",
								  NULL, NULL);
		return false;
	}
	return true;
}
