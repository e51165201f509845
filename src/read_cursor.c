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

PG_FUNCTION_INFO_V1(candystore_cursor_encode);

/* candystore.cursor_encode(xid xid8, position bigint) RETURNS text */
Datum
candystore_cursor_encode(PG_FUNCTION_ARGS)
{
	FullTransactionId xid = PG_GETARG_FULLTRANSACTIONID(0);
	int64		position = PG_GETARG_INT64(1);
	char		buf[CURSOR_LEN + 1];

	if (position < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("position must not be negative")));
	snprintf(buf, sizeof(buf), "%016" INT64_MODIFIER "x-%016" INT64_MODIFIER "x",
			 U64FromFullTransactionId(xid), (uint64) position);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, CURSOR_LEN));
}
