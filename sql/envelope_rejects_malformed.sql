-- Whatever no producer should send is refused with an SQLSTATE of class 22
-- and a message naming the field; nothing is stored.
\i sql/helpers/expect_error.sql
CREATE TEMP TABLE base AS SELECT pg_temp.sample_envelope('b2000000-0000-4000-8000-000000000001') AS e;
CREATE TEMP TABLE refused (label text, envelope jsonb);
INSERT INTO refused SELECT label, envelope FROM base, LATERAL (VALUES
    ('not an object',               '[1, 2]'::jsonb),
    ('a scalar',                    '"event"'::jsonb),
    ('event_id missing',            e - 'event_id'),
    ('event_id null',               jsonb_set(e, '{event_id}', 'null')),
    ('event_id not a uuid',         jsonb_set(e, '{event_id}', '"abc"')),
    ('event_id in braces',          jsonb_set(e, '{event_id}', '"{b2000000-0000-4000-8000-000000000001}"')),
    ('event_id without hyphens',    jsonb_set(e, '{event_id}', '"b2000000000040008000000000000001"')),
    ('event_id a number',           jsonb_set(e, '{event_id}', '42')),
    ('event_id nil',                jsonb_set(e, '{event_id}', '"00000000-0000-0000-0000-000000000000"')),
    ('event_type missing',          e - 'event_type'),
    ('event_type one segment',      jsonb_set(e, '{event_type}', '"transcript"')),
    ('event_type uppercase',        jsonb_set(e, '{event_type}', '"Fireflies.Transcript.Ready"')),
    ('event_type hyphens',          jsonb_set(e, '{event_type}', '"fireflies-transcript-ready"')),
    ('event_type empty segment',    jsonb_set(e, '{event_type}', '"fireflies..ready"')),
    ('event_type trailing dot',     jsonb_set(e, '{event_type}', '"fireflies.ready."')),
    ('event_type digit first',      jsonb_set(e, '{event_type}', '"fireflies.1ready"')),
    ('event_type too long',         jsonb_set(e, '{event_type}', to_jsonb('a.' || repeat('b', 254)))),
    ('timestamp missing',           e - 'timestamp'),
    ('timestamp without offset',    jsonb_set(e, '{timestamp}', '"2026-01-27T10:15:00.123456"')),
    ('timestamp date only',         jsonb_set(e, '{timestamp}', '"2026-01-27"')),
    ('timestamp space separator',   jsonb_set(e, '{timestamp}', '"2026-01-27 10:15:00Z"')),
    ('timestamp offset no colon',   jsonb_set(e, '{timestamp}', '"2026-01-27T10:15:00+0100"')),
    ('timestamp february 30',       jsonb_set(e, '{timestamp}', '"2026-02-30T10:15:00Z"')),
    ('timestamp hour 24',           jsonb_set(e, '{timestamp}', '"2026-01-27T24:00:00Z"')),
    ('timestamp bad leap second',   jsonb_set(e, '{timestamp}', '"2026-01-27T10:15:60Z"')),
    ('timestamp dot no digits',     jsonb_set(e, '{timestamp}', '"2026-01-27T10:15:00.Z"')),
    ('timestamp trailing text',     jsonb_set(e, '{timestamp}', '"2026-01-27T10:15:00Z junk"')),
    ('timestamp epoch number',      jsonb_set(e, '{timestamp}', '1769508900')),
    ('timestamp word',              jsonb_set(e, '{timestamp}', '"now"')),
    ('version missing',             e - 'version'),
    ('version two parts',           jsonb_set(e, '{version}', '"1.0"')),
    ('version bare v',              jsonb_set(e, '{version}', '"v"')),
    ('version number',              jsonb_set(e, '{version}', '1')),
    ('version prerelease',          jsonb_set(e, '{version}', '"1.0.0-beta"')),
    ('source missing',              e - 'source'),
    ('source a string',             jsonb_set(e, '{source}', '"bigchungus"')),
    ('source host missing',         e #- '{source,host}'),
    ('source host empty',           jsonb_set(e, '{source,host}', '""')),
    ('source type missing',         e #- '{source,type}'),
    ('source type unknown',         jsonb_set(e, '{source,type}', '"cron"')),
    ('source app a number',         jsonb_set(e, '{source,app}', '7')),
    ('source meta an array',        jsonb_set(e, '{source,meta}', '[]')),
    ('correlation_ids null',        jsonb_set(e, '{correlation_ids}', 'null')),
    ('correlation_ids a string',    jsonb_set(e, '{correlation_ids}', '"b2000000-0000-4000-8000-000000000009"')),
    ('correlation_ids bad item',    jsonb_set(e, '{correlation_ids}', '["b2000000-0000-4000-8000-000000000009", "x"]')),
    ('correlation_id not a uuid',   e || '{"correlation_id": "parent-1"}'),
    ('agent_context a string',      jsonb_set(e, '{agent_context}', '"claude"')),
    ('trace_context an array',      e || '{"trace_context": []}'),
    ('payload missing',             e - 'payload'),
    ('payload null',                jsonb_set(e, '{payload}', 'null')),
    ('payload an array',            jsonb_set(e, '{payload}', '[]'))
) AS v(label, envelope);

SELECT label, pg_temp.expect_error(format('SELECT candystore.append(%L)', envelope)) AS outcome
  FROM refused ORDER BY label;

-- every refusal is a data exception (class 22) and none stored anything
SELECT count(*) AS refusals,
       count(*) FILTER (WHERE pg_temp.expect_error(format('SELECT candystore.append(%L)', envelope)) LIKE '22%') AS class_22
  FROM refused;
SELECT count(*) AS stored FROM candystore.events WHERE event_id = 'b2000000-0000-4000-8000-000000000001';

-- a NULL envelope is refused too
SELECT pg_temp.expect_error('SELECT candystore.append(NULL)') AS null_envelope;

-- the full report an operator sees: message, value, and how to fix it
\set VERBOSITY default
SELECT candystore.append(jsonb_set(e, '{source,type}', '"cron"')) FROM base;
SELECT candystore.append(jsonb_set(e, '{timestamp}', '"2026-01-27T10:15:00"')) FROM base;
SELECT candystore.append(jsonb_set(e, '{event_id}', to_jsonb(repeat('é', 300)))) FROM base;
