/*
 * purge.h
 *	  Retention (purge.c): what restore needs of it.
 */
#ifndef CANDYSTORE_PURGE_H
#define CANDYSTORE_PURGE_H

#include "postgres.h"

/*
 * Forgets the ids of purged events among envelopes (a jsonb[] Datum) so that
 * append stores them again; returns how many.  Inside SPI.
 */
extern uint64 purge_forget_envelopes(Datum envelopes);

#endif
