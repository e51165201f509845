/*
 * notify.c
 *	  Sends the post-commit NOTIFY for appended events.
 *
 * A NOTIFY per event would flood listeners and the notification queue; one
 * per transaction, queued just before commit, tells a listener everything it
 * needs (read up to this position).  Positions appended in a subtransaction
 * that rolls back are forgotten, so the payload always names a stored event.
 *
 * A transaction that enqueued outbox rows also wakes the outbox publisher
 * (outbox_wake.c) when it commits, once its rows are visible to new
 * snapshots.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"

#include "notify.h"
#include "outbox_wake.h"
#include "wait_events.h"

/* Highest position appended by the current transaction; 0 when none. */
static int64 max_position = 0;

/* The current transaction enqueued outbox rows. */
static bool outbox_enqueued = false;

/* max_position as it was when each open subtransaction started. */
static List *saved_at_subxact_start = NIL;

void
notify_note_position(int64 position)
{
	if (position > max_position)
		max_position = position;
}

void
notify_outbox_enqueued(void)
{
	outbox_enqueued = true;
}

static void
notify_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			/* Runs before PreCommit_Notify, so the notification is queued. */
			if (max_position > 0)
			{
				char		payload[32];

				snprintf(payload, sizeof(payload), INT64_FORMAT, max_position);
				Async_Notify(CANDYSTORE_NOTIFY_CHANNEL, payload);
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* runs after the commit is visible: the publisher will see the rows */
			if (event == XACT_EVENT_COMMIT && outbox_enqueued)
				outbox_wake_publisher();
			/* its events are readable now, or its xid no longer holds the horizon */
			if (max_position > 0)
				wait_events_wake();
			else if (FullTransactionIdIsValid(GetTopFullTransactionIdIfAny()))
				wait_events_wake_if_behind();	/* may have held a reader back */
			outbox_enqueued = false;
			max_position = 0;
			saved_at_subxact_start = NIL;	/* freed with TopTransactionContext */
			break;
		default:
			break;
	}
}

static void
notify_subxact_callback(SubXactEvent event,
						SubTransactionId mySubid pg_attribute_unused(),
						SubTransactionId parentSubid pg_attribute_unused(),
						void *arg pg_attribute_unused())
{
	MemoryContext old;

	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			{
				int64	   *saved = MemoryContextAlloc(TopTransactionContext, sizeof(int64));

				*saved = max_position;
				old = MemoryContextSwitchTo(TopTransactionContext);
				saved_at_subxact_start = lcons(saved, saved_at_subxact_start);
				MemoryContextSwitchTo(old);
			}
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			if (saved_at_subxact_start != NIL)
			{
				/* freed now: a loop of subtransactions must not pile them up */
				pfree(linitial(saved_at_subxact_start));
				saved_at_subxact_start = list_delete_first(saved_at_subxact_start);
			}
			break;
		case SUBXACT_EVENT_ABORT_SUB:
			if (saved_at_subxact_start != NIL)
			{
				max_position = *(int64 *) linitial(saved_at_subxact_start);
				pfree(linitial(saved_at_subxact_start));
				saved_at_subxact_start = list_delete_first(saved_at_subxact_start);
			}
			break;
		default:
			break;
	}
}

void
notify_init(void)
{
	RegisterXactCallback(notify_xact_callback, NULL);
	RegisterSubXactCallback(notify_subxact_callback, NULL);
}
