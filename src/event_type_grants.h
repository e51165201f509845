/*
 * event_type_grants.h
 *	  Authorization by event type: which event types the invoking role may
 *	  see and write (candystore.grant_event_types()).
 */
#ifndef CANDYSTORE_EVENT_TYPE_GRANTS_H
#define CANDYSTORE_EVENT_TYPE_GRANTS_H

#include "postgres.h"

extern void event_type_grants_init(void);

/* Whether the invoking role may see and write events of this type. */
extern bool event_type_permitted(const char *type, int len);

/* Raises 42501, naming the type, when the invoking role may not write it. */
extern void event_type_check_writable(const text *event_type);

#endif
