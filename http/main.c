/*
 * main.c — candystore-http: settings, the libmicrohttpd daemon, the access
 * handler that routes, authenticates and reads bodies, the log line of every
 * request, and the signals (SIGHUP reloads, SIGTERM/SIGINT drain and exit).
 *
 * Threads: libmicrohttpd's internal thread pool (--threads) runs the
 * handlers, which block on libpq; streams suspend their connections and hold
 * neither a thread nor a database connection (stream.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth.h"
#include "config.h"
#include "cors.h"
#include "json.h"
#include "log.h"
#include "lookup_queue.h"
#include "metrics.h"
#include "pool.h"
#include "problem.h"
#include "request.h"
#include "router.h"
#include "slow_clients.h"
#include "stream.h"
#include "tls.h"

/* how long SIGTERM waits for requests in flight before closing anyway */
#define DRAIN_TIMEOUT_S 30
/*
 * per connection: request line and headers must fit (longer: 414/431 from
 * libmicrohttpd).  32 KiB holds the longest URL the API takes (64 type
 * filters of 255 characters) with room for headers; libmicrohttpd zeroes
 * the used part of this pool between the requests of a kept-alive
 * connection, which at 64 KiB was a tenth of the server's CPU per GET.
 */
#define CONNECTION_MEMORY_LIMIT (32 * 1024)
/* a body without Content-Length that outgrows the limit is read and dropped up to this multiple */
#define DISCARD_FACTOR 16

/* what the access handler keeps for one request between its calls */
typedef struct conn_state
{
	cs_request *r;
	const cs_route *route;
	bool		too_large;		/* body over the limit: discard the rest, then 413 */
	size_t		discarded;
} conn_state;

static atomic_int in_flight;

static bool
is_json_media_type(const char *ct)
{
	size_t		n;

	if (ct == NULL)
		return true;			/* curl -d without -H: take it as JSON */
	n = strcspn(ct, ";");
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return true;
	if (n >= 5 && strncasecmp(ct + n - 5, "+json", 5) == 0)
		return true;
	/* curl -d's default: the body still has to be JSON */
	return n == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

/* the first call: route, authenticate, check the announced body size */
static enum MHD_Result
first_call(conn_state *st, const char *method, const char *url)
{
	cs_request *r = st->r;
	char		allow[64];
	enum MHD_Result ret;
	route_outcome outcome = router_match(r, method, url, &st->route, allow, sizeof(allow));
	const cs_config *cfg = config_current();

	switch (outcome)
	{
		case ROUTE_NOT_FOUND:
			return cs_respond_problem(r, 404, NULL, "Not Found",
									  "No resource at this path; GET /openapi.json lists them.", NULL, NULL);
		case ROUTE_METHOD_NOT_ALLOWED:
			/* OPTIONS (a CORS preflight among others) needs no token */
			if (strcmp(method, "OPTIONS") == 0)
				return cors_options(r, allow);
			cs_request_add_header(r, "Allow", allow);
			return cs_respond_problem(r, 405, NULL, "Method Not Allowed", NULL, NULL, NULL);
		case ROUTE_BAD_PARAMETER:
			return cs_respond_problem(r, 400, NULL, "Bad Request",
									  "A path segment is not valid UTF-8 or holds a NUL byte.", NULL, NULL);
		case ROUTE_FOUND:
			break;
	}

	if (st->route->access == ACCESS_TOKEN ||
		(st->route->access == ACCESS_READY && !cfg->public_ready))
	{
		if (!auth_authenticate(r, &ret))
			return ret;
	}

	if (st->route->has_body)
	{
		const char *cl = cs_request_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);

		if (!is_json_media_type(cs_request_header(r, MHD_HTTP_HEADER_CONTENT_TYPE)))
			return cs_respond_problem(r, 415, NULL, "Unsupported Media Type",
									  "Send the body as application/json.", NULL, NULL);
		if (cl != NULL && strtoull(cl, NULL, 10) > cfg->max_body_bytes)
		{
			char		detail[128];

			snprintf(detail, sizeof(detail), "The body may be at most %zu bytes.", cfg->max_body_bytes);
			return cs_respond_problem(r, 413, NULL, "Content Too Large", detail,
									  "Send fewer events per request.", NULL);
		}
	}
	return MHD_YES;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			   const char *version, const char *upload_data, size_t *upload_data_size,
			   void **req_cls)
{
	conn_state *st = *req_cls;

	(void) cls;
	(void) version;
	if (st == NULL)
	{
		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return MHD_NO;
		st->r = request_new(conn, method, url);
		*req_cls = st;
		slow_clients_request_started(conn);
		atomic_fetch_add(&in_flight, 1);
		return first_call(st, method, url);
	}
	if (request_responded(st->r))
	{
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0)
	{
		size_t		max = config_current()->max_body_bytes;

		/* a body trickled in slower than the request deadline: close */
		if (request_elapsed(st->r) > config_current()->request_timeout_s)
		{
			cs_log(CS_LOG_INFO, cs_request_id(st->r), "body not received in time: connection closed", NULL);
			return MHD_NO;
		}
		/* a body where none is expected is read and dropped */
		if (st->route->has_body && !st->too_large &&
			!request_append_body(st->r, upload_data, *upload_data_size, max))
			st->too_large = true;
		if (st->too_large || !st->route->has_body)
		{
			st->discarded += *upload_data_size;
			if (st->discarded > DISCARD_FACTOR * max)
				return MHD_NO;	/* stop reading: close the connection */
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (st->too_large)
	{
		char		detail[128];

		snprintf(detail, sizeof(detail), "The body may be at most %zu bytes.",
				 config_current()->max_body_bytes);
		return cs_respond_problem(st->r, 413, NULL, "Content Too Large", detail,
								  "Send fewer events per request.", NULL);
	}
	return st->route->handler(st->r);
}

static void
request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
				  enum MHD_RequestTerminationCode toe)
{
	conn_state *st = *req_cls;
	cs_request *r;
	unsigned	status;
	double		seconds;

	(void) cls;
	if (st == NULL)
		return;
	r = st->r;
	status = request_status(r);
	if (status == 0)
		status = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408 : 499;
	seconds = request_elapsed(r);
	metrics_observe_request(request_route(r), cs_request_method(r), status, seconds);

	if (log_enabled(CS_LOG_INFO))
	{
		jbuf		f;
		bool		first = true;
		char		addr[INET6_ADDRSTRLEN] = "";
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		if (ci != NULL && ci->client_addr != NULL)
		{
			const struct sockaddr *sa = ci->client_addr;

			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, addr, sizeof(addr));
			else if (sa->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, addr, sizeof(addr));
		}
		jbuf_init(&f);
		jbuf_field_str(&f, &first, "method", cs_request_method(r));
		jbuf_field_str(&f, &first, "path", cs_request_path(r));
		jbuf_field_str(&f, &first, "route", request_route(r));
		jbuf_printf(&f, ",\"status\":%u,\"duration_ms\":%.3f", status, seconds * 1000.0);
		jbuf_field_str(&f, &first, "role", cs_request_role(r));
		jbuf_field_str(&f, &first, "remote", addr[0] ? addr : NULL);
		cs_log(CS_LOG_INFO, cs_request_id(r), "request", f.data);
		jbuf_free(&f);
	}
	request_free(r);
	free(st);
	*req_cls = NULL;
	slow_clients_request_done(conn);
	atomic_fetch_sub(&in_flight, 1);
}

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char		msg[512];
	size_t		n;

	(void) cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	cs_log(CS_LOG_WARN, NULL, msg, "\"source\":\"libmicrohttpd\"");
}

/* "host:port", "[v6]:port" or ":port" to a socket address */
static bool
resolve_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	char		host[256];
	const char *port;
	struct addrinfo hints,
			   *res;
	int			rc;

	if (listen[0] == '[')
	{
		const char *end = strchr(listen, ']');

		if (end == NULL || end[1] != ':' || (size_t) (end - listen - 1) >= sizeof(host))
		{
			snprintf(err, errlen, "--listen: \"%s\" is not [address]:port", listen);
			return false;
		}
		memcpy(host, listen + 1, (size_t) (end - listen - 1));
		host[end - listen - 1] = '\0';
		port = end + 2;
	}
	else
	{
		const char *colon = strrchr(listen, ':');

		if (colon == NULL || (size_t) (colon - listen) >= sizeof(host))
		{
			snprintf(err, errlen, "--listen: \"%s\" is not address:port", listen);
			return false;
		}
		memcpy(host, listen, (size_t) (colon - listen));
		host[colon - listen] = '\0';
		port = colon + 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0)
	{
		snprintf(err, errlen, "--listen: \"%s\": %s", listen, gai_strerror(rc));
		return false;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return true;
}

int
main(int argc, char **argv)
{
	cs_config	cfg;
	bool		help;
	char		err[512];
	struct sockaddr_storage addr;
	sigset_t	sigs;
	struct MHD_Daemon *daemon;
	unsigned int flags;
	bool		tls = false;
	int			sig;
	MHD_socket	listen_fd;

	if (!config_load(&cfg, argc, argv, &help, err, sizeof(err)))
	{
		fprintf(stderr, "candystore-http: %s\n", err);
		return 2;
	}
	if (help)
	{
		config_usage(stdout);
		return 0;
	}
	config_set_current(&cfg);
	if (!resolve_listen(cfg.listen, &addr, err, sizeof(err)))
	{
		cs_log(CS_LOG_ERROR, NULL, err, NULL);
		return 2;
	}
	if (cfg.tls_cert != NULL)
	{
		if (!tls_load(cfg.tls_cert, cfg.tls_key, err, sizeof(err)))
		{
			cs_log(CS_LOG_ERROR, NULL, err, NULL);
			return 2;
		}
		tls = true;
	}

	/* the signals go to this thread's sigwait, none to libmicrohttpd's threads */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	pool_init(cfg.db, cfg.pool_size);
	/* one batch of lookups in flight per CPU: each keeps one backend busy */
	{
		long		cpus = sysconf(_SC_NPROCESSORS_ONLN);

		lookup_queue_start(cpus < 1 ? 1 : cpus < cfg.pool_size ? (int) cpus : cfg.pool_size);
	}
	slow_clients_start();
	if (!stream_start(config_current()))
	{
		cs_log(CS_LOG_ERROR, NULL, "the event stream could not start", NULL);
		return 1;
	}

	/*
	 * TURBO: libmicrohttpd reads and writes before asking epoll whether the
	 * socket is ready, which is usually so on a kept-alive connection: about
	 * a tenth more GETs a second (bench/http.sh).  What it leaves out, a
	 * shutdown() before close, the 413 path does not need: the refused body
	 * is read and dropped (DISCARD_FACTOR) before the 413 is sent.
	 */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
		MHD_USE_TURBO | MHD_USE_ERROR_LOG;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls)
		flags |= MHD_USE_TLS;
	daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, NULL,
							  MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
							  MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
							  MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) cfg.threads,
							  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) cfg.idle_timeout_s,
							  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONNECTION_MEMORY_LIMIT,
							  MHD_OPTION_CONNECTION_LIMIT, (unsigned int) (cfg.max_stream_clients + 1024),
							  MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
							  MHD_OPTION_NOTIFY_CONNECTION, slow_clients_notify, NULL,
							  MHD_OPTION_UNESCAPE_CALLBACK, router_unescape, NULL,
							  /* asked at each handshake: SIGHUP can swap them */
							  tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, tls_certificate,
							  MHD_OPTION_END);
	if (daemon == NULL)
	{
		snprintf(err, sizeof(err), "cannot listen on %s (in use, or not an address of this host?)",
				 cfg.listen);
		cs_log(CS_LOG_ERROR, NULL, err, NULL);
		return 1;
	}
	{
		jbuf		f;
		bool		first = true;

		jbuf_init(&f);
		jbuf_field_str(&f, &first, "listen", cfg.listen);
		jbuf_field_str(&f, &first, "scheme", tls ? "https" : "http");
		jbuf_printf(&f, ",\"threads\":%d,\"pool_size\":%d", cfg.threads, cfg.pool_size);
		cs_log(CS_LOG_INFO, NULL, "listening", f.data);
		jbuf_free(&f);
	}

	for (;;)
	{
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP)
		{
			cs_config	fresh;

			if (config_load(&fresh, argc, argv, &help, err, sizeof(err)))
			{
				config_apply_reload(&fresh);
				auth_forget();
				cs_log(CS_LOG_INFO, NULL, "settings reloaded, token cache emptied", NULL);
				/* a renewed certificate: new connections get it, open ones keep theirs */
				if (tls && fresh.tls_cert != NULL)
				{
					if (tls_load(fresh.tls_cert, fresh.tls_key, err, sizeof(err)))
						cs_log(CS_LOG_INFO, NULL, "TLS certificate and key reloaded", NULL);
					else
						cs_log(CS_LOG_ERROR, NULL, err,
							   "\"reload\":\"refused, the certificate served before stays\"");
				}
				else if (tls != (fresh.tls_cert != NULL))
					cs_log(CS_LOG_WARN, NULL,
						   "turning TLS on or off takes a restart; the scheme stays", NULL);
			}
			else
				cs_log(CS_LOG_ERROR, NULL, err, "\"reload\":\"refused, settings unchanged\"");
			continue;
		}
		break;
	}

	/* drain: stop accepting, end streams, let requests finish, stop */
	cs_log(CS_LOG_INFO, NULL, "draining", NULL);
	listen_fd = MHD_quiesce_daemon(daemon);
	/* closed at once: the kernel would otherwise go on completing handshakes */
	if (listen_fd != MHD_INVALID_SOCKET)
		close(listen_fd);
	stream_stop();
	for (int waited = 0; atomic_load(&in_flight) > 0 && waited < DRAIN_TIMEOUT_S * 10; waited++)
	{
		struct timespec ts = {0, 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(daemon);
	lookup_queue_stop();
	slow_clients_stop();
	pool_shutdown();
	cs_log(CS_LOG_INFO, NULL, "stopped", NULL);
	tls_shutdown();
	return 0;
}
