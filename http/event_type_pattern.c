/*
 * event_type_pattern.c
 *	  The extension's event type pattern matcher, compiled into the server
 *	  (and its fuzz build) with the server's flags: the stream filters its
 *	  shared live ring per client with exactly the rules the database applies.
 */
#include "../src/event_type_pattern.c"
