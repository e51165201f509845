-- At-least-once delivery: appending a stored event again with the same
-- content returns its position and stores nothing; the same id with other
-- content is a unique_violation (23505) that stores nothing.
\i sql/helpers/expect_error.sql
CREATE TEMP TABLE pos (label text, position bigint);
INSERT INTO pos SELECT 'first', candystore.append(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000001'));
INSERT INTO pos SELECT 'again', candystore.append(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000001'));
-- the same content with keys in another order and other whitespace is the same event
INSERT INTO pos SELECT 'reordered', candystore.append(
    (SELECT jsonb_object_agg(key, value) FROM (SELECT * FROM jsonb_each(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000001')) ORDER BY key DESC) kv));
-- a different routing key does not make a different event
INSERT INTO pos SELECT 'other routing key', candystore.append(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000001'), 'elsewhere');
-- 1 and 1.0 are equal JSON numbers
INSERT INTO pos SELECT 'numbers', candystore.append(jsonb_set(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000002'), '{payload,n}', '1'));
INSERT INTO pos SELECT 'numbers again', candystore.append(jsonb_set(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000002'), '{payload,n}', '1.0'));
SELECT label, position = (SELECT position FROM pos WHERE label = 'first') AS same_as_first,
       position = (SELECT position FROM pos WHERE label = 'numbers') AS same_as_numbers
  FROM pos ORDER BY position, label;
SELECT count(*) AS stored FROM candystore.events WHERE event_id::text LIKE 'c3000000-%';

-- a conflict names the event, where it is stored and what differs
\set VERBOSITY default
SELECT candystore.append(jsonb_set(jsonb_set(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000001'),
                                             '{payload,title}', '"Edited"'), '{version}', '"1.0.1"'));
SELECT candystore.append(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000001') - 'agent_context');
\set VERBOSITY terse
SELECT pg_temp.expect_error($$SELECT candystore.append(jsonb_set(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000001'), '{payload}', '{"id": "ff_other"}'))$$) AS conflict;
-- and stores nothing: the original is intact and no row was added
SELECT count(*) AS stored, bool_and(envelope = pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000001')) AS original_intact
  FROM candystore.events WHERE event_id = 'c3000000-0000-4000-8000-000000000001';

-- a conflict inside a transaction aborts only what the caller chooses:
-- a savepoint keeps the events appended before it
BEGIN;
SELECT candystore.append(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000003')) > 0 AS appended;
SAVEPOINT s;
SELECT candystore.append(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000001') || '{"payload": {"id": "ff_other"}}');
ROLLBACK TO s;
COMMIT;
SELECT count(*) AS kept FROM candystore.events WHERE event_id = 'c3000000-0000-4000-8000-000000000003';

-- a rolled-back append leaves nothing behind
BEGIN;
SELECT candystore.append(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000004')) > 0 AS appended;
ROLLBACK;
SELECT candystore.get_event('c3000000-0000-4000-8000-000000000004') AS after_rollback;

-- the same event twice in one statement is stored once
SELECT count(DISTINCT candystore.append(pg_temp.sample_envelope('c3000000-0000-4000-8000-000000000005'))) AS positions
  FROM generate_series(1, 3);
SELECT count(*) AS stored FROM candystore.events WHERE event_id = 'c3000000-0000-4000-8000-000000000005';
