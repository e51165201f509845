/*
 * jsonb_serialize.h
 *	  A JsonbValue tree written as jsonb, without JsonbValueToJsonb()'s
 *	  StringInfo (jsonb_serialize.c).
 */
#ifndef CANDYSTORE_JSONB_SERIALIZE_H
#define CANDYSTORE_JSONB_SERIALIZE_H

#include "postgres.h"
#include "utils/jsonb.h"

/*
 * The jsonb JsonbValueToJsonb() makes of v, byte for byte.  A tree it does
 * not write itself (a scalar at the top, jbvBinary or datetime values, more
 * than jsonb can hold) goes to JsonbValueToJsonb().
 */
extern Jsonb *jsonb_serialize(JsonbValue *v);

#endif
