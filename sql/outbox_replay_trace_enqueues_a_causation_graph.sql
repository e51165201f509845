-- replay_trace() enqueues every stored event of an event's causation graph
-- again, in original (append) order, marked as replays; parents that never
-- arrived and unrelated events are left out; an unknown id enqueues nothing.
\i sql/helpers/expect_error.sql
-- upload <- ready <- processed, ready + processed <- artifact (a join);
-- ready is appended before its parent upload; processed also names a parent
-- that never arrives; "other" is an unrelated flow.
CREATE TEMP TABLE flow (name text, id uuid, parents uuid[], event_type text, routing_key text);
INSERT INTO flow VALUES
    ('ready',     'ba000000-0000-4000-8000-000000000002', '{ba000000-0000-4000-8000-000000000001}', 'fireflies.transcript.ready', 'eu.fireflies.transcript.ready'),
    ('upload',    'ba000000-0000-4000-8000-000000000001', '{}', 'fireflies.transcript.upload', NULL),
    ('processed', 'ba000000-0000-4000-8000-000000000003', '{ba000000-0000-4000-8000-000000000002,ba000000-0000-4000-8000-00000000dead}', 'fireflies.transcript.processed', NULL),
    ('artifact',  'ba000000-0000-4000-8000-000000000004', '{ba000000-0000-4000-8000-000000000002,ba000000-0000-4000-8000-000000000003}', 'artifact.created', NULL),
    ('other',     'ba000000-0000-4000-8000-000000000005', '{}', 'artifact.created', NULL);
SELECT count(candystore.append(
           jsonb_set(jsonb_set(pg_temp.sample_envelope(id), '{event_type}', to_jsonb(event_type)),
                     '{correlation_ids}', to_jsonb(parents)),
           routing_key)) AS appended
  FROM (SELECT * FROM flow ORDER BY CASE name WHEN 'ready' THEN 1 WHEN 'upload' THEN 2 WHEN 'processed' THEN 3 WHEN 'artifact' THEN 4 ELSE 5 END) f;

CREATE TEMP VIEW replayed AS
SELECT o.id, f.name, o.routing_key, o.headers
  FROM candystore.outbox o JOIN candystore.events e USING (position) JOIN flow f ON f.id = e.event_id
 WHERE o.headers ? 'x-candystore-replay';

-- from a leaf: the whole graph, not just its ancestors
SELECT candystore.replay_trace('ba000000-0000-4000-8000-000000000004') AS enqueued;
-- in append order (ready was stored before upload), routing keys as stored
-- or the event type, marked as replays; the missing parent is not there
SELECT name, routing_key, headers FROM replayed ORDER BY id;

-- from the root: the same graph again
SELECT candystore.replay_trace('ba000000-0000-4000-8000-000000000001') AS from_root;
-- a flow of one event
SELECT candystore.replay_trace('ba000000-0000-4000-8000-000000000005') AS single_event;
-- unknown ids, including the parent that never arrived: nothing, no error
SELECT candystore.replay_trace('ba000000-0000-4000-8000-0000000000ff') AS unknown_id;
SELECT candystore.replay_trace('ba000000-0000-4000-8000-00000000dead') AS missing_parent;
SELECT name, count(*) AS times_replayed FROM replayed GROUP BY name ORDER BY name;

-- writers may replay, readers and everyone else may not
SELECT r AS role, has_function_privilege(r, 'candystore.replay_trace(uuid)', 'EXECUTE') AS can_replay_trace
  FROM unnest(ARRAY['candystore_reader', 'candystore_writer', 'public']) AS r
 ORDER BY r;
