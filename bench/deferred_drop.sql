-- The deferred step of a purge (bench/purge.sh, bench/large_store.sh, via
-- \i): drop_purged_partitions() timed into :drop_ms, its commit included
-- (psql autocommits); 0 where it does not exist (0.1.0).
SELECT to_regproc('candystore.drop_purged_partitions') IS NOT NULL AS deferred \gset
\if :deferred
SELECT clock_timestamp() AS t1 \gset
SELECT candystore.drop_purged_partitions() AS dropped \gset
SELECT round(extract(epoch FROM clock_timestamp() - :'t1') * 1000, 1) AS drop_ms \gset
\else
SELECT 0 AS drop_ms \gset
\endif
