#!/usr/bin/env bash
# Reads and trace walks under authorization by event type against without:
# the backend's own CPU time per operation (from /proc/self/stat, so other
# processes on shared cores do not count) of get_event(), a read_all() page
# of 1000 events and trace() of a 40-event graph, as
#   - "bare": get_event() and read_all() as they were before (copies of
#     their 0.1.0 definitions, without the check), as the owner; not for
#     trace(), which is C;
#   - "no grants": a reader without grants (today's behaviour: the check
#     answers "not restricted" from its cache);
#   - "restricted, sees all": a reader with four patterns that together
#     match every stored type (same rows; the per-row check is the cost);
#   - "restricted, sees half": two of the four (half the graph hidden; a
#     read_all page then scans two rows per row it returns).
# The modes interleaved, one run, side by side.  Target (issue 19): >= 0.8x
# the operations per second of "no grants".
# Usage: bash bench/authorization.sh [graphs, default 2000] [rounds, default 3]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"
GRAPHS=${1:-2000}
ROUNDS=${2:-3}

bench_cluster authorization
bench_psql -v graphs="$GRAPHS" -v rounds="$ROUNDS" <<'SQL'
CREATE EXTENSION candystore;
-- graphs of 40 events (a chain of 10, each with 3 children), the types
-- cycling through four teams' types; ~1 KB payloads
CREATE FUNCTION bench_envelope(g int, i int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'event_id', md5(g || '/' || i)::uuid,
        'event_type', (ARRAY['fireflies.note.taken', 'agent.task.done', 'llm.usage.logged', 'artifact.note.made'])[1 + i % 4],
        'timestamp', '2026-01-27T10:15:00.000000Z', 'version', '1.0.0',
        'source', jsonb_build_object('host', 'bigchungus', 'type', 'webhook', 'app', 'bench', 'meta', NULL),
        'correlation_ids', CASE WHEN i = 0 THEN '[]'::jsonb
                                ELSE jsonb_build_array(md5(g || '/' || (CASE WHEN i % 4 = 0 THEN i - 4 ELSE i - i % 4 END))::uuid) END,
        'agent_context', NULL,
        'payload', jsonb_build_object('summary', repeat('Release on Friday; Bob owns the migration. ', 20),
                                      'session_id', 'bench-' || g))
$$;
SELECT count(candystore.append(bench_envelope(g, i))) AS appended
  FROM generate_series(1, :graphs) g, generate_series(0, 39) i;
VACUUM ANALYZE candystore.event_log;
VACUUM ANALYZE candystore.event_ids;

CREATE ROLE bench_free IN ROLE candystore_reader;
CREATE ROLE bench_all IN ROLE candystore_reader;
CREATE ROLE bench_half IN ROLE candystore_reader;
SELECT candystore.grant_event_types('bench_all', '{fireflies.#, agent.*.*, llm.usage.logged, artifact.#}');
SELECT candystore.grant_event_types('bench_half', '{fireflies.#, llm.usage.logged}');

-- get_event() and read_all() as they were before the check (0.1.0)
CREATE FUNCTION bare_get_event(event_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.envelope
      FROM candystore.event_ids i
      JOIN candystore.event_log l ON l.position = i.position
     WHERE i.event_id = bare_get_event.event_id
$$;
CREATE VIEW bare_event_stream AS
SELECT xid, position, event_id, event_type, occurred_at, recorded_at, envelope
  FROM candystore.event_log;
CREATE FUNCTION bare_read_all(after text, max_count int DEFAULT 1000, event_types text[] DEFAULT NULL)
    RETURNS TABLE(cursor text, "position" bigint, event_id uuid, event_type text,
                  occurred_at timestamptz, recorded_at timestamptz, envelope jsonb)
    LANGUAGE sql STABLE ROWS 1000
BEGIN ATOMIC
    SELECT candystore.cursor_encode(e.xid, e.position), e.position, e.event_id, e.event_type,
           e.occurred_at, e.recorded_at, e.envelope
      FROM bare_event_stream e
     WHERE (e.xid, e.position) > ((candystore.cursor_decode(after)).xid,
                                  (candystore.cursor_decode(after)).position)
       AND e.xid < candystore.read_horizon_xid()
       AND (event_types IS NULL OR e.event_type = ANY (event_types))
     ORDER BY e.xid, e.position
     LIMIT candystore.checked_max_count(max_count);
END;

CREATE TABLE ids AS SELECT row_number() OVER () AS n, md5(g || '/' || i)::uuid AS id
  FROM generate_series(1, :graphs) g, generate_series(0, 39) i ORDER BY random();
CREATE TABLE roots AS SELECT row_number() OVER () AS n, md5(g || '/6')::uuid AS id
  FROM generate_series(1, :graphs) g ORDER BY random();
GRANT SELECT ON ids, roots TO PUBLIC;
CREATE FUNCTION cpu_us() RETURNS bigint LANGUAGE sql AS $$
    SELECT 10000 * ((string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' '))[12]::bigint
                  + (string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' '))[13]::bigint)
$$;  -- utime + stime, in clock ticks of 10 ms

-- CPU µs per operation of one workload in one mode; rows: rows returned per operation
CREATE TABLE cpu (round int, mode text, workload text, us numeric, rows numeric);
CREATE FUNCTION measure(r int, m text, w text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    t0 bigint;
    ops int;
    nrows bigint := 0;
    c text;
    got bigint;
BEGIN
    IF m = 'bare' AND w = 'trace' THEN RETURN 0; END IF;
    t0 := cpu_us();
    IF m <> 'bare' THEN PERFORM set_config('role', m, true); END IF;
    -- each workload about a second of CPU (the clock ticks every 10 ms)
    IF w = 'get_event' THEN
        ops := 60000;
        IF m = 'bare' THEN
            SELECT count(bare_get_event(id)) INTO nrows FROM ids WHERE n <= ops;
        ELSE
            SELECT count(candystore.get_event(id)) INTO nrows FROM ids WHERE n <= ops;
        END IF;
    ELSIF w = 'read_all' THEN
        ops := 0;
        FOR pass IN 1 .. 10 LOOP
            c := NULL;
            FOR p IN 1 .. 30 LOOP
                -- the envelopes are read, as a reader would (else the bare
                -- query is an index-only scan that never reads the heap)
                IF m = 'bare' THEN
                    SELECT max(x.cursor COLLATE "C"), count(x.envelope) INTO c, got FROM bare_read_all(c, 1000) x;
                ELSE
                    SELECT max(x.cursor COLLATE "C"), count(x.envelope) INTO c, got FROM candystore.read_all(c, 1000) x;
                END IF;
                nrows := nrows + got;
                ops := ops + 1;
            END LOOP;
        END LOOP;
    ELSE
        ops := 0;
        FOR pass IN 1 .. 5 LOOP
            SELECT count(*) + nrows INTO nrows FROM roots, candystore.trace(roots.id) t;
            ops := ops + (SELECT count(*) FROM roots);
        END LOOP;
    END IF;
    PERFORM set_config('role', 'none', true);
    INSERT INTO cpu VALUES (r, m, w, (cpu_us() - t0)::numeric / ops, nrows::numeric / ops);
    RETURN 1;
END
$$;
SET client_min_messages = warning;
-- round 0 warms the caches, then rounds interleave the modes
SELECT count(measure(r, m, w)) AS measured FROM (
    SELECT r, m, w FROM generate_series(0, :rounds) r,
           unnest(ARRAY['get_event', 'read_all', 'trace']) w,
           unnest(ARRAY['bare', 'bench_free', 'bench_all', 'bench_half']) WITH ORDINALITY AS u(m, o)
     ORDER BY r, w, o) s;
DELETE FROM cpu WHERE round = 0;
\echo
\echo backend CPU µs per operation (median of :rounds rounds, modes interleaved; :graphs graphs of 40 events, 1 KB payloads)
SELECT c.workload || CASE c.workload WHEN 'read_all' THEN ' (page of 1000)' WHEN 'trace' THEN ' (40 events)' ELSE '' END AS operation,
       CASE c.mode WHEN 'bare' THEN 'bare (no check)' WHEN 'bench_free' THEN 'no grants'
                   WHEN 'bench_all' THEN 'restricted, sees all' ELSE 'restricted, sees half' END AS mode,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c.us)::numeric, 1) AS cpu_us_per_op,
       round(avg(c.rows), 1) AS rows_per_op,
       round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY f.us) FROM cpu f
               WHERE f.mode = 'bench_free' AND f.workload = c.workload)::numeric
             / percentile_cont(0.5) WITHIN GROUP (ORDER BY c.us)::numeric, 2) AS ops_per_s_vs_no_grants,
       CASE WHEN c.mode LIKE 'bench_all' THEN '>= 0.8' END AS target
  FROM cpu c GROUP BY c.workload, c.mode
 ORDER BY c.workload, min(array_position(ARRAY['bare', 'bench_free', 'bench_all', 'bench_half'], c.mode));
SQL
