/*
 * statement_kept.h
 *	  Something opened once and kept for the rest of the statement that
 *	  opened it: the tables and indexes a write reaches through (SELECT
 *	  append(doc) FROM staging opens them once, not once per row).
 *
 * It is opened under the transaction's resource owner and memory, and
 * closed when the resource owner that was current then is released (the
 * statement's portal, or a subtransaction), before the transaction commits,
 * and on its next use after a relcache invalidation (of relid, or of any
 * relation when relid is InvalidOid).  A transaction's abort releases it.
 */
#ifndef CANDYSTORE_STATEMENT_KEPT_H
#define CANDYSTORE_STATEMENT_KEPT_H

#include "utils/resowner.h"

typedef struct StatementKept
{
	/* set by the user */
	void		(*close) (void *value);	/* run under the transaction's resource owner */
	Oid			relid;			/* whose invalidations make it stale */
	/* kept here */
	void	   *value;			/* what is open, or NULL */
	ResourceOwner owner;		/* current when it was opened */
	bool		stale;
	bool		registered;		/* the callbacks */
} StatementKept;

/*
 * The value kept, or (none, or stale) what open(arg) returns now, kept in
 * its place; open may return NULL, which keeps nothing.
 */
extern void *statement_kept_get(StatementKept *kept, void *(*open) (void *arg), void *arg);

/* Closes what is kept, if anything. */
extern void statement_kept_close(StatementKept *kept);

#endif
