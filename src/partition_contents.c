/*
 * partition_contents.c
 *	  What a partition of event_log holds, read through its indexes without
 *	  planning a query: how many rows (exactly, off its primary key's leaf
 *	  pages when its visibility map says every heap page is all-visible), and
 *	  whether it holds an event that occurred before, or at or after, a time
 *	  (one probe of its occurred_at index).
 *
 * purge_events() asks these of the partitions one by one.  A query naming
 * event_log is planned over every partition and each of its indexes (in a
 * fresh session, as the maintenance job's, that means building their
 * relcache entries and reading their statistics: most of a purge's time);
 * these open the partition and the one index they read.
 *
 * The count.  purge_events() returns how many events it purged, so a
 * partition it detaches whole is counted.  count(*) is an index-only scan
 * that hands each of the index's entries through the executor (about 0.1 µs
 * an entry: 10 ms for a partition of 100,000 events, 90 ms for 1,000,000).
 * When every heap page is all-visible, that scan counts every live entry of
 * the index without visiting the heap, and no entry is stale: VACUUM
 * removes the index entries of dead tuples before it frees their heap items,
 * and does not mark a page all-visible while it still holds such items; any
 * insert, update or delete clears the page's bit first.  So the count is the
 * number of entries on the index's leaf pages (a posting list counting as
 * its TIDs, entries marked dead left out as the scan leaves them out), read
 * here page by page with no executor.  Partitions that stopped receiving
 * appends are vacuumed by autovacuum (its insert threshold) or by the
 * maintenance job; one that is not all-visible yet is counted with count(*).
 *
 * The caller must hold a lock that keeps writers and VACUUM out (SHARE or
 * stronger, e.g. the ACCESS EXCLUSIVE of the DETACH): checked, and without
 * it the answer is "unknown" (-1).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "partition_contents.h"

/* The live entries of a btree's leaf pages. */
static int64
btree_leaf_entries(Relation index)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BufferAccessStrategy strategy = GetAccessStrategy(BAS_BULKREAD);
	int64		entries = 0;

	for (BlockNumber blkno = BTREE_METAPAGE + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		BTPageOpaque opaque;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		opaque = BTPageGetOpaque(page);
		if (!PageIsNew(page) && P_ISLEAF(opaque) && !P_IGNORE(opaque))
		{
			OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

			/* from the first data item: a non-rightmost page's first is its high key */
			for (OffsetNumber off = P_FIRSTDATAKEY(opaque); off <= maxoff; off = OffsetNumberNext(off))
			{
				ItemId		item = PageGetItemId(page, off);
				IndexTuple	itup;

				if (ItemIdIsDead(item))
					continue;
				itup = (IndexTuple) PageGetItem(page, item);
				entries += BTreeTupleIsPosting(itup) ? BTreeTupleGetNPosting(itup) : 1;
			}
		}
		UnlockReleaseBuffer(buf);
	}
	FreeAccessStrategy(strategy);
	return entries;
}

int64
partition_count_rows(Oid relid)
{
	Relation	heap = table_open(relid, AccessShareLock);
	int64		rows = -1;
	Oid			pkey;
	BlockNumber all_visible;

	if (!CheckRelationLockedByMe(heap, ShareLock, true))
	{
		table_close(heap, AccessShareLock);
		return -1;
	}
	pkey = RelationGetPrimaryKeyIndex(heap);
	visibilitymap_count(heap, &all_visible, NULL);
	if (OidIsValid(pkey) && all_visible >= RelationGetNumberOfBlocks(heap))
	{
		Relation	index = index_open(pkey, AccessShareLock);

		/* a primary key is never partial: one entry for every live row */
		if (index->rd_rel->relam == BTREE_AM_OID)
			rows = btree_leaf_entries(index);
		index_close(index, AccessShareLock);
	}
	table_close(heap, AccessShareLock);
	return rows;
}

/*
 * The partition's plain btree index on occurred_at alone first (the one
 * every partition has: 20_event_log.sql), opened; NULL if there is none.
 */
static Relation
occurred_at_index(Relation heap)
{
	AttrNumber	occurred_at = get_attnum(RelationGetRelid(heap), "occurred_at");
	List	   *indexes = RelationGetIndexList(heap);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		Form_pg_index form;
		bool		fits;
		Relation	index;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for index %u", indexoid);
		form = (Form_pg_index) GETSTRUCT(tup);
		fits = form->indisvalid && form->indnkeyatts >= 1 && form->indkey.values[0] == occurred_at &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL);
		ReleaseSysCache(tup);
		if (!fits)
			continue;
		index = index_open(indexoid, AccessShareLock);
		if (index->rd_rel->relam == BTREE_AM_OID && index->rd_opcintype[0] == TIMESTAMPTZOID)
		{
			list_free(indexes);
			return index;
		}
		index_close(index, AccessShareLock);
	}
	list_free(indexes);
	return NULL;
}

int
partition_holds_occurred(Oid relid, TimestampTz horizon, bool before)
{
	Relation	heap = table_open(relid, AccessShareLock);
	Relation	index;
	int			found = -1;

	/* an empty partition (the default one, usually): no index to read */
	if (RelationGetNumberOfBlocks(heap) == 0)
	{
		table_close(heap, AccessShareLock);
		return 0;
	}
	index = occurred_at_index(heap);
	if (index)
	{
		Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());
		ScanKeyData key;
		IndexScanDesc scan;
		TupleTableSlot *slot = table_slot_create(heap, NULL);

		ScanKeyInit(&key, 1,
					before ? BTLessStrategyNumber : BTGreaterEqualStrategyNumber,
					before ? F_TIMESTAMPTZ_LT : F_TIMESTAMPTZ_GE,
					TimestampTzGetDatum(horizon));
		scan = index_beginscan(heap, index, snapshot, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		/* the first entry the snapshot sees answers: dead ones are stepped over */
		found = index_getnext_slot(scan, ForwardScanDirection, slot) ? 1 : 0;
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		UnregisterSnapshot(snapshot);
		index_close(index, AccessShareLock);
	}
	table_close(heap, AccessShareLock);
	return found;
}
