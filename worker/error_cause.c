/*
 * error_cause.c
 *	  What caused an error the ingest worker caught while recording a batch:
 *	  the message being stored, or the environment it was stored in.  The
 *	  one place this is decided (outcome.c acts on the answer).
 *
 *	  By SQLSTATE:
 *
 *	    caused by the message: dead-letter that message, store the others
 *	      22xxx  data_exception (bad text, a number jsonb cannot hold, ...)
 *	      23xxx  integrity_constraint_violation (an event id taken by other
 *	             content, a check of event_log)
 *	      54xxx  program_limit_exceeded (nesting deeper than the stack,
 *	             an index row too large, too many columns)
 *
 *	    caused by the environment: keep the batch unacked, back off, retry it
 *	      55P03  lock_not_available (lock_timeout)   "lock timeout"
 *	      40xxx  serialization_failure, deadlock     "conflict"
 *	      53100  disk_full                           "disk full"
 *	      53200  out_of_memory                       "out of memory"
 *	      53xxx  other insufficient_resources        "insufficient resources"
 *	      42P01, 42883, 42704, 3F000, 3D000          "extension missing"
 *	             (undefined table, function, object, schema, database:
 *	             candystore was dropped, or is being re-created)
 *	      55V01  the extension is of another version  "extension not updated"
 *	             than the library (extension_version.c)
 *	      25006  read_only_sql_transaction           "read-only"
 *	      57014  query_canceled (statement_timeout,   "canceled"
 *	             pg_cancel_backend)
 *	      57Pxx, 08xxx  shutdown, cannot connect now  "database unavailable"
 *	      58xxx  system_error (I/O)                   "I/O error"
 *	      anything else                               "unclassified error"
 *
 *	  An error that is not known to be the message's is never blamed on it:
 *	  an unclassified error is retried like the environment's, and only the
 *	  per-message failure cap (outcome.c) can end its retries.
 */
#include "postgres.h"

#include "utils/elog.h"

#include "ingest.h"
#include "worker.h"

ErrorCause
error_cause(int sqlerrcode, const char **label)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);
	const char *what = "unclassified error";
	ErrorCause	cause = CAUSE_ENVIRONMENT;

	if (category == ERRCODE_DATA_EXCEPTION ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
		category == ERRCODE_PROGRAM_LIMIT_EXCEEDED)
	{
		cause = CAUSE_MESSAGE;
		what = "bad message";
	}
	else if (sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
		what = "lock timeout";
	else if (category == ERRCODE_TRANSACTION_ROLLBACK)
		what = "conflict";
	else if (sqlerrcode == ERRCODE_DISK_FULL)
		what = "disk full";
	else if (sqlerrcode == ERRCODE_OUT_OF_MEMORY)
		what = "out of memory";
	else if (category == ERRCODE_INSUFFICIENT_RESOURCES)
		what = "insufficient resources";
	else if (sqlerrcode == ERRCODE_UNDEFINED_TABLE ||
			 sqlerrcode == ERRCODE_UNDEFINED_FUNCTION ||
			 sqlerrcode == ERRCODE_UNDEFINED_OBJECT ||
			 sqlerrcode == ERRCODE_INVALID_SCHEMA_NAME ||
			 sqlerrcode == ERRCODE_INVALID_CATALOG_NAME)
		what = EXTENSION_MISSING_CAUSE;
	else if (sqlerrcode == ERRCODE_EXTENSION_NOT_UPDATED)
		what = EXTENSION_NOT_UPDATED_CAUSE;
	else if (sqlerrcode == ERRCODE_READ_ONLY_SQL_TRANSACTION)
		what = "read-only";
	else if (sqlerrcode == ERRCODE_QUERY_CANCELED)
		what = "canceled";
	else if (category == ERRCODE_OPERATOR_INTERVENTION ||
			 category == ERRCODE_CONNECTION_EXCEPTION)
		what = "database unavailable";
	else if (category == ERRCODE_SYSTEM_ERROR)
		what = "I/O error";
	if (label != NULL)
		*label = what;
	return cause;
}
