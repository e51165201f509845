-- bench/trace_data.sql: the generated causation shapes (psql -v flows=N), shared by
-- bench/trace.sql and bench/large_store.sql: functions pg_temp.id(name) and
-- pg_temp.env(name, type, parents, seq, payload), and the temp table gen of
-- every event, stored in order of ord.

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
-- Stored in order of ord: seq (each shape contiguous) unless set, the
-- interleaved shapes below set it between the short flows' events.
CREATE TEMP TABLE gen(seq bigserial, name text, type text, parents text[], payload jsonb,
                      ord float8);

-- Short flows: upload -> ready -> processed -> artifact.created.  The first
-- rows of gen: their ord, their seq, set here (the UPDATE at the end would
-- rewrite every row of a large gen for it).
INSERT INTO gen(name, type, parents, payload, ord)
SELECT 'f' || f || '.' || s,
       (ARRAY['fireflies.transcript.upload', 'fireflies.transcript.ready',
              'fireflies.transcript.processed', 'artifact.created'])[s],
       CASE WHEN s = 1 THEN '{}' ELSE ARRAY['f' || f || '.' || (s - 1)] END,
       jsonb_build_object('meeting_id', 'm' || f),
       (f - 1) * 4 + s
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

-- Interleaved shapes, as they arrive among other traffic: 5 wide trees (a
-- root, 100 children, 100 children each: 10,101 events) and 5 chains of
-- 1,000 levels, their events spread evenly between the short flows' events
-- (parents still before children), so a tree's or chain's rows sit on
-- hundreds of different heap pages rather than on a few consecutive ones.
INSERT INTO gen(name, type, parents, payload, ord)
SELECT 'W' || t, 'batch.started', '{}', '{}', 4 * :flows * (0.02 + t * 0.01)
  FROM generate_series(1, 5) t;
INSERT INTO gen(name, type, parents, payload, ord)
SELECT 'W' || t || '.' || k, 'batch.item.queued', ARRAY['W' || t], '{}',
       4 * :flows * (0.1 + 0.3 * (k * 5 + t) / 505.0) + 0.5
  FROM generate_series(1, 5) t, generate_series(1, 100) k;
INSERT INTO gen(name, type, parents, payload, ord)
SELECT 'W' || t || '.' || k || '.' || j, 'batch.item.done', ARRAY['W' || t || '.' || k], '{}',
       4 * :flows * (0.4 + 0.59 * ((j * 100 + k) * 5 + t) / 50505.0) + 0.5
  FROM generate_series(1, 5) t, generate_series(1, 100) k, generate_series(1, 100) j;
INSERT INTO gen(name, type, parents, payload, ord)
SELECT 'C' || c || '.' || i, 'agent.step.done',
       CASE WHEN i = 0 THEN '{}' ELSE ARRAY['C' || c || '.' || (i - 1)] END,
       jsonb_build_object('session_id', 'ichain' || c),
       4 * :flows * (0.005 + 0.99 * (i * 5 + c) / 5010.0) + 0.25
  FROM generate_series(1, 5) c, generate_series(0, 1000) i;
UPDATE gen SET ord = seq WHERE ord IS NULL;
