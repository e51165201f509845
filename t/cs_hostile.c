/*
 * cs_hostile.c
 *	  A hostile producer for the ingest worker's tests: publishes, with
 *	  publisher confirms, every kind of message a producer could send (bodies
 *	  nested 60,000 deep, over the size limit, with NUL bytes, invalid UTF-8,
 *	  random bytes, truncated JSON, huge arrays, empty; headers of every AMQP
 *	  field type with invalid UTF-8 keys and values, nested past any sane
 *	  depth; invalid UTF-8 in every text property and in the routing key),
 *	  a fixed set and then a seeded random mix, interleaved with valid
 *	  events.
 *
 *	  cs_hostile HOST PORT EXCHANGE SEED RANDOM_COUNT MAX_MESSAGE_BYTES MANIFEST
 *
 *	  MANIFEST gets one line per message, tab-separated:
 *	    outcome  stored or dead
 *	    message_id  the message_id property, or - (none, or not valid text)
 *	    sqlstate  the dead letter's, or ? when it depends on the bytes, or -
 *	    label    what the message is
 *	    event_id  of a stored event, or -
 *	    length   of the body
 *	    body     hex of the body (bodies up to 4096 bytes), or -
 *	  and stdout the number published.
 */
#include "cs_amqp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXCHANGE_ARG 3

static amqp_connection_state_t conn;
static const char *exchange;
static uint64_t sent, confirmed;
static FILE *manifest;
static uint64_t rng;
static long next_id;			/* message ids and event ids */
static const char *last_label = "";

static uint64_t
rand64(void)
{
	/* xorshift64*: the same mix for the same seed */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static long
rand_between(long lo, long hi)
{
	return lo + (long) (rand64() % (uint64_t) (hi - lo + 1));
}

/* Text bytes: with invalid UTF-8 in them when `bad`. */
static amqp_bytes_t
text(const char *s, int bad)
{
	static char buf[4096][128];
	static int	next;
	char	   *b = buf[next++ % 4096];
	int			n;

	if (!bad)
		return amqp_cstring_bytes(s);
	/* a lone continuation byte, a truncated sequence, an overlong NUL */
	n = snprintf(b, 100, "%s\x80\xff\xc3", s);
	b[n++] = '\xc0';
	b[n++] = '\x80';
	return (amqp_bytes_t) {(size_t) n, b};
}

/* Headers with a field of every type, nested; invalid text when bad. */
static amqp_table_t
every_type_headers(int bad, int nest)
{
	static amqp_table_entry_t e[256][20];
	static amqp_field_value_t arr[256][4];
	static int	next;
	int			k = next++ % 256;
	amqp_table_entry_t *t = e[k];
	amqp_field_value_t *a = arr[k];
	int			n = 0;

#define ENTRY(name, kind_, member, val) \
	do { t[n].key = text(name, bad && n % 3 == 0); t[n].value.kind = kind_; \
		 t[n].value.value.member = val; n++; } while (0)
	ENTRY("bool", AMQP_FIELD_KIND_BOOLEAN, boolean, 1);
	ENTRY("i8", AMQP_FIELD_KIND_I8, i8, -128);
	ENTRY("u8", AMQP_FIELD_KIND_U8, u8, 255);
	ENTRY("i16", AMQP_FIELD_KIND_I16, i16, -32768);
	ENTRY("u16", AMQP_FIELD_KIND_U16, u16, 65535);
	ENTRY("i32", AMQP_FIELD_KIND_I32, i32, INT32_MIN);
	ENTRY("u32", AMQP_FIELD_KIND_U32, u32, UINT32_MAX);
	ENTRY("i64", AMQP_FIELD_KIND_I64, i64, INT64_MIN);
	ENTRY("u64", AMQP_FIELD_KIND_U64, u64, UINT64_MAX);
	ENTRY("f32", AMQP_FIELD_KIND_F32, f32, 1.5e38f);
	ENTRY("f64", AMQP_FIELD_KIND_F64, f64, bad ? 1.7976931348623157e308 : -2.5e-300);
	ENTRY("decimal", AMQP_FIELD_KIND_DECIMAL, decimal, ((amqp_decimal_t) {255, 4294967295u}));
	ENTRY("utf8", AMQP_FIELD_KIND_UTF8, bytes, text("sn\xc3\xb6w \\ \"q\"", bad));
	ENTRY("bytes", AMQP_FIELD_KIND_BYTES, bytes, ((amqp_bytes_t) {5, "a\0b\xff\x01"}));
	ENTRY("timestamp", AMQP_FIELD_KIND_TIMESTAMP, u64, 1769508900);
	t[n].key = text("void", bad);
	t[n].value.kind = AMQP_FIELD_KIND_VOID;
	n++;
	a[0].kind = AMQP_FIELD_KIND_I32;
	a[0].value.i32 = 7;
	a[1].kind = AMQP_FIELD_KIND_UTF8;
	a[1].value.bytes = text("in array", bad);
	a[2].kind = AMQP_FIELD_KIND_F64;
	a[2].value.f64 = 5e-324;	/* RabbitMQ refuses NaN and infinities */
	a[3].kind = AMQP_FIELD_KIND_VOID;
	ENTRY("array", AMQP_FIELD_KIND_ARRAY, array, ((amqp_array_t) {4, a}));
	if (nest > 0)
		ENTRY("table", AMQP_FIELD_KIND_TABLE, table, every_type_headers(bad, nest - 1));
#undef ENTRY
	return (amqp_table_t) {n, t};
}

/* Publishes and writes the manifest line. */
static void
publish(const char *outcome, const char *sqlstate, const char *label, amqp_bytes_t rk,
		amqp_basic_properties_t *props, const char *body, size_t len, const char *event_id)
{
	int			has_id = (props->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) &&
		memchr(props->message_id.bytes, '\x80', props->message_id.len) == NULL;

	if (amqp_basic_publish(conn, 1, amqp_cstring_bytes(exchange), rk, 0, 0, props,
						   (amqp_bytes_t) {len, (void *) body}) != AMQP_STATUS_OK)
		cs_amqp_die("publish failed");
	last_label = label;
	sent++;
	if (sent % 50 == 0)
		cs_amqp_await_confirms(conn, sent - 25, &confirmed, last_label);
	fprintf(manifest, "%s\t%.*s\t%s\t%s\t%s\t%zu\t", outcome, has_id ? (int) props->message_id.len : 1,
			has_id ? (char *) props->message_id.bytes : "-", sqlstate, label, event_id ? event_id : "-", len);
	if (len <= 4096)
		for (size_t i = 0; i < len; i++)
			fprintf(manifest, "%02x", (unsigned char) body[i]);
	else
		fputc('-', manifest);
	fputc('\n', manifest);
}

/* Properties with a message id ("h-N"), or invalid text in every one. */
static amqp_basic_properties_t
properties(int bad, const char *content_type)
{
	static char id[64][32];
	static int	next;
	char	   *mid = id[next++ % 64];
	amqp_basic_properties_t p;

	memset(&p, 0, sizeof(p));
	snprintf(mid, 32, "h-%ld", next_id);
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
	p.content_type = text(content_type, bad);
	p.delivery_mode = 2;
	p.message_id = text(mid, bad);
	if (bad)
	{
		p._flags |= AMQP_BASIC_CONTENT_ENCODING_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG |
			AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_APP_ID_FLAG |
			AMQP_BASIC_CLUSTER_ID_FLAG | AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
			AMQP_BASIC_PRIORITY_FLAG;
		p.content_encoding = text("gzip", 1);
		p.correlation_id = text("corr", 1);
		p.reply_to = text("reply", 1);
		p.type = text("type", 1);
		p.app_id = text("app", 1);
		p.cluster_id = text("cluster", 1);
		p.expiration = amqp_cstring_bytes("600000");
		p.timestamp = UINT64_MAX;
		p.priority = 9;
	}
	return p;
}

/* A valid envelope; returns its length, its event id in event_id. */
static int
envelope(char *buf, size_t cap, char *event_id)
{
	long		n = next_id;

	snprintf(event_id, 40, "0000c0de-0000-4000-8000-%012lx", n);
	return snprintf(buf, cap,
					"{\"event_id\":\"%s\",\"event_type\":\"test.hostile\","
					"\"timestamp\":\"2026-01-27T10:15:00.123456Z\",\"version\":\"1.0.0\","
					"\"source\":{\"host\":\"h\",\"type\":\"webhook\",\"app\":\"cs_hostile\",\"meta\":null},"
					"\"correlation_ids\":[],\"agent_context\":null,"
					"\"payload\":{\"n\":%ld,\"s\":\"sn\xc3\xb6w \\\\ \\\"q\\\" \\u00e9 \\ud83d\\ude00\","
					"\"a\":[1,2.50,-3e2,true,null,{}],\"o\":{\"z\":1,\"a\":[[[]]]},\"big\":123456789012345678901234567890.5}}",
					event_id, n);
}

static void
valid_event(const char *label, amqp_basic_properties_t *props, amqp_bytes_t rk)
{
	char		body[1024];
	char		event_id[40];
	int			len = envelope(body, sizeof(body), event_id);

	publish("stored", "-", label, rk, props, body, len, event_id);
}

static char *
repeat(const char *unit, long times, const char *tail, size_t *len)
{
	size_t		u = strlen(unit), t = strlen(tail);
	char	   *b = malloc(u * times + t + 1);

	for (long i = 0; i < times; i++)
		memcpy(b + i * u, unit, u);
	memcpy(b + u * times, tail, t + 1);
	*len = u * times + t;
	return b;
}

int
main(int argc, char **argv)
{
	amqp_bytes_t rk = amqp_cstring_bytes("test.hostile");
	amqp_bytes_t bad_rk = text("test.hostile.bad", 1);
	amqp_basic_properties_t p;
	long		random_count, max_bytes;
	size_t		len;
	char	   *b;
	char		body[2048];
	char		event_id[40];
	static const char *const content_types[] = {
		"application/json", "text/plain; charset=latin1", "application/octet-stream", "", "x/\x01\x7f"
	};

	cs_amqp_program = "cs_hostile";
	if (argc != 8)
		cs_amqp_die("usage: cs_hostile HOST PORT EXCHANGE SEED RANDOM_COUNT MAX_MESSAGE_BYTES MANIFEST");
	exchange = argv[EXCHANGE_ARG];
	rng = strtoull(argv[4], NULL, 10) * 2654435761u + 1;
	random_count = atol(argv[5]);
	max_bytes = atol(argv[6]);
	manifest = fopen(argv[7], "w");
	if (manifest == NULL)
		cs_amqp_die("cannot write the manifest");

	conn = cs_amqp_connect(argv[1], argv[2]);
	amqp_confirm_select(conn, 1);
	cs_amqp_check(amqp_get_rpc_reply(conn), "confirm.select");

#define NEXT() (next_id++, p = properties(0, "application/json"))
	/* the fixed set, each between two valid events */
	NEXT();
	valid_event("valid", &p, rk);
	NEXT();
	b = repeat("[", 60000, "", &len);
	publish("dead", "54001", "60,000 nested arrays", rk, &p, b, len, NULL);
	free(b);
	NEXT();
	b = repeat("{\"a\":", 60000, "1", &len);
	publish("dead", "54001", "60,000 nested objects", rk, &p, b, len, NULL);
	free(b);
	NEXT();
	valid_event("valid", &p, rk);
	NEXT();
	b = repeat("[0,", max_bytes / 3 + 100, "0]", &len);
	publish("dead", "54000", "body over max_message_bytes", rk, &p, b, len, NULL);
	free(b);
	NEXT();
	b = repeat(",0", 200000, "]", &len);
	b[0] = '[';
	publish("dead", "?", "huge array", rk, &p, b, len, NULL);
	free(b);
	NEXT();
	len = snprintf(body, sizeof(body), "{\"event_id\":\"x\"}");
	body[len++] = '\0';
	memcpy(body + len, "\xff after NUL", 11);
	len += 11;
	publish("dead", "22021", "NUL byte in body", rk, &p, body, len, NULL);
	NEXT();
	publish("dead", "22021", "invalid UTF-8 body", rk, &p, "{\"s\":\"\xc3\x28\"}", 10, NULL);
	NEXT();
	publish("dead", "22P02", "empty body", rk, &p, "", 0, NULL);
	NEXT();
	p._flags |= AMQP_BASIC_HEADERS_FLAG;
	p.headers = every_type_headers(1, 3);
	publish("dead", "22P02", "invalid UTF-8 header keys, malformed body", rk, &p, "{not json", 9, NULL);
	NEXT();
	len = envelope(body, sizeof(body), event_id);
	publish("dead", "22021", "invalid UTF-8 routing key", bad_rk, &p, body, len, NULL);
	NEXT();
	len = envelope(body, sizeof(body), event_id);
	b = strstr(body, "\"big\":") + 6;
	memset(b, ' ', 32);
	memcpy(b, "1e1000000", 9);
	publish("dead", "22003", "number out of range", rk, &p, body, len, NULL);
	NEXT();
	p = properties(1, "application/json");
	p._flags |= AMQP_BASIC_HEADERS_FLAG;
	p.headers = every_type_headers(1, 100);
	valid_event("valid, invalid text in every property and header", &p, rk);
	/* at the nesting limit (1000 levels, the envelope's own included): stored; one more: not */
	for (int depth = 1000; depth <= 1001; depth++)
	{
		char	   *deep = malloc(4096);
		char	   *at;

		NEXT();
		len = envelope(body, sizeof(body), event_id);
		at = strstr(body, "\"payload\":") + 10;
		memcpy(deep, body, at - body);
		len = at - body;
		/* the payload must be an object: {"d": [[...]]} */
		memcpy(deep + len, "{\"d\":", 5);
		len += 5;
		for (int i = 2; i < depth; i++)
			deep[len++] = '[';
		for (int i = 2; i < depth; i++)
			deep[len++] = ']';
		deep[len++] = '}';
		deep[len++] = '}';
		if (depth == 1000)
			publish("stored", "-", "valid, nested 1000 levels", rk, &p, deep, len, event_id);
		else
			publish("dead", "54001", "nested 1001 levels", rk, &p, deep, len, NULL);
		free(deep);
	}
	/* the same bytes twice, no identity: two messages, two dead letters */
	for (int i = 0; i < 2; i++)
	{
		NEXT();
		p._flags &= ~AMQP_BASIC_MESSAGE_ID_FLAG;
		publish("dead", "22P02", "identical malformed body", rk, &p, "{\"twice\": ", 10, NULL);
	}

	/* the seeded mix */
	for (long i = 0; i < random_count; i++)
	{
		long		kind = rand_between(0, 9);

		NEXT();
		p.content_type = amqp_cstring_bytes(content_types[rand_between(0, 4)]);
		if (rand_between(0, 3) == 0)
		{
			p._flags |= AMQP_BASIC_HEADERS_FLAG;
			p.headers = every_type_headers((int) rand_between(0, 1), (int) rand_between(0, 5));
		}
		switch (kind)
		{
			case 0:
			case 1:
			case 2:
				valid_event("valid", &p, rk);
				break;
			case 3:
				len = (size_t) rand_between(0, 300);
				for (size_t j = 0; j < len; j++)
					body[j] = (char) rand64();
				/* never a valid envelope: it must be an object */
				if (len > 0 && body[0] == '{')
					body[0] = '[';
				publish("dead", "?", "random bytes", rk, &p, body, len, NULL);
				break;
			case 4:
				len = envelope(body, sizeof(body), event_id);
				publish("dead", "?", "truncated JSON", rk, &p, body, (size_t) rand_between(0, (long) len - 1), NULL);
				break;
			case 5:
				b = repeat(rand_between(0, 1) ? "[" : "{\"k\":", rand_between(1001, 40000), "", &len);
				publish("dead", "54001", "deep nesting", rk, &p, b, len, NULL);
				free(b);
				break;
			case 6:
				b = repeat(",1.5", rand_between(1000, 50000), ",{}]", &len);
				b[0] = '[';
				publish("dead", "?", "huge array", rk, &p, b, len, NULL);
				free(b);
				break;
			case 7:
				p = properties(1, "application/json");
				valid_event("valid, invalid text in every property", &p, rk);
				break;
			case 8:
				len = envelope(body, sizeof(body), event_id);
				publish("dead", "22021", "invalid UTF-8 routing key", bad_rk, &p, body, len, NULL);
				break;
			case 9:
				publish("dead", "22P02", "empty body", rk, &p, "", 0, NULL);
				break;
		}
	}
	NEXT();
	valid_event("valid", &p, rk);
	cs_amqp_await_confirms(conn, sent, &confirmed, last_label);
	cs_amqp_close(conn);
	fclose(manifest);
	printf("%lu\n", (unsigned long) sent);
	return 0;
}
