-- retry_outbox() makes the outbox rows that wait for a retry due now and
-- counts them; other rows are left alone.  candystore.stats shows the
-- outbox backlog next to the worker counters, under the old column names.
\i sql/helpers/expect_error.sql
SELECT count(candystore.publish(pg_temp.sample_envelope(format('c9000000-0000-4000-8000-%s', lpad(n::text, 12, '0'))::uuid), 'test.retry'))
  FROM generate_series(1, 4) n;
CREATE TEMP VIEW retry_rows AS
SELECT right(e.event_id::text, 1) AS n, o.attempts, o.last_error,
       coalesce(o.next_attempt_at <= now(), true) AS due, o.published_at IS NOT NULL AS published
  FROM candystore.outbox o JOIN candystore.events e USING (position)
 WHERE e.event_id::text LIKE 'c9000000-%';

-- as the publisher leaves them: 1 published, 2 waiting an hour for its
-- retry, 3 waited and is due again, 4 never tried
UPDATE candystore.outbox o SET published_at = now(), attempts = 1
  FROM candystore.events e WHERE e.position = o.position AND e.event_id = 'c9000000-0000-4000-8000-000000000001';
UPDATE candystore.outbox o SET attempts = 3, last_error = 'the broker refused the message (basic.nack)',
       next_attempt_at = now() + interval '1 hour'
  FROM candystore.events e WHERE e.position = o.position AND e.event_id = 'c9000000-0000-4000-8000-000000000002';
UPDATE candystore.outbox o SET attempts = 1, next_attempt_at = now() - interval '1 minute'
  FROM candystore.events e WHERE e.position = o.position AND e.event_id = 'c9000000-0000-4000-8000-000000000003';
SELECT * FROM retry_rows ORDER BY n;

SELECT candystore.retry_outbox() AS made_due;
-- every pending row is due; the attempts and the last error are kept
SELECT * FROM retry_rows ORDER BY n;
SELECT candystore.retry_outbox() AS made_due_again;

-- writers may retry; readers may not
CREATE ROLE regress_cs_retry_reader IN ROLE candystore_reader;
CREATE ROLE regress_cs_retry_writer IN ROLE candystore_writer;
SET ROLE regress_cs_retry_writer;
SELECT pg_temp.expect_error('SELECT candystore.retry_outbox()') AS writer_retries;
SET ROLE regress_cs_retry_reader;
SELECT pg_temp.expect_error('SELECT candystore.retry_outbox()') AS reader_retries,
       pg_temp.expect_error('SELECT candystore.outbox_wake()') AS reader_wakes,
       pg_temp.expect_error('SELECT count(*) FROM candystore.stats') AS reader_reads_stats;
RESET ROLE;
DROP ROLE regress_cs_retry_reader, regress_cs_retry_writer;

-- the stats: the ingest worker's columns first, then the publisher's
SELECT string_agg(attname, ', ' ORDER BY attnum) AS stats_columns
  FROM pg_attribute WHERE attrelid = 'candystore.stats'::regclass AND attnum > 0;
SELECT outbox_pending = (SELECT count(*) FROM candystore.outbox WHERE published_at IS NULL) AS pending_counted,
       outbox_oldest_pending_age = now() - (SELECT min(enqueued_at) FROM candystore.outbox WHERE published_at IS NULL) AS oldest_age,
       outbox_published + outbox_confirms + outbox_nacks + outbox_retries AS no_publisher_here
  FROM candystore.stats;
-- no publisher without candystore.database: worker_status() lists none
SELECT count(*) AS publisher_rows FROM candystore.worker_status() WHERE kind = 'publisher';
