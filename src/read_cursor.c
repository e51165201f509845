/*
 * read_cursor.c
 *	  candystore.cursor_encode(xid, position): the read_all() cursor, 16 hex
 *	  digits of each, so that cursors sort as text in reading order.  In C
 *	  because every row a read returns carries one (45_read_all.sql).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/xid8.h"

#define CURSOR_LEN 33			/* 16 + '-' + 16 */

/* v as 16 lower-case hex digits, most significant first */
static inline void
put_hex16(char *out, uint64 v)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--)
	{
		out[i] = digits[v & 0xf];
		v >>= 4;
	}
}

PG_FUNCTION_INFO_V1(candystore_cursor_encode);

/* candystore.cursor_encode(xid xid8, position bigint) RETURNS text */
Datum
candystore_cursor_encode(PG_FUNCTION_ARGS)
{
	FullTransactionId xid = PG_GETARG_FULLTRANSACTIONID(0);
	int64		position = PG_GETARG_INT64(1);
	text	   *cursor;
	char	   *out;

	if (position < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("position must not be negative")));
	/* by hand, not snprintf(): this runs for every row a read returns */
	cursor = (text *) palloc(VARHDRSZ + CURSOR_LEN);
	SET_VARSIZE(cursor, VARHDRSZ + CURSOR_LEN);
	out = VARDATA(cursor);
	put_hex16(out, U64FromFullTransactionId(xid));
	out[16] = '-';
	put_hex16(out + 17, (uint64) position);
	PG_RETURN_TEXT_P(cursor);
}
