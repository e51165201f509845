/*
 * store_insert.h
 *	  The rows of an append written straight into event_ids and event_log's
 *	  partitions (heap tuple and index entries), without a planned INSERT:
 *	  what the executor would do for store.c's statement, set up once per
 *	  batch instead of once per statement.
 */
#ifndef CANDYSTORE_STORE_INSERT_H
#define CANDYSTORE_STORE_INSERT_H

#include "postgres.h"
#include "utils/uuid.h"

#include "envelope.h"

typedef struct StoreInsert StoreInsert;

/* The columns of one event, as store.c has them. */
typedef struct StoreInsertRow
{
	const Envelope *parsed;
	Jsonb	   *envelope;
	text	   *routing_key;	/* or NULL */
	const pg_uuid_t *causation_group;
	text	   *session_key;	/* or NULL */
} StoreInsertRow;

/*
 * Opens event_ids and event_log (0.2.0's partitioned layout) for inserting,
 * or finds them open from an earlier call of the same statement, after
 * checking the invoking role's INSERT privilege on both.  NULL when the
 * tables have something a direct insert would skip (triggers on INSERT, row
 * security, CHECK constraints, columns store.c does not know): the caller
 * then inserts through SQL.
 */
extern StoreInsert *store_insert_begin(void);

/*
 * Inserts the event into event_ids (which assigns its position) and then into
 * its event_log partition; returns its position.  With on_conflict, an event
 * id already taken (also by an earlier row of this batch, or by a transaction
 * still in flight, once it commits) stores nothing and returns -1, as
 * INSERT ... ON CONFLICT (event_id) DO NOTHING does; without, it raises
 * unique_violation.
 */
extern int64 store_insert_row(StoreInsert *ins, const StoreInsertRow *row, bool on_conflict);

/* The batch is done (the tables stay open for the rest of the statement). */
extern void store_insert_end(StoreInsert *ins);

/*
 * Closes the tables kept open, if any: before DDL that refuses a table this
 * session holds open (ALTER TABLE, DROP TABLE).
 */
extern void store_insert_forget(void);

#endif
