/*
 * slow_clients.h — a deadline for a request to arrive whole.
 *
 * libmicrohttpd's timeout (--idle-timeout-s) closes a connection that sends
 * nothing; a client that trickles its headers a byte at a time never trips
 * it.  Every connection gets --request-timeout-s from its opening (or from
 * its previous answer, on a kept-alive connection) to have sent its request
 * line and headers; a watchdog thread shuts the socket of one that has not,
 * and libmicrohttpd then closes it as it would any other.  The body has the
 * same deadline, checked as it arrives (main.c).
 */
#ifndef CS_HTTP_SLOW_CLIENTS_H
#define CS_HTTP_SLOW_CLIENTS_H

#include <microhttpd.h>

void		slow_clients_start(void);
void		slow_clients_stop(void);
/* MHD_OPTION_NOTIFY_CONNECTION */
void		slow_clients_notify(void *cls, struct MHD_Connection *c, void **socket_context,
								enum MHD_ConnectionNotificationCode code);
/* the headers are in (the access handler's first call): no deadline while it is answered */
void		slow_clients_request_started(struct MHD_Connection *c);
/* answered: the next request's clock starts */
void		slow_clients_request_done(struct MHD_Connection *c);

#endif
