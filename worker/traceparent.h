/*
 * traceparent.h
 *	  W3C Trace Context (https://www.w3.org/TR/trace-context/) headers of an
 *	  AMQP message: the traceparent parsed strictly, and the trace_context
 *	  the ingest worker records when the envelope carries none
 *	  (worker/traceparent.c).
 */
#ifndef CANDYSTORE_TRACEPARENT_H
#define CANDYSTORE_TRACEPARENT_H

#include "postgres.h"

#include <amqp.h>

#define TRACEPARENT_LEN 55		/* version 00: 2+1+32+1+16+1+2 */
#define TRACESTATE_MAX_LEN 512	/* what the W3C asks every vendor to propagate */

typedef struct Traceparent
{
	char		version[3];
	char		trace_id[33];
	char		parent_id[17];
	char		flags[3];
} Traceparent;

/*
 * Whether the bytes are a traceparent: version-traceid-parentid-flags in
 * lowercase hex, version not ff, trace id and parent id not all zeros;
 * version 00 exactly so, a later version possibly followed by "-..." (the
 * fields it adds, ignored).  Fills *out when true.
 */
extern bool traceparent_parse(const char *s, size_t len, Traceparent *out);

/* Whether s[0..n) is n lowercase hex digits, not all zeros when nonzero is asked. */
extern bool traceparent_lower_hex(const char *s, int n, bool nonzero);

/* Whether the bytes can be passed on as a tracestate: printable ASCII, at most TRACESTATE_MAX_LEN. */
extern bool tracestate_acceptable(const char *s, size_t len);

/*
 * The trace_context to record from the message's headers, as JSON text
 * (palloc'd), or NULL when they hold no valid traceparent:
 * {"traceparent": ..., "trace_id": ..., "span_id": ..., "trace_flags": ...,
 *  ["tracestate": ...,] "source": "amqp_header"}.
 */
extern char *trace_context_from_headers(const amqp_table_t *headers);

#endif
