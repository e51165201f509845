/*
 * partitions.h
 *	  event_log's range partitions: making them, and keeping DDL that would
 *	  remove or add events past the store off them (partitions.c).
 */
#ifndef CANDYSTORE_PARTITIONS_H
#define CANDYSTORE_PARTITIONS_H

#include "postgres.h"

/* True while candystore itself detaches, attaches or drops a partition. */
extern bool partition_ddl_allowed;

/*
 * Detaches the partition relid into candystore_purged (retention); the caller
 * has purged its bookkeeping.
 */
extern void partition_detach(Oid relid);

/*
 * Locks event_log and its partition relid as partition_detach() will, ahead
 * of it: what is read of the partition afterwards stays true until the end
 * of the transaction.
 */
extern void partition_lock_for_detach(Oid relid);

/* A range partition of event_log: positions first to last. */
typedef struct PartitionRange
{
	Oid			relid;
	int64		first;
	int64		last;
} PartitionRange;

/*
 * event_log's range partitions (not the default one), lowest positions first,
 * from its partition descriptor; *n is set to how many.
 */
extern PartitionRange *partition_ranges(int *n);

/* event_log's default partition, or InvalidOid. */
extern Oid	partition_default(void);

#endif
