-- Causation chains: ancestors, descendants, trace, events_caused_by,
-- trace_render and session_timeline over correlation_ids (parent ids).
SET timezone = 'UTC';

-- Test ids: 000000NN-0000-4000-8000-000000000000, shown as NN below (and
-- as their first 8 digits, the short id, in renderings).
CREATE FUNCTION pg_temp.u(n int) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT (lpad(n::text, 8, '0') || '-0000-4000-8000-000000000000')::uuid $$;
CREATE FUNCTION pg_temp.ev(n int, type text, parents int[], payload jsonb DEFAULT '{}')
    RETURNS boolean LANGUAGE sql AS $$
    SELECT 0 < candystore.append(jsonb_build_object(
        'event_id', pg_temp.u(n), 'event_type', type,
        'timestamp', to_char(timestamptz '2026-01-27 10:00:00Z' + n * interval '1 minute',
                             'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'version', '1.0.0',
        'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'fireflies', 'meta', null),
        'correlation_ids', (SELECT coalesce(jsonb_agg(pg_temp.u(p)), '[]') FROM unnest(parents) p),
        'agent_context', null, 'payload', payload))
$$;
-- Show uuids as their number.
CREATE FUNCTION pg_temp.s(id uuid) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT left(id::text, 8)::int $$;
CREATE FUNCTION pg_temp.s(ids uuid[]) RETURNS int[] LANGUAGE sql IMMUTABLE
    AS $$ SELECT array_agg(pg_temp.s(x) ORDER BY o) FROM unnest(ids) WITH ORDINALITY AS t(x, o) $$;

-- The sample flow: upload -> ready -> processed -> artifact.created, plus a
-- second artifact, and a summary joining both artifacts (two parents).
SELECT pg_temp.ev(1, 'fireflies.transcript.upload', '{}', '{"meeting_id":"trace-m-1"}');
SELECT pg_temp.ev(2, 'fireflies.transcript.ready', '{1}', '{"id":"ff-trace-1","meeting_id":"trace-m-1"}');
SELECT pg_temp.ev(3, 'fireflies.transcript.processed', '{2}', '{"session_id":"trace-s-9","meeting_id":"trace-m-1"}');
SELECT pg_temp.ev(4, 'artifact.created', '{3}', '{"meeting_id":"trace-m-1"}');
SELECT pg_temp.ev(5, 'artifact.created', '{3}');
SELECT pg_temp.ev(6, 'summary.created', '{4,5}');

-- descendants: each once, at its shortest depth, by depth then position.
SELECT pg_temp.s(event_id) AS e, event_type, depth, pg_temp.s(parent_ids) AS parents
  FROM candystore.descendants(pg_temp.u(1));
SELECT pg_temp.s(event_id) AS e, depth FROM candystore.descendants(pg_temp.u(3));
-- max_depth limits the walk; 0 gives the event alone.
SELECT pg_temp.s(event_id) AS e, depth FROM candystore.descendants(pg_temp.u(1), 2);
SELECT pg_temp.s(event_id) AS e, depth FROM candystore.descendants(pg_temp.u(1), 0);
SELECT candystore.descendants(pg_temp.u(1), -1);

-- ancestors of the join: both branches, the shared ones once.
SELECT pg_temp.s(event_id) AS e, event_type, occurred_at, depth FROM candystore.ancestors(pg_temp.u(6));
SELECT pg_temp.s(event_id) AS e, depth FROM candystore.ancestors(pg_temp.u(6), 1);

-- trace from a middle event: the whole graph, depth from the root.
SELECT pg_temp.s(event_id) AS e, event_type, depth FROM candystore.trace(pg_temp.u(4));

-- Unknown ids: empty results, no error.
SELECT count(*) FROM candystore.ancestors(pg_temp.u(99));
SELECT count(*) FROM candystore.descendants(pg_temp.u(99));
SELECT count(*) FROM candystore.trace(pg_temp.u(99));
SELECT count(*) FROM candystore.events_caused_by(pg_temp.u(99));
SELECT candystore.trace_render(pg_temp.u(99)) IS NULL AS render_unknown_is_null;

-- A parent that has not arrived yet: the child (e11) lists e10 before e10 is
-- stored.  trace shows e10 as missing (NULL type); ancestors skip it.
SELECT pg_temp.ev(11, 'child.early', '{10}');
SELECT pg_temp.ev(12, 'child.grand', '{11}');
SELECT pg_temp.s(event_id) AS e, event_type, depth FROM candystore.trace(pg_temp.u(12));
SELECT pg_temp.s(event_id) AS e, depth FROM candystore.ancestors(pg_temp.u(12));
SELECT candystore.trace_render(pg_temp.u(12));
-- ... and the link counts as soon as the parent arrives.
SELECT pg_temp.ev(10, 'parent.late', '{}');
SELECT pg_temp.s(event_id) AS e, event_type, depth FROM candystore.trace(pg_temp.u(12));
SELECT pg_temp.s(event_id) AS e, depth FROM candystore.descendants(pg_temp.u(10));

-- An event listing itself (and a duplicated parent id): counted once.
SELECT pg_temp.ev(20, 'self.loop', '{20}');
SELECT pg_temp.ev(21, 'dup.parent', '{20,20,20}');
SELECT pg_temp.s(event_id) AS e, depth, pg_temp.s(parent_ids) AS parents FROM candystore.descendants(pg_temp.u(20));
SELECT pg_temp.s(event_id) AS e, depth FROM candystore.ancestors(pg_temp.u(21));
SELECT pg_temp.s(event_id) AS e, depth FROM candystore.trace(pg_temp.u(21));

-- A cycle (e30 -> e31 -> e32 -> e30, possible only with ids listed before
-- arrival): every walk terminates and lists each event once.
SELECT pg_temp.ev(30, 'cycle.a', '{32}');
SELECT pg_temp.ev(31, 'cycle.b', '{30}');
SELECT pg_temp.ev(32, 'cycle.c', '{31}');
SELECT pg_temp.s(event_id) AS e, depth FROM candystore.descendants(pg_temp.u(31));
SELECT pg_temp.s(event_id) AS e, depth FROM candystore.ancestors(pg_temp.u(31));
-- No root leads in: the earliest stored event of the cycle roots it.
SELECT pg_temp.s(event_id) AS e, depth FROM candystore.trace(pg_temp.u(31));
SELECT candystore.trace_render(pg_temp.u(31));

-- events_caused_by: the envelopes, verbatim, in position order.
SELECT e->>'event_type' AS event_type, e = candystore.get_event((e->>'event_id')::uuid) AS verbatim
  FROM candystore.events_caused_by(pg_temp.u(3)) e;

-- trace_render: tree (shared child e6 shown once, referenced after), dot, mermaid.
SELECT candystore.trace_render(pg_temp.u(2));
SELECT candystore.trace_render(pg_temp.u(2), 'dot');
SELECT candystore.trace_render(pg_temp.u(2), 'mermaid');
SELECT candystore.trace_render(pg_temp.u(2), 'svg');

-- session_timeline: payload session_id, else meeting_id; time order; indexed.
SELECT pg_temp.ev(40, 'session.note', '{}', '{"session_id":"trace-m-1"}');
SELECT pg_temp.s(event_id) AS e, event_type FROM candystore.session_timeline('trace-m-1');
SELECT pg_temp.s(event_id) AS e FROM candystore.session_timeline('trace-s-9');
SELECT count(*) FROM candystore.session_timeline('nope');
SET enable_seqscan = off;
CREATE FUNCTION pg_temp.plan_lines(query text) RETURNS SETOF text
LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || query; END $$;
-- (each partition's session index)
SELECT count(*) FILTER (WHERE l ~ 'Seq Scan') AS seq_scans,
       count(*) FILTER (WHERE l ~ 'Index Scan on \S*session_key_idx') > 0 AS session_index_used
  FROM pg_temp.plan_lines($$SELECT event_id FROM candystore.event_log
 WHERE session_key = 'trace-m-1'
 ORDER BY occurred_at, position$$) l;
RESET enable_seqscan;

-- Readers may query, not only writers.
SET ROLE candystore_reader;
SELECT count(*) FROM candystore.trace(pg_temp.u(1));
RESET ROLE;
