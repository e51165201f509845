/*
 * format.c
 *	  The "format" keyword: strict checkers for the formats events carry.
 *	  Asserted by default; candystore.jsonschema_format_assertion = off
 *	  makes "format" an annotation only (the 2019-09/2020-12 default).
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <idn2.h>

#include "formats.h"
#include "jsonschema.h"

static bool
all_ascii(const char *s, int len)
{
	for (int i = 0; i < len; i++)
		if ((unsigned char) s[i] >= 0x80)
			return false;
	return true;
}

/* ASCII letters and digits, whatever the server's LC_CTYPE */
static inline bool
ascii_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
valid_ipv4(const char *s, int len)
{
	int			parts = 0,
				i = 0;

	while (i <= len)
	{
		int			start = i,
					value = 0;

		while (i < len && isdigit((unsigned char) s[i]))
			value = value * 10 + (s[i++] - '0');
		if (i == start || i - start > 3 || value > 255 || (s[start] == '0' && i - start > 1))
			return false;
		parts++;
		if (i == len)
			break;
		if (s[i] != '.')
			return false;
		i++;
	}
	return parts == 4;
}

static bool
valid_ipv6(const char *s, int len)
{
	unsigned char buf[16];
	char	   *z = pnstrdup(s, len);

	if (!all_ascii(s, len) || strchr(z, '%') || len > 45)
		return false;
	return inet_pton(AF_INET6, z, buf) == 1;
}

static bool
valid_hostname(const char *s, int len)
{
	int			label = 0;

	if (len == 0 || len > 253)
		return false;
	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == '.')
		{
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(ascii_alnum((unsigned char) c) || c == '-') || (c == '-' && label == 0))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

static bool
valid_email(const char *s, int len, bool idn)
{
	const char *at = NULL;
	int			i,
				local;

	for (i = len - 1; i >= 0; i--)
		if (s[i] == '@')
		{
			at = s + i;
			break;
		}
	if (at == NULL)
		return false;
	local = at - s;
	if (local >= 2 && s[0] == '"' && s[local - 1] == '"')
	{
		/* quoted-string local part: anything but an unescaped quote */
		for (i = 1; i < local - 1; i++)
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				return false;
		goto domain;
	}
	if (local == 0 || s[0] == '.' || s[local - 1] == '.')
		return false;
	for (i = 0; i < local; i++)
	{
		unsigned char c = s[i];

		if (c == '.' && s[i + 1] == '.')
			return false;
		if (!(ascii_alnum(c) || strchr("!#$%&'*+-/=?^_`{|}~.", c) || (idn && c >= 0x80)))
			return false;
	}
domain:
	at++;
	len -= local + 1;
	if (len > 2 && at[0] == '[' && at[len - 1] == ']')
	{
		if (len > 7 && strncmp(at + 1, "IPv6:", 5) == 0)
			return valid_ipv6(at + 6, len - 7);
		return valid_ipv4(at + 1, len - 2);
	}
	if (idn)
		return len > 0;
	return valid_hostname(at, len);
}

/* RFC 3986 characters; iri also allows non-ASCII. */
static bool
valid_uri_chars(const char *s, int len, bool iri)
{
	for (int i = 0; i < len; i++)
	{
		unsigned char c = s[i];

		if (c == '%')
		{
			if (i + 2 >= len || !isxdigit((unsigned char) s[i + 1]) || !isxdigit((unsigned char) s[i + 2]))
				return false;
			i += 2;
		}
		else if (c >= 0x80)
		{
			if (!iri)
				return false;
		}
		else if (!(isalnum(c) || strchr("-._~:/?#[]@!$&'()*+,;=", c)))
			return false;
	}
	return true;
}

static bool
valid_uri(const char *s, int len, bool reference, bool iri)
{
	int			i = 0;
	const char *auth;

	if (!valid_uri_chars(s, len, iri))
		return false;
	while (i < len && (isalnum((unsigned char) s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i < len && s[i] == ':' && i > 0 && isalpha((unsigned char) s[0]))
		auth = s + i + 1;
	else if (reference)
		auth = s;
	else
		return false;
	/* "[" and "]" only delimit an IP literal host */
	if (len - (auth - s) >= 2 && auth[0] == '/' && auth[1] == '/')
	{
		const char *end = auth + 2;

		while (end < s + len && *end != '/' && *end != '?' && *end != '#')
			end++;
		for (const char *p = auth + 2; p < end; p++)
			if ((*p == '[' && (p != auth + 2 && p[-1] != '@')) || (*p == ']' && memchr(auth + 2, '[', p - auth - 2) == NULL))
				return false;
		for (const char *p = end; p < s + len; p++)
			if (*p == '[' || *p == ']')
				return false;
	}
	else
	{
		for (const char *p = auth; p < s + len; p++)
			if (*p == '[' || *p == ']')
				return false;
	}
	return true;
}

static bool
valid_json_pointer(const char *s, int len)
{
	if (len > 0 && s[0] != '/')
		return false;
	for (int i = 0; i < len; i++)
		if (s[i] == '~' && (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1')))
			return false;
	return true;
}

static bool
valid_relative_json_pointer(const char *s, int len)
{
	int			i = 0;

	while (i < len && isdigit((unsigned char) s[i]))
		i++;
	if (i == 0 || (s[0] == '0' && i > 1))
		return false;
	if (i == len)
		return true;
	if (s[i] == '#')
		return i + 1 == len;
	return valid_json_pointer(s + i, len - i);
}

/* RFC 3339 appendix A duration. */
static bool
valid_duration(const char *s, int len)
{
	const char *date_units = "YMD";
	const char *time_units = "HMS";
	int			i = 1;
	bool		any = false,
				in_time = false;
	int			last = -1;

	if (len < 2 || s[0] != 'P')
		return false;
	if (s[len - 1] == 'W')
	{
		for (i = 1; i < len - 1; i++)
			if (!isdigit((unsigned char) s[i]))
				return false;
		return len > 2;
	}
	while (i < len)
	{
		int			start = i;
		const char *units = in_time ? time_units : date_units;
		const char *u;

		if (s[i] == 'T')
		{
			if (in_time)
				return false;
			in_time = true;
			last = -1;
			i++;
			if (i == len)
				return false;
			continue;
		}
		while (i < len && isdigit((unsigned char) s[i]))
			i++;
		if (i == start || i == len || (u = strchr(units, s[i])) == NULL || s[i] == '\0')
			return false;
		/* RFC 3339 ABNF: units in order and contiguous (no "P1Y2D") */
		if (u - units <= last || (last >= 0 && u - units != last + 1))
			return false;
		last = u - units;
		any = true;
		i++;
	}
	return any;
}

/* RFC 6570: literals and level 4 expressions {op varname[:n|*],...}. */
static bool
valid_uri_template(const char *s, int len)
{
	int			i = 0;

	while (i < len)
	{
		unsigned char c = s[i];

		if (c == '}' || c <= 0x20 || strchr("\"'<>\\^`|", c))
			return false;
		if (c == '%')
		{
			if (i + 2 >= len || !isxdigit((unsigned char) s[i + 1]) || !isxdigit((unsigned char) s[i + 2]))
				return false;
			i += 3;
			continue;
		}
		if (c != '{')
		{
			i++;
			continue;
		}
		i++;
		if (i < len && strchr("+#./;?&", s[i]))
			i++;
		for (;;)
		{
			int			start = i;

			/* varname: varchar *( ["."] varchar ) */
			while (i < len)
			{
				if (isalnum((unsigned char) s[i]) || s[i] == '_')
					i++;
				else if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char) s[i + 1]) &&
						 isxdigit((unsigned char) s[i + 2]))
					i += 3;
				else if (s[i] == '.' && i > start && s[i - 1] != '.' && i + 1 < len &&
						 s[i + 1] != '.')
					i++;
				else
					break;
			}
			if (i == start || s[i - 1] == '.')
				return false;
			if (i < len && s[i] == '*')
				i++;
			else if (i < len && s[i] == ':')
			{
				int			d = ++i;

				while (i < len && isdigit((unsigned char) s[i]))
					i++;
				if (i == d || i - d > 4 || s[d] == '0')
					return false;
			}
			if (i < len && s[i] == ',')
			{
				i++;
				continue;
			}
			if (i < len && s[i] == '}')
			{
				i++;
				break;
			}
			return false;
		}
	}
	return true;
}

/*
 * Host names: RFC 1123 labels in ASCII; labels in "xn--" form must be valid
 * IDNA2008 A-labels (libidn2 decodes and checks them).  idn-hostname takes
 * U-labels too, checked by IDNA2008 registration rules.
 */
static bool
valid_hostname_idna(const char *s, int len, bool idn)
{
	StringInfoData label;
	int			i = 0;
	int			total = 0;

	if (len == 0)
		return false;
	initStringInfo(&label);
	while (i <= len)
	{
		int			sep = 0;

		if (i == len)
			sep = 1;
		else if (s[i] == '.')
			sep = 1;
		else if (idn && i + 2 < len && (unsigned char) s[i] == 0xe3 &&
				 (unsigned char) s[i + 1] == 0x80 && (unsigned char) s[i + 2] == 0x82)
			sep = 3;			/* U+3002 ideographic full stop */
		else if (idn && i + 2 < len && (unsigned char) s[i] == 0xef &&
				 (((unsigned char) s[i + 1] == 0xbc && (unsigned char) s[i + 2] == 0x8e) ||
				  ((unsigned char) s[i + 1] == 0xbd && (unsigned char) s[i + 2] == 0xa1)))
			sep = 3;			/* U+FF0E, U+FF61 */
		if (!sep)
		{
			appendStringInfoChar(&label, s[i++]);
			continue;
		}
		if (label.len == 0)
			return false;
		if (all_ascii(label.data, label.len))
		{
			if (!valid_hostname(label.data, label.len))
				return false;
			if (label.len >= 4 && pg_strncasecmp(label.data, "xn--", 4) == 0)
			{
				uint8_t    *out = NULL;

				if (idn2_register_u8(NULL, (const uint8_t *) label.data, &out, 0) != IDN2_OK)
					return false;
				idn2_free(out);
			}
			else if (label.len >= 4 && label.data[2] == '-' && label.data[3] == '-')
				return false;	/* "??--" is reserved for IDNA */
			total += label.len + 1;
		}
		else
		{
			uint8_t    *out = NULL;

			if (!idn)
				return false;
			if (idn2_register_u8((const uint8_t *) label.data, NULL, &out, IDN2_NFC_INPUT) != IDN2_OK)
				return false;
			total += strlen((char *) out) + 1;
			idn2_free(out);
		}
		resetStringInfo(&label);
		i += sep;
		if (i > len)
			break;
	}
	return total - 1 <= 253;
}

/* The formats this engine checks; a format's id is its JsFormat. */
typedef enum JsFormat
{
	FMT_DATE_TIME,
	FMT_DATE,
	FMT_TIME,
	FMT_UUID,
	FMT_DURATION,
	FMT_EMAIL,
	FMT_IDN_EMAIL,
	FMT_HOSTNAME,
	FMT_IDN_HOSTNAME,
	FMT_IPV4,
	FMT_IPV6,
	FMT_URI,
	FMT_URI_REFERENCE,
	FMT_IRI,
	FMT_IRI_REFERENCE,
	FMT_JSON_POINTER,
	FMT_RELATIVE_JSON_POINTER,
	FMT_URI_TEMPLATE,
	FMT_REGEX,
	FMT__COUNT
} JsFormat;

static const char *const format_names[FMT__COUNT] = {
	[FMT_DATE_TIME] = "date-time",
	[FMT_DATE] = "date",
	[FMT_TIME] = "time",
	[FMT_UUID] = "uuid",
	[FMT_DURATION] = "duration",
	[FMT_EMAIL] = "email",
	[FMT_IDN_EMAIL] = "idn-email",
	[FMT_HOSTNAME] = "hostname",
	[FMT_IDN_HOSTNAME] = "idn-hostname",
	[FMT_IPV4] = "ipv4",
	[FMT_IPV6] = "ipv6",
	[FMT_URI] = "uri",
	[FMT_URI_REFERENCE] = "uri-reference",
	[FMT_IRI] = "iri",
	[FMT_IRI_REFERENCE] = "iri-reference",
	[FMT_JSON_POINTER] = "json-pointer",
	[FMT_RELATIVE_JSON_POINTER] = "relative-json-pointer",
	[FMT_URI_TEMPLATE] = "uri-template",
	[FMT_REGEX] = "regex",
};

/* The id of a format name, or -1 for formats this engine does not know. */
int
jsonschema_format_id(const char *name, int len)
{
	for (int i = 0; i < FMT__COUNT; i++)
		if ((int) strlen(format_names[i]) == len && memcmp(format_names[i], name, len) == 0)
			return i;
	return -1;
}

/* Checks s against the format with that id (from jsonschema_format_id). */
bool
jsonschema_format_check_id(int id, const char *s, int len)
{
	const char *why;

	switch (id)
	{
		case FMT_DATE_TIME:
			return rfc3339_parse_datetime(s, len, NULL, &why);
		case FMT_DATE:
			return rfc3339_valid_date(s, len);
		case FMT_TIME:
			return rfc3339_valid_time(s, len);
		case FMT_UUID:
			return uuid_parse_hyphenated(s, len, NULL);
		case FMT_DURATION:
			return valid_duration(s, len);
		case FMT_EMAIL:
			return all_ascii(s, len) && valid_email(s, len, false);
		case FMT_IDN_EMAIL:
			return valid_email(s, len, true);
		case FMT_HOSTNAME:
			return valid_hostname_idna(s, len, false);
		case FMT_IDN_HOSTNAME:
			return valid_hostname_idna(s, len, true);
		case FMT_IPV4:
			return valid_ipv4(s, len);
		case FMT_IPV6:
			return valid_ipv6(s, len);
		case FMT_URI:
			return valid_uri(s, len, false, false);
		case FMT_URI_REFERENCE:
			return valid_uri(s, len, true, false);
		case FMT_IRI:
			return valid_uri(s, len, false, true);
		case FMT_IRI_REFERENCE:
			return valid_uri(s, len, true, true);
		case FMT_JSON_POINTER:
			return valid_json_pointer(s, len);
		case FMT_RELATIVE_JSON_POINTER:
			return valid_relative_json_pointer(s, len);
		case FMT_URI_TEMPLATE:
			return valid_uri_template(s, len);
		case FMT_REGEX:
			return jsonschema_regex_valid(s, len);
		default:
			return true;
	}
}

/*
 * Checks s against format.  *known is false for formats this engine does
 * not know (they always pass, as the specification requires).
 */
bool
jsonschema_format_check(const char *format, const char *s, int len, bool *known)
{
	int			id = jsonschema_format_id(format, strlen(format));

	*known = id >= 0;
	return jsonschema_format_check_id(id, s, len);
}
