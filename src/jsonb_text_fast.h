/*
 * jsonb_text_fast.h
 *	  The fast path of jsonb_from_text() (jsonb_text.c): ordinary message
 *	  bodies parsed straight into a JsonbValue tree, without the lexer.
 */
#ifndef CANDYSTORE_JSONB_TEXT_FAST_H
#define CANDYSTORE_JSONB_TEXT_FAST_H

#include "postgres.h"
#include "utils/jsonb.h"

/*
 * The jsonb jsonb_in() makes of json[0 .. len) (no NUL byte, valid in the
 * database encoding), or NULL when the text holds anything this path leaves
 * to the full parser: a \u escape, a number with an exponent or more than a
 * few digits, nesting deeper than JSONB_TEXT_MAX_DEPTH, or any error.  Never
 * throws for the text.
 */
extern Jsonb *jsonb_from_text_fast(char *json, int len);

#endif
