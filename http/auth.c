/*
 * auth.c — bearer tokens (auth.h).
 *
 * The cache is a fixed table indexed by the token hash's first bytes: a
 * collision only costs a database lookup, and its size is bounded whatever
 * tokens clients make up.  An unknown token is cached too (briefly), so a
 * client hammering with a bad token does not hammer the database.
 */
#include "auth.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "pool.h"
#include "problem.h"

#define CACHE_SLOTS 1024
#define KNOWN_TTL_S 10
#define UNKNOWN_TTL_S 2
#define MAX_TOKEN_LEN 512

typedef struct
{
	unsigned char hash[32];
	bool		used;
	bool		known;
	char		role[64];		/* NAMEDATALEN */
	time_t		expires;
} cache_entry;

static cache_entry cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* SHA-256 fetched from OpenSSL's provider once, not at every request */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void
auth_forget(void)
{
	pthread_mutex_lock(&cache_lock);
	memset(cache, 0, sizeof(cache));
	pthread_mutex_unlock(&cache_lock);
}

static time_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static unsigned
slot_of(const unsigned char *hash)
{
	return ((unsigned) hash[0] << 8 | hash[1]) % CACHE_SLOTS;
}

/* 1: known (role filled), 0: known to be unknown, -1: not cached */
static int
cache_get(const unsigned char *hash, char *role)
{
	int			found = -1;
	cache_entry *e = &cache[slot_of(hash)];

	pthread_mutex_lock(&cache_lock);
	if (e->used && memcmp(e->hash, hash, 32) == 0 && e->expires > now_s())
	{
		found = e->known ? 1 : 0;
		memcpy(role, e->role, sizeof(e->role));
	}
	pthread_mutex_unlock(&cache_lock);
	return found;
}

static void
cache_put(const unsigned char *hash, const char *role)
{
	cache_entry *e = &cache[slot_of(hash)];

	pthread_mutex_lock(&cache_lock);
	memcpy(e->hash, hash, 32);
	e->used = true;
	e->known = role != NULL;
	snprintf(e->role, sizeof(e->role), "%s", role ? role : "");
	e->expires = now_s() + (role ? KNOWN_TTL_S : UNKNOWN_TTL_S);
	pthread_mutex_unlock(&cache_lock);
}

static enum MHD_Result
unauthorized(cs_request *r, const char *detail)
{
	return cs_respond_problem(r, 401, NULL, "Unauthorized", detail,
							  "Send \"Authorization: Bearer <token>\" with a token from candystore.create_api_token().",
							  NULL);
}

bool
auth_authenticate(cs_request *r, enum MHD_Result *ret)
{
	const char *h = cs_request_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *token;
	unsigned char hash[32];
	unsigned int hashlen = 0;
	char		role[64];
	int			cached;
	PGconn	   *conn;
	PGresult   *res;
	const char *params[1];

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
	{
		*ret = unauthorized(r, "This resource needs a bearer token.");
		return false;
	}
	token = h + 7;
	while (*token == ' ')
		token++;
	if (*token == '\0' || strlen(token) > MAX_TOKEN_LEN)
	{
		*ret = unauthorized(r, "The bearer token is not one this server issued.");
		return false;
	}
	pthread_once(&sha256_once, sha256_fetch);
	if (sha256 == NULL ||
		!EVP_Digest(token, strlen(token), hash, &hashlen, sha256, NULL) || hashlen != 32)
	{
		*ret = cs_respond_problem(r, 500, NULL, "Internal Server Error", NULL, NULL, NULL);
		return false;
	}

	cached = cache_get(hash, role);
	if (cached == 0)
	{
		*ret = unauthorized(r, "The bearer token is unknown, expired or revoked.");
		return false;
	}
	if (cached == 1)
	{
		request_set_role(r, role);
		return true;
	}

	conn = pool_acquire(2000);
	if (conn == NULL)
	{
		*ret = problem_unavailable(r, pool_acquire_error());
		return false;
	}
	params[0] = token;
	/* the authenticator is NOINHERIT: it calls api_token_role() as candystore_http */
	res = pool_exec_as(conn, "candystore_http", config_current()->statement_timeout_ms,
					   "SELECT candystore.api_token_role($1)", 1, params);
	if (!pool_result_ok(res))
	{
		pool_release(conn, PQstatus(conn) != CONNECTION_OK);
		*ret = problem_from_result(r, res, 0, NULL);
		PQclear(res);
		return false;
	}
	pool_release(conn, false);
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		cache_put(hash, NULL);
		*ret = unauthorized(r, "The bearer token is unknown, expired or revoked.");
		return false;
	}
	snprintf(role, sizeof(role), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	cache_put(hash, role);
	request_set_role(r, role);
	return true;
}
