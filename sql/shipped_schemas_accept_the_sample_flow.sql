-- Every schema shipped in schemas/ is registered by CREATE EXTENSION, valid
-- against its meta-schema, and the demo's sample flow (demo/sample-flow.jsonl)
-- appends under full validation.  The envelope schema
-- (schemas/core/event-envelope.v1.schema.json) agrees with the C envelope
-- checker on the flow and on refusals it can express.
\i sql/helpers/expect_error.sql
SELECT event_type, version, schema_id, builtin, candystore.jsonschema_is_valid(schema) AS meta_valid
  FROM candystore.schemas WHERE builtin ORDER BY event_type;
SELECT uri, builtin, candystore.jsonschema_is_valid(document) AS meta_valid
  FROM candystore.schema_resources WHERE uri LIKE 'https://33god.dev/%';

CREATE TEMP TABLE flow (line jsonb);
\copy flow FROM 'demo/sample-flow.jsonl' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
SELECT line->>'event_type' AS event_type,
       candystore.jsonb_matches_schema((SELECT schema FROM candystore.schemas s WHERE s.event_type = line->>'event_type'
                                         ORDER BY version DESC LIMIT 1), line->'payload') AS payload_valid,
       candystore.jsonb_matches_schema('{"$ref": "https://33god.dev/schemas/core/event-envelope.v1.schema.json"}', line) AS envelope_schema_valid,
       candystore.append(line) > 0 AS appended
  FROM flow;

-- the envelope schema refuses what the C checker refuses, where JSON Schema can say it
CREATE TEMP TABLE bad (label text, envelope jsonb);
INSERT INTO bad SELECT label, e FROM (SELECT line AS base FROM flow LIMIT 1) f,
LATERAL (VALUES
    ('nil event_id',         jsonb_set(base, '{event_id}', '"00000000-0000-0000-0000-000000000000"')),
    ('braced event_id',      jsonb_set(base, '{event_id}', '"{5a1e0001-7c1d-4f0a-9c7e-000000000001}"')),
    ('event_type one segment', jsonb_set(base, '{event_type}', '"transcript"')),
    ('event_type uppercase', jsonb_set(base, '{event_type}', '"Fireflies.Ready"')),
    ('timestamp without offset', jsonb_set(base, '{timestamp}', '"2026-01-27T10:15:00"')),
    ('version 1.0',          jsonb_set(base, '{version}', '"1.0"')),
    ('source.type unknown',  jsonb_set(base, '{source,type}', '"cron"')),
    ('source.host empty',    jsonb_set(base, '{source,host}', '""')),
    ('correlation_ids null', jsonb_set(base, '{correlation_ids}', 'null')),
    ('correlation_ids not uuids', jsonb_set(base, '{correlation_ids}', '["x"]')),
    ('payload array',        jsonb_set(base, '{payload}', '[]')),
    ('payload missing',      base - 'payload'),
    ('agent_context string', jsonb_set(base, '{agent_context}', '"x"'))) AS v(label, e);
SELECT label,
       candystore.jsonb_matches_schema('{"$ref": "https://33god.dev/schemas/core/event-envelope.v1.schema.json"}', envelope) AS schema_accepts,
       split_part(pg_temp.expect_error(format('SELECT candystore.check_envelope(%L)', envelope)), ':', 1) AS checker_sqlstate
  FROM bad ORDER BY label;
