/*
 * json.h — a growable text buffer that writes JSON: strings escaped (control
 * characters, quotes, invalid UTF-8 replaced by U+FFFD), so that anything a
 * client sent can be echoed into a log line or a problem document safely.
 */
#ifndef CS_HTTP_JSON_H
#define CS_HTTP_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef struct jbuf
{
	char	   *data;			/* NUL-terminated */
	size_t		len;
	size_t		cap;
} jbuf;

void		jbuf_init(jbuf *b);
void		jbuf_free(jbuf *b);
void		jbuf_append(jbuf *b, const char *s, size_t len);
void		jbuf_puts(jbuf *b, const char *s);
void		jbuf_printf(jbuf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));
/* "s" as a JSON string (with its quotes); NULL writes null */
void		jbuf_str(jbuf *b, const char *s);
void		jbuf_strn(jbuf *b, const char *s, size_t len);
/* ,"key":"value" / "key":"value" — value NULL: skipped */
void		jbuf_field_str(jbuf *b, bool *first, const char *key, const char *value);
void		jbuf_field_raw(jbuf *b, bool *first, const char *key, const char *raw);

/* true when s[0..len) is valid UTF-8 with no NUL */
bool		utf8_valid(const char *s, size_t len);

#endif
