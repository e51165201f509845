/*
 * amqp_link.c
 *	  The broker connection: open one of the configured URLs in turn, declare
 *	  the topology (exchange, queue with its dead-letter exchange and queue,
 *	  bindings), and start consuming with manual acks and a prefetch window.
 *	  Closing the connection hands every unacked delivery back to RabbitMQ.
 *	  The outbox publisher's link (publishing = true) declares only the
 *	  exchange and puts the channel in confirm mode instead.
 */
#include "postgres.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"

#include "amqp_headers.h"
#include "amqp_link.h"
#include "settings.h"

#define AMQP_IO_TIMEOUT_S 10

/*
 * For a method that closes the channel or the connection, why, after who;
 * otherwise NULL.  The one place the broker's close methods are decoded,
 * whether they answer an RPC or arrive as a frame of their own.
 */
static char *
close_error(const char *who, const amqp_method_t *method)
{
	if (method->id == AMQP_CHANNEL_CLOSE_METHOD)
	{
		amqp_channel_close_t *m = method->decoded;

		return psprintf("%s: channel closed by broker: %u %.*s", who, m->reply_code,
						(int) m->reply_text.len, (char *) m->reply_text.bytes);
	}
	if (method->id == AMQP_CONNECTION_CLOSE_METHOD)
	{
		amqp_connection_close_t *m = method->decoded;

		return psprintf("%s: connection closed by broker: %u %.*s", who, m->reply_code,
						(int) m->reply_text.len, (char *) m->reply_text.bytes);
	}
	return NULL;
}

static char *
reply_error(amqp_rpc_reply_t r, const char *what)
{
	switch (r.reply_type)
	{
		case AMQP_RESPONSE_NORMAL:
			return NULL;
		case AMQP_RESPONSE_NONE:
			return psprintf("%s: missing RPC reply", what);
		case AMQP_RESPONSE_LIBRARY_EXCEPTION:
			return psprintf("%s: %s", what, amqp_error_string2(r.library_error));
		case AMQP_RESPONSE_SERVER_EXCEPTION:
			{
				char	   *closed = close_error(what, &r.reply);

				if (closed != NULL)
					return closed;
				return psprintf("%s: broker error, method 0x%08X", what, r.reply.id);
			}
	}
	return psprintf("%s: unknown reply", what);
}

/*
 * Cells: the x-consistent-hash exchange (rabbitmq_consistent_hash_exchange
 * plugin) that splits the stream between the cells' queues, and this cell's
 * queue bound to it with its weight.  It hashes a header or the
 * correlation_id property, never the routing key: the topic exchange in
 * front of it still routes by routing key (declare_topology binds the two).
 * All cells must declare it alike, or the broker refuses the second
 * (PRECONDITION_FAILED), which the worker reports and retries.
 */
static char *
declare_cell_exchange(amqp_connection_state_t conn)
{
	amqp_table_entry_t arg;
	amqp_table_t table;
	char	   *err;

	if (worker_cell_hash_header[0] != '\0')
	{
		arg.key = amqp_cstring_bytes("hash-header");
		arg.value.value.bytes = amqp_cstring_bytes(worker_cell_hash_header);
	}
	else
	{
		arg.key = amqp_cstring_bytes("hash-property");
		arg.value.value.bytes = amqp_cstring_bytes("correlation_id");
	}
	arg.value.kind = AMQP_FIELD_KIND_UTF8;
	table.entries = &arg;
	table.num_entries = 1;
	amqp_exchange_declare(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_cell_exchange),
						  amqp_cstring_bytes("x-consistent-hash"), 0, 1, 0, 0, table);
	if ((err = reply_error(amqp_get_rpc_reply(conn), "declaring cell exchange")))
		return err;
	amqp_queue_bind(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_queue),
					amqp_cstring_bytes(worker_cell_exchange),
					amqp_cstring_bytes(psprintf("%d", worker_cell_weight)),
					amqp_empty_table);
	return reply_error(amqp_get_rpc_reply(conn), "binding queue to cell exchange");
}

/* Declares the exchange, the dead-letter path and the bound queue. */
static char *
declare_topology(amqp_connection_state_t conn)
{
	amqp_table_entry_t args[3];
	amqp_table_t table;
	char	   *keys,
			   *key,
			   *save;
	char	   *err;

	amqp_exchange_declare(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_exchange),
						  amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
	if ((err = reply_error(amqp_get_rpc_reply(conn), "declaring exchange")))
		return err;

	amqp_exchange_declare(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_dlx_exchange),
						  amqp_cstring_bytes("fanout"), 0, 1, 0, 0, amqp_empty_table);
	if ((err = reply_error(amqp_get_rpc_reply(conn), "declaring dead-letter exchange")))
		return err;
	/*
	 * quorum: replicated, so a dead letter survives the loss of a node.  A
	 * classic one is declared without arguments, as before the setting, so
	 * that a queue declared then stays equivalent.
	 */
	args[0].key = amqp_cstring_bytes("x-queue-type");
	args[0].value.kind = AMQP_FIELD_KIND_UTF8;
	args[0].value.value.bytes = amqp_cstring_bytes("quorum");
	table.entries = args;
	table.num_entries = worker_dlq_type == QUEUE_TYPE_QUORUM ? 1 : 0;
	amqp_queue_declare(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_dlq), 0, 1, 0, 0, table);
	if ((err = reply_error(amqp_get_rpc_reply(conn), "declaring dead-letter queue")))
		return err;
	amqp_queue_bind(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_dlq),
					amqp_cstring_bytes(worker_dlx_exchange), amqp_cstring_bytes(""),
					amqp_empty_table);
	if ((err = reply_error(amqp_get_rpc_reply(conn), "binding dead-letter queue")))
		return err;

	args[0].key = amqp_cstring_bytes("x-dead-letter-exchange");
	args[0].value.kind = AMQP_FIELD_KIND_UTF8;
	args[0].value.value.bytes = amqp_cstring_bytes(worker_dlx_exchange);
	args[1].key = amqp_cstring_bytes("x-queue-type");
	args[1].value.kind = AMQP_FIELD_KIND_UTF8;
	args[1].value.value.bytes = amqp_cstring_bytes(worker_queue_type == QUEUE_TYPE_QUORUM ? "quorum" : "classic");
	table.entries = args;
	table.num_entries = 2;
	if (worker_queue_type == QUEUE_TYPE_QUORUM)
	{
		/* classic queues have no delivery limit in RabbitMQ 3.x */
		args[2].key = amqp_cstring_bytes("x-delivery-limit");
		args[2].value.kind = AMQP_FIELD_KIND_I32;
		args[2].value.value.i32 = worker_max_deliveries;
		table.num_entries = 3;
	}
	amqp_queue_declare(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_queue), 0, 1, 0, 0, table);
	if ((err = reply_error(amqp_get_rpc_reply(conn), "declaring queue")))
		return err;

	/* a cell's queue takes its share of what the cell exchange receives */
	if (worker_cell_exchange[0] != '\0' && (err = declare_cell_exchange(conn)))
		return err;

	keys = pstrdup(worker_binding_keys);
	for (key = strtok_r(keys, ",", &save); key; key = strtok_r(NULL, ",", &save))
	{
		while (*key == ' ')
			key++;
		if (worker_cell_exchange[0] != '\0')
			amqp_exchange_bind(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_cell_exchange),
							   amqp_cstring_bytes(worker_exchange), amqp_cstring_bytes(key),
							   amqp_empty_table);
		else
			amqp_queue_bind(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_queue),
							amqp_cstring_bytes(worker_exchange), amqp_cstring_bytes(key),
							amqp_empty_table);
		if ((err = reply_error(amqp_get_rpc_reply(conn), "binding queue")))
			return err;
	}
	return NULL;
}

/* The publisher's channel: its exchange exists, and the broker confirms. */
static char *
prepare_publishing(amqp_connection_state_t conn)
{
	char	   *err;

	amqp_exchange_declare(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_exchange),
						  amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
	if ((err = reply_error(amqp_get_rpc_reply(conn), "declaring exchange")))
		return err;
	amqp_confirm_select(conn, AMQP_LINK_CHANNEL);
	return reply_error(amqp_get_rpc_reply(conn), "enabling publisher confirms");
}

/* Connects to one URL; on failure returns the reason and leaves nothing open. */
static char *
connect_one(AmqpLink *link, const char *url)
{
	struct amqp_connection_info info;
	char	   *copy = pstrdup(url);
	amqp_connection_state_t conn;
	amqp_socket_t *sock;
	struct timeval tv = {AMQP_IO_TIMEOUT_S, 0};
	int			rc;
	char	   *err;

	/*
	 * Ask for consumer cancel notifications: without them a consumer the
	 * broker cancels (its queue deleted, its node gone) just stops receiving
	 * while the worker goes on saying "consuming".
	 */
	amqp_table_entry_t capability = {
		.key = amqp_cstring_bytes("consumer_cancel_notify"),
		.value = {.kind = AMQP_FIELD_KIND_BOOLEAN,.value = {.boolean = 1}}
	};
	amqp_table_entry_t property = {
		.key = amqp_cstring_bytes("capabilities"),
		.value = {.kind = AMQP_FIELD_KIND_TABLE,.value = {.table = {1, &capability}}}
	};
	amqp_table_t client_properties = {1, &property};

	if (amqp_parse_url(copy, &info) != AMQP_STATUS_OK)
		return psprintf("invalid candystore.amqp_url entry");

	/* "amqp://host/" names the default vhost, as Bloodbank's clients read it */
	if (info.vhost[0] == '\0')
		info.vhost = "/";

	link->broker = psprintf("%s://%s:%d%s%s", info.ssl ? "amqps" : "amqp", info.host,
							info.port, info.vhost[0] == '/' ? "" : "/", info.vhost);
	conn = amqp_new_connection();
	if (info.ssl)
	{
		sock = amqp_ssl_socket_new(conn);
		if (sock == NULL)
		{
			amqp_destroy_connection(conn);
			return psprintf("%s: cannot create TLS socket", link->broker);
		}
		if ((err = amqp_tls_prepare(sock, info.host)) != NULL)
		{
			amqp_destroy_connection(conn);
			return psprintf("%s: %s", link->broker, err);
		}
	}
	else
		sock = amqp_tcp_socket_new(conn);

	amqp_set_handshake_timeout(conn, &tv);
	amqp_set_rpc_timeout(conn, &tv);
	rc = amqp_socket_open_noblock(sock, info.host, info.port, &tv);
	if (rc != AMQP_STATUS_OK)
	{
		err = info.ssl ? amqp_tls_failure(rc, info.host) : pstrdup(amqp_error_string2(rc));
		amqp_destroy_connection(conn);
		return psprintf("connecting to %s: %s", link->broker, err);
	}
	err = reply_error(amqp_login_with_properties(conn, info.vhost, 0, 131072,
												 worker_amqp_heartbeat,
												 &client_properties, AMQP_SASL_METHOD_PLAIN,
												 info.user, info.password), "logging in");
	if (err == NULL)
	{
		amqp_channel_open(conn, AMQP_LINK_CHANNEL);
		err = reply_error(amqp_get_rpc_reply(conn), "opening channel");
	}
	if (err == NULL && link->publishing)
		err = prepare_publishing(conn);
	else if (err == NULL)
		err = declare_topology(conn);
	if (err == NULL && !link->publishing)
	{
		amqp_basic_qos(conn, AMQP_LINK_CHANNEL, 0, (uint16_t) worker_prefetch, 0);
		err = reply_error(amqp_get_rpc_reply(conn), "setting prefetch");
	}
	if (err == NULL && !link->publishing)
	{
		amqp_basic_consume(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(worker_queue),
						   amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
		err = reply_error(amqp_get_rpc_reply(conn), "starting consumer");
	}
	if (err != NULL)
	{
		amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
		amqp_destroy_connection(conn);
		return psprintf("%s: %s", link->broker, err);
	}
	link->conn = conn;
	link->next_tag = 1;			/* confirm mode numbers publishes from 1 */
	link->exchanges_ok = list_make1(pstrdup(worker_exchange));
	return NULL;
}

/*
 * Tries each configured URL once, starting after the last one used.  Returns
 * true when connected and consuming; otherwise *error says why the last
 * attempt failed.
 */
bool
amqp_link_open(AmqpLink *link, char **error)
{
	List	   *urls = NIL;
	char	   *copy = pstrdup(worker_amqp_url);
	char	   *url,
			   *save;
	int			n;

	for (url = strtok_r(copy, ",", &save); url; url = strtok_r(NULL, ",", &save))
	{
		while (*url == ' ')
			url++;
		if (*url)
			urls = lappend(urls, url);
	}
	n = list_length(urls);
	*error = psprintf("candystore.amqp_url is empty");
	for (int i = 0; i < n; i++)
	{
		char	   *u = list_nth(urls, (link->next_url + i) % n);

		*error = connect_one(link, u);
		if (*error == NULL)
		{
			link->next_url = (link->next_url + i) % n;
			return true;
		}
	}
	link->next_url = (link->next_url + 1) % Max(n, 1);
	return false;
}

void
amqp_link_close(AmqpLink *link)
{
	if (link->conn == NULL)
		return;
	/* best effort: the broker may already be gone */
	amqp_connection_close(link->conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(link->conn);
	link->conn = NULL;
	link->exchanges_ok = NIL;	/* freed with the link's context */
}

int
amqp_link_socket(AmqpLink *link)
{
	return amqp_get_sockfd(link->conn);
}

bool
amqp_link_ack_upto(AmqpLink *link, uint64 delivery_tag, char **error)
{
	int			rc = amqp_basic_ack(link->conn, AMQP_LINK_CHANNEL, delivery_tag, 1);

	if (rc != AMQP_STATUS_OK)
	{
		*error = psprintf("acknowledging: %s", amqp_error_string2(rc));
		return false;
	}
	return true;
}

/*
 * Whether an exchange exists (a passive declare), remembered for the life of
 * the connection.  A missing exchange closes the channel: the caller must
 * drop the link.
 */
bool
amqp_link_exchange_exists(AmqpLink *link, const char *exchange, char **error)
{
	ListCell   *lc;
	MemoryContext old;

	foreach(lc, link->exchanges_ok)
	{
		if (strcmp(lfirst(lc), exchange) == 0)
			return true;
	}
	amqp_exchange_declare(link->conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(exchange),
						  amqp_cstring_bytes("topic"), 1, 0, 0, 0, amqp_empty_table);
	*error = reply_error(amqp_get_rpc_reply(link->conn),
						 psprintf("checking exchange \"%s\"", exchange));
	if (*error != NULL)
		return false;
	/* the list lives as long as the link: in the context of its other parts */
	old = MemoryContextSwitchTo(GetMemoryChunkContext(link->broker));
	link->exchanges_ok = lappend(link->exchanges_ok, pstrdup(exchange));
	MemoryContextSwitchTo(old);
	return true;
}

/* For a frame that closes the channel or connection, why; otherwise NULL. */
char *
amqp_link_frame_error(AmqpLink *link, amqp_frame_t *frame)
{
	if (frame->frame_type != AMQP_FRAME_METHOD)
		return NULL;
	return close_error(link->broker, &frame->payload.method);
}

/* The message's headers as JSON text, or NULL when it has none. */
char *
amqp_link_headers_json(amqp_basic_properties_t *props)
{
	if (!(props->_flags & AMQP_BASIC_HEADERS_FLAG))
		return NULL;
	return amqp_headers_json(&props->headers);
}
