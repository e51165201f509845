/*
 * statement_kept.c
 *	  Something kept open for the rest of a statement (statement_kept.h):
 *	  the resource-owner, transaction and relcache callbacks that close it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "statement_kept.h"

void
statement_kept_close(StatementKept *kept)
{
	void	   *value = kept->value;
	ResourceOwner owner = CurrentResourceOwner;

	if (value == NULL)
		return;
	kept->value = NULL;
	CurrentResourceOwner = TopTransactionResourceOwner;
	kept->close(value);
	CurrentResourceOwner = owner;
}

static void
relation_changed(Datum arg, Oid relid)
{
	StatementKept *kept = (StatementKept *) DatumGetPointer(arg);

	if (!OidIsValid(kept->relid) || relid == InvalidOid || relid == kept->relid)
		kept->stale = true;
}

/* The resource owner current when it was opened ends: close it. */
static void
owner_released(ResourceReleasePhase phase, bool isCommit, bool isTopLevel, void *arg)
{
	StatementKept *kept = arg;

	(void) isCommit;
	if (kept->value == NULL || phase != RESOURCE_RELEASE_BEFORE_LOCKS || CurrentResourceOwner != kept->owner)
		return;
	/* the transaction's own owner: closed before commit, released by an abort */
	if (isTopLevel)
		kept->value = NULL;
	else
		statement_kept_close(kept);
}

static void
transaction_ends(XactEvent event, void *arg)
{
	StatementKept *kept = arg;

	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE ||
		event == XACT_EVENT_PARALLEL_PRE_COMMIT)
		statement_kept_close(kept);
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		kept->value = NULL;		/* the abort releases what it held */
}

void *
statement_kept_get(StatementKept *kept, void *(*open) (void *arg), void *arg)
{
	ResourceOwner owner = CurrentResourceOwner;
	MemoryContext old;

	if (!kept->registered)
	{
		CacheRegisterRelcacheCallback(relation_changed, PointerGetDatum(kept));
		RegisterResourceReleaseCallback(owner_released, kept);
		RegisterXactCallback(transaction_ends, kept);
		kept->registered = true;
	}
	if (kept->value != NULL && !kept->stale)
		return kept->value;
	statement_kept_close(kept);

	old = MemoryContextSwitchTo(TopTransactionContext);
	CurrentResourceOwner = TopTransactionResourceOwner;
	PG_TRY();
	{
		kept->stale = false;
		kept->value = open(arg);
		kept->owner = owner;
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = owner;
		MemoryContextSwitchTo(old);
	}
	PG_END_TRY();
	return kept->value;
}
