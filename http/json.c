/*
 * json.c — the JSON-writing buffer (json.h).  Allocation failure ends the
 * process: the server cannot answer sensibly without memory.
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
reserve(jbuf *b, size_t more)
{
	size_t		need = b->len + more + 1;

	if (need <= b->cap)
		return;
	while (b->cap < need)
		b->cap = b->cap ? b->cap * 2 : 256;
	b->data = realloc(b->data, b->cap);
	if (b->data == NULL)
		abort();
}

void
jbuf_init(jbuf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	reserve(b, 0);
	b->data[0] = '\0';
}

void
jbuf_free(jbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
jbuf_append(jbuf *b, const char *s, size_t len)
{
	reserve(b, len);
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
jbuf_puts(jbuf *b, const char *s)
{
	jbuf_append(b, s, strlen(s));
}

void
jbuf_printf(jbuf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	reserve(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

/* length of the valid UTF-8 sequence at s (at most len bytes), 0 if invalid */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	unsigned	c = s[0];
	size_t		n;
	unsigned	cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		(n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

bool
utf8_valid(const char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		size_t		n = utf8_seq((const unsigned char *) s + i, len - i);

		if (n == 0 || s[i] == '\0')
			return false;
		i += n;
	}
	return true;
}

void
jbuf_strn(jbuf *b, const char *s, size_t len)
{
	size_t		i = 0;

	if (s == NULL)
	{
		jbuf_puts(b, "null");
		return;
	}
	reserve(b, len + 2);
	b->data[b->len++] = '"';
	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		size_t		n;

		if (c == '"' || c == '\\')
		{
			char		esc[2] = {'\\', (char) c};

			jbuf_append(b, esc, 2);
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7F)
		{
			jbuf_printf(b, "\\u%04x", c);
			i++;
			continue;
		}
		n = utf8_seq((const unsigned char *) s + i, len - i);
		if (n == 0)
		{
			jbuf_puts(b, "\\ufffd");
			i++;
			continue;
		}
		jbuf_append(b, s + i, n);
		i += n;
	}
	jbuf_append(b, "\"", 1);
}

void
jbuf_str(jbuf *b, const char *s)
{
	jbuf_strn(b, s, s ? strlen(s) : 0);
}

static void
key(jbuf *b, bool *first, const char *k)
{
	if (!*first)
		jbuf_append(b, ",", 1);
	*first = false;
	jbuf_str(b, k);
	jbuf_append(b, ":", 1);
}

void
jbuf_field_str(jbuf *b, bool *first, const char *k, const char *value)
{
	if (value == NULL)
		return;
	key(b, first, k);
	jbuf_str(b, value);
}

void
jbuf_field_raw(jbuf *b, bool *first, const char *k, const char *raw)
{
	if (raw == NULL)
		return;
	key(b, first, k);
	jbuf_puts(b, raw);
}
