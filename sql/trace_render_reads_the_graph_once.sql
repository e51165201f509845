-- trace_render walks the causation graph once (as trace() does), then
-- renders it: the pages it reads grow with the graph, not with its square.
-- Counted, not timed: the shared buffers a call touches, from EXPLAIN
-- (ANALYZE, BUFFERS), for a chain and a fan-out of 1,000 and 2,000 events.
SET timezone = 'UTC';

-- Graph g, event n: 0000nnnn-0000-4000-8000-0000000000gg (renderings show
-- the first 8 digits).
CREATE FUNCTION pg_temp.gid(g int, n int) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT (lpad(n::text, 8, '0') || '-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid $$;
CREATE FUNCTION pg_temp.gev(g int, n int, parent int) RETURNS bigint LANGUAGE sql AS $$
    SELECT candystore.append(jsonb_build_object(
        'event_id', pg_temp.gid(g, n), 'event_type', 'step.done',
        'timestamp', to_char(timestamptz '2026-01-27 10:00:00Z' + n * interval '1 second',
                             'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'version', '1.0.0',
        'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'linear', 'meta', null),
        'correlation_ids', CASE WHEN parent IS NULL THEN '[]'::jsonb
                                ELSE jsonb_build_array(pg_temp.gid(g, parent)) END,
        'agent_context', null, 'payload', '{}'::jsonb))
$$;
\i sql/helpers/pages_touched.sql

-- chains (each event the parent of the next): graphs 11 and 12;
-- fan-outs (one root, every other event its child): graphs 21 and 22.
CREATE TEMP TABLE graphs(g int, shape text, size int);
INSERT INTO graphs VALUES (11, 'chain', 1000), (12, 'chain', 2000),
                          (21, 'fan-out', 1000), (22, 'fan-out', 2000);
SELECT g, count(pg_temp.gev(g, n, CASE WHEN n = 0 THEN NULL
                                       WHEN shape = 'chain' THEN n - 1 ELSE 0 END)) AS appended
  FROM graphs, generate_series(0, size - 1) n GROUP BY g ORDER BY g;

-- What renders: every event once, the chain indented a level per event.
SELECT shape, size, f,
       array_length(string_to_array(candystore.trace_render(pg_temp.gid(g, size / 2), f), E'\n'), 1) AS lines
  FROM graphs, unnest(ARRAY['tree', 'dot', 'mermaid']) f ORDER BY g, f;
SELECT length(r) - length(ltrim(r)) AS last_line_indent, ltrim(r) AS last_line
  FROM (SELECT (string_to_array(candystore.trace_render(pg_temp.gid(12, 0)), E'\n'))[2000] r) s;
SELECT line AS fan_out_head
  FROM unnest((string_to_array(candystore.trace_render(pg_temp.gid(22, 7)), E'\n'))[1:3]) line;

-- The work: each rendering touches no more pages than trace() does (the
-- quadratic rendering ran trace() once per row), and twice the events take
-- at most a little more than twice the pages.
CREATE TEMP TABLE work AS
SELECT shape, size, f,
       pg_temp.pages(format('SELECT candystore.trace_render(%L, %L)', pg_temp.gid(g, 0), f)) AS render,
       pg_temp.pages(format('SELECT count(*) FROM candystore.trace(%L)', pg_temp.gid(g, 0))) AS walk
  FROM graphs, unnest(ARRAY['tree', 'dot', 'mermaid']) f;
SELECT shape, size, f, render <= walk AS render_reads_no_more_than_trace
  FROM work ORDER BY shape, size, f;
SELECT a.shape, a.f, b.render <= 2.5 * a.render AS twice_the_events_about_twice_the_pages
  FROM work a JOIN work b ON b.shape = a.shape AND b.f = a.f AND b.size = 2 * a.size
 ORDER BY a.shape, a.f;
