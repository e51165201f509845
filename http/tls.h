/*
 * tls.h — the certificate chain and key candystore-http presents, read from
 * PEM files at start and again on SIGHUP (a certificate renewed in place is
 * served to every new connection; connections already open keep theirs).
 * libmicrohttpd asks for them at each handshake (MHD_OPTION_HTTPS_CERT_CALLBACK).
 */
#ifndef CS_HTTP_TLS_H
#define CS_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

/*
 * Reads the chain and key and, when both load and the key is the
 * certificate's, serves them from the next handshake on.  Otherwise false
 * with the reason in err, and what was served before stays.
 */
bool		tls_load(const char *cert_path, const char *key_path, char *err, size_t errlen);

/* the handshake callback (gnutls_certificate_retrieve_function2) */
int			tls_certificate(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn,
							int nreqs, const gnutls_pk_algorithm_t *pk_algos,
							int pk_algos_length, gnutls_pcert_st **pcert,
							unsigned int *pcert_length, gnutls_privkey_t *privkey);

/* frees every set loaded (the daemon is stopped) */
void		tls_shutdown(void);

#endif
