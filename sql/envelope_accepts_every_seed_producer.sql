-- Every envelope shape a seed-conformant producer sends is accepted, and
-- get_event gives back exactly what was appended (jsonb equality), unknown
-- fields, nulls and all correlation ids included.
\i sql/helpers/expect_error.sql
CREATE TEMP TABLE accepted (label text, envelope jsonb);
INSERT INTO accepted VALUES
-- Bloodbank create_envelope (Pydantic): semver version, nulls for unset optionals
('bloodbank', '{"event_id": "a1000000-0000-4000-8000-000000000001", "event_type": "fireflies.transcript.upload",
  "timestamp": "2026-01-27T10:00:00.000001Z", "version": "1.0.0",
  "source": {"host": "bigchungus", "type": "manual", "app": null, "meta": null},
  "correlation_ids": [], "agent_context": null,
  "payload": {"media_file": "s3://bucket/recording.mp3", "media_duration_seconds": 3600, "media_type": "audio/mpeg", "title": "Team Standup", "user_id": "user_123"}}'),
-- Holyfields 2020-12 schema: "v1" version, app required, no correlation_ids at all
('holyfields', '{"event_id": "a1000000-0000-4000-8000-000000000002", "event_type": "theboard.meeting.created",
  "timestamp": "2026-01-27T11:00:00+01:00", "version": "v1",
  "source": {"host": "n8n-box", "type": "webhook", "app": "n8n"},
  "payload": {"meeting_id": "m-1", "topic": "roadmap"}}'),
-- convergence report 5.1: versioned event type, trace_context, full agent_context, several parents
('convergence', '{"event_id": "A1000000-0000-4000-8000-000000000003", "event_type": "fireflies.transcript.ready.v1",
  "timestamp": "2026-01-27T10:05:00.5-05:30", "version": "1.0.0",
  "source": {"host": "worker-7", "type": "agent", "app": "whisperlivekit", "meta": {"region": "eu"}},
  "correlation_ids": ["a1000000-0000-4000-8000-000000000001", "a1000000-0000-4000-8000-000000000002", "a1000000-0000-4000-8000-000000000001"],
  "agent_context": {"type": "claude", "name": "scribe", "instance_id": "a1000000-0000-4000-8000-0000000000ff", "mcp_servers": ["fs"], "file_references": ["notes.md"]},
  "trace_context": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "trace_flags": "01"},
  "payload": {"id": "ff_meeting_456", "duration": 60.5, "sentences": [{"text": "hi", "speaker": "A"}]}}'),
-- a legacy producer with the singular correlation_id, file_watch and hook triggers, unknown fields
('legacy', '{"event_id": "a1000000-0000-4000-8000-000000000004", "event_type": "artifact.created",
  "timestamp": "2026-01-27t10:06:00z", "version": "2.10.3",
  "source": {"host": "laptop", "type": "file_watch", "watcher": "inotify"},
  "correlation_id": "a1000000-0000-4000-8000-000000000003",
  "target": "rag", "x_custom": {"nested": [1, 2.50, null]},
  "payload": {"action": "created", "kind": "transcript", "uri": "file:///t/meeting_123.txt"}}'),
-- (a type without a registered schema: an empty payload is a valid envelope;
-- a registered contract such as llm.prompt's may require fields, see payload_validation_on_append)
('hook trigger, empty payload, leap second', '{"event_id": "a1000000-0000-4000-8000-000000000005", "event_type": "claude.hook.session_end",
  "timestamp": "2016-12-31T23:59:60Z", "version": "v12",
  "source": {"host": "h", "type": "hook"}, "correlation_ids": ["a1000000-0000-4000-8000-000000000099"],
  "correlation_id": null, "agent_context": {}, "trace_context": null, "payload": {}}'),
('scheduled and system triggers', '{"event_id": "a1000000-0000-4000-8000-000000000006", "event_type": "github.pr.created",
  "timestamp": "2026-01-27T10:07:00Z", "version": "1.0.0", "source": {"host": "cron", "type": "scheduled"},
  "payload": {"cache_key": "trinote|423", "cache_type": "redis"}}'),
('system trigger, digits and underscores', '{"event_id": "a1000000-0000-4000-8000-000000000007", "event_type": "n8n.workflow_run.completed_2",
  "timestamp": "2026-01-27T10:08:00Z", "version": "1.0.0", "source": {"host": "n8n", "type": "system"},
  "payload": {"ok": true}}');

SELECT label, candystore.append(envelope, envelope->>'event_type') > 0 AS stored FROM accepted ORDER BY label;

-- the round trip is exact for every one of them
SELECT label, candystore.get_event((envelope->>'event_id')::uuid) = envelope AS round_trip_exact
  FROM accepted ORDER BY label;

-- the columns the store derives
SELECT event_id, event_type, occurred_at AT TIME ZONE 'UTC' AS occurred_utc, version,
       correlation_ids, routing_key
  FROM candystore.events WHERE event_id::text LIKE 'a1000000-%' ORDER BY position;

SELECT event_id, source->>'type' AS trigger, agent_context->>'name' AS agent,
       trace_context->>'trace_id' AS trace_id, payload->>'id' AS payload_id
  FROM candystore.events WHERE event_id::text LIKE 'a1000000-%' ORDER BY position;

-- recorded_at is the append time; positions strictly increase in append order
SELECT bool_and(recorded_at <= now()) AS recorded_now,
       bool_and(position > lag_position) AS increasing
  FROM (SELECT recorded_at, position, lag(position, 1, 0::bigint) OVER (ORDER BY position) AS lag_position
          FROM candystore.events WHERE event_id::text LIKE 'a1000000-%') s;

-- check_envelope agrees with append and raises nothing for any of them
SELECT label, pg_temp.expect_error(format('SELECT candystore.check_envelope(%L)', envelope)) AS check
  FROM accepted ORDER BY label;

SELECT candystore.get_event('a1000000-0000-4000-8000-00000000dead') IS NULL AS absent_is_null;

-- schemas/core/event-envelope.v1.schema.json, the envelope rules as JSON Schema, accepts them all too
SELECT label, candystore.jsonb_matches_schema('{"$ref": "https://33god.dev/schemas/core/event-envelope.v1.schema.json"}', envelope) AS envelope_schema_accepts
  FROM accepted ORDER BY label;
