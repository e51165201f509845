/*
 * jcs.h
 *	  RFC 8785 JSON Canonicalization Scheme (JCS) of a jsonb value: the bytes
 *	  a signature covers (signing.c).  docs/internals.md ("Canonical JSON for
 *	  signatures") states the rules, numbers included.
 */
#ifndef CANDYSTORE_JCS_H
#define CANDYSTORE_JCS_H

#include "postgres.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/*
 * Appends the canonical form of the jsonb to out, leaving out the top-level
 * key omit_key (NULL: none).  Returns false, with *why set (palloc'd), for a
 * number whose ECMAScript form would not denote the same value (JCS numbers
 * are IEEE doubles): nothing may be signed that a verifier would read
 * differently.  Raises only for stack depth.
 */
extern bool jcs_append(StringInfo out, Jsonb *jb, const char *omit_key, char **why);

/* Receives the canonical form piece by piece, in order. */
typedef void (*JcsSink) (void *arg, const char *data, size_t len);

/*
 * The same form, passed to sink as it is written (a MAC needs no copy of
 * it); what jcs_append() returns for the same arguments.  On false the sink
 * has had part of the form.
 */
extern bool jcs_stream(Jsonb *jb, const char *omit_key, JcsSink sink, void *arg, char **why);

#endif
