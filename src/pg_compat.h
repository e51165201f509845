/*
 * pg_compat.h
 *	  The PostgreSQL major versions candystore builds against, and why not
 *	  the others.
 *
 *	  candystore is built and tested on PostgreSQL 15 only.  Each API below
 *	  is known to differ in another major version; the files that use one
 *	  include this header (after postgres.h), so a build against such a
 *	  version stops here, naming the reason, instead of failing somewhere
 *	  obscure or, worse, building something nobody has run.  To port, adapt
 *	  the code named, build, run `make test`, then narrow the check.
 */
#ifndef PG_COMPAT_H
#define PG_COMPAT_H

/*
 * Before 15: shared memory is requested from shmem_request_hook
 * (src/shmem_area.c) and set-returning functions start with
 * InitMaterializedSRF; both are new in 15 (14 requested memory directly
 * in _PG_init and had SetSingleFuncCall).  So is MarkGUCPrefixReserved
 * (EmitWarningsOnPlaceholders before).
 */
#if PG_VERSION_NUM < 150000
#error "candystore supports PostgreSQL 15; 14 and older are not supported (shmem_request_hook and InitMaterializedSRF are new in 15)"
#endif

/*
 * 16: none of the differences known (pg_parse_json's semantic actions
 * return JsonParseErrorType; candystore calls none) touches this code,
 * but it has never been built or tested against 16.
 */
#if PG_VERSION_NUM >= 160000 && PG_VERSION_NUM < 170000
#error "candystore supports PostgreSQL 15; 16 is not supported (never built or tested against it)"
#endif

/*
 * 17 and later: the JSON lexer src/jsonb_text.c drives changed:
 * makeJsonLexContextCstringLen() takes a JsonLexContext to fill first, and
 * the lexer's input and token pointers are const char *.
 */
#if PG_VERSION_NUM >= 170000
#error "candystore supports PostgreSQL 15; 17 and later are not supported (the JSON lexer's API changed: makeJsonLexContextCstringLen and const token pointers, used by src/jsonb_text.c)"
#endif

#endif							/* PG_COMPAT_H */
