-- A payload's session_id may be any text, however long: the session index
-- holds only the key's hash (40_trace.sql), so an append never fails for a
-- key too large to be an index entry (a btree entry holds at most ~2.7 KB),
-- and session_timeline still finds the event, through the index.
\i sql/helpers/expect_error.sql
-- 12,800 characters that do not compress (distinct md5 digests)
SELECT string_agg(md5('long session ' || i), '' ORDER BY i) AS long_key
  FROM generate_series(1, 400) i \gset
SELECT length(:'long_key') AS key_length;
SELECT candystore.append(jsonb_set(pg_temp.sample_envelope(md5('long session event ' || i)::uuid),
                                   '{payload,session_id}', to_jsonb(:'long_key'::text))) > 0 AS stored
  FROM generate_series(1, 2) i;
-- an object as meeting_id (an event type without a payload schema): its
-- JSON text is the key
SELECT candystore.append(jsonb_set(jsonb_set(pg_temp.sample_envelope(md5('object session event')::uuid),
                                             '{event_type}', '"regress.session.object"'),
                                   '{payload,meeting_id}',
                                   jsonb_build_object('parts', (SELECT jsonb_agg(md5('part ' || i)) FROM generate_series(1, 200) i))))
       > 0 AS stored;
SELECT count(*) AS in_timeline,
       bool_and(envelope->'payload'->>'session_id' = :'long_key') AS same_key
  FROM candystore.session_timeline(:'long_key');
SELECT count(*) AS in_timeline
  FROM candystore.session_timeline(jsonb_build_object('parts', (SELECT jsonb_agg(md5('part ' || i)) FROM generate_series(1, 200) i))::text);
-- a key that differs in its last character is another session
SELECT count(*) AS other_session FROM candystore.session_timeline(left(:'long_key', -1) || 'x');
-- the lookup is an index scan of the partitions' session index
CREATE FUNCTION pg_temp.plan_lines(query text) RETURNS SETOF text
LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || query; END $$;
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE l ~ 'Seq Scan') AS seq_scans,
       count(*) FILTER (WHERE l ~ 'Index Scan (using|on) \S*session') > 0 AS session_index_used
  FROM pg_temp.plan_lines(format(
          'SELECT position FROM candystore.event_log WHERE session_key = %L ORDER BY occurred_at, position',
          :'long_key')) l;
RESET enable_seqscan;
