/*
 * formats.c
 *	  Strict RFC 3339 and UUID text parsers (see formats.h).
 *
 * PostgreSQL's own timestamptz_in and uuid_in are deliberately lenient (they
 * accept "now", braces, missing offsets and DateStyle-dependent orders);
 * envelopes need the one unambiguous form, so these check the text first and
 * then build the value with PostgreSQL's own calendar arithmetic.
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/datetime.h"

#include "formats.h"

static bool
digits(const char *s, int n, int *value)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*value = v;
	return true;
}

static int
days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return days[month - 1];
}

/* full-date = YYYY-MM-DD; exactly 10 characters at s. */
static bool
parse_full_date(const char *s, int *year, int *month, int *day, const char **why)
{
	if (!digits(s, 4, year) || s[4] != '-' || !digits(s + 5, 2, month) ||
		s[7] != '-' || !digits(s + 8, 2, day))
	{
		*why = "the date must be YYYY-MM-DD";
		return false;
	}
	if (*month < 1 || *month > 12 || *day < 1 || *day > days_in_month(*year, *month))
	{
		*why = "the date does not exist";
		return false;
	}
	return true;
}

/*
 * partial-time = HH:MM:SS[.frac]; returns the number of characters used, or
 * -1.  *usec gets the fraction rounded to microseconds (may carry to 1e6).
 */
static int
parse_partial_time(const char *s, int len, int *hour, int *minute, int *second,
				   int64 *usec, const char **why)
{
	int			i;

	if (len < 8 || !digits(s, 2, hour) || s[2] != ':' || !digits(s + 3, 2, minute) ||
		s[5] != ':' || !digits(s + 6, 2, second))
	{
		*why = "the time must be HH:MM:SS";
		return -1;
	}
	/* 60 is a leap second, which RFC 3339 allows. */
	if (*hour > 23 || *minute > 59 || *second > 60)
	{
		*why = "the time does not exist";
		return -1;
	}
	i = 8;
	*usec = 0;
	if (i < len && s[i] == '.')
	{
		int			ndigits = 0;
		bool		round_up = false;

		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, ndigits++)
		{
			if (ndigits < 6)
				*usec = *usec * 10 + (s[i] - '0');
			else if (ndigits == 6)
				round_up = s[i] >= '5';	/* round half up to microseconds */
		}
		if (ndigits == 0)
		{
			*why = "a decimal point must be followed by digits";
			return -1;
		}
		for (int k = ndigits; k < 6; k++)
			*usec *= 10;
		if (round_up)
			(*usec)++;
	}
	return i;
}

/* time-offset = Z / (+|-)HH:MM; returns characters used or -1. */
static int
parse_offset(const char *s, int len, int *offset_seconds, const char **why)
{
	int			h,
				m;

	if (len >= 1 && (s[0] == 'Z' || s[0] == 'z'))
	{
		*offset_seconds = 0;
		return 1;
	}
	if (len == 0)
	{
		*why = "a UTC offset (\"Z\" or \"+HH:MM\") is required";
		return -1;
	}
	if ((s[0] != '+' && s[0] != '-') || len < 6 || !digits(s + 1, 2, &h) ||
		s[3] != ':' || !digits(s + 4, 2, &m))
	{
		*why = "the UTC offset must be \"Z\" or \"+HH:MM\" / \"-HH:MM\"";
		return -1;
	}
	if (h > 23 || m > 59)
	{
		*why = "the UTC offset is out of range";
		return -1;
	}
	*offset_seconds = (h * 3600 + m * 60) * (s[0] == '-' ? -1 : 1);
	return 6;
}

bool
rfc3339_parse_datetime(const char *s, int len, TimestampTz *result, const char **why)
{
	int			year,
				month,
				day,
				hour,
				minute,
				second,
				offset,
				n;
	int64		usec;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (len < 10 || !parse_full_date(s, &year, &month, &day, why))
	{
		if (len < 10)
			*why = "the date must be YYYY-MM-DD";
		return false;
	}
	if (len < 11 || (s[10] != 'T' && s[10] != 't'))
	{
		*why = "the date and time must be separated by \"T\"";
		return false;
	}
	n = parse_partial_time(s + 11, len - 11, &hour, &minute, &second, &usec, why);
	if (n < 0)
		return false;
	n += 11;
	{
		int			used = parse_offset(s + n, len - n, &offset, why);

		if (used < 0)
			return false;
		n += used;
	}
	if (n != len)
	{
		*why = "unexpected characters after the UTC offset";
		return false;
	}
	/* A leap second is only possible at 23:59:60 UTC. */
	if (second == 60)
	{
		int			utc_minutes = ((hour * 60 + minute) - offset / 60) % 1440;

		if (utc_minutes < 0)
			utc_minutes += 1440;
		if (utc_minutes != 23 * 60 + 59)
		{
			*why = "a leap second can only be 23:59:60 UTC";
			return false;
		}
	}

	if (result != NULL)
	{
		struct pg_tm tm;
		int			tz = -offset;	/* PostgreSQL counts seconds west of UTC */
		fsec_t		fsec = 0;
		TimestampTz ts;

		memset(&tm, 0, sizeof(tm));
		tm.tm_year = year;
		tm.tm_mon = month;
		tm.tm_mday = day;
		tm.tm_hour = hour;
		tm.tm_min = minute;
		tm.tm_sec = second == 60 ? 59 : second;
		if (tm2timestamp(&tm, fsec, &tz, &ts) != 0 || !IS_VALID_TIMESTAMP(ts))
		{
			*why = "the date-time is out of range";
			return false;
		}
		/* leap second and the rounded fraction, added as plain microseconds */
		ts += usec + (second == 60 ? USECS_PER_SEC : 0);
		if (!IS_VALID_TIMESTAMP(ts))
		{
			*why = "the date-time is out of range";
			return false;
		}
		*result = ts;
	}
	return true;
}

bool
rfc3339_valid_date(const char *s, int len)
{
	int			y,
				m,
				d;
	const char *why;

	return len == 10 && parse_full_date(s, &y, &m, &d, &why);
}

bool
rfc3339_valid_time(const char *s, int len)
{
	int			h,
				mi,
				sec,
				offset,
				n,
				used;
	int64		usec;
	const char *why;

	n = parse_partial_time(s, len, &h, &mi, &sec, &usec, &why);
	if (n < 0)
		return false;
	used = parse_offset(s + n, len - n, &offset, &why);
	if (used < 0 || n + used != len)
		return false;
	if (sec == 60)
	{
		int			utc_minutes = ((h * 60 + mi) - offset / 60) % 1440;

		if (utc_minutes < 0)
			utc_minutes += 1440;
		return utc_minutes == 23 * 60 + 59;
	}
	return true;
}

/* Value of each byte as a hex digit, -1 if it is none. */
static const signed char hex_digit_value[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, -1, -1, -1, -1, -1, -1,
	-1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
};

/* Where the 16 bytes' digit pairs start in the hyphenated form. */
static const unsigned char uuid_pair_offset[16] = {
	0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34
};

/*
 * Checked on every uuid of every envelope and payload (format "uuid"), so
 * table-driven with one test of all digits at the end rather than a branch
 * per character.
 */
bool
uuid_parse_hyphenated(const char *s, int len, pg_uuid_t *result)
{
	const unsigned char *u = (const unsigned char *) s;
	int			bad = 0;

	if (len != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
		return false;
	for (int i = 0; i < 16; i++)
	{
		int			hi = hex_digit_value[u[uuid_pair_offset[i]]];
		int			lo = hex_digit_value[u[uuid_pair_offset[i] + 1]];

		bad |= hi | lo;			/* negative once any is not a digit */
		if (result != NULL)
			result->data[i] = (unsigned char) (((unsigned) hi << 4) | (unsigned) lo);
	}
	return bad >= 0;
}
