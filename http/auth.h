/*
 * auth.h — "Authorization: Bearer <token>" to a PostgreSQL role, through
 * candystore.api_token_role(token) run as the authenticator; answers are
 * cached for up to 10 seconds, keyed by the token's SHA-256, never the token.
 */
#ifndef CS_HTTP_AUTH_H
#define CS_HTTP_AUTH_H

#include <stdbool.h>

#include "request.h"

/*
 * Sets the request's role and returns true, or queues 401 (no or unknown
 * token) / 503 (database unreachable) into *ret and returns false.
 */
bool		auth_authenticate(cs_request *r, enum MHD_Result *ret);
/* SIGHUP: forget every cached answer */
void		auth_forget(void);

#endif
