/*
 * amqp_tls.c
 *	  TLS for amqps:// URLs: the broker's certificate is verified, failing
 *	  closed, against candystore.amqp_cacert or, when that is empty, the
 *	  system's trusted CA certificates (OpenSSL's default paths: on Debian
 *	  /etc/ssl/certs, or SSL_CERT_FILE / SSL_CERT_DIR when set), and must
 *	  name the host of the URL (a DNS name, or an IP address literal).
 *
 *	  rabbitmq-c (0.11) loads no trusted certificates by itself and checks a
 *	  certificate only after the handshake, naming no reason.  Here OpenSSL
 *	  verifies during the handshake (SSL_VERIFY_PEER, the host in the verify
 *	  parameters), so an untrusted broker gets an alert before any AMQP byte
 *	  (credentials included) is sent, and the reason OpenSSL found is kept
 *	  for the log line.  rabbitmq-c's own checks stay on as a second line.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <amqp_ssl_socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "amqp_link.h"
#include "settings.h"

/*
 * The first problem OpenSSL found with the broker's certificate chain during
 * the current connection attempt (workers are single-threaded, and attempts
 * are made one at a time).
 */
static int	verify_error = X509_V_OK;

static int
note_verify_error(int ok, X509_STORE_CTX *store)
{
	if (!ok && verify_error == X509_V_OK)
		verify_error = X509_STORE_CTX_get_error(store);
	return ok;
}

static bool
is_ip_literal(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* The reason of OpenSSL's latest error (clearing its queue), for messages. */
static const char *
openssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return reason ? reason : "no detail from OpenSSL";
}

/* Where trusted CA certificates come from, for messages. */
static char *
trust_source(void)
{
	if (worker_amqp_cacert[0] != '\0')
		return psprintf("checked against candystore.amqp_cacert \"%s\"", worker_amqp_cacert);
	return pstrdup("checked against the system's trusted CA certificates; "
				   "set candystore.amqp_cacert to the broker's CA certificate file");
}

/*
 * Sets up a new TLS socket to verify the broker at host.  Returns NULL, or
 * why the socket cannot be used.
 */
char *
amqp_tls_prepare(amqp_socket_t *sock, const char *host)
{
	SSL_CTX    *ctx = amqp_ssl_socket_get_context(sock);
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
	bool		ip = is_ip_literal(host);

	ERR_clear_error();
	if (worker_amqp_cacert[0] != '\0')
	{
		if (amqp_ssl_socket_set_cacert(sock, worker_amqp_cacert) != AMQP_STATUS_OK)
			return psprintf("cannot load candystore.amqp_cacert \"%s\": %s",
							worker_amqp_cacert, openssl_reason());
	}
	else if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		return psprintf("cannot load the system's trusted CA certificates: %s", openssl_reason());

	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1
		: X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)
		return psprintf("cannot verify host \"%s\": %s", host, openssl_reason());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, note_verify_error);

	amqp_ssl_socket_set_verify_peer(sock, 1);
	/* rabbitmq-c matches DNS names only; an address is matched above */
	amqp_ssl_socket_set_verify_hostname(sock, !ip);
	verify_error = X509_V_OK;
	return NULL;
}

/* Why opening a TLS socket to host failed with status, for the log. */
char *
amqp_tls_failure(int status, const char *host)
{
	int			e = verify_error;

	verify_error = X509_V_OK;
	if (e == X509_V_ERR_HOSTNAME_MISMATCH || e == X509_V_ERR_IP_ADDRESS_MISMATCH ||
		status == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED)
	{
		ERR_clear_error();
		return psprintf("TLS: the broker's certificate is not valid for host \"%s\" "
						"(connect by a name or address the certificate lists)", host);
	}
	if (e != X509_V_OK || status == AMQP_STATUS_SSL_PEER_VERIFY_FAILED)
	{
		ERR_clear_error();
		return psprintf("TLS: the broker's certificate is not trusted: %s (%s)",
						e != X509_V_OK ? X509_verify_cert_error_string(e) : "verification failed",
						trust_source());
	}
	if (ERR_peek_last_error() == 0)
		return pstrdup(amqp_error_string2(status));
	return psprintf("%s (%s)", amqp_error_string2(status), openssl_reason());
}
