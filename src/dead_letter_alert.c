/*
 * dead_letter_alert.c
 *	  The trigger on candystore.dead_letters that makes a dead letter loud,
 *	  whoever records it: the ingest worker inserting one, or
 *	  redrive_dead_letters() finding that a redriven letter fails again.
 *
 *	  Each sends NOTIFY candystore_dead_letter with a small JSON payload (id,
 *	  sqlstate, routing key cut to DEAD_LETTER_KEY_MAX bytes): delivered at
 *	  commit, like any NOTIFY, and forgotten with a rolled-back
 *	  subtransaction.  Each also writes one LOG line (reason, routing key,
 *	  SQLSTATE), written as its transaction commits: the ingest worker may
 *	  insert a letter, roll the batch back and insert it again in isolation,
 *	  and that must log once.  Lines are limited to
 *	  candystore.dead_letter_log_limit per candystore.dead_letter_log_window
 *	  in each process; the rest are counted, and the first line after the
 *	  window ends says how many were suppressed, so a flood cannot fill the
 *	  log.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "dead_letter_alert.h"

/* bounds what one dead letter puts in a NOTIFY payload and a LOG line */
#define DEAD_LETTER_KEY_MAX 256
#define DEAD_LETTER_REASON_MAX 1024

static int	dead_letter_log_limit = 10;
static int	dead_letter_log_window_s = 60;

/* A dead letter recorded by the current transaction, to be logged at commit. */
typedef struct PendingLine
{
	int64		id;
	int			nest_level;		/* of the (sub)transaction that recorded it */
	char		sqlstate[6];
	char	   *routing_key;	/* NULL: beyond what the window can log */
	char	   *reason;
	bool		redriven;		/* a redrive failed again */
} PendingLine;

static List *pending = NIL;		/* in TopTransactionContext */

/* the rate limit, per process */
static TimestampTz window_start = 0;
static int	logged_in_window = 0;
static int64 suppressed = 0;

void
dead_letter_alert_define_settings(void)
{
	DefineCustomIntVariable("candystore.dead_letter_log_limit",
							"Most dead letters logged (one LOG line each) per candystore.dead_letter_log_window in one process; -1 logs all.",
							"The others are counted, and the next line logged says how many were suppressed.",
							&dead_letter_log_limit, 10, -1, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("candystore.dead_letter_log_window",
							"Window of candystore.dead_letter_log_limit.",
							NULL, &dead_letter_log_window_s, 60, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

/* text cut to at most max bytes, on a character boundary */
static char *
bounded(const char *s, int max)
{
	int			len = strlen(s);

	if (len <= max)
		return pstrdup(s);
	len = pg_mbcliplen(s, len, max);
	return psprintf("%.*s...", len, s);
}

static const char *
text_attr(HeapTuple tuple, TupleDesc desc, const char *name, bool *isnull)
{
	int			attno = SPI_fnumber(desc, name);
	Datum		d;

	d = heap_getattr(tuple, attno, desc, isnull);
	return *isnull ? NULL : TextDatumGetCString(d);
}

PG_FUNCTION_INFO_V1(candystore_dead_letter_alert);

Datum
candystore_dead_letter_alert(PG_FUNCTION_ARGS)
{
	TriggerData *trig = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tuple;
	bool		isnull;
	int64		id;
	const char *sqlstate;
	const char *routing_key;
	const char *reason;
	StringInfoData payload;
	PendingLine *line;
	MemoryContext old;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trig->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trig->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("candystore_dead_letter_alert() must be an AFTER ... FOR EACH ROW trigger")));
	desc = RelationGetDescr(trig->tg_relation);
	tuple = TRIGGER_FIRED_BY_UPDATE(trig->tg_event) ? trig->tg_newtuple : trig->tg_trigtuple;

	id = DatumGetInt64(heap_getattr(tuple, SPI_fnumber(desc, "id"), desc, &isnull));
	sqlstate = text_attr(tuple, desc, "sqlstate", &isnull);
	routing_key = text_attr(tuple, desc, "routing_key", &isnull);
	reason = text_attr(tuple, desc, "reason", &isnull);

	initStringInfo(&payload);
	appendStringInfo(&payload, "{\"id\": " INT64_FORMAT ", \"sqlstate\": ", id);
	escape_json(&payload, sqlstate);
	appendStringInfoString(&payload, ", \"routing_key\": ");
	if (routing_key == NULL)
		appendStringInfoString(&payload, "null");
	else
		escape_json(&payload, bounded(routing_key, DEAD_LETTER_KEY_MAX));
	appendStringInfoChar(&payload, '}');
	Async_Notify(CANDYSTORE_DEAD_LETTER_CHANNEL, payload.data);

	old = MemoryContextSwitchTo(TopTransactionContext);
	line = palloc0(sizeof(PendingLine));
	line->id = id;
	line->nest_level = GetCurrentTransactionNestLevel();
	strlcpy(line->sqlstate, sqlstate, sizeof(line->sqlstate));
	line->redriven = TRIGGER_FIRED_BY_UPDATE(trig->tg_event);
	/* more than the window can log are only counted: no text kept */
	if (dead_letter_log_limit < 0 || list_length(pending) < dead_letter_log_limit)
	{
		line->routing_key = routing_key ? bounded(routing_key, DEAD_LETTER_KEY_MAX) : NULL;
		line->reason = bounded(reason, DEAD_LETTER_REASON_MAX);
	}
	pending = lappend(pending, line);
	MemoryContextSwitchTo(old);

	return PointerGetDatum(NULL);
}

/* The committed dead letters, one LOG line each while the window allows. */
static void
log_pending(void)
{
	ListCell   *lc;
	TimestampTz now = GetCurrentTimestamp();

	foreach(lc, pending)
	{
		PendingLine *line = lfirst(lc);

		if (TimestampDifferenceExceeds(window_start, now, dead_letter_log_window_s * 1000))
		{
			if (suppressed > 0)
				ereport(LOG,
						(errmsg("candystore: " INT64_FORMAT " more dead letters were not logged (candystore.dead_letter_log_limit %d per %d s)",
								suppressed, dead_letter_log_limit, dead_letter_log_window_s),
						 errhint("They are in candystore.dead_letters.")));
			window_start = now;
			logged_in_window = 0;
			suppressed = 0;
		}
		if (line->reason == NULL ||
			(dead_letter_log_limit >= 0 && logged_in_window >= dead_letter_log_limit))
		{
			suppressed++;
			continue;
		}
		logged_in_window++;
		ereport(LOG,
				(errmsg("candystore: dead letter " INT64_FORMAT "%s, routing key %s, SQLSTATE %s: %s",
						line->id, line->redriven ? " failed again when redriven" : "",
						line->routing_key ? quote_literal_cstr(line->routing_key) : "(none)",
						line->sqlstate, line->reason)));
	}
}

static void
dead_letter_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:

			/*
			 * Just before the commit, not after it: an error here (out of
			 * memory) aborts the transaction instead of PANICking a
			 * committed one.
			 */
			if (pending != NIL)
				log_pending();
			pending = NIL;		/* freed with TopTransactionContext */
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			pending = NIL;
			break;
		default:
			break;
	}
}

static void
dead_letter_subxact_callback(SubXactEvent event,
							 SubTransactionId mySubid pg_attribute_unused(),
							 SubTransactionId parentSubid pg_attribute_unused(),
							 void *arg pg_attribute_unused())
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (pending == NIL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		/* rolled back: not a dead letter after all */
		foreach(lc, pending)
		{
			PendingLine *line = lfirst(lc);

			if (line->nest_level >= level)
				pending = foreach_delete_current(pending, lc);
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		/* now the parent's */
		foreach(lc, pending)
		{
			PendingLine *line = lfirst(lc);

			if (line->nest_level >= level)
				line->nest_level = level - 1;
		}
	}
}

void
dead_letter_alert_init(void)
{
	RegisterXactCallback(dead_letter_xact_callback, NULL);
	RegisterSubXactCallback(dead_letter_subxact_callback, NULL);
}
