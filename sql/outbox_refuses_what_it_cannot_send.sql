-- What AMQP cannot carry is refused when it is enqueued, with a class-22
-- error naming the event, and nothing is stored or enqueued: a routing key
-- or exchange name is a shortstr (at most 255 bytes of UTF-8, counted in
-- bytes, not characters), and a body (the envelope as JSON text) is at most
-- candystore.outbox_max_message_bytes.  replay() and replay_trace() refuse
-- the whole call when one event of it cannot be sent.  A parked row (the
-- publisher gave up on it) is counted in candystore.stats and made due
-- again by retry_outbox().
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.refusal(statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    msg text; detail text; hint text;
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || msg || E'\n  detail: ' || detail || E'\n  hint: ' || hint;
END
$$;
CREATE FUNCTION pg_temp.ev(n int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT pg_temp.sample_envelope(format('ca110000-0000-4000-8000-%s', lpad(n::text, 12, '0'))::uuid)
$$;
CREATE TEMP VIEW enqueued AS
SELECT right(e.event_id::text, 2) AS n, octet_length(o.routing_key) AS key_bytes,
       octet_length(o.exchange) AS exchange_bytes, o.headers ? 'x-candystore-replay' AS replay
  FROM candystore.outbox o JOIN candystore.events e USING (position)
 WHERE e.event_id::text LIKE 'ca110000-%';

-- routing keys: 255 bytes pass, 256 do not; multibyte characters count as bytes
SELECT pg_temp.refusal($$SELECT candystore.publish(pg_temp.ev(1), repeat('r', 255))$$) AS key_255;
SELECT pg_temp.refusal($$SELECT candystore.publish(pg_temp.ev(2), repeat('r', 256))$$) AS key_256;
SELECT pg_temp.refusal($$SELECT candystore.publish(pg_temp.ev(3), repeat('r', 300))$$) AS key_300;
SELECT pg_temp.refusal($$SELECT candystore.publish(pg_temp.ev(4), repeat('é', 127) || 'r')$$) AS key_128_chars_255_bytes;
SELECT pg_temp.refusal($$SELECT candystore.publish(pg_temp.ev(5), repeat('é', 128))$$) AS key_128_chars_256_bytes;
-- the event type, the routing key when none is given, is held to 255
-- characters of [a-z0-9_.] by the envelope check already
SELECT pg_temp.refusal($$SELECT candystore.publish(jsonb_set(pg_temp.ev(6), '{event_type}', to_jsonb(repeat('t', 256))))$$) AS event_type_as_key;

-- exchange names: the same limit; RabbitMQ takes any UTF-8 name, and '' is
-- its default exchange
SELECT pg_temp.refusal($$SELECT candystore.publish(pg_temp.ev(7), 'test.ok', repeat('x', 255))$$) AS exchange_255;
SELECT pg_temp.refusal($$SELECT candystore.publish(pg_temp.ev(8), 'test.ok', repeat('x', 256))$$) AS exchange_256;
SELECT pg_temp.refusal($$SELECT candystore.publish(pg_temp.ev(9), 'test.ok', 'ünïcode exchange')$$) AS exchange_unicode;
SELECT pg_temp.refusal($$SELECT candystore.publish(pg_temp.ev(10), 'test.ok', '')$$) AS default_exchange;

-- the body: the envelope as JSON text, against candystore.outbox_max_message_bytes
SHOW candystore.outbox_max_message_bytes;
SET candystore.outbox_max_message_bytes = '2kB';
SELECT pg_temp.refusal($$SELECT candystore.publish(jsonb_set(pg_temp.ev(11), '{payload,note}', to_jsonb(repeat('b', 1500))))$$) AS body_under;
SELECT pg_temp.refusal($$SELECT candystore.publish(jsonb_set(pg_temp.ev(12), '{payload,note}', to_jsonb(repeat('b', 2100))))$$) AS body_over;
-- counted as sent: escapes and multibyte characters make the text longer than the characters
SELECT pg_temp.refusal($$SELECT candystore.publish(jsonb_set(pg_temp.ev(13), '{payload,note}', to_jsonb(repeat(E'\u0001', 400))))$$) AS escapes_count;
-- and a number is as long as its digits: 1e3000 is a few bytes of jsonb, 3001 of text
SELECT pg_temp.refusal($$SELECT candystore.publish(jsonb_set(pg_temp.ev(14), '{payload,note}', '1e3000'))$$) AS number_digits_count;
RESET candystore.outbox_max_message_bytes;

-- a refused publish stores nothing and enqueues nothing
SELECT n, key_bytes, exchange_bytes FROM enqueued ORDER BY n;
SELECT string_agg(right(event_id::text, 2), ',' ORDER BY event_id) AS stored
  FROM candystore.events WHERE event_id::text LIKE 'ca110000-%';

-- a writer cannot raise the limit
CREATE ROLE regress_cs_limits_writer IN ROLE candystore_writer;
SET ROLE regress_cs_limits_writer;
SELECT pg_temp.expect_error($$SET candystore.outbox_max_message_bytes = '1GB'$$) AS writer_sets_limit;
RESET ROLE;
DROP ROLE regress_cs_limits_writer;

-- replay: stored events (append takes routing keys of any length) that AMQP
-- cannot carry refuse the whole call, naming the event
SELECT candystore.append(jsonb_set(jsonb_set(pg_temp.ev(20), '{timestamp}', '"2019-05-01T10:00:00Z"'),
                                   '{event_type}', '"artifact.created"'), 'test.fine') IS NOT NULL AS appended;
SELECT candystore.append(jsonb_set(pg_temp.ev(21), '{timestamp}', '"2019-05-01T10:01:00Z"'),
                         repeat('k', 256)) IS NOT NULL AS appended_long_key;
SELECT pg_temp.refusal($$SELECT candystore.replay('2019-05-01', '2019-05-02')$$) AS replay_with_long_key;
SELECT pg_temp.refusal($$SELECT candystore.replay_trace('ca110000-0000-4000-8000-000000000021')$$) AS replay_trace_long_key;
SELECT count(*) AS replayed_after_refusals FROM enqueued WHERE replay;
-- leaving the event out, the rest replays
SELECT candystore.replay('2019-05-01', '2019-05-02', ARRAY['artifact.created']) AS replay_without_it;
SELECT n, key_bytes, replay FROM enqueued WHERE replay ORDER BY n;

-- a parked row: counted in stats, made due again (its failures forgotten)
-- by retry_outbox(); the publisher leaves it so
UPDATE candystore.outbox o SET failures = 10, attempts = 10, last_error = 'the broker refused the message (basic.nack)',
       parked_at = now(), next_attempt_at = 'infinity'
  FROM candystore.events e WHERE e.position = o.position AND e.event_id = 'ca110000-0000-4000-8000-000000000001';
SELECT outbox_parked FROM candystore.stats;
SELECT candystore.retry_outbox() >= 1 AS redriven;
SELECT o.failures, o.attempts, o.parked_at IS NULL AS unparked, o.next_attempt_at IS NULL AS due, o.last_error
  FROM candystore.outbox o JOIN candystore.events e USING (position)
 WHERE e.event_id = 'ca110000-0000-4000-8000-000000000001';
SELECT outbox_parked FROM candystore.stats;
