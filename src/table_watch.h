/*
 * table_watch.h
 *	  Per-backend caches of candystore tables, dropped when a table changes.
 *
 * A cache (the schema registry's latest versions, the signing keys, the
 * event type grants) declares the tables it is read from in a TableWatch
 * and registers it once in _PG_init.  A statement trigger on each table
 * (candystore.schemas_changed()) sends a relcache invalidation for it: to
 * this backend at the end of the command, to every other one at commit,
 * undone locally on rollback.  One relcache callback then marks every
 * watch naming that table stale.  The callback only sets a flag: it may run
 * while the cache is being read (SPI accepts invalidations), so the owner
 * of the cache drops it at its next use, not there.
 */
#ifndef CANDYSTORE_TABLE_WATCH_H
#define CANDYSTORE_TABLE_WATCH_H

#include "postgres.h"

#define TABLE_WATCH_MAX_TABLES 2

typedef struct TableWatch
{
	const char *name;			/* of the cache, for its memory context */
	const char *tables[TABLE_WATCH_MAX_TABLES]; /* in schema candystore; NULL ends */
	Oid			relids[TABLE_WATCH_MAX_TABLES]; /* InvalidOid until resolved */
	bool		stale;			/* a table changed since the cache was filled */
	MemoryContext cxt;			/* the cache's memory, table_watch_context() */
} TableWatch;

/* Registers a watch (static storage) for the life of the backend. */
extern void table_watch_register(TableWatch *watch);

/*
 * Looks the watched tables up (once after each invalidation); call before
 * reading them into the cache.  Returns false when the first one does not
 * exist (the extension is not installed in this database, or is older).
 */
extern bool table_watch_resolve(TableWatch *watch);

/*
 * The memory context the cache lives in (made on first use, under
 * TopMemoryContext).  Emptied, and the watch no longer stale, when a watched
 * table changed or drop is true (the cache grew too large); *emptied then
 * says the caller's structures in it are gone (also on first use).
 */
extern MemoryContext table_watch_context(TableWatch *watch, bool drop, bool *emptied);

/* The owner of the first watched table (resolved): who may read them all. */
extern Oid	table_watch_owner(TableWatch *watch);

#endif
