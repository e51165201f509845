/*
 * extension_version.c
 *	  Whether the candystore SQL objects in the workers' database are those
 *	  this library was built for.  After a package upgrade the new library
 *	  is loaded at server start while the database still holds the old
 *	  version's tables and functions until ALTER EXTENSION candystore UPDATE
 *	  runs; new C against old SQL could fail in ways that look like bad
 *	  messages.  So the workers check inside each transaction and, while the
 *	  extension is missing or of another version, wait and say why in
 *	  worker_status(): the ingest worker through an error that error_cause.c
 *	  files under the environment, the publisher by the state itself.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "worker.h"

#ifndef CANDYSTORE_VERSION
#error "CANDYSTORE_VERSION must be defined (the Makefile passes candystore.control's default_version)"
#endif

/* extversion of candystore in this database, or NULL when not created. */
static char *
installed_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("candystore"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * Whether the extension in this database is the library's version (the
 * installed version in *installed, NULL when not created).  Call inside a
 * transaction.
 */
ExtensionState
worker_extension_state(char **installed)
{
	*installed = installed_version();
	if (*installed == NULL)
		return EXTENSION_MISSING;
	if (strcmp(*installed, CANDYSTORE_VERSION) != 0)
		return EXTENSION_OTHER_VERSION;
	return EXTENSION_READY;
}

/*
 * Raises unless the extension in this database is the library's version:
 * 42704 when it is not created, 55V01 when it is of another version.
 * Call inside a transaction, before touching candystore's tables.
 */
void
worker_require_extension(const char *who)
{
	char	   *installed;

	switch (worker_extension_state(&installed))
	{
		case EXTENSION_MISSING:
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("extension \"candystore\" does not exist in database \"%s\"",
							get_database_name(MyDatabaseId)),
					 errhint("The %s goes on once CREATE EXTENSION candystore is run.", who)));
			break;
		case EXTENSION_OTHER_VERSION:
			ereport(ERROR,
					(errcode(ERRCODE_EXTENSION_NOT_UPDATED),
					 errmsg("extension \"candystore\" is version %s in database \"%s\" but the loaded library is %s",
							installed, get_database_name(MyDatabaseId), CANDYSTORE_VERSION),
					 errhint("Run ALTER EXTENSION candystore UPDATE in that database; the %s waits until then.",
							 who)));
			break;
		case EXTENSION_READY:
			break;
	}
}
