/*
 * partition_contents.h
 *	  What a partition of event_log holds, read through its indexes without
 *	  planning a query (partition_contents.c).
 */
#ifndef CANDYSTORE_PARTITION_CONTENTS_H
#define CANDYSTORE_PARTITION_CONTENTS_H

#include "postgres.h"
#include "datatype/timestamp.h"

/*
 * The rows of the table relid, exactly, when every heap page is all-visible
 * and this transaction holds SHARE or a stronger lock on it; otherwise -1
 * (count them with count(*)).
 */
extern int64 partition_count_rows(Oid relid);

/*
 * Whether the partition relid holds an event this transaction's snapshot
 * sees that occurred before horizon (before) or at or after it (!before):
 * 1 or 0, from its occurred_at index; -1 when it has no such index (ask SQL).
 */
extern int	partition_holds_occurred(Oid relid, TimestampTz horizon, bool before);

#endif
