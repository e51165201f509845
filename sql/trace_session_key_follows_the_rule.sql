-- append() stores each event's session key (event_log.session_key), which
-- session_timeline() looks up through an index: it must be exactly
-- coalesce(envelope->'payload'->>'session_id', envelope->'payload'->>'meeting_id').
CREATE FUNCTION pg_temp.ev(n int, payload jsonb) RETURNS bigint LANGUAGE sql AS $$
    SELECT candystore.append(jsonb_build_object(
        'event_id', (lpad(n::text, 8, '0') || '-5e55-4000-8000-000000000000')::uuid,
        'event_type', 'session.key.case', 'timestamp', '2026-01-27T10:00:00Z', 'version', '1.0.0',
        'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'a', 'meta', null),
        'correlation_ids', '[]'::jsonb, 'agent_context', null, 'payload', payload))
$$;
CREATE TEMP TABLE cases(n int, payload jsonb);
INSERT INTO cases VALUES
    (1, '{"session_id": "s-1", "meeting_id": "m-1"}'),
    (2, '{"meeting_id": "m-2"}'),
    (3, '{"session_id": null, "meeting_id": "m-3"}'),
    (4, '{"session_id": 42.50}'),
    (5, '{"session_id": true}'),
    (6, '{"session_id": {"b": [1, "x"], "a": null}}'),
    (7, '{"nested": {"session_id": "not-top-level"}}'),
    (8, '{}'),
    (9, '{"session_id": ""}');
SELECT count(pg_temp.ev(n, payload)) FROM cases;
SELECT c.n, c.payload, l.session_key
  FROM cases c JOIN candystore.event_log l
    ON l.event_id = (lpad(c.n::text, 8, '0') || '-5e55-4000-8000-000000000000')::uuid
 ORDER BY c.n;
-- The stored key agrees with the rule for every event stored so far.
SELECT count(*) >= 9 AS events_checked,
       count(*) FILTER (WHERE session_key IS DISTINCT FROM
                        coalesce(envelope->'payload'->>'session_id', envelope->'payload'->>'meeting_id')) AS disagreeing
  FROM candystore.event_log;
SELECT count(*) AS found_by_number FROM candystore.session_timeline('42.50');
SELECT count(*) AS found_by_empty_key FROM candystore.session_timeline('');
