/*
 * cs_amqp.h
 *	  What the test and benchmark AMQP tools (cs_publish, cs_consume) share:
 *	  dying with a message, checking an RPC reply, and one connection with
 *	  channel 1 open as guest on vhost "/".  Compile t/cs_amqp.c with them.
 */
#ifndef CS_AMQP_H
#define CS_AMQP_H

#include <stdint.h>

#include <amqp.h>

/* the tool's name, prefixed to its error messages */
extern const char *cs_amqp_program;

extern void cs_amqp_die(const char *what);
extern void cs_amqp_check(amqp_rpc_reply_t r, const char *what);
extern amqp_connection_state_t cs_amqp_connect(const char *host, const char *port);
extern void cs_amqp_close(amqp_connection_state_t conn);
/* With publisher confirms: waits until every message up to 'upto' is
 * confirmed; dies on a nack or a close (naming last_sent, if given). */
extern void cs_amqp_await_confirms(amqp_connection_state_t conn, uint64_t upto,
								   uint64_t *confirmed, const char *last_sent);
/* Handles the confirms already received, without waiting; dies likewise. */
extern void cs_amqp_take_confirms(amqp_connection_state_t conn, uint64_t *confirmed);

#endif
