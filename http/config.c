/*
 * config.c — flags and environment variables into a cs_config.
 *
 * One table lists every setting once: its flag, its variable, its kind and
 * its bounds, so that the help text, the parsing and the docs agree.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum
{
	OPT_STRING,
	OPT_INT,
	OPT_SIZE,
	OPT_BOOL,
	OPT_LOGLEVEL
} opt_kind;

typedef struct
{
	const char *flag;
	const char *env;
	opt_kind	kind;
	size_t		offset;
	long long	min;
	long long	max;
	const char *help;
} opt_def;

#define OFF(f) offsetof(cs_config, f)

static const opt_def options[] = {
	{"listen", "CANDYSTORE_HTTP_LISTEN", OPT_STRING, OFF(listen), 0, 0,
	"address:port to listen on (default 127.0.0.1:8683; [::1]:8683 for IPv6)"},
	{"db", "CANDYSTORE_HTTP_DB", OPT_STRING, OFF(db), 0, 0,
	"libpq connection string of the authenticator role (default: libpq's PG* variables)"},
	{"pool-size", "CANDYSTORE_HTTP_POOL_SIZE", OPT_INT, OFF(pool_size), 1, 1000,
	"database connections (default 8)"},
	{"threads", "CANDYSTORE_HTTP_THREADS", OPT_INT, OFF(threads), 1, 256,
	"HTTP worker threads (default 4)"},
	{"tls-cert", "CANDYSTORE_HTTP_TLS_CERT", OPT_STRING, OFF(tls_cert), 0, 0,
	"PEM certificate file: serve HTTPS (with --tls-key)"},
	{"tls-key", "CANDYSTORE_HTTP_TLS_KEY", OPT_STRING, OFF(tls_key), 0, 0,
	"PEM private key file"},
	{"max-body-bytes", "CANDYSTORE_HTTP_MAX_BODY_BYTES", OPT_SIZE, OFF(max_body_bytes), 1, 1LL << 30,
	"largest request body accepted, larger: 413 (default 1048576)"},
	{"statement-timeout-ms", "CANDYSTORE_HTTP_STATEMENT_TIMEOUT_MS", OPT_INT, OFF(statement_timeout_ms), 1, INT_MAX,
	"statement_timeout of each request's transaction (default 5000)"},
	{"idle-timeout-s", "CANDYSTORE_HTTP_IDLE_TIMEOUT_S", OPT_INT, OFF(idle_timeout_s), 1, 86400,
	"a connection silent this long is closed (default 60)"},
	{"request-timeout-s", "CANDYSTORE_HTTP_REQUEST_TIMEOUT_S", OPT_INT, OFF(request_timeout_s), 1, 86400,
	"a request's line, headers and body must arrive within this (default 30)"},
	{"max-stream-clients", "CANDYSTORE_HTTP_MAX_STREAM_CLIENTS", OPT_INT, OFF(max_stream_clients), 0, 1000000,
	"concurrent /v1/stream clients, more: 503 (default 2000)"},
	{"ready-max-outbox-lag-s", "CANDYSTORE_HTTP_READY_MAX_OUTBOX_LAG_S", OPT_INT, OFF(ready_max_outbox_lag_s), 0, INT_MAX,
	"/health/ready fails when the outbox lags more (default 300)"},
	{"public-ready", "CANDYSTORE_HTTP_PUBLIC_READY", OPT_BOOL, OFF(public_ready), 0, 0,
	"/health/ready and /metrics answer without a token"},
	{"cors-origins", "CANDYSTORE_HTTP_CORS_ORIGINS", OPT_STRING, OFF(cors_origins), 0, 0,
	"browser origins allowed to call the API (comma-separated, or *; default none)"},
	{"log-level", "CANDYSTORE_HTTP_LOG_LEVEL", OPT_LOGLEVEL, OFF(log_level), 0, 0,
	"debug, info, warn or error (default info)"},
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static cs_config current;

static void
set_defaults(cs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = "127.0.0.1:8683";
	cfg->db = "";
	cfg->pool_size = 8;
	cfg->threads = 4;
	cfg->idle_timeout_s = 60;
	cfg->request_timeout_s = 30;
	cfg->max_body_bytes = 1024 * 1024;
	cfg->statement_timeout_ms = 5000;
	cfg->max_stream_clients = 2000;
	cfg->ready_max_outbox_lag_s = 300;
	cfg->public_ready = false;
	cfg->log_level = CS_LOG_INFO;
}

static bool
parse_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "1") == 0 || strcasecmp(s, "true") == 0 ||
		strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0)
		*out = true;
	else if (strcasecmp(s, "0") == 0 || strcasecmp(s, "false") == 0 ||
			 strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0)
		*out = false;
	else
		return false;
	return true;
}

static bool
set_option(cs_config *cfg, const opt_def *o, const char *value, const char *from,
		   char *err, size_t errlen)
{
	char	   *field = (char *) cfg + o->offset;

	switch (o->kind)
	{
		case OPT_STRING:
			/* an empty TLS file name means none; listen and db keep theirs */
			*(const char **) field =
				(value[0] || o->offset == OFF(listen) || o->offset == OFF(db)) ? value : NULL;
			return true;
		case OPT_INT:
		case OPT_SIZE:
			{
				char	   *end;
				long long	v;

				errno = 0;
				v = strtoll(value, &end, 10);
				if (errno != 0 || end == value || *end != '\0' || v < o->min || v > o->max)
				{
					snprintf(err, errlen, "%s: \"%s\" is not an integer from %lld to %lld",
							 from, value, o->min, o->max);
					return false;
				}
				if (o->kind == OPT_INT)
					*(int *) field = (int) v;
				else
					*(size_t *) field = (size_t) v;
				return true;
			}
		case OPT_BOOL:
			if (!parse_bool(value, (bool *) field))
			{
				snprintf(err, errlen, "%s: \"%s\" is not a boolean (true/false)", from, value);
				return false;
			}
			return true;
		case OPT_LOGLEVEL:
			{
				static const char *const names[] = {"debug", "info", "warn", "error"};

				for (int i = 0; i < 4; i++)
					if (strcasecmp(value, names[i]) == 0)
					{
						*(cs_log_level *) field = (cs_log_level) i;
						return true;
					}
				snprintf(err, errlen, "%s: \"%s\" is not one of debug, info, warn, error", from, value);
				return false;
			}
	}
	return false;
}

bool
config_load(cs_config *cfg, int argc, char **argv, bool *help, char *err, size_t errlen)
{
	struct option longopts[N_OPTIONS + 2];
	int			c,
				idx;

	set_defaults(cfg);
	*help = false;
	for (size_t i = 0; i < N_OPTIONS; i++)
	{
		const char *v = getenv(options[i].env);

		if (v != NULL && !set_option(cfg, &options[i], v, options[i].env, err, errlen))
			return false;
	}

	for (size_t i = 0; i < N_OPTIONS; i++)
	{
		longopts[i].name = options[i].flag;
		longopts[i].has_arg = options[i].kind == OPT_BOOL ? optional_argument : required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = 0;
	}
	longopts[N_OPTIONS] = (struct option) {"help", no_argument, NULL, 'h'};
	longopts[N_OPTIONS + 1] = (struct option) {NULL, 0, NULL, 0};

	optind = 0;					/* re-scannable: SIGHUP parses argv again */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1)
	{
		char		from[64];

		if (c == 'h')
		{
			*help = true;
			return true;
		}
		if (c != 0)
		{
			snprintf(err, errlen, "unknown or incomplete option \"%s\" (see --help)",
					 argv[optind - 1]);
			return false;
		}
		snprintf(from, sizeof(from), "--%s", options[idx].flag);
		if (!set_option(cfg, &options[idx], optarg ? optarg : "true", from, err, errlen))
			return false;
	}
	if (optind < argc)
	{
		snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
		return false;
	}
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
	{
		snprintf(err, errlen, "--tls-cert and --tls-key go together");
		return false;
	}
	return true;
}

const cs_config *
config_current(void)
{
	return &current;
}

void
config_set_current(const cs_config *cfg)
{
	current = *cfg;
}

/*
 * Plain stores of aligned words: a handler reading a setting mid-reload sees
 * the old or the new value, either being valid.
 */
void
config_apply_reload(const cs_config *fresh)
{
	current.max_body_bytes = fresh->max_body_bytes;
	current.request_timeout_s = fresh->request_timeout_s;
	current.statement_timeout_ms = fresh->statement_timeout_ms;
	current.max_stream_clients = fresh->max_stream_clients;
	current.ready_max_outbox_lag_s = fresh->ready_max_outbox_lag_s;
	current.public_ready = fresh->public_ready;
	current.cors_origins = fresh->cors_origins;	/* argv or environ: lives as long as the process */
	current.log_level = fresh->log_level;
}

void
config_usage(FILE *out)
{
	fprintf(out, "Usage: candystore-http [OPTION]...\n"
			"Serves candystore's HTTP API (see the OpenAPI document at /openapi.json).\n\n");
	for (size_t i = 0; i < N_OPTIONS; i++)
		fprintf(out, "  --%s%s\n      %s\n      environment: %s\n", options[i].flag,
				options[i].kind == OPT_BOOL ? "[=BOOL]" : "=VALUE",
				options[i].help, options[i].env);
	fprintf(out, "\nSIGHUP re-reads the settings that may change (body and stream limits,\n"
			"statement timeout, readiness threshold, log level), forgets cached tokens and\n"
			"re-reads the TLS certificate and key files (new connections get them);\n"
			"SIGTERM stops accepting, lets requests finish, ends streams and exits.\n");
}
