/*
 * amqp_link.h
 *	  The broker link both workers use: connection, topology and reconnect
 *	  (amqp_link.c), and amqps:// certificate verification (amqp_tls.c).
 */
#ifndef CANDYSTORE_AMQP_LINK_H
#define CANDYSTORE_AMQP_LINK_H

#include <amqp.h>

#include "nodes/pg_list.h"

/* the one channel a link opens: the workers' consumers and publishes use it */
#define AMQP_LINK_CHANNEL 1

typedef struct AmqpLink
{
	amqp_connection_state_t conn;
	char	   *broker;			/* the URL connected to, password removed */
	int			next_url;		/* where the next connection attempt starts */
	bool		publishing;		/* set before opening: the publisher's link */
	uint64		next_tag;		/* publishing: delivery tag of the next publish */
	List	   *exchanges_ok;	/* publishing: exchanges known to exist */
} AmqpLink;

/* amqp_link.c */
extern bool amqp_link_open(AmqpLink *link, char **error);
extern void amqp_link_close(AmqpLink *link);
extern int	amqp_link_socket(AmqpLink *link);
extern bool amqp_link_ack_upto(AmqpLink *link, uint64 delivery_tag, char **error);
extern char *amqp_link_headers_json(amqp_basic_properties_t *props);
extern bool amqp_link_exchange_exists(AmqpLink *link, const char *exchange, char **error);
extern char *amqp_link_frame_error(AmqpLink *link, amqp_frame_t *frame);

/* amqp_tls.c */
extern char *amqp_tls_prepare(amqp_socket_t *sock, const char *host);
extern char *amqp_tls_failure(int status, const char *host);

#endif
