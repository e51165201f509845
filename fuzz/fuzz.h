/*
 * fuzz.h
 *	  libFuzzer targets that run inside a real PostgreSQL backend against the
 *	  real (instrumented) candystore.so.  driver.c owns the per-input
 *	  isolation; each target file only turns bytes into engine calls.
 *
 *	  Targets reach the engine through load_external_function(), as one
 *	  extension calls another; libFuzzer itself is linked into the fuzzing
 *	  build of candystore.so (fuzz/engine/run_driver.c says why).
 */
#ifndef CANDYSTORE_FUZZ_H
#define CANDYSTORE_FUZZ_H

#include "postgres.h"

#include "utils/jsonb.h"

/* One fuzz target: runs one input; throwing ERROR is a valid outcome. */
typedef struct FuzzTarget
{
	const char *name;
	void		(*init) (void);	/* resolves engine entry points, once */
	void		(*run) (const uint8_t *data, size_t size);
} FuzzTarget;

extern const FuzzTarget fuzz_target_jsonschema;
extern const FuzzTarget fuzz_target_envelope;
extern const FuzzTarget fuzz_target_patterns;
extern const FuzzTarget fuzz_target_jsonb_text;
extern const FuzzTarget fuzz_target_amqp_headers;
extern const FuzzTarget fuzz_target_signature;
extern const FuzzTarget fuzz_target_archive_lines;
extern const FuzzTarget fuzz_target_event_type_patterns;

/* An entry point of candystore.so, by symbol name. */
extern void *fuzz_engine_symbol(const char *name);

/*
 * Text parsed as JSON (jsonb_in: throws for invalid JSON), copied into a
 * malloc'd block of exactly its size, so AddressSanitizer sees any read past
 * its end (palloc'd memory sits inside larger blocks ASan cannot police).
 */
extern Jsonb *fuzz_jsonb(const char *text, size_t len);

/*
 * jsonb_in(text) in a subtransaction: the jsonb, or NULL with *error set
 * to what it raised (an oracle for the engine's own parsers).
 */
extern Jsonb *fuzz_jsonb_in(char *text, ErrorData **error);

/*
 * The bytes as the engine sees jsonb strings: an exactly-sized malloc'd
 * copy, not NUL-terminated.  NULL when they could not be a jsonb string
 * (invalid UTF-8 or a NUL byte), which the engine never receives.
 */
extern char *fuzz_string(const uint8_t *data, size_t len);

/* Same, with a terminating NUL (for the entry points that take C strings). */
extern char *fuzz_cstring(const uint8_t *data, size_t len);

/* Splits data at the first NUL; returns the length before it, and sets
 * *rest and *restlen to what follows (empty without a NUL). */
extern size_t fuzz_split(const uint8_t *data, size_t size,
						 const uint8_t **rest, size_t *restlen);

/* Reports a defect (not a clean ERROR) and aborts: libFuzzer saves the input. */
extern void fuzz_finding(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

#endif
