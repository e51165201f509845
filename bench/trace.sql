-- bench/trace.sql: data and measurements for bench/trace.sh (psql -v flows=N).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET maintenance_work_mem = '256MB';

-- Ids are md5 of a name, so parents can be named before they are stored.
CREATE FUNCTION pg_temp.id(name text) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT md5(name)::uuid $$;
CREATE FUNCTION pg_temp.env(name text, type text, parents text[], seq bigint, payload jsonb)
    RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'event_id', pg_temp.id(name), 'event_type', type,
        'timestamp', to_char(timestamptz '2026-01-01 00:00:00Z' + seq * interval '10 ms',
                             'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'version', '1.0.0',
        'source', jsonb_build_object('host', 'bench', 'type', 'webhook', 'app', 'fireflies', 'meta', null),
        'correlation_ids', (SELECT coalesce(jsonb_agg(pg_temp.id(p)), '[]') FROM unnest(parents) p),
        'agent_context', null, 'payload', payload)
$$;

-- All events as (name, type, parents, payload), then stored in one pass.
CREATE TEMP TABLE gen(seq bigserial, name text, type text, parents text[], payload jsonb);

-- Short flows: upload -> ready -> processed -> artifact.created.
INSERT INTO gen(name, type, parents, payload)
SELECT 'f' || f || '.' || s,
       (ARRAY['fireflies.transcript.upload', 'fireflies.transcript.ready',
              'fireflies.transcript.processed', 'artifact.created'])[s],
       CASE WHEN s = 1 THEN '{}' ELSE ARRAY['f' || f || '.' || (s - 1)] END,
       jsonb_build_object('meeting_id', 'm' || f)
  FROM generate_series(1, :flows) f, generate_series(1, 4) s
 ORDER BY f, s;
-- Deep chains: 5 chains of depth 1,000.
INSERT INTO gen(name, type, parents, payload)
SELECT 'c' || c || '.' || i, 'agent.step.done',
       CASE WHEN i = 0 THEN '{}' ELSE ARRAY['c' || c || '.' || (i - 1)] END,
       jsonb_build_object('session_id', 'chain' || c)
  FROM generate_series(1, 5) c, generate_series(0, 1000) i ORDER BY c, i;
-- Wide trees: root -> 100 children -> 99 grandchildren each (10,000 descendants).
INSERT INTO gen(name, type, parents, payload)
SELECT 'w' || t, 'batch.started', '{}', '{}' FROM generate_series(1, 5) t;
INSERT INTO gen(name, type, parents, payload)
SELECT 'w' || t || '.' || k, 'batch.item.queued', ARRAY['w' || t], '{}'
  FROM generate_series(1, 5) t, generate_series(1, 100) k ORDER BY t, k;
INSERT INTO gen(name, type, parents, payload)
SELECT 'w' || t || '.' || k || '.' || j, 'batch.item.done', ARRAY['w' || t || '.' || k], '{}'
  FROM generate_series(1, 5) t, generate_series(1, 100) k, generate_series(1, 99) j ORDER BY t, k, j;
-- Mixed graphs of 500 events: a binary fan-out where every 5th event also
-- joins its predecessor (multi-parent), 100 graphs.
INSERT INTO gen(name, type, parents, payload)
SELECT 'x' || g || '.' || i,
       CASE WHEN i = 0 THEN 'fireflies.transcript.upload' WHEN i % 5 = 0 THEN 'summary.created' ELSE 'artifact.created' END,
       CASE WHEN i = 0 THEN '{}'
            WHEN i % 5 = 0 THEN ARRAY['x' || g || '.' || (i / 2), 'x' || g || '.' || (i - 1)]
            ELSE ARRAY['x' || g || '.' || (i / 2)] END,
       '{}'
  FROM generate_series(1, 100) g, generate_series(0, 499) i ORDER BY g, i;

\timing on
INSERT INTO candystore.event_log (event_id, event_type, occurred_at, correlation_ids, envelope)
SELECT pg_temp.id(name), type, timestamptz '2026-01-01 00:00:00Z' + seq * interval '10 ms',
       (SELECT coalesce(array_agg(pg_temp.id(p)), '{}') FROM unnest(parents) p),
       pg_temp.env(name, type, parents, seq, payload)
  FROM gen ORDER BY seq;
-- The seeds' migration target: correlation_ids as jsonb, GIN jsonb_path_ops.
CREATE TABLE naive_events AS
SELECT position, event_id, event_type, occurred_at, envelope->'correlation_ids' AS correlation_ids
  FROM candystore.event_log;
CREATE UNIQUE INDEX ON naive_events (event_id);
CREATE INDEX ON naive_events USING gin (correlation_ids jsonb_path_ops);
\timing off
VACUUM ANALYZE candystore.event_log;
VACUUM ANALYZE naive_events;
SELECT count(*) AS events FROM candystore.event_log;

-- Naive walks: recursive CTEs, as a seed would write them.
CREATE FUNCTION pg_temp.naive_descendants(start uuid) RETURNS bigint LANGUAGE sql AS $$
    WITH RECURSIVE d(event_id, depth) AS (
        SELECT event_id, 0 FROM naive_events WHERE event_id = start
        UNION
        SELECT n.event_id, d.depth + 1 FROM d JOIN naive_events n
            ON n.correlation_ids @> jsonb_build_array(d.event_id::text))
    SELECT count(*) FROM (SELECT event_id, min(depth) FROM d GROUP BY event_id) x
$$;
CREATE FUNCTION pg_temp.naive_ancestors(start uuid) RETURNS bigint LANGUAGE sql AS $$
    WITH RECURSIVE a(event_id, parents, depth) AS (
        SELECT event_id, correlation_ids, 0 FROM naive_events WHERE event_id = start
        UNION
        SELECT n.event_id, n.correlation_ids, a.depth + 1
          FROM a CROSS JOIN LATERAL jsonb_array_elements_text(a.parents) p(id)
          JOIN naive_events n ON n.event_id = p.id::uuid)
    SELECT count(*) FROM (SELECT event_id, min(depth) FROM a GROUP BY event_id) x
$$;
-- Trace as a seed would: up to the roots, then everything below them.
CREATE FUNCTION pg_temp.naive_trace(start uuid) RETURNS bigint LANGUAGE sql AS $$
    WITH RECURSIVE a(event_id, parents) AS (
        SELECT event_id, correlation_ids FROM naive_events WHERE event_id = start
        UNION
        SELECT n.event_id, n.correlation_ids
          FROM a CROSS JOIN LATERAL jsonb_array_elements_text(a.parents) p(id)
          JOIN naive_events n ON n.event_id = p.id::uuid),
    d(event_id, depth) AS (
        SELECT event_id, 0 FROM a WHERE parents = '[]'
        UNION
        SELECT n.event_id, d.depth + 1 FROM d JOIN naive_events n
            ON n.correlation_ids @> jsonb_build_array(d.event_id::text))
    SELECT count(*) FROM (SELECT event_id, min(depth) FROM d GROUP BY event_id) x
$$;

-- Median of :runs timings of one query, in ms.
CREATE FUNCTION pg_temp.median_ms(q text, runs int) RETURNS TABLE(ms numeric, n bigint) LANGUAGE plpgsql AS $$
DECLARE t timestamptz; times numeric[] := '{}'; cnt bigint;
BEGIN
    EXECUTE q INTO cnt;     -- warm-up
    FOR i IN 1..runs LOOP
        t := clock_timestamp();
        EXECUTE q INTO cnt;
        times := times || (extract(epoch FROM clock_timestamp() - t) * 1000)::numeric;
    END LOOP;
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) INTO ms FROM unnest(times) x;
    n := cnt;
    RETURN NEXT;
END $$;

CREATE TEMP TABLE results(query text, rows_candystore bigint, candystore_ms numeric, rows_naive bigint, naive_ms numeric);
INSERT INTO results
SELECT 'descendants(wide root)', c.n, c.ms, nv.n, nv.ms
  FROM pg_temp.median_ms(format('SELECT count(*) FROM candystore.descendants(%L)', pg_temp.id('w3')), :runs) c,
       pg_temp.median_ms(format('SELECT pg_temp.naive_descendants(%L)', pg_temp.id('w3')), :runs) nv;
INSERT INTO results
SELECT 'ancestors(deep leaf)', c.n, c.ms, nv.n, nv.ms
  FROM pg_temp.median_ms(format('SELECT count(*) FROM candystore.ancestors(%L)', pg_temp.id('c3.1000')), :runs) c,
       pg_temp.median_ms(format('SELECT pg_temp.naive_ancestors(%L)', pg_temp.id('c3.1000')), :runs) nv;
INSERT INTO results
SELECT 'trace(mixed graph)', c.n, c.ms, nv.n, nv.ms
  FROM pg_temp.median_ms(format('SELECT count(*) FROM candystore.trace(%L)', pg_temp.id('x50.250')), :runs) c,
       pg_temp.median_ms(format('SELECT pg_temp.naive_trace(%L)', pg_temp.id('x50.250')), :runs) nv;
INSERT INTO results
SELECT 'trace(short flow)', c.n, c.ms, nv.n, nv.ms
  FROM pg_temp.median_ms(format('SELECT count(*) FROM candystore.trace(%L)', pg_temp.id('f1000.3')), :runs) c,
       pg_temp.median_ms(format('SELECT pg_temp.naive_trace(%L)', pg_temp.id('f1000.3')), :runs) nv;

\echo
\echo Causation queries, median of :runs runs (ms)
SELECT query, rows_candystore AS rows, round(candystore_ms, 2) AS candystore_ms,
       rows_naive, round(naive_ms, 2) AS naive_cte_ms, round(naive_ms / candystore_ms, 1) AS speedup
  FROM results;
