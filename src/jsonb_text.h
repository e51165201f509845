/*
 * jsonb_text.h
 *	  JSON text to jsonb in one pass, reporting malformed JSON instead of
 *	  throwing: the ingest worker's parse of each message body.
 */
#ifndef CANDYSTORE_JSONB_TEXT_H
#define CANDYSTORE_JSONB_TEXT_H

#include "postgres.h"
#include "utils/jsonb.h"

/* Why a text is not JSON jsonb can hold: enough for a dead letter. */
typedef struct JsonbTextError
{
	int			sqlstate;		/* 22P02, or 22P05 for \u0000 */
	char	   *message;		/* what jsonb_in's errmsg and errdetail say */
} JsonbTextError;

/*
 * The jsonb jsonb_in() makes of json[0 .. len), which must hold no NUL byte
 * and be valid in the database encoding; or NULL with *error filled when it
 * is not valid JSON.  Throws as jsonb_in() does only for what a valid text
 * can still exceed: a number numeric cannot hold, a string or a document too
 * large for jsonb, nesting deeper than max_stack_depth allows.
 */
extern Jsonb *jsonb_from_text(char *json, int len, JsonbTextError *error);

#endif
