-- bench/trace.sql: data and measurements for bench/trace.sh (psql -v flows=N).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET maintenance_work_mem = '256MB';

\ir trace_data.sql

-- Stored through append(), so each event gets its causation group exactly
-- as in production (parents are appended before their children here).
\timing on
SELECT count(candystore.append(pg_temp.env(name, type, parents, n, payload)))
  FROM (SELECT *, row_number() OVER (ORDER BY ord) AS n FROM gen ORDER BY ord) g;
-- The seeds' migration target as written: correlation_ids as a jsonb column
-- (ALTER TABLE events ADD COLUMN correlation_ids JSONB), event_id unique, no
-- index on correlation_ids.  And the same with a GIN jsonb_path_ops index on
-- correlation_ids, which the seeds did not have.
CREATE TABLE naive_plain AS
SELECT position, event_id, event_type, occurred_at, envelope->'correlation_ids' AS correlation_ids
  FROM candystore.event_log;
CREATE UNIQUE INDEX ON naive_plain (event_id);
CREATE TABLE naive_gin AS TABLE naive_plain;
CREATE UNIQUE INDEX ON naive_gin (event_id);
CREATE INDEX ON naive_gin USING gin (correlation_ids jsonb_path_ops);
\timing off
-- Every table the walks and the naive CTEs read is vacuumed alike (the
-- walks read event_ids' group index alone where VACUUM set the visibility
-- map; the naive CTEs fetch their rows from the heap either way).  The
-- cluster commits asynchronously: until the commits are flushed VACUUM
-- cannot set the rows' hint bits, nor so mark a page all-visible.  The
-- CHECKPOINT flushes them, but the clog keeps one commit LSN per group of 32
-- transaction ids: an ANALYZE committing asynchronously after it raises the
-- group's LSN past what is flushed, and event_ids' rows (whose ids share
-- that group) stay unhinted.  So from here on every commit is flushed.
SET synchronous_commit = on;
CHECKPOINT;
VACUUM ANALYZE candystore.event_log;
VACUUM ANALYZE candystore.event_ids;
VACUUM ANALYZE candystore.causation_links;
VACUUM ANALYZE naive_plain;
VACUUM ANALYZE naive_gin;
SELECT relname, relpages, relallvisible FROM pg_class
 WHERE oid IN ('candystore.event_ids'::regclass, 'naive_gin'::regclass) ORDER BY 1;
SELECT count(*) AS events, count(DISTINCT causation_group) AS causation_groups,
       (SELECT count(*) FROM candystore.causation_links) AS link_rows
  FROM candystore.event_log;

-- Naive walks: recursive CTEs, as a seed would write them, one set per table.
DO $do$
DECLARE t text;
BEGIN
FOREACH t IN ARRAY ARRAY['naive_plain', 'naive_gin'] LOOP
EXECUTE format($f$
CREATE FUNCTION pg_temp.%1$s_descendants(start uuid) RETURNS bigint LANGUAGE sql AS $$
    WITH RECURSIVE d(event_id, depth) AS (
        SELECT event_id, 0 FROM %1$s WHERE event_id = start
        UNION
        SELECT n.event_id, d.depth + 1 FROM d JOIN %1$s n
            ON n.correlation_ids @> jsonb_build_array(d.event_id::text))
    SELECT count(*) FROM (SELECT event_id, min(depth) FROM d GROUP BY event_id) x
$$$f$, t);
EXECUTE format($f$
CREATE FUNCTION pg_temp.%1$s_ancestors(start uuid) RETURNS bigint LANGUAGE sql AS $$
    WITH RECURSIVE a(event_id, parents, depth) AS (
        SELECT event_id, correlation_ids, 0 FROM %1$s WHERE event_id = start
        UNION
        SELECT n.event_id, n.correlation_ids, a.depth + 1
          FROM a CROSS JOIN LATERAL jsonb_array_elements_text(a.parents) p(id)
          JOIN %1$s n ON n.event_id = p.id::uuid)
    SELECT count(*) FROM (SELECT event_id, min(depth) FROM a GROUP BY event_id) x
$$$f$, t);
-- Trace as a seed would: up to the roots, then everything below them.
EXECUTE format($f$
CREATE FUNCTION pg_temp.%1$s_trace(start uuid) RETURNS bigint LANGUAGE sql AS $$
    WITH RECURSIVE a(event_id, parents) AS (
        SELECT event_id, correlation_ids FROM %1$s WHERE event_id = start
        UNION
        SELECT n.event_id, n.correlation_ids
          FROM a CROSS JOIN LATERAL jsonb_array_elements_text(a.parents) p(id)
          JOIN %1$s n ON n.event_id = p.id::uuid),
    d(event_id, depth) AS (
        SELECT event_id, 0 FROM a WHERE parents = '[]'
        UNION
        SELECT n.event_id, d.depth + 1 FROM d JOIN %1$s n
            ON n.correlation_ids @> jsonb_build_array(d.event_id::text))
    SELECT count(*) FROM (SELECT event_id, min(depth) FROM d GROUP BY event_id) x
$$$f$, t);
END LOOP;
END
$do$;

\ir trace_queries.sql

CREATE TABLE results(ord int, query text, rows_candystore bigint, candystore_ms numeric,
                     rows_gin bigint, gin_ms numeric);
INSERT INTO results
SELECT q.ord, q.query, c.n, c.ms, g.n, g.ms
  FROM queries q,
       LATERAL pg_temp.median_ms(format('SELECT count(*) FROM %s(%L)', q.candystore, q.start), :runs) c,
       LATERAL pg_temp.median_ms(format('SELECT pg_temp.naive_gin_%s(%L)', q.naive, q.start), :runs) g;

-- The seeds' target without an index scans the table once per level of a
-- downward walk: each run is its own statement under statement_timeout
-- (:plain_timeout), :plain_runs runs, no warm-up; a query that timed out once
-- is not run again.  Timed-out runs leave no row.
CREATE TABLE plain_timings(ord int, ms numeric, n bigint);
CREATE FUNCTION pg_temp.time_plain(q_ord int, run int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t timestamptz; cnt bigint; q queries;
BEGIN
    IF run > 1 AND NOT EXISTS (SELECT 1 FROM plain_timings WHERE ord = q_ord) THEN
        RETURN;             -- the first run timed out
    END IF;
    SELECT * INTO q FROM queries WHERE ord = q_ord;
    t := clock_timestamp();
    EXECUTE format('SELECT pg_temp.naive_plain_%s(%L)', q.naive, q.start) INTO cnt;
    INSERT INTO plain_timings VALUES (q_ord, extract(epoch FROM clock_timestamp() - t) * 1000, cnt);
END $$;
\set ON_ERROR_STOP off
\set VERBOSITY terse
SET statement_timeout = :'plain_timeout';
SELECT format('DO $$ BEGIN PERFORM pg_temp.time_plain(%s, %s); END $$', ord, run)
  FROM queries, generate_series(1, :plain_runs) run ORDER BY ord, run \gexec
RESET statement_timeout;
\set ON_ERROR_STOP on
\set VERBOSITY default

\echo
\echo Causation queries at this scale, median ms (candystore and naive+GIN: median of :runs runs after a warm-up;
\echo seeds-as-written: median of up to :plain_runs runs, ">" = every run cancelled at statement_timeout :plain_timeout).
\echo naive = recursive CTEs over a copy of the events with correlation_ids as jsonb and a unique btree on event_id.
\echo "naive+GIN": that plus GIN (jsonb_path_ops) on correlation_ids, stronger than the seeds had.
\echo "seeds as written": no index on correlation_ids, as in the migration of the seeds (ALTER TABLE events ADD COLUMN correlation_ids JSONB).
SELECT r.query, r.rows_candystore AS rows, round(r.candystore_ms, 2) AS candystore_ms,
       round(r.gin_ms, 2) AS "naive+GIN_ms", round(r.gin_ms / r.candystore_ms, 1) AS "x_vs_GIN",
       coalesce(round(p.ms, 2)::text, '> ' || :'plain_timeout') AS seeds_as_written_ms,
       coalesce(round(p.ms / r.candystore_ms)::text, '> ' || round(extract(epoch FROM :'plain_timeout'::interval) * 1000 / r.candystore_ms)) AS x_vs_seeds,
       r.rows_gin = r.rows_candystore AND coalesce(p.n = r.rows_candystore, true) AS same_rows
  FROM results r
  LEFT JOIN (SELECT ord, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric AS ms, min(n) AS n
               FROM plain_timings GROUP BY ord) p USING (ord)
 ORDER BY r.ord;
