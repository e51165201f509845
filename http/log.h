/*
 * log.h — one JSON object a line on stderr:
 *   {"ts":"2026-12-01T17:00:00.123Z","level":"info","msg":"...","request_id":"...",...}
 * journald and log shippers take it as is.
 */
#ifndef CS_HTTP_LOG_H
#define CS_HTTP_LOG_H

#include "config.h"
#include "json.h"

bool		log_enabled(cs_log_level level);
/* msg plus, when fields is not NULL, its members (`"k":v,...` without braces) */
void		cs_log(cs_log_level level, const char *request_id, const char *msg, const char *fields);
void		cs_logf(cs_log_level level, const char *request_id, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

#endif
