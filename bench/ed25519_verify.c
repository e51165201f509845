/*
 * ed25519_verify.c
 *	  One Ed25519 verification of a 1.2 KB message (the size of a signed
 *	  envelope's canonical form) by libsodium, which src/signing.c uses, and
 *	  by OpenSSL (EVP_DigestVerify), on this CPU: CPU time per verification,
 *	  the best of ROUNDS rounds of N each, interleaved.  bench/signing.sh
 *	  runs it.  Usage: ed25519_verify [N [ROUNDS]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

static double
cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	int			n = argc > 1 ? atoi(argv[1]) : 2000;
	int			rounds = argc > 2 ? atoi(argv[2]) : 5;
	unsigned char msg[1200];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	unsigned char sig[crypto_sign_BYTES];
	EVP_PKEY   *pkey;
	double		best_sodium = 1e9,
				best_openssl = 1e9;

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(msg, sizeof(msg));
	crypto_sign_keypair(pk, sk);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, sizeof(pk));
	if (pkey == NULL)
		return 1;
	for (int r = 0; r < rounds; r++)
	{
		double		t0 = cpu_seconds();

		for (int i = 0; i < n; i++)
			if (crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) != 0)
				return 2;
		t0 = cpu_seconds() - t0;
		if (t0 < best_sodium)
			best_sodium = t0;

		t0 = cpu_seconds();
		for (int i = 0; i < n; i++)
		{
			EVP_MD_CTX *ctx = EVP_MD_CTX_new();

			if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) != 1 ||
				EVP_DigestVerify(ctx, sig, sizeof(sig), msg, sizeof(msg)) != 1)
				return 3;
			EVP_MD_CTX_free(ctx);
		}
		t0 = cpu_seconds() - t0;
		if (t0 < best_openssl)
			best_openssl = t0;
	}
	printf("Ed25519 verification of 1,200 bytes (CPU µs, best of %d rounds x %d)\n", rounds, n);
	printf("%-28s %10s %12s\n", "library", "µs", "vs libsodium");
	printf("%-28s %10.1f %12.2f\n", "libsodium " SODIUM_VERSION_STRING, best_sodium * 1e6 / n, 1.0);
	printf("%-28s %10.1f %12.2f\n", OpenSSL_version(OPENSSL_VERSION), best_openssl * 1e6 / n,
		   best_sodium / best_openssl);
	EVP_PKEY_free(pkey);
	return 0;
}
