-- replay() enqueues stored events again, in their original order, marked as
-- replays, filtered by time window, event types and routing-key prefix.
\i sql/helpers/expect_error.sql
CREATE TEMP TABLE history AS
SELECT i, jsonb_set(jsonb_set(pg_temp.sample_envelope(format('b9000000-0000-4000-8000-%s', lpad(i::text, 12, '0'))::uuid),
                              '{timestamp}', to_jsonb(format('2020-03-01T10:%s:00Z', lpad(i::text, 2, '0')))),
                    '{event_type}', to_jsonb(CASE WHEN i % 2 = 0 THEN 'artifact.created' ELSE 'fireflies.transcript.ready' END)) AS e
  FROM generate_series(1, 6) AS i;
-- appended out of time order, with routing keys
SELECT count(candystore.append(e, CASE WHEN i <= 3 THEN 'eu.' ELSE 'us.' END || (e->>'event_type'))) FROM (SELECT * FROM history ORDER BY i DESC) h;

CREATE TEMP VIEW replayed AS
SELECT o.id, e.event_id, e.occurred_at, o.routing_key, o.headers
  FROM candystore.outbox o JOIN candystore.events e USING (position)
 WHERE e.event_id::text LIKE 'b9000000-%' AND o.headers ? 'x-candystore-replay';

-- the window is [from, to)
SELECT candystore.replay('2020-03-01T10:02:00Z', '2020-03-01T10:05:00Z') AS enqueued;
-- original (append) order, routing keys as stored, marked as replays
SELECT event_id, routing_key, headers FROM replayed ORDER BY id;

SELECT candystore.replay('2020-03-01', '2020-03-02', ARRAY['artifact.created']) AS artifacts_only;
SELECT candystore.replay('2020-03-01', '2020-03-02', NULL, 'eu.') AS eu_only;
SELECT candystore.replay('2020-03-01', '2020-03-02', ARRAY['artifact.created'], 'us.') AS us_artifacts;
SELECT candystore.replay('2020-03-01', '2020-03-02', NULL, 'eu.%') AS prefix_is_literal;
SELECT candystore.replay('2021-01-01', '2022-01-01') AS empty_window;
SELECT count(*) AS replay_rows FROM replayed;
