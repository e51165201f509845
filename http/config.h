/*
 * config.h — candystore-http's settings, from command-line flags and
 * environment variables (a flag wins over its variable).  docs/reference.md
 * has the table.
 */
#ifndef CS_HTTP_CONFIG_H
#define CS_HTTP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum cs_log_level
{
	CS_LOG_DEBUG,
	CS_LOG_INFO,
	CS_LOG_WARN,
	CS_LOG_ERROR
} cs_log_level;

typedef struct cs_config
{
	/* fixed at start */
	char	   *listen;			/* host:port, [v6]:port */
	char	   *db;				/* libpq conninfo */
	int			pool_size;
	int			threads;
	char	   *tls_cert;		/* PEM file paths, or NULL for plain HTTP */
	char	   *tls_key;
	int			idle_timeout_s;
	/* reloaded on SIGHUP */
	int			request_timeout_s;
	size_t		max_body_bytes;
	int			statement_timeout_ms;
	int			max_stream_clients;
	int			ready_max_outbox_lag_s;
	bool		public_ready;
	char	   *cors_origins;	/* comma-separated, "*", or NULL: no CORS */
	cs_log_level log_level;
} cs_config;

/*
 * Reads the environment, then argv, into *cfg.  On a bad value returns false
 * with a message in err (size errlen).  "--help" sets *help.
 */
bool		config_load(cs_config *cfg, int argc, char **argv, bool *help,
						char *err, size_t errlen);
/* the settings in force (set by main, updated on SIGHUP) */
const cs_config *config_current(void);
void		config_set_current(const cs_config *cfg);
/* copies the settings SIGHUP may change from `fresh` into the current ones */
void		config_apply_reload(const cs_config *fresh);
void		config_usage(FILE *out);

#endif
