-- candystore.event_type_estimates(), what /metrics reports as events by
-- type: the planner's estimates, not a count; nothing before ANALYZE, the
-- most common types with their share of the rows after it, the rest summed
-- under a NULL type; a reader may call it though it may not read
-- event_log's statistics itself.  A database of its own, so the counts are
-- this test's alone.
SELECT current_database() AS home_database \gset
DROP DATABASE IF EXISTS regress_candystore_estimates;
CREATE DATABASE regress_candystore_estimates;
\c regress_candystore_estimates
CREATE EXTENSION candystore;
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.typed_envelope(i int, kind text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(pg_temp.sample_envelope(md5('estimates' || i)::uuid), '{event_type}', to_jsonb(kind))
$$;
-- 6 of one type, 3 of another, 1 of a third (seen once: no common value)
SELECT count(candystore.append(pg_temp.typed_envelope(i,
         CASE WHEN i <= 6 THEN 'estimates.common' WHEN i <= 9 THEN 'estimates.less' ELSE 'estimates.rare' END)))
       AS appended
  FROM generate_series(1, 10) i;

-- never analyzed: no estimate at all
SELECT count(*) AS rows_before_analyze FROM candystore.event_type_estimates();

ANALYZE candystore.event_log;
SET ROLE candystore_reader;
SELECT count(*) AS reader_sees_stats FROM pg_stats WHERE tablename = 'event_log';
SELECT event_type, estimated FROM candystore.event_type_estimates() ORDER BY event_type NULLS LAST;
RESET ROLE;

-- nobody else may call it
CREATE ROLE regress_estimates_nobody;
SET ROLE regress_estimates_nobody;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.event_type_estimates()$$) AS nobody_calls;
RESET ROLE;
DROP ROLE regress_estimates_nobody;
\c :home_database
DROP DATABASE regress_candystore_estimates;
