/*
 * log.c — JSON log lines (log.h).  Each line goes out in one write(2), so
 * lines from concurrent threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info", "warn", "error"};

bool
log_enabled(cs_log_level level)
{
	return level >= config_current()->log_level;
}

void
cs_log(cs_log_level level, const char *request_id, const char *msg, const char *fields)
{
	struct timeval tv;
	struct tm	tm;
	char		ts[96];
	jbuf		b;
	bool		first = true;

	if (!log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int) (tv.tv_usec / 1000));
	jbuf_init(&b);
	jbuf_append(&b, "{", 1);
	jbuf_field_str(&b, &first, "ts", ts);
	jbuf_field_str(&b, &first, "level", level_names[level]);
	jbuf_field_str(&b, &first, "msg", msg);
	jbuf_field_str(&b, &first, "request_id", request_id);
	if (fields != NULL && fields[0] != '\0')
	{
		jbuf_append(&b, ",", 1);
		jbuf_puts(&b, fields);
	}
	jbuf_append(&b, "}\n", 2);
	if (write(STDERR_FILENO, b.data, b.len) < 0)
	{
		/* nowhere left to report it */
	}
	jbuf_free(&b);
}

void
cs_logf(cs_log_level level, const char *request_id, const char *fmt,...)
{
	char		msg[1024];
	va_list		ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cs_log(level, request_id, msg, NULL);
}
