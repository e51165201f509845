-- erase(ids, reason) replaces the personal content of stored events by a
-- tombstone: event_id, position, type, times, parents, trace context and the
-- routing key stay, the payload names the erasure and the original's digest;
-- agent_context, source.meta and unknown fields go.  get_event, the events
-- view, the causation walks, trace rendering and the outbox show the erased
-- form.  A redelivered original is a duplicate; other content under the id
-- is still a conflict (23505).  Bad input changes nothing.
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.env(id uuid, parent uuid, words text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'event_id', id, 'event_type', 'meeting.transcribed',
        'timestamp', '2026-03-01T10:00:00Z', 'version', '1.0.0',
        'source', jsonb_build_object('host', 'h1', 'type', 'webhook', 'meta', jsonb_build_object('caller', 'alice@example.org')),
        'correlation_ids', CASE WHEN parent IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(parent) END,
        'agent_context', jsonb_build_object('system_prompt', 'You assist Alice'),
        'trace_context', jsonb_build_object('trace_id', '4bf92f3577b34da6a3ce929d0e0e4736'),
        'unknown_field', 'Alice''s phone',
        'payload', jsonb_build_object('speaker', 'alice@example.org', 'words', words))
$$;
SELECT candystore.append(pg_temp.env('e1000000-0000-4000-8000-000000000001', NULL, 'root'), 'rk.root') > 0 AS root,
       candystore.append(pg_temp.env('e1000000-0000-4000-8000-000000000002', 'e1000000-0000-4000-8000-000000000001', 'my address is ...'), 'rk.child') > 0 AS child,
       candystore.append(pg_temp.env('e1000000-0000-4000-8000-000000000003', 'e1000000-0000-4000-8000-000000000002', 'grandchild')) > 0 AS grandchild;
CREATE TEMP TABLE before AS
SELECT e.*, candystore.envelope_digest(e.envelope) AS digest
  FROM candystore.event_log e WHERE event_id::text LIKE 'e1000000-%';
CREATE TEMP TABLE ids_before AS SELECT * FROM candystore.event_ids WHERE event_id::text LIKE 'e1000000-%';
SELECT count(*) AS erasures_before FROM candystore.erasures \gset

-- bad input: a clear SQLSTATE and nothing changed
SELECT pg_temp.expect_error($$SELECT candystore.erase(ARRAY['e1000000-0000-4000-8000-000000000002', 'e1000000-0000-4000-8000-0000000000ff']::uuid[], 'request 1')$$) AS unknown_id,
       pg_temp.expect_error($$SELECT candystore.erase(ARRAY['e1000000-0000-4000-8000-000000000002']::uuid[], NULL)$$) AS no_reason,
       pg_temp.expect_error($$SELECT candystore.erase(ARRAY['e1000000-0000-4000-8000-000000000002']::uuid[], '')$$) AS empty_reason,
       pg_temp.expect_error($$SELECT candystore.erase(ARRAY[NULL]::uuid[], 'request 1')$$) AS null_id,
       pg_temp.expect_error($$SELECT candystore.erase(NULL, 'request 1')$$) AS null_ids;
SELECT count(*) = :erasures_before AS no_audit_row,
       (SELECT bool_and(e.envelope = b.envelope) FROM candystore.event_log e JOIN before b USING (position)) AS envelopes_unchanged
  FROM candystore.erasures;

-- the erasure
SELECT events FROM candystore.erase(ARRAY['e1000000-0000-4000-8000-000000000002']::uuid[], 'GDPR request 1');
SELECT jsonb_pretty(candystore.get_event('e1000000-0000-4000-8000-000000000002')
                    #- '{payload,candystore_erasure,erased_at}' #- '{payload,candystore_erasure,erasure_id}'
                    #- '{payload,candystore_erasure,original_sha256}') AS erased_form;
SELECT e.envelope #>> '{payload,candystore_erasure,original_sha256}' = b.digest AS keeps_the_digest,
       (e.envelope #>> '{payload,candystore_erasure,erasure_id}')::bigint = (SELECT max(erasure_id) FROM candystore.erasures) AS names_the_erasure,
       e.position = b.position AND e.event_type = b.event_type AND e.occurred_at = b.occurred_at
         AND e.recorded_at = b.recorded_at AND e.routing_key = b.routing_key AND e.correlation_ids = b.correlation_ids
         AND e.causation_group = b.causation_group AND e.xid = b.xid AS columns_kept
  FROM candystore.event_log e JOIN before b USING (event_id)
 WHERE event_id = 'e1000000-0000-4000-8000-000000000002';
SELECT (SELECT count(*) FROM candystore.event_ids i JOIN ids_before b USING (event_id)
         WHERE (i.position, i.event_type, i.occurred_at, i.correlation_ids) = (b.position, b.event_type, b.occurred_at, b.correlation_ids)) AS id_rows_unchanged,
       (SELECT count(*) FROM candystore.event_log e JOIN before b USING (event_id) WHERE e.envelope = b.envelope) AS others_untouched;
-- the views and walks show the erased form, the chain stays whole
SELECT position - (SELECT min(position) FROM before) AS pos, payload ? 'candystore_erasure' AS erased, agent_context
  FROM candystore.events WHERE event_id::text LIKE 'e1000000-%' ORDER BY position;
SELECT count(*) AS trace_members FROM candystore.trace('e1000000-0000-4000-8000-000000000003');
SELECT count(*) AS ancestors FROM candystore.ancestors('e1000000-0000-4000-8000-000000000003');
SELECT candystore.trace_render('e1000000-0000-4000-8000-000000000003') AS rendered;

-- the audit: who, why, which events; no content
SELECT erased_by = current_user AS by_me, reason, by_subject, events,
       (SELECT array_agg(event_id) FROM candystore.erased_events x WHERE x.erasure_id = a.erasure_id) AS erased
  FROM candystore.erasures a ORDER BY erasure_id DESC LIMIT 1;

-- erasing again skips the tombstone (its digest stays the original's)
SELECT events FROM candystore.erase(ARRAY['e1000000-0000-4000-8000-000000000002']::uuid[], 'GDPR request 1 again');
SELECT envelope #>> '{payload,candystore_erasure,original_sha256}' = (SELECT digest FROM before WHERE event_id = 'e1000000-0000-4000-8000-000000000002') AS digest_still_the_original
  FROM candystore.event_log WHERE event_id = 'e1000000-0000-4000-8000-000000000002';

-- a redelivered original is a duplicate: same position, nothing stored, no resurrection
SELECT candystore.append(pg_temp.env('e1000000-0000-4000-8000-000000000002', 'e1000000-0000-4000-8000-000000000001', 'my address is ...'), 'rk.child')
       = (SELECT position FROM before WHERE event_id = 'e1000000-0000-4000-8000-000000000002') AS duplicate;
SELECT outcome FROM candystore.append_many(ARRAY[pg_temp.env('e1000000-0000-4000-8000-000000000002', 'e1000000-0000-4000-8000-000000000001', 'my address is ...')]);
SELECT payload ? 'candystore_erasure' AS still_erased FROM candystore.events WHERE event_id = 'e1000000-0000-4000-8000-000000000002';
-- the tombstone itself, replayed from elsewhere, is a duplicate too
SELECT candystore.append(candystore.get_event('e1000000-0000-4000-8000-000000000002'))
       = (SELECT position FROM before WHERE event_id = 'e1000000-0000-4000-8000-000000000002') AS tombstone_duplicate;
-- other content under the erased id is still a conflict
DO $$
DECLARE state text; detail text;
BEGIN
    PERFORM candystore.append(pg_temp.env('e1000000-0000-4000-8000-000000000002', 'e1000000-0000-4000-8000-000000000001', 'something else'));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE '%: %', state, regexp_replace(detail, 'position \d+', 'position N');
END
$$;

-- replay enqueues the erased form (the publisher sends event_log's envelope)
SELECT candystore.replay_trace('e1000000-0000-4000-8000-000000000003') AS enqueued;
SELECT e.event_id, e.envelope->'payload' ? 'candystore_erasure' AS erased
  FROM candystore.outbox o JOIN candystore.event_log e USING (position)
 WHERE e.event_id::text LIKE 'e1000000-%' ORDER BY o.id;

-- payload validation does not refuse a tombstone (a replayed or restored
-- erased event), and a redelivered original stays a duplicate whatever the
-- schema says now
SELECT candystore.register_schema('meeting.transcribed',
    '{"type": "object", "required": ["speaker", "words"], "additionalProperties": false,
      "properties": {"speaker": {"type": "string"}, "words": {"type": "string", "minLength": 100}}}') AS v1;
SELECT candystore.append(jsonb_set(candystore.get_event('e1000000-0000-4000-8000-000000000002'),
                                   '{event_id}', '"e1000000-0000-4000-8000-000000000009"')) > 0 AS tombstone_accepted;
SELECT candystore.append(pg_temp.env('e1000000-0000-4000-8000-000000000002', 'e1000000-0000-4000-8000-000000000001', 'my address is ...'), 'rk.child')
       = (SELECT position FROM before WHERE event_id = 'e1000000-0000-4000-8000-000000000002') AS original_still_duplicate;
-- an ordinary payload that breaks the schema is still refused
SELECT pg_temp.expect_error($$SELECT candystore.append(pg_temp.env('e1000000-0000-4000-8000-00000000000a', NULL, 'short'))$$) AS invalid_refused;
