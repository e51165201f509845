/*
 * sync_standby.h
 *	  Whether a commit now would be acknowledged by enough synchronous
 *	  standbys (candystore.require_sync_standby): sync_standby.c.
 */
#ifndef CANDYSTORE_SYNC_STANDBY_H
#define CANDYSTORE_SYNC_STANDBY_H

extern bool sync_standby_ready(const char **why);

#endif
