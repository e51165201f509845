/*
 * hex_digit.h
 *	  The value of one hexadecimal digit, for the parsers that read escapes
 *	  by hand: the ECMA-262 pattern translator (\xHH, \uHHHH), and
 *	  candystore-http's percent-decoding and its fuzz oracle.  Plain C, so
 *	  the HTTP server includes it too.
 */
#ifndef CANDYSTORE_HEX_DIGIT_H
#define CANDYSTORE_HEX_DIGIT_H

/* 0-15 for a hexadecimal digit, -1 for anything else */
static inline int
hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif							/* CANDYSTORE_HEX_DIGIT_H */
