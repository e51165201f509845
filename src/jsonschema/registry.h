/*
 * registry.h
 *	  Payload validation against the schema registry (candystore.schemas).
 */
#ifndef CANDYSTORE_REGISTRY_H
#define CANDYSTORE_REGISTRY_H

#include "envelope.h"

/* Defines the settings and registers the cache invalidation callback. */
extern void registry_init(void);

/*
 * Checks an accepted envelope's payload against the latest schema of its
 * event type, as candystore.validation and
 * candystore.accept_unknown_event_types say; raises a class-22 error.
 */
extern void registry_check_payload(Jsonb *envelope, const Envelope *parsed);

#endif
