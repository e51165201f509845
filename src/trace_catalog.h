/*
 * trace_catalog.h
 *	  The relations and columns the causation bookkeeping and walks use,
 *	  looked up once per backend (and again after they change).
 */
#ifndef CANDYSTORE_TRACE_CATALOG_H
#define CANDYSTORE_TRACE_CATALOG_H

#include "postgres.h"
#include "access/attnum.h"

typedef struct TraceCatalog
{
	bool		partitioned;		/* 0.2.0: event_log partitioned, event_ids beside it */
	Oid			event_ids;			/* unpartitioned: one index for all of event_log
									 * (a 0.1.0 catalog: event_log itself) */
	Oid			event_id_index;		/* event_ids_pkey */
	Oid			group_index;		/* event_ids_causation_group_idx */
	Oid			links;				/* causation_links */
	Oid			links_index;		/* causation_links_pkey, on (a, b) */
	Oid			purged_ranges;		/* positions of dropped partitions whose ids
									 * event_ids still holds (InvalidOid: none
									 * in a 0.1.0 catalog) */
	/* event_ids columns */
	AttrNumber	position;
	AttrNumber	event_id;
	AttrNumber	event_type;
	AttrNumber	occurred_at;
	AttrNumber	correlation_ids;
	AttrNumber	causation_group;
	AttrNumber	last_column;		/* the highest of those */
} TraceCatalog;

/* The catalog entries; raises if the extension's objects are missing. */
extern const TraceCatalog *trace_catalog(void);

#endif
