/*
 * signing.h
 *	  Signed events: the "signature" field of an envelope, the key registry
 *	  (candystore.signing_keys), verification and signing with HMAC-SHA256
 *	  (OpenSSL) and Ed25519 (libsodium), and candystore.require_signatures.
 */
#ifndef CANDYSTORE_SIGNING_H
#define CANDYSTORE_SIGNING_H

#include "envelope.h"

/* Defines candystore.require_signatures and candystore.outbox_signing_key. */
extern void signing_define_settings(void);
/* Registers the key cache's invalidation callback. */
extern void signing_init(void);

/* The outcome of verifying one envelope; signing_status_names[] spells them. */
typedef enum SignatureStatus
{
	SIG_VALID,
	SIG_UNSIGNED,				/* no "signature" field */
	SIG_MALFORMED,				/* the field is not {"alg","key_id","value"} as specified */
	SIG_NOT_CANONICAL,			/* a number no IEEE double holds exactly */
	SIG_UNKNOWN_KEY,
	SIG_WRONG_ALGORITHM,		/* "alg" is not the key's algorithm */
	SIG_KEY_NOT_YET_VALID,
	SIG_KEY_EXPIRED,
	SIG_KEY_REVOKED,
	SIG_BAD_SIGNATURE			/* the value does not verify */
} SignatureStatus;

typedef struct SignatureVerdict
{
	SignatureStatus status;
	char	   *key_id;			/* as given, or NULL */
	char	   *detail;			/* what is wrong, or NULL */
} SignatureVerdict;

/* Verifies the envelope's signature as of the time at. */
extern void signing_verify(Jsonb *envelope, TimestampTz at, SignatureVerdict *verdict);

/*
 * Whether an accepted envelope may be stored: true unless its event type
 * matches candystore.require_signatures and its signature is not valid now.
 * Does not raise for a refusal: fills *verdict for signing_raise().
 */
extern bool signing_acceptable(Jsonb *envelope, const Envelope *parsed, SignatureVerdict *verdict);

/* Raises 22V08 for a refusal signing_acceptable() reported. */
extern void signing_raise(const Envelope *parsed, const SignatureVerdict *verdict) pg_attribute_noreturn();

/* The envelope signed with the key (its "signature" replaced); raises when it cannot be. */
extern Jsonb *signing_sign(Jsonb *envelope, const char *key_id);

/* candystore.outbox_signing_key, or NULL when empty. */
extern const char *signing_outbox_key(void);

#endif
