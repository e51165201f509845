/*
 * schema_registry.h
 *	  Payload validation against the schema registry (candystore.schemas).
 */
#ifndef CANDYSTORE_SCHEMA_REGISTRY_H
#define CANDYSTORE_SCHEMA_REGISTRY_H

#include "envelope.h"
#include "nodes/pg_list.h"

/* Defines candystore.validation and candystore.accept_unknown_event_types. */
extern void registry_define_settings(void);
/* Registers the cache invalidation callback. */
extern void registry_init(void);

/* Why registry_payload_acceptable() refused an envelope. */
typedef struct RegistryFailure
{
	bool		unknown_type;	/* no schema, and unknown types are refused */
	char	   *event_type;
	int32		version;		/* the schema version the payload failed */
	List	   *errors;			/* of JsError *, in the caller's context */
} RegistryFailure;

/*
 * Whether an accepted envelope's payload meets the latest schema of its
 * event type, as candystore.validation and
 * candystore.accept_unknown_event_types say.  Does not raise for a refusal:
 * fills *failure for registry_raise().
 */
extern bool registry_payload_acceptable(Jsonb *envelope, const Envelope *parsed,
										RegistryFailure *failure);

/* Raises the class-22 error (22V01, 22V02) for a refusal. */
extern void registry_raise(const RegistryFailure *failure) pg_attribute_noreturn();

#endif
