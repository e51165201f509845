/*
 * jcs.c
 *	  RFC 8785 JSON Canonicalization Scheme over jsonb.
 *
 * Objects: members sorted by their keys' UTF-16 code units (not by jsonb's
 * own length-then-bytes order), no whitespace.  Strings: only '"', '\\' and
 * the controls below U+0020 escaped, \b \t \n \f \r short, the others as
 * \u00xx in lower case; everything else as its UTF-8 bytes.  Numbers: jsonb
 * keeps the decimal as written (numeric), JCS serializes IEEE doubles the way
 * ECMAScript's Number.prototype.toString does; the decimal is converted to
 * the nearest double, that double serialized, and the number is refused
 * unless the serialization denotes the same decimal value as written.  So
 * 4.50 -> 4.5, 1e30 -> 1e+30, 0.1 -> 0.1 (what every JSON encoder writes
 * for a double), while 12345678901234567890 (nearest double
 * 12345678901234567000) and 1e400 (no finite double) are refused: a
 * verifier's parser would read them as another value than the one stored.
 *
 * The form is written in one pass over the stored jsonb (jsonb_cursor.h, no
 * iterator), either whole into a StringInfo or streamed to a sink (the HMAC
 * in signing.c) through a small staging buffer, long string runs passed on
 * without a copy.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "jcs.h"
#include "json_plain_bytes.h"
#include "jsonb_cursor.h"

/* bytes staged before a sink gets them: few calls into the MAC */
#define JCS_FLUSH_AT 256
/* a run of plain string bytes this long goes to a sink without a copy */
#define JCS_DIRECT_RUN 64
/* members of an object sorted in arrays on the stack up to this many */
#define JCS_STACK_MEMBERS 16

/* Where the form goes: all into buf, or through buf to the sink. */
typedef struct JcsOut
{
	StringInfo	buf;
	JcsSink		sink;			/* NULL: buf keeps everything */
	void	   *arg;
} JcsOut;

static bool append_container(JcsOut *out, JsonbContainer *c, const char *omit_key, char **why);

static void
flush_out(JcsOut *out)
{
	if (out->sink != NULL && out->buf->len > 0)
	{
		out->sink(out->arg, out->buf->data, out->buf->len);
		resetStringInfo(out->buf);
	}
}

static inline void
maybe_flush(JcsOut *out)
{
	if (out->sink != NULL && out->buf->len >= JCS_FLUSH_AT)
		flush_out(out);
}

/* Bytes of a string that need no escape. */
static inline void
append_run(JcsOut *out, const char *s, int len)
{
	if (out->sink != NULL && len >= JCS_DIRECT_RUN)
	{
		flush_out(out);
		out->sink(out->arg, s, len);
	}
	else
		appendBinaryStringInfo(out->buf, s, len);
}

/*
 * Keys in UTF-16 code unit order.  UTF-8 byte order is code point order,
 * which agrees with UTF-16 order except between U+E000..U+FFFF (lead bytes
 * EE, EF) and U+10000 and above (lead bytes F0..F4: surrogate pairs, D800..,
 * in UTF-16, which sort first).  Both keys are identical up to their first
 * differing byte, so those bytes stand at the same place in a character:
 * only two lead bytes of those two ranges need the UTF-16 answer.
 */
static int
key_cmp(const JsonbValue *ka, const JsonbValue *kb)
{
	const unsigned char *a = (const unsigned char *) ka->val.string.val;
	const unsigned char *b = (const unsigned char *) kb->val.string.val;
	int			la = ka->val.string.len;
	int			lb = kb->val.string.len;
	int			n = Min(la, lb);

	for (int i = 0; i < n; i++)
	{
		if (a[i] == b[i])
			continue;
		if (a[i] >= 0xF0 && (b[i] == 0xEE || b[i] == 0xEF))
			return -1;
		if (b[i] >= 0xF0 && (a[i] == 0xEE || a[i] == 0xEF))
			return 1;
		return a[i] < b[i] ? -1 : 1;
	}
	return la < lb ? -1 : (la > lb ? 1 : 0);
}

/* The keys of one object, for qsort_arg over an index array. */
static int
index_cmp(const void *a, const void *b, void *arg)
{
	const JsonbValue *keys = arg;

	return key_cmp(&keys[*(const int *) a], &keys[*(const int *) b]);
}

/*
 * Sorts the member indexes (not the members) by key.  Most objects are
 * small, and jsonb stores them shorter key first, often close to the
 * order wanted: insertion sort, qsort for the others.
 */
static void
sort_indexes(int *order, int n, const JsonbValue *keys)
{
	if (n > JCS_STACK_MEMBERS)
	{
		qsort_arg(order, n, sizeof(int), index_cmp, (void *) keys);
		return;
	}
	for (int i = 1; i < n; i++)
	{
		int			m = order[i];
		int			j = i - 1;

		while (j >= 0 && key_cmp(&keys[order[j]], &keys[m]) > 0)
		{
			order[j + 1] = order[j];
			j--;
		}
		order[j + 1] = m;
	}
}

static void
append_string(JcsOut *out, const char *s, int len)
{
	int			run = 0;		/* start of the bytes not yet copied */

	appendStringInfoCharMacro(out->buf, '"');
	for (int i = 0; i < len; i++)
	{
		unsigned char c;
		const char *escape;

		i += json_plain_words(s + i, s + len);
		if (i >= len)
			break;
		c = (unsigned char) s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;			/* copied with its run */
		append_run(out, s + run, i - run);
		run = i + 1;
		switch (c)
		{
			case '"':
				escape = "\\\"";
				break;
			case '\\':
				escape = "\\\\";
				break;
			case '\b':
				escape = "\\b";
				break;
			case '\t':
				escape = "\\t";
				break;
			case '\n':
				escape = "\\n";
				break;
			case '\f':
				escape = "\\f";
				break;
			case '\r':
				escape = "\\r";
				break;
			default:
				appendStringInfo(out->buf, "\\u%04x", c);
				continue;
		}
		appendBinaryStringInfo(out->buf, escape, 2);
	}
	append_run(out, s + run, len - run);
	appendStringInfoCharMacro(out->buf, '"');
}

/*
 * ECMAScript's layout of the value (-)0.digits x 10^n (k significant digits,
 * no leading or trailing zero): Number::toString's steps 6 to 10.
 */
static void
append_es_layout(StringInfo out, bool negative, const char *digits, int k, int n)
{
	if (negative)
		appendStringInfoChar(out, '-');
	if (k <= n && n <= 21)
	{
		appendBinaryStringInfo(out, digits, k);
		for (int i = 0; i < n - k; i++)
			appendStringInfoChar(out, '0');
	}
	else if (0 < n && n <= 21)
	{
		appendBinaryStringInfo(out, digits, n);
		appendStringInfoChar(out, '.');
		appendBinaryStringInfo(out, digits + n, k - n);
	}
	else if (-6 < n && n <= 0)
	{
		appendStringInfoString(out, "0.");
		for (int i = 0; i < -n; i++)
			appendStringInfoChar(out, '0');
		appendBinaryStringInfo(out, digits, k);
	}
	else
	{
		appendStringInfoChar(out, digits[0]);
		if (k > 1)
		{
			appendStringInfoChar(out, '.');
			appendBinaryStringInfo(out, digits + 1, k - 1);
		}
		appendStringInfo(out, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
	}
}

/*
 * ECMAScript's Number::toString of a finite double: the shortest digits that
 * read back as the double, laid out by the specification's rules on the
 * decimal exponent.
 */
static void
append_es_double(StringInfo out, double d)
{
	char		shortest[40];
	char		digits[40];
	int			k = 0;			/* significant digits */
	int			point = -1;		/* digits before the decimal point */
	int			exp10 = 0;
	bool		negative = false;
	const char *p;

	if (d == 0)					/* +0 and -0 */
	{
		appendStringInfoChar(out, '0');
		return;
	}
	/*
	 * The fewest significant digits whose correctly rounded decimal reads
	 * back as the double.  Not Ryu (float8out): at a tie it can give more
	 * digits than ECMAScript, 9.999999999999999e+22 for 1e+23.
	 */
	for (int precision = 1; precision <= 17; precision++)
	{
		snprintf(shortest, sizeof(shortest), "%.*e", precision - 1, d);
		if (strtod(shortest, NULL) == d)
			break;
	}
	p = shortest;
	if (*p == '-')
	{
		negative = true;
		p++;
	}
	/* the mantissa's digits, and how many stand before its point */
	for (; *p && *p != 'e' && *p != 'E'; p++)
	{
		if (*p == '.')
			point = k;
		else
			digits[k++] = *p;
	}
	if (point < 0)
		point = k;
	if (*p == 'e' || *p == 'E')
		exp10 = atoi(p + 1);
	/* leading zeros (0.00123) move the point; trailing ones (1000) do not */
	while (k > 1 && digits[0] == '0')
	{
		memmove(digits, digits + 1, --k);
		point--;
	}
	while (k > 1 && digits[k - 1] == '0')
		k--;
	digits[k] = '\0';
	append_es_layout(out, negative, digits, k, point + exp10);
}

/*
 * Lays out a numeric_out() decimal (-?digits[.digits], no exponent) of at
 * most 15 significant digits whose magnitude is between 1e-290 and 1e290,
 * and returns true; false for any other, which takes the general path.
 */
static bool
jcs_simple_decimal(StringInfo out, const char *decimal)
{
	char		digits[16];
	int			k = 0;
	int			point = -1;
	int			leading = 0;	/* zeros before the first significant digit */
	bool		negative = (*decimal == '-');
	const char *p = decimal + (negative ? 1 : 0);
	int			seen = 0;		/* digits read, leading zeros included */

	for (; *p; p++)
	{
		if (*p == '.')
		{
			point = seen;
			continue;
		}
		if (k == 0 && *p == '0')
			leading++;
		else
		{
			if (k == 15)
			{
				/* a 16th significant digit: fine only if it and all after are zeros */
				const char *q = p;

				while (*q == '0' || *q == '.')
					q++;
				if (*q != '\0')
					return false;
				/* the zeros left are a whole number's: keep counting them */
				for (; *p; p++)
					if (*p != '.')
						seen++;
					else
						point = seen;
				break;
			}
			digits[k++] = *p;
		}
		seen++;
	}
	if (point < 0)
		point = seen;
	if (k == 0)
	{
		appendStringInfoChar(out, '0');		/* 0, -0, 0.000 */
		return true;
	}
	while (k > 1 && digits[k - 1] == '0')
		k--;
	/* 0.digits x 10^n: the point moves left over the leading zeros */
	if (point - leading > 290 || point - leading < -290)
		return false;
	append_es_layout(out, negative, digits, k, point - leading);
	return true;
}

/* A number shown in an error: the decimal, or its start when long. */
static const char *
shown_number(const char *decimal)
{
	size_t		len = strlen(decimal);

	return len <= 60 ? decimal : psprintf("%.40s... (%zu characters)", decimal, len);
}

static bool
append_number(StringInfo out, Numeric num, char **why)
{
	char	   *decimal = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	double		d;
	int			start = out->len;
	Numeric		back;

	/*
	 * The usual number: at most 15 significant digits (DBL_DIG) and well
	 * inside the normal range.  Its nearest double reads back as exactly
	 * these digits, so they are the shortest form: laid out directly.
	 */
	if (jcs_simple_decimal(out, decimal))
	{
		pfree(decimal);
		return true;
	}
	d = strtod(decimal, NULL);
	if (!isfinite(d))
	{
		*why = psprintf("number %s is beyond the range of an IEEE double", shown_number(decimal));
		return false;
	}
	append_es_double(out, d);
	back = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(out->data + start),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num), NumericGetDatum(back))) != 0)
	{
		*why = psprintf("number %s has more digits than an IEEE double keeps (the nearest double is %s)",
						shown_number(decimal), out->data + start);
		return false;
	}
	pfree(decimal);
	return true;
}

static bool
append_value(JcsOut *out, JsonbValue *v, char **why)
{
	switch (v->type)
	{
		case jbvNull:
			appendBinaryStringInfo(out->buf, "null", 4);
			return true;
		case jbvBool:
			if (v->val.boolean)
				appendBinaryStringInfo(out->buf, "true", 4);
			else
				appendBinaryStringInfo(out->buf, "false", 5);
			return true;
		case jbvString:
			append_string(out, v->val.string.val, v->val.string.len);
			return true;
		case jbvNumeric:
			return append_number(out->buf, v->val.numeric, why);
		case jbvBinary:
			return append_container(out, v->val.binary.data, NULL, why);
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return false;
}

static bool
append_array(JcsOut *out, JsonbContainer *c, char **why)
{
	int			n = JsonContainerSize(c);
	JsCursor	cur;
	JsonbValue	v;

	cursor_init(&cur, c, 0);
	if (JsonContainerIsScalar(c))
	{
		cursor_next(&cur, &v);
		return append_value(out, &v, why);
	}
	appendStringInfoCharMacro(out->buf, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoCharMacro(out->buf, ',');
		cursor_next(&cur, &v);
		if (!append_value(out, &v, why))
			return false;
		maybe_flush(out);
	}
	appendStringInfoCharMacro(out->buf, ']');
	return true;
}

/*
 * An object: its keys (entries 0..n-1) and values (n..2n-1) read once in
 * jsonb's order, then written in the order of an index array sorted by key.
 */
static bool
append_object(JcsOut *out, JsonbContainer *c, const char *omit_key, char **why)
{
	int			n = JsonContainerSize(c);
	JsonbValue	keys_here[JCS_STACK_MEMBERS];
	JsonbValue	values_here[JCS_STACK_MEMBERS];
	int			order_here[JCS_STACK_MEMBERS];
	JsonbValue *keys = keys_here;
	JsonbValue *values = values_here;
	int		   *order = order_here;
	int			omit_len = omit_key != NULL ? strlen(omit_key) : 0;
	int			kept = 0;
	JsCursor	cur;
	bool		ok = true;

	if (n > JCS_STACK_MEMBERS)
	{
		keys = palloc(sizeof(JsonbValue) * n);
		values = palloc(sizeof(JsonbValue) * n);
		order = palloc(sizeof(int) * n);
	}
	cursor_init(&cur, c, 0);
	for (int i = 0; i < n; i++)
	{
		cursor_next(&cur, &keys[i]);
		if (omit_key != NULL && keys[i].val.string.len == omit_len &&
			memcmp(keys[i].val.string.val, omit_key, omit_len) == 0)
			continue;
		order[kept++] = i;
	}
	for (int i = 0; i < n; i++)
		cursor_next(&cur, &values[i]);
	sort_indexes(order, kept, keys);

	appendStringInfoCharMacro(out->buf, '{');
	for (int i = 0; i < kept && ok; i++)
	{
		if (i > 0)
			appendStringInfoCharMacro(out->buf, ',');
		append_string(out, keys[order[i]].val.string.val, keys[order[i]].val.string.len);
		appendStringInfoCharMacro(out->buf, ':');
		ok = append_value(out, &values[order[i]], why);
		maybe_flush(out);
	}
	appendStringInfoCharMacro(out->buf, '}');
	if (keys != keys_here)
	{
		pfree(keys);
		pfree(values);
		pfree(order);
	}
	return ok;
}

static bool
append_container(JcsOut *out, JsonbContainer *c, const char *omit_key, char **why)
{
	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	if (JsonContainerIsObject(c))
		return append_object(out, c, omit_key, why);
	return append_array(out, c, why);
}

bool
jcs_append(StringInfo out, Jsonb *jb, const char *omit_key, char **why)
{
	JcsOut		o = {out, NULL, NULL};

	return append_container(&o, &jb->root, omit_key, why);
}

bool
jcs_stream(Jsonb *jb, const char *omit_key, JcsSink sink, void *arg, char **why)
{
	StringInfoData staged;
	JcsOut		o = {&staged, sink, arg};
	bool		ok;

	initStringInfo(&staged);
	ok = append_container(&o, &jb->root, omit_key, why);
	if (ok)
		flush_out(&o);
	pfree(staged.data);
	return ok;
}
