/*
 * event_type_grants.c
 *	  Authorization by event type.
 *
 * candystore.event_type_grants holds (grantee, pattern) rows.  A role is
 * restricted when it, or a role whose privileges it has (pg_has_role USAGE:
 * itself, and the roles it inherits), has at least one row; it may then see
 * and write exactly the event types one of those patterns matches.  A role
 * with no row anywhere in its memberships, a superuser and whoever has the
 * privileges of the owner of candystore's tables are not restricted: with
 * no grants at all, candystore behaves as before.
 *
 * "The invoking role" is the outer user (GetOuterUserId()): the session
 * user, or the role of SET [LOCAL] ROLE, which the HTTP API sets per
 * request.  SECURITY DEFINER functions and views change only the current
 * user, so the reading functions, which run as the owner, still restrict
 * to what their caller may see.
 *
 * Pattern syntax (RabbitMQ's topic rules, applied to the dotted event
 * type): segments separated by dots; "*" matches exactly one segment, "#"
 * zero or more; any other segment ([a-z][a-z0-9_]*) matches itself.
 * "fireflies.#" matches fireflies.transcript.ready, "fireflies.*" only
 * two-segment types such as fireflies.ping, "#" every type.
 *
 * Per backend, the patterns of the last few roles are compiled once and the
 * verdict per event type remembered; both are dropped when the grants
 * change (table_watch.h) or when role memberships change (syscache
 * callbacks on pg_authid and pg_auth_members).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "envelope.h"
#include "event_type_grants.h"
#include "event_type_pattern.h"
#include "spi_plans.h"
#include "table_watch.h"

#define MAX_CACHED_ROLES 8
#define MAX_CACHED_VERDICTS 1024

/* What one role may do. */
typedef struct RoleTypes
{
	Oid			role;
	bool		restricted;
	int			npatterns;
	char	  **patterns;
	char	   *pattern_list;	/* for messages: "a.#, b.*" */
	HTAB	   *verdicts;		/* event type -> Verdict, when restricted */
} RoleTypes;

typedef struct Verdict
{
	char		event_type[ENVELOPE_MAX_EVENT_TYPE_LEN + 1];	/* hash key */
	bool		permitted;
} Verdict;

static TableWatch grant_tables = {.name = "candystore event type grants",
.tables = {"event_type_grants"}};
static bool memberships_changed = false;
static MemoryContext grants_cxt = NULL;
static List *cached_roles = NIL;
static RoleTypes *last_role = NULL;	/* of the last call, while still cached */
static SPIPlanPtr patterns_plan = NULL;

static void
memberships_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) arg;
	(void) cacheid;
	(void) hashvalue;
	memberships_changed = true;
}

void
event_type_grants_init(void)
{
	table_watch_register(&grant_tables);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, memberships_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, memberships_callback, (Datum) 0);
}

/* Raises 22023, saying what is wrong, unless pattern[0..len) is a valid pattern. */
static void
check_pattern(const char *pattern, int len)
{
	int			bad = event_type_pattern_check(pattern, len);
	const char *seg = pattern;
	const char *end;
	int			seglen;

	if (bad == 0)
		return;
	if (bad < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid event type pattern: \"%.*s\"", Min(len, EVENT_TYPE_PATTERN_MAX_LEN), pattern),
				 errdetail("A pattern has 1 to %d bytes; this one has %d.", EVENT_TYPE_PATTERN_MAX_LEN, len)));
	/* the bad segment: after bad - 1 dots, up to the next dot or the end */
	for (int i = 1; i < bad; i++)
		seg = (const char *) memchr(seg, '.', pattern + len - seg) + 1;
	end = memchr(seg, '.', pattern + len - seg);
	seglen = (int) ((end != NULL ? end : pattern + len) - seg);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid event type pattern: \"%.*s\"", len, pattern),
			 errdetail("Segment %d, \"%.*s\", is neither \"*\", \"#\" nor a word of [a-z][a-z0-9_]*.",
					   bad, seglen, seg),
			 errhint("Segments are separated by dots: \"*\" matches one segment of the event type, \"#\" zero or more, e.g. \"fireflies.#\".")));
}

static bool
any_pattern_matches(const RoleTypes *role, const char *type, int len)
{
	void	   *scratch = palloc(EVENT_TYPE_PATTERN_SCRATCH(len));
	bool		found = false;

	for (int p = 0; p < role->npatterns && !found; p++)
		found = event_type_pattern_match(role->patterns[p], strlen(role->patterns[p]),
										 type, len, scratch);
	pfree(scratch);
	return found;
}

/* Reads and compiles the patterns granted to role (directly or inherited). */
static void
load_role(RoleTypes *entry)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(entry->role)};
	Oid			save_user;
	int			save_sec;
	volatile int rc = 0;
	Oid			owner;
	MemoryContext old;
	StringInfoData list;

	entry->restricted = false;
	entry->npatterns = 0;
	if (!table_watch_resolve(&grant_tables))
		return;					/* not installed here (yet): nothing is restricted */
	owner = table_watch_owner(&grant_tables);
	if (has_privs_of_role(entry->role, owner))
		return;					/* superusers and the owner see everything */

	GetUserIdAndSecContext(&save_user, &save_sec);
	SPI_connect();
	if (patterns_plan == NULL)
		patterns_plan = spi_prepare_kept("SELECT DISTINCT g.pattern FROM candystore.event_type_grants g"
										 " WHERE pg_catalog.pg_has_role($1, g.grantee, 'USAGE')"
										 " ORDER BY 1", 1, argtypes, 0);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		/*
		 * The latest snapshot, as for a catalog (see schema_registry.c); in
		 * parallel mode, where no new one may be taken, the statement's.
		 */
		rc = SPI_execute_snapshot(patterns_plan, args, NULL,
								  IsInParallelMode() ? GetActiveSnapshot() : GetLatestSnapshot(),
								  InvalidSnapshot, true, false, 0);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading candystore.event_type_grants failed: %s", SPI_result_code_string(rc));

	old = MemoryContextSwitchTo(grants_cxt);
	entry->restricted = SPI_processed > 0;
	entry->npatterns = (int) SPI_processed;
	entry->patterns = palloc(sizeof(char *) * Max(entry->npatterns, 1));
	initStringInfo(&list);
	for (int p = 0; p < entry->npatterns; p++)
	{
		char	   *pattern = SPI_getvalue(SPI_tuptable->vals[p], SPI_tuptable->tupdesc, 1);

		check_pattern(pattern, strlen(pattern));
		entry->patterns[p] = pattern;
		appendStringInfo(&list, "%s%s", p > 0 ? ", " : "", pattern);
	}
	entry->pattern_list = list.data;
	if (entry->restricted)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = ENVELOPE_MAX_EVENT_TYPE_LEN + 1;
		ctl.entrysize = sizeof(Verdict);
		ctl.hcxt = grants_cxt;
		entry->verdicts = hash_create("candystore event type verdicts", 64, &ctl,
									  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
}

/* What the invoking role may do, from the cache or read. */
static RoleTypes *
invoking_role(void)
{
	Oid			role = GetOuterUserId();
	ListCell   *lc;
	RoleTypes  *entry;
	MemoryContext old;
	bool		emptied;

	/* every row of a read asks: the same role, nothing changed */
	if (last_role != NULL && last_role->role == role && !grant_tables.stale && !memberships_changed)
		return last_role;
	last_role = NULL;
	grants_cxt = table_watch_context(&grant_tables,
									 memberships_changed || list_length(cached_roles) >= MAX_CACHED_ROLES,
									 &emptied);
	if (emptied)
	{
		cached_roles = NIL;
		memberships_changed = false;
	}
	foreach(lc, cached_roles)
	{
		entry = lfirst(lc);
		if (entry->role == role)
			return last_role = entry;
	}
	old = MemoryContextSwitchTo(grants_cxt);
	entry = palloc0(sizeof(RoleTypes));
	MemoryContextSwitchTo(old);
	entry->role = role;
	load_role(entry);
	if (grant_tables.stale || memberships_changed)
		return entry;			/* changed while read: good for this call only */
	old = MemoryContextSwitchTo(grants_cxt);
	cached_roles = lcons(entry, cached_roles);
	MemoryContextSwitchTo(old);
	return last_role = entry;
}

bool
event_type_permitted(const char *type, int len)
{
	RoleTypes  *role = invoking_role();
	Verdict    *verdict;
	char		key[ENVELOPE_MAX_EVENT_TYPE_LEN + 1];
	bool		found;

	if (!role->restricted)
		return true;
	if (len > ENVELOPE_MAX_EVENT_TYPE_LEN)
		return any_pattern_matches(role, type, len);
	memcpy(key, type, len);
	key[len] = '\0';
	if (hash_get_num_entries(role->verdicts) >= MAX_CACHED_VERDICTS)
	{
		/* a flood of distinct types: answer without remembering */
		verdict = hash_search(role->verdicts, key, HASH_FIND, NULL);
		return verdict != NULL ? verdict->permitted : any_pattern_matches(role, type, len);
	}
	verdict = hash_search(role->verdicts, key, HASH_ENTER, &found);
	if (!found)
		verdict->permitted = any_pattern_matches(role, type, len);
	return verdict->permitted;
}

void
event_type_check_writable(const text *event_type)
{
	RoleTypes  *role;

	if (event_type_permitted(VARDATA_ANY(event_type), VARSIZE_ANY_EXHDR(event_type)))
		return;
	role = invoking_role();
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to write an event of this type"),
			 errdetail("Role \"%s\" may write only the event types %s; the event type is \"%.*s\".",
					   GetUserNameFromId(role->role, false), role->pattern_list,
					   (int) VARSIZE_ANY_EXHDR(event_type), VARDATA_ANY(event_type)),
			 errhint("The owner grants event types with candystore.grant_event_types().")));
}

PG_FUNCTION_INFO_V1(candystore_event_type_visible);

/* candystore.event_type_visible(event_type text) RETURNS boolean */
Datum
candystore_event_type_visible(PG_FUNCTION_ARGS)
{
	text	   *type = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(event_type_permitted(VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type)));
}

PG_FUNCTION_INFO_V1(candystore_event_type_pattern_matches);

/*
 * candystore.event_type_pattern_matches(pattern text, event_type text)
 * RETURNS boolean: raises 22023 for a malformed pattern.
 */
Datum
candystore_event_type_pattern_matches(PG_FUNCTION_ARGS)
{
	text	   *pattern = PG_GETARG_TEXT_PP(0);
	text	   *type = PG_GETARG_TEXT_PP(1);
	int			tlen = VARSIZE_ANY_EXHDR(type);

	check_pattern(VARDATA_ANY(pattern), VARSIZE_ANY_EXHDR(pattern));
	PG_RETURN_BOOL(event_type_pattern_match(VARDATA_ANY(pattern), VARSIZE_ANY_EXHDR(pattern),
											VARDATA_ANY(type), tlen,
											palloc(EVENT_TYPE_PATTERN_SCRATCH(tlen))));
}

PG_FUNCTION_INFO_V1(candystore_event_type_patterns);

/*
 * candystore.event_type_patterns() RETURNS text[]: the patterns the invoking
 * role is restricted to, or NULL when it is not restricted.
 */
Datum
candystore_event_type_patterns(PG_FUNCTION_ARGS)
{
	RoleTypes  *role = invoking_role();
	Datum	   *elems;

	if (!role->restricted)
		PG_RETURN_NULL();
	elems = palloc(sizeof(Datum) * role->npatterns);
	for (int p = 0; p < role->npatterns; p++)
		elems[p] = CStringGetTextDatum(role->patterns[p]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, role->npatterns, TEXTOID, -1, false, TYPALIGN_INT));
}
