/*
 * jsonb_text.h
 *	  JSON text to jsonb in one pass, reporting malformed JSON instead of
 *	  throwing: the ingest worker's parse of each message body.
 */
#ifndef CANDYSTORE_JSONB_TEXT_H
#define CANDYSTORE_JSONB_TEXT_H

#include "postgres.h"
#include "utils/jsonb.h"

/*
 * Deepest nesting of objects and arrays accepted.  jsonb_in() goes as deep
 * as max_stack_depth allows and raises 54001 beyond; every later step of
 * storing an event (envelope, schema validation, indexing) walks the
 * document recursively too, so the limit is well inside what the default
 * 2MB allows (t/hostile_producer.pl stores an event this deep).
 */
#define JSONB_TEXT_MAX_DEPTH 1000

/* Why a text is not JSON jsonb can hold: enough for a dead letter. */
typedef struct JsonbTextError
{
	int			sqlstate;		/* 22P02, 22P05 for \u0000; 54001 nested
								 * deeper than JSONB_TEXT_MAX_DEPTH, 54000 a
								 * string longer than jsonb holds */
	char	   *message;		/* what jsonb_in's errmsg and errdetail say */
} JsonbTextError;

/*
 * The jsonb jsonb_in() makes of json[0 .. len), which must hold no NUL byte
 * and be valid in the database encoding; or NULL with *error filled when it
 * is not valid JSON or exceeds a limit above.  Throws as jsonb_in() does
 * only for a number numeric cannot hold (22003, a data error) and for what
 * only a document far larger than candystore.max_message_bytes allows can
 * reach (jsonb's 256MB per container, MaxAllocSize).
 */
extern Jsonb *jsonb_from_text(char *json, int len, JsonbTextError *error);

#endif
