-- publish() appends and enqueues in the caller's transaction: what commits
-- is queued for sending, what rolls back is neither stored nor queued.
\i sql/helpers/expect_error.sql
CREATE TEMP VIEW queued AS
SELECT o.id, e.event_id, o.routing_key, o.exchange, o.headers, o.published_at IS NULL AS pending
  FROM candystore.outbox o JOIN candystore.events e USING (position)
 WHERE e.event_id::text LIKE 'b8000000-%';

SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000001')) > 0 AS published;
-- routing key defaults to the event type and is stored with the event too; exchange to the publisher's
SELECT event_id, routing_key, exchange, headers, pending FROM queued ORDER BY id;
SELECT routing_key FROM candystore.events WHERE event_id = 'b8000000-0000-4000-8000-000000000001';

-- explicit routing key and exchange
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000002'), 'fireflies.transcript.ready.eu', 'audit.events') > 0 AS published;
SELECT event_id, routing_key, exchange FROM queued WHERE event_id = 'b8000000-0000-4000-8000-000000000002';

-- rolled back: neither stored nor queued
BEGIN;
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000003')) > 0 AS published;
SELECT count(*) AS queued_inside FROM queued WHERE event_id = 'b8000000-0000-4000-8000-000000000003';
ROLLBACK;
SELECT count(*) AS queued_after_rollback FROM queued WHERE event_id = 'b8000000-0000-4000-8000-000000000003';
SELECT candystore.get_event('b8000000-0000-4000-8000-000000000003') AS stored_after_rollback;

-- a savepoint rolled back takes its publish with it
BEGIN;
SAVEPOINT s;
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000004')) > 0 AS published;
ROLLBACK TO s;
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000005')) > 0 AS published;
COMMIT;
SELECT event_id FROM queued WHERE event_id IN ('b8000000-0000-4000-8000-000000000004', 'b8000000-0000-4000-8000-000000000005');

-- publishing again what already committed (a retried publish) queues nothing more
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000001')) =
       (SELECT position FROM candystore.events WHERE event_id = 'b8000000-0000-4000-8000-000000000001') AS same_position;
SELECT count(*) AS queued_once FROM queued WHERE event_id = 'b8000000-0000-4000-8000-000000000001';

-- bad input changes nothing
SELECT pg_temp.expect_error($$SELECT candystore.publish('{"event_id": "x"}')$$) AS invalid,
       pg_temp.expect_error($$SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000001') || '{"payload": {"id": "ff_other"}}')$$) AS conflict,
       pg_temp.expect_error($$SELECT candystore.publish(NULL)$$) AS null_envelope;
SELECT count(*) AS queued_total FROM queued;

-- writers publish; readers see the outbox but cannot publish
CREATE ROLE regress_cs_pub_reader IN ROLE candystore_reader;
CREATE ROLE regress_cs_pub_writer IN ROLE candystore_writer;
SET ROLE regress_cs_pub_writer;
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000006')) > 0 AS writer_published;
SELECT pg_temp.expect_error($$UPDATE candystore.outbox SET published_at = now()$$) AS writer_marks_published;
SET ROLE regress_cs_pub_reader;
SELECT pg_temp.expect_error($$SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000007'))$$) AS reader_publish;
SELECT count(*) > 0 AS reader_sees_outbox FROM candystore.outbox;
RESET ROLE;
DROP ROLE regress_cs_pub_reader, regress_cs_pub_writer;

-- publish() writes the row without SQL (src/outbox_enqueue.c): it has the
-- defaults the table declares, like a row an INSERT enqueues
BEGIN;
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000008')) > 0 AS published;
INSERT INTO candystore.outbox (position, routing_key)
SELECT position, 'by.insert' FROM candystore.events WHERE event_id = 'b8000000-0000-4000-8000-000000000008';
SELECT count(DISTINCT (o.headers, o.enqueued_at, o.attempts, o.next_attempt_at, o.last_error,
                       o.published_at, o.failures, o.parked_at, o.exchange)) AS one_set_of_defaults,
       bool_and(o.enqueued_at = now() AND o.headers = '{}' AND o.attempts = 0 AND o.failures = 0
                AND o.published_at IS NULL AND o.next_attempt_at IS NULL) AS declared_defaults,
       max(o.id) FILTER (WHERE o.routing_key = 'by.insert') > max(o.id) FILTER (WHERE o.routing_key <> 'by.insert')
           AS identity_shared
  FROM candystore.outbox o JOIN candystore.events e USING (position)
 WHERE e.event_id = 'b8000000-0000-4000-8000-000000000008';
-- and an entry in every index that should have it (amcheck finds a missing one)
CREATE EXTENSION IF NOT EXISTS amcheck;
SELECT count(public.bt_index_check(i.indexrelid, true)) AS indexes_checked
  FROM pg_index i WHERE i.indrelid = 'candystore.outbox'::regclass;
ROLLBACK;

-- a trigger added to the outbox fires for publish() too (the SQL INSERT is used then)
BEGIN;
CREATE TEMP TABLE outbox_seen (routing_key text);
CREATE FUNCTION pg_temp.note_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO outbox_seen VALUES (NEW.routing_key); RETURN NEW; END $$;
CREATE TRIGGER note_outbox AFTER INSERT ON candystore.outbox FOR EACH ROW EXECUTE FUNCTION pg_temp.note_outbox();
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000009'), 'seen.by.trigger') > 0 AS published;
SELECT routing_key FROM outbox_seen;
ROLLBACK;

-- the table stays open from one publish() to the next of a statement
-- (src/outbox_enqueue.c): an index made between two statements of a
-- transaction gets the rows published after it, a savepoint rolled back
-- mid-way takes its row with it, and ALTER TABLE after a publish() in the
-- same transaction finds the table closed
BEGIN;
CREATE EXTENSION IF NOT EXISTS amcheck;
SELECT count(candystore.publish(pg_temp.sample_envelope(('b8000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid),
                                'one.statement')) AS published_in_one_statement
  FROM generate_series(100, 119) n;
CREATE INDEX outbox_later_idx ON candystore.outbox (routing_key) WHERE routing_key LIKE 'later.%';
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000120'), 'later.one') > 0 AS published;
SAVEPOINT s;
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000121'), 'later.two') > 0 AS published;
ROLLBACK TO s;
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000122'), 'later.three') > 0 AS published;
ALTER TABLE candystore.outbox SET (fillfactor = 90);
SELECT candystore.publish(pg_temp.sample_envelope('b8000000-0000-4000-8000-000000000123'), 'later.four') > 0 AS published;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT routing_key FROM candystore.outbox WHERE routing_key LIKE 'later.%' ORDER BY id;
SELECT count(*) AS one_statement_rows FROM candystore.outbox WHERE routing_key = 'one.statement';
SELECT count(public.bt_index_check(i.indexrelid, true)) AS indexes_checked
  FROM pg_index i WHERE i.indrelid = 'candystore.outbox'::regclass;
ROLLBACK;
