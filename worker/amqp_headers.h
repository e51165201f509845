/*
 * amqp_headers.h
 *	  A message's AMQP headers, properties and text fields as text that is
 *	  always valid in the database and always accepted as jsonb: no ERROR,
 *	  whatever the publisher sent (worker/amqp_headers.c).
 */
#ifndef CANDYSTORE_AMQP_HEADERS_H
#define CANDYSTORE_AMQP_HEADERS_H

#include "postgres.h"

#include <amqp.h>

/* tables and arrays nested deeper are written as a string saying so */
#define AMQP_HEADERS_MAX_DEPTH 64

/* Whether bytes are text the database can hold: UTF-8 valid in its encoding, no NUL. */
extern bool amqp_text_valid(const void *bytes, size_t len);

/*
 * The bytes as a palloc'd C string: as they are when *valid, else escaped
 * (\xNN for each byte not part of a valid character, \\ for a backslash).
 */
extern char *amqp_text(const void *bytes, size_t len, bool *valid);

/* A header table as a JSON object. */
extern char *amqp_headers_json(const amqp_table_t *headers);

/*
 * Copies the exchange and the basic properties but the headers (text
 * fields in one palloc'd block, as received), for amqp_properties_json later.
 */
extern void amqp_properties_copy(amqp_basic_properties_t *dst, amqp_bytes_t *dst_exchange,
								 const amqp_basic_properties_t *src, amqp_bytes_t exchange);

/* The exchange and the basic properties present (not the headers), as a JSON object. */
extern char *amqp_properties_json(const amqp_basic_properties_t *props, amqp_bytes_t exchange);

#endif
