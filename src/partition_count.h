/*
 * partition_count.h
 *	  How many rows a partition holds, from its primary key's leaf pages
 *	  (partition_count.c).
 */
#ifndef CANDYSTORE_PARTITION_COUNT_H
#define CANDYSTORE_PARTITION_COUNT_H

#include "postgres.h"

/*
 * The rows of the table relid, exactly, when every heap page is all-visible
 * and this transaction holds SHARE or a stronger lock on it; otherwise -1
 * (count them with count(*)).
 */
extern int64 partition_count_rows(Oid relid);

#endif
