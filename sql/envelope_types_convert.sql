-- candystore.envelope, candystore.event_source and candystore.trigger_type:
-- casts from jsonb check the envelope and keep unknown fields in "extra";
-- casts back to jsonb give an equivalent envelope.
\i sql/helpers/expect_error.sql
CREATE TEMP TABLE j AS SELECT pg_temp.sample_envelope('f6000000-0000-4000-8000-000000000001')
    || '{"correlation_ids": ["f6000000-0000-4000-8000-0000000000a1"],
         "correlation_id": "f6000000-0000-4000-8000-0000000000a2",
         "target": "rag", "trace_context": {"trace_id": "t1"}}'::jsonb
    || jsonb_build_object('source', '{"host": "h", "type": "agent", "app": "a", "meta": {"k": 1}, "pid": 7}'::jsonb) AS e;

SELECT (e::candystore.envelope).event_id, (e::candystore.envelope).event_type,
       (e::candystore.envelope)."timestamp" AT TIME ZONE 'UTC' AS ts_utc,
       (e::candystore.envelope).version,
       (e::candystore.envelope).correlation_ids,
       (e::candystore.envelope).extra
  FROM j;
SELECT ((e::candystore.envelope).source).*, pg_typeof(((e::candystore.envelope).source).type) FROM j;

-- back to jsonb: every field survives, the legacy correlation_id now among
-- correlation_ids, and the timestamp is the same instant
SELECT (e::candystore.envelope)::jsonb - 'timestamp'
         = e - 'timestamp' - 'correlation_id'
             || '{"correlation_ids": ["f6000000-0000-4000-8000-0000000000a1", "f6000000-0000-4000-8000-0000000000a2"]}'
         AS same_fields_normalised,
       ((e::candystore.envelope)::jsonb->>'timestamp')::timestamptz = (e->>'timestamp')::timestamptz AS same_instant
  FROM j;
-- an envelope already in canonical form comes back unchanged but for the timestamp's spelling
SELECT (e::candystore.envelope)::jsonb - 'timestamp' = e - 'timestamp' AS canonical_round_trip
  FROM (SELECT pg_temp.sample_envelope('f6000000-0000-4000-8000-000000000002') || '{"trace_context": {"a": 1}, "zz": [1]}' AS e) c;
-- and the converted envelope is itself a valid envelope
SELECT pg_temp.expect_error(format('SELECT candystore.check_envelope(%L)', (e::candystore.envelope)::jsonb)) FROM j;

-- source on its own
SELECT ('{"host": "h", "type": "scheduled"}'::jsonb::candystore.event_source)::jsonb AS source_round_trip;
SELECT enum_range(NULL::candystore.trigger_type) AS trigger_types;

-- conversion applies the envelope rules
SELECT pg_temp.expect_error($$SELECT '{"event_id": "nope"}'::jsonb::candystore.envelope$$) AS bad_envelope,
       pg_temp.expect_error($$SELECT '{"host": "h", "type": "carrier-pigeon"}'::jsonb::candystore.event_source$$) AS bad_source;
