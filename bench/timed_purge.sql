-- One purge as bench/purge.sh and bench/large_store.sh time it (via \i):
-- purge_events('1 year') timed into :ms and its count into :purged, with
-- its DEBUG1 account of its steps on stderr; then the deferred step,
-- drop_purged_partitions(), timed into :drop_ms, 0 where it does not exist
-- (0.1.0).  Each timing includes its commit (psql autocommits).  The
-- statistics are flushed before and after, for the dead-tuple counts.
SELECT pg_stat_force_next_flush();
SET client_min_messages = debug1;
SELECT clock_timestamp() AS t0 \gset
SELECT candystore.purge_events('1 year') AS purged \gset
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 1) AS ms \gset
RESET client_min_messages;
SELECT to_regproc('candystore.drop_purged_partitions') IS NOT NULL AS deferred \gset
\if :deferred
SELECT clock_timestamp() AS t1 \gset
SELECT candystore.drop_purged_partitions() AS dropped \gset
SELECT round(extract(epoch FROM clock_timestamp() - :'t1') * 1000, 1) AS drop_ms \gset
\else
SELECT 0 AS drop_ms \gset
\endif
SELECT pg_stat_force_next_flush();
