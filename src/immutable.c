/*
 * immutable.c
 *	  The statement trigger that keeps stored events immutable.
 *
 * Privileges already keep candystore_reader and candystore_writer away from
 * UPDATE, DELETE and TRUNCATE; this trigger also stops the table's owner and
 * superusers, so "an event, once stored, never changes" holds for everyone.
 * Only candystore.purge_events() lifts it, for its own DELETE
 * (store_removal_allowed), and candystore.erase(), for its own UPDATE
 * writing tombstones (erasure_in_progress); both flags are C variables that
 * no SQL can set.
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "replication/logicalworker.h"

#include "erasure.h"
#include "store.h"

PG_FUNCTION_INFO_V1(candystore_forbid_change);

Datum
candystore_forbid_change(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("candystore_forbid_change() must be called as a trigger")));

	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		op = "DELETE";
	else if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		op = "TRUNCATE";
	else
		op = "UPDATE";

	/*
	 * candystore.purge_events() deletes; nothing ever updates or truncates.
	 * A row trigger (the one cloned to event_log's partitions) lets the row
	 * go by returning it.
	 */
	if (store_removal_allowed && TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		return TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ?
			PointerGetDatum(trigdata->tg_trigtuple) : PointerGetDatum(NULL);

	/* candystore.erase() writes tombstones; the row goes by as updated */
	if (erasure_in_progress && TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		return TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ?
			PointerGetDatum(trigdata->tg_newtuple) : PointerGetDatum(NULL);

	/*
	 * A subscriber applies the publisher's purge_events() and erase() row by
	 * row (apply fires row triggers, not statement ones): the publisher
	 * refused every other change already.
	 */
	if (IsLogicalWorker() && TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
	{
		if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
			return PointerGetDatum(trigdata->tg_trigtuple);
		if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
			return PointerGetDatum(trigdata->tg_newtuple);
	}

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("candystore events are immutable"),
			 errdetail("%s on %s is not allowed, for any role.", op,
					   RelationGetRelationName(trigdata->tg_relation)),
			 errhint("To correct an event, append a new event that supersedes it; "
					 "to remove old events, use candystore.purge_events(); "
					 "to erase personal data, candystore.erase().")));
	return PointerGetDatum(NULL);
}
