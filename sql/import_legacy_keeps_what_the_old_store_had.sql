-- import_legacy() moves the old Candystore table (the seeds' SQLAlchemy
-- StoredEvent: id, event_type, source flattened to a string, target,
-- routing_key, a naive timestamp, payload, session_id, a single
-- correlation_id; no version, no agent_context) into the store: every old
-- value is kept, what the envelope needs and the row lacks is named as
-- reconstructed, broken rows are refused with their reasons and stored
-- nowhere else, and a second run stores nothing new.
SET timezone = 'UTC';
CREATE TABLE legacy_events (
    id             varchar PRIMARY KEY,
    event_type     varchar,
    source         varchar,
    target         varchar,
    routing_key    varchar,
    "timestamp"    timestamp,            -- SQLAlchemy DateTime: no zone
    payload        json,
    session_id     varchar,
    correlation_id varchar,
    created_by     text                  -- a column the model does not name: kept too
);
INSERT INTO legacy_events VALUES
 -- a flow as Bloodbank sent it: uuid ids, the parent in correlation_id
 ('1e000000-0000-4000-8000-000000000001', 'fireflies.transcript.upload', 'bigchungus', NULL, 'fireflies.transcript.upload',
  '2026-01-27 10:58:12.418', '{"media_url": "https://example.com/a.mp3", "session_id": "sess-1", "note": null}', 'sess-1', NULL, 'ingest'),
 ('1e000000-0000-4000-8000-000000000002', 'theboard.meeting.created', 'theboard', 'candystore', 'theboard.meeting.created',
  '2026-01-27 10:59:00', '{"meeting_id": "m-1"}', NULL, '1E000000-0000-4000-8000-000000000001', NULL),
 -- a child stored before its parent (timestamps out of order), ids that are not uuids
 ('legacy-7', 'regress.legacy.child', 'laptop', NULL, 'regress.legacy.child',
  '2026-01-27 11:00:00', '{"step": 2}', NULL, 'legacy-6', NULL),
 ('legacy-6', 'regress.legacy.parent', 'laptop', NULL, 'regress.legacy.parent',
  '2026-01-27 11:00:05', '{"step": 1}', NULL, NULL, NULL),
 -- a correlation id naming nothing the old store had: kept, not made a parent
 ('legacy-8', 'regress.legacy.child', 'laptop', NULL, 'regress.legacy.child',
  '2026-01-27 11:00:06', '{"step": 3}', NULL, 'req-77', NULL),
 -- a NULL payload: {} in the envelope, named as reconstructed
 ('legacy-9', 'regress.legacy.empty', 'cron', NULL, NULL, '2026-01-27 11:00:07', NULL, NULL, NULL, NULL),
 -- broken rows
 ('broken-type', 'Fireflies.Ready', 'x', NULL, 'r', '2026-01-27 11:01:00', '{}', NULL, NULL, NULL),
 ('broken-source', 'regress.legacy.parent', '', NULL, 'r', '2026-01-27 11:01:01', '{}', NULL, NULL, NULL),
 ('broken-payload', 'regress.legacy.parent', 'x', NULL, 'r', '2026-01-27 11:01:02', '[1, 2]', NULL, NULL, NULL),
 ('broken-time', 'regress.legacy.parent', 'x', NULL, 'r', NULL, '{}', NULL, NULL, NULL),
 ('broken-schema', 'regress.legacy.counted', 'x', NULL, 'r', '2026-01-27 11:01:03', '{"count": "three"}', NULL, NULL, NULL),
 -- an id a stored event already has, with other content
 ('1e000000-0000-4000-8000-0000000000c1', 'regress.legacy.parent', 'x', NULL, 'r', '2026-01-27 11:01:04', '{"v": 1}', NULL, NULL, NULL);
SELECT candystore.register_schema('regress.legacy.counted',
    '{"type": "object", "properties": {"count": {"type": "integer"}}}') AS schema_version;
SELECT candystore.append(jsonb_build_object(
    'event_id', '1e000000-0000-4000-8000-0000000000c1', 'event_type', 'regress.legacy.parent',
    'timestamp', '2026-01-27T11:01:04Z', 'version', '1.0.0', 'source', jsonb_build_object('host', 'x', 'type', 'manual'),
    'payload', '{"v": 2}'::jsonb)) > 0 AS already_stored;

-- batches of 4: the broken rows fall into different batches
SELECT * FROM candystore.import_legacy('legacy_events', batch_size => 4);

-- the refusals, each with its reason and the old row as it was
SELECT legacy_id, sqlstate, regexp_replace(reason, 'position \d+', 'position N') AS reason, legacy_row = (SELECT to_jsonb(l) FROM legacy_events l WHERE l.id = r.legacy_id) AS row_kept
  FROM candystore.legacy_import_refusals r WHERE source = 'public.legacy_events' ORDER BY legacy_id;

-- the envelopes: event ids kept (or derived from the old id), the time read
-- as UTC, the parent kept under its old name, and legacy_import naming
-- what was filled in and holding the rest of the row
SELECT e.envelope->'legacy_import'->'row'->>'id' AS legacy_id, e.event_id, e.occurred_at,
       e.envelope->'version' AS version, e.source, e.correlation_ids, e.routing_key,
       e.envelope->'legacy_import'->'reconstructed' AS reconstructed
  FROM candystore.events e WHERE e.envelope ? 'legacy_import' ORDER BY e.occurred_at;
-- nothing of an old row is lost: its payload and event type as they were,
-- every other column (target, session_id, created_by, the source string,
-- the naive timestamp, the old correlation id) under legacy_import.row
SELECT l.id, e.payload = coalesce(l.payload::jsonb, '{}') AS payload_kept,
       e.event_type = l.event_type AS type_kept,
       e.envelope->'legacy_import'->'row' = to_jsonb(l) - 'payload' - 'event_type' AS other_columns_kept,
       e.envelope->'legacy_import'->>'table' AS from_table
  FROM legacy_events l JOIN candystore.events e ON e.envelope->'legacy_import'->'row'->>'id' = l.id
 ORDER BY l.id;
SELECT jsonb_pretty(candystore.get_event(candystore.legacy_event_id('legacy-7')));
-- the derived ids are RFC 4122 version 3 (Python: uuid.uuid3(NAMESPACE, 'legacy-7')), and the same every time
SELECT candystore.legacy_event_id('evt_0001') AS evt_0001, candystore.legacy_event_id('42') AS "42";

-- causation: the old single correlation_id is the parent, the child stored
-- before its parent included
SELECT legacy_id, string_agg(a.envelope->'legacy_import'->'row'->>'id', ', ' ORDER BY a.depth) AS ancestors
  FROM (VALUES ('1e000000-0000-4000-8000-000000000002'::text), ('legacy-7')) v(legacy_id),
       LATERAL (SELECT x.depth, candystore.get_event(x.event_id) AS envelope
                  FROM candystore.ancestors(CASE WHEN legacy_id LIKE 'legacy-%' THEN candystore.legacy_event_id(legacy_id)
                                                 ELSE legacy_id::uuid END) x) a
 GROUP BY legacy_id ORDER BY legacy_id;
-- the payload's session_id still places the event in its session
SELECT count(*) AS in_session FROM candystore.session_timeline('sess-1');

-- a second run stores nothing: the imported rows are duplicates, the broken
-- ones are refused again (and listed once)
SELECT * FROM candystore.import_legacy('legacy_events', batch_size => 5);
SELECT count(*) AS refusals FROM candystore.legacy_import_refusals WHERE source = 'public.legacy_events';
-- a fixed row is imported by the next run and leaves the refusals
UPDATE legacy_events SET event_type = 'fireflies.ready' WHERE id = 'broken-type';
SELECT * FROM candystore.import_legacy('legacy_events');
SELECT legacy_id FROM candystore.legacy_import_refusals WHERE source = 'public.legacy_events' ORDER BY 1;

-- other table shapes: a timestamptz column and a jsonb payload need nothing
-- reconstructed but the version and source type; a text payload is parsed
CREATE TABLE legacy_tz (id uuid PRIMARY KEY, event_type text, source text, "timestamp" timestamptz, payload text);
INSERT INTO legacy_tz VALUES
    ('1e000000-0000-4000-8000-0000000000d1', 'regress.legacy.tz', 'h', '2026-01-27 12:00:00+01', '{"a": 1}'),
    ('1e000000-0000-4000-8000-0000000000d2', 'regress.legacy.tz', 'h', '2026-01-27 12:00:00+01', 'not json');
SELECT * FROM candystore.import_legacy('legacy_tz');
SELECT event_id, occurred_at, payload, envelope->'legacy_import'->'reconstructed' AS reconstructed
  FROM candystore.events WHERE event_type = 'regress.legacy.tz';
SELECT legacy_id, reason FROM candystore.legacy_import_refusals WHERE source = 'public.legacy_tz';

-- integer ids (an autoincrement key), correlation ids as text: a text that
-- names an old row's id is its parent, another text is not
CREATE TABLE legacy_int (id int PRIMARY KEY, event_type text, source text, "timestamp" timestamptz, payload jsonb, correlation_id text);
INSERT INTO legacy_int VALUES
    (1, 'regress.legacy.int', 'h', '2026-01-27 12:00:00+00', '{}', NULL),
    (2, 'regress.legacy.int', 'h', '2026-01-27 12:00:01+00', '{}', '1'),
    (3, 'regress.legacy.int', 'h', '2026-01-27 12:00:02+00', '{}', 'req-3');
SELECT * FROM candystore.import_legacy('legacy_int');
SELECT envelope->'legacy_import'->'row'->>'id' AS legacy_id, event_id = candystore.legacy_event_id(envelope->'legacy_import'->'row'->>'id') AS derived_id,
       correlation_ids = ARRAY[candystore.legacy_event_id('1')] AS parent_is_row_1, correlation_ids = '{}' AS no_parent,
       envelope->'legacy_import'->'row'->'correlation_id' AS old_correlation_id
  FROM candystore.events WHERE event_type = 'regress.legacy.int' ORDER BY occurred_at;

-- a table of another shape, bad arguments
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE TABLE not_legacy (id int, name text);
SELECT * FROM candystore.import_legacy('not_legacy');
SELECT * FROM candystore.import_legacy('legacy_events', batch_size => 0);
SELECT * FROM candystore.import_legacy('legacy_events', timestamps_without_zone_are => 'Mars/Olympus');
\set VERBOSITY terse
\set SHOW_CONTEXT errors
