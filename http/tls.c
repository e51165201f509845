/*
 * tls.c — reloadable server credentials (tls.h).
 *
 * A set once served is never freed before shutdown: GnuTLS keeps no
 * reference count on what the callback hands out, and a handshake in
 * progress may still be using the previous set when SIGHUP swaps in the
 * next.  Reloads are rare (certificate renewals), so the sets kept are few.
 */
#include "tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <gnutls/x509.h>

/* a certificate chain can hold a handful of certificates; more is a mistake */
#define MAX_CHAIN 16

typedef struct tls_set
{
	gnutls_pcert_st chain[MAX_CHAIN];
	unsigned int chain_len;
	gnutls_privkey_t key;
	struct tls_set *older;
} tls_set;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static tls_set *current;

static void
set_free(tls_set *s)
{
	for (unsigned int i = 0; i < s->chain_len; i++)
		gnutls_pcert_deinit(&s->chain[i]);
	if (s->key != NULL)
		gnutls_privkey_deinit(s->key);
	free(s);
}

bool
tls_load(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	gnutls_datum_t cert = {NULL, 0},
				key = {NULL, 0};
	gnutls_certificate_credentials_t check = NULL;
	tls_set    *s = calloc(1, sizeof(tls_set));
	int			rc;
	const char *what;

	if (s == NULL)
		abort();
	s->chain_len = MAX_CHAIN;
	what = cert_path;
	if ((rc = gnutls_load_file(cert_path, &cert)) < 0)
		goto failed;
	what = key_path;
	if ((rc = gnutls_load_file(key_path, &key)) < 0)
		goto failed;
	/* the key must be the certificate's: GnuTLS checks that here */
	what = "the certificate and key";
	if ((rc = gnutls_certificate_allocate_credentials(&check)) < 0 ||
		(rc = gnutls_certificate_set_x509_key_mem(check, &cert, &key, GNUTLS_X509_FMT_PEM)) < 0)
		goto failed;
	what = cert_path;
	if ((rc = gnutls_pcert_list_import_x509_raw(s->chain, &s->chain_len, &cert,
												GNUTLS_X509_FMT_PEM, 0)) < 0)
	{
		s->chain_len = 0;
		goto failed;
	}
	what = key_path;
	if ((rc = gnutls_privkey_init(&s->key)) < 0 ||
		(rc = gnutls_privkey_import_x509_raw(s->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
		goto failed;

	gnutls_certificate_free_credentials(check);
	gnutls_free(cert.data);
	gnutls_free(key.data);
	pthread_mutex_lock(&lock);
	s->older = current;
	current = s;
	pthread_mutex_unlock(&lock);
	return true;

failed:
	snprintf(err, errlen, "TLS: %s: %s", what, gnutls_strerror(rc));
	if (check != NULL)
		gnutls_certificate_free_credentials(check);
	gnutls_free(cert.data);
	gnutls_free(key.data);
	set_free(s);
	return false;
}

int
tls_certificate(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
				const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
				gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	(void) session;
	(void) req_ca_rdn;
	(void) nreqs;
	(void) pk_algos;
	(void) pk_algos_length;
	pthread_mutex_lock(&lock);
	if (current == NULL)
	{
		pthread_mutex_unlock(&lock);
		return -1;
	}
	*pcert = current->chain;
	*pcert_length = current->chain_len;
	*privkey = current->key;
	pthread_mutex_unlock(&lock);
	return 0;
}

void
tls_shutdown(void)
{
	pthread_mutex_lock(&lock);
	while (current != NULL)
	{
		tls_set    *older = current->older;

		set_free(current);
		current = older;
	}
	pthread_mutex_unlock(&lock);
}
