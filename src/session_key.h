/*
 * session_key.h
 *	  The session an event belongs to, for candystore.session_timeline().
 */
#ifndef CANDYSTORE_SESSION_KEY_H
#define CANDYSTORE_SESSION_KEY_H

#include "postgres.h"
#include "utils/jsonb.h"

/*
 * coalesce(envelope->'payload'->>'session_id',
 *          envelope->'payload'->>'meeting_id'), or NULL.
 */
extern text *session_key(Jsonb *envelope);

#endif
