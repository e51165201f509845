-- append_many() is append() for a batch: the same checks, idempotency,
-- conflicts (23505), causation links and payload validation, all or
-- nothing, with an error naming the envelope it is about.
\i sql/helpers/expect_error.sql
SET timezone = 'UTC';
-- Ids b7000000-0000-4000-8000-0000000000NN are shown as NN.
CREATE FUNCTION pg_temp.u(n int) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT ('b7000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid $$;
CREATE FUNCTION pg_temp.n(id uuid) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT right(id::text, 12)::int $$;
-- envelope n with parents
CREATE FUNCTION pg_temp.ev(n int, parents int[] DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(pg_temp.sample_envelope(pg_temp.u(n)), '{correlation_ids}',
                     (SELECT coalesce(jsonb_agg(pg_temp.u(p)), '[]') FROM unnest(parents) p))
$$;

-- one row per envelope, in order; positions increase with the ordinality
SELECT ordinality, pg_temp.n(event_id) AS id, outcome,
       position > lag(position, 1, 0::bigint) OVER (ORDER BY ordinality) AS position_increases
  FROM candystore.append_many(ARRAY[pg_temp.ev(1), pg_temp.ev(2), pg_temp.ev(3)]);
SELECT count(*) AS stored, bool_and(envelope = pg_temp.ev(pg_temp.n(event_id))) AS verbatim
  FROM candystore.events WHERE event_id IN (pg_temp.u(1), pg_temp.u(2), pg_temp.u(3));

-- again: all duplicates, at their stored positions; a batch mixing stored
-- and new events, and the same event twice in one batch (stored once)
CREATE TEMP TABLE first AS SELECT event_id, position FROM candystore.events;
SELECT m.ordinality, pg_temp.n(m.event_id) AS id, m.outcome, m.position = f.position AS stored_position
  FROM candystore.append_many(ARRAY[pg_temp.ev(1), pg_temp.ev(2), pg_temp.ev(3)]) m
  LEFT JOIN first f USING (event_id) ORDER BY m.ordinality;
SELECT ordinality, pg_temp.n(event_id) AS id, outcome,
       position = first_value(position) OVER (PARTITION BY event_id ORDER BY ordinality) AS same_position
  FROM candystore.append_many(ARRAY[pg_temp.ev(4), pg_temp.ev(2), pg_temp.ev(5), pg_temp.ev(4)])
 ORDER BY ordinality;
-- the same content with keys in another order is the same event, as for append()
SELECT outcome FROM candystore.append_many(ARRAY[
    (SELECT jsonb_object_agg(key, value) FROM (SELECT * FROM jsonb_each(pg_temp.ev(5)) ORDER BY key DESC) kv)]);
SELECT count(*) AS stored FROM candystore.events WHERE event_id::text LIKE 'b7000000-%';

-- routing keys: one per envelope, NULL elements store none
SELECT count(*) FROM candystore.append_many(ARRAY[pg_temp.ev(6), pg_temp.ev(7)], ARRAY['rk.six', NULL]);
SELECT pg_temp.n(event_id) AS id, routing_key FROM candystore.events
 WHERE event_id IN (pg_temp.u(6), pg_temp.u(7)) ORDER BY 1;

-- an empty batch stores nothing and returns nothing
SELECT count(*) AS rows FROM candystore.append_many('{}');

-- Errors: the batch is refused as a whole; the message is append()'s, and
-- CONTEXT names the envelope (1-based, as SQL arrays count).
CREATE FUNCTION pg_temp.refusal(statement text)
    RETURNS TABLE (sqlstate text, message text, detail text, context text) LANGUAGE plpgsql AS $$
DECLARE s text; m text; d text; c text;
BEGIN
    EXECUTE statement;
    RETURN QUERY SELECT 'ok', NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, c = PG_EXCEPTION_CONTEXT;
    RETURN QUERY SELECT s, m, regexp_replace(d, 'position \d+', 'position N'), split_part(c, E'\n', 1);
END
$$;
\x on
-- a conflict with a stored event
SELECT * FROM pg_temp.refusal($$SELECT * FROM candystore.append_many(ARRAY[pg_temp.ev(20), pg_temp.ev(21),
                                           jsonb_set(pg_temp.ev(1), '{payload,title}', '"Edited"')])$$);
-- a conflict inside the batch
SELECT * FROM pg_temp.refusal($$SELECT * FROM candystore.append_many(ARRAY[pg_temp.ev(20), jsonb_set(pg_temp.ev(20), '{version}', '"2.0.0"')])$$);
-- an invalid envelope, a NULL one
SELECT * FROM pg_temp.refusal($$SELECT * FROM candystore.append_many(ARRAY[pg_temp.ev(20), pg_temp.ev(21), pg_temp.ev(22) - 'timestamp', pg_temp.ev(23)])$$);
SELECT * FROM pg_temp.refusal($$SELECT * FROM candystore.append_many(ARRAY[pg_temp.ev(20), NULL])$$);
-- routing keys that do not match the envelopes, arrays of arrays, no array
SELECT * FROM pg_temp.refusal($$SELECT * FROM candystore.append_many(ARRAY[pg_temp.ev(20), pg_temp.ev(21)], ARRAY['one'])$$);
SELECT * FROM pg_temp.refusal($$SELECT * FROM candystore.append_many(ARRAY[[pg_temp.ev(20)], [pg_temp.ev(21)]])$$);
SELECT * FROM pg_temp.refusal($$SELECT * FROM candystore.append_many(NULL)$$);
-- a payload its registered schema refuses
SELECT candystore.register_schema('regress.bulk.counted',
    '{"type": "object", "required": ["count"], "properties": {"count": {"type": "integer"}}}') AS schema_version;
SELECT * FROM pg_temp.refusal($$SELECT * FROM candystore.append_many(ARRAY[
    pg_temp.ev(20) || '{"event_type": "regress.bulk.counted", "payload": {"count": 1}}',
    pg_temp.ev(21) || '{"event_type": "regress.bulk.counted", "payload": {"count": "one"}}'])$$);
\x off
-- none of those stored anything
SELECT count(*) AS stored_after_errors FROM candystore.events
 WHERE event_id IN (pg_temp.u(20), pg_temp.u(21), pg_temp.u(22), pg_temp.u(23));
-- a payload stored, then refused by a newer schema: appending it again is a
-- duplicate, as for append()
SELECT outcome FROM candystore.append_many(ARRAY[pg_temp.ev(20) || '{"event_type": "regress.bulk.counted", "payload": {"count": 1}}']);
SELECT candystore.register_schema('regress.bulk.counted', '{"type": "object", "required": ["total"]}', force => true) AS schema_version;
SELECT outcome FROM candystore.append_many(ARRAY[pg_temp.ev(20) || '{"event_type": "regress.bulk.counted", "payload": {"count": 1}}',
                                                 pg_temp.ev(24)]) ORDER BY ordinality;

-- in a transaction: a rolled-back batch leaves nothing; a savepoint keeps what came before
BEGIN;
SELECT count(*) FROM candystore.append_many(ARRAY[pg_temp.ev(30), pg_temp.ev(31)]);
ROLLBACK;
BEGIN;
SELECT count(*) FROM candystore.append_many(ARRAY[pg_temp.ev(32)]);
SAVEPOINT s;
SELECT count(*) FROM candystore.append_many(ARRAY[pg_temp.ev(33), pg_temp.ev(1) || '{"payload": {}}']);
ROLLBACK TO s;
COMMIT;
SELECT pg_temp.n(event_id) AS id FROM candystore.events WHERE event_id IN (pg_temp.u(30), pg_temp.u(31), pg_temp.u(32), pg_temp.u(33));

-- Causation: the same graph stored by append() one event at a time and by
-- append_many() in batches gives the same ancestors and descendants: parents
-- earlier in the batch, a child before its parent in the same batch, a
-- parent arriving in a later batch, two parents in different graphs.
-- Graph (n -> parents): 101; 102 -> 101; 103 -> 102; 104 -> 105 (105 later
-- in the batch); 106 -> 107 (107 in the next batch); 108 -> 103, 110; 110.
-- The same graph again at ids + 100 for append().
CREATE TEMP TABLE graph (n int, parents int[], batch int, ord int);
INSERT INTO graph VALUES (101, '{}', 1, 1), (102, '{101}', 1, 2), (103, '{102}', 1, 3),
    (104, '{105}', 1, 4), (105, '{}', 1, 5), (106, '{107}', 1, 6), (110, '{}', 1, 7),
    (108, '{103,110}', 2, 1), (107, '{}', 2, 2);
SELECT b.batch, count(*) AS stored
  FROM (SELECT DISTINCT batch FROM graph) b,
       LATERAL candystore.append_many(ARRAY(SELECT pg_temp.ev(n, parents) FROM graph g WHERE g.batch = b.batch ORDER BY ord)) m
 GROUP BY b.batch ORDER BY b.batch;
SELECT count(candystore.append(pg_temp.ev(n + 100, ARRAY(SELECT p + 100 FROM unnest(parents) p))))
  FROM (SELECT * FROM graph ORDER BY batch, ord) g;
CREATE FUNCTION pg_temp.walk(n int, dir text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(pg_temp.n(w.event_id) - (CASE WHEN n > 200 THEN 100 ELSE 0 END) || '@' || w.depth, ' '
                      ORDER BY w.depth, pg_temp.n(w.event_id))
      FROM (SELECT event_id, depth FROM candystore.descendants(pg_temp.u(n)) WHERE dir = 'down'
            UNION ALL SELECT event_id, depth FROM candystore.ancestors(pg_temp.u(n)) WHERE dir = 'up') w
$$;
SELECT g.n, pg_temp.walk(g.n, 'up') AS ancestors, pg_temp.walk(g.n, 'down') AS descendants,
       pg_temp.walk(g.n, 'up') = pg_temp.walk(g.n + 100, 'up')
       AND pg_temp.walk(g.n, 'down') = pg_temp.walk(g.n + 100, 'down') AS same_as_append
  FROM graph g ORDER BY g.n;

-- a long chain across several multi-row inserts (64 rows each), parents first
SELECT count(*) AS stored FROM candystore.append_many(ARRAY(
    SELECT pg_temp.ev(1000 + i, CASE WHEN i > 0 THEN ARRAY[999 + i] ELSE '{}' END) FROM generate_series(0, 199) i ORDER BY i));
SELECT count(*) AS ancestors, max(depth) AS deepest FROM candystore.ancestors(pg_temp.u(1199));
