-- Reading the store as a stream: read_all() returns each committed event once,
-- in (transaction, position) order, with an opaque cursor to read on from;
-- subscriptions keep a checkpoint per owner (and per consumer-group member),
-- acknowledged forward only; bad input is a class-22 error that changes
-- nothing; purge_events() never leaves a checkpoint before a silent gap.  A
-- database of its own, so the counts are this test's alone.
SELECT current_database() AS home_database \gset
DROP DATABASE IF EXISTS regress_candystore_stream;
CREATE DATABASE regress_candystore_stream;
\c regress_candystore_stream
CREATE EXTENSION candystore;
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.flow_envelope(i int) RETURNS jsonb LANGUAGE sql AS $$
    -- events 1..12, in flows of three: a root and two children of it
    SELECT jsonb_set(jsonb_set(jsonb_set(pg_temp.sample_envelope(md5('stream' || i)::uuid),
               '{event_type}', to_jsonb(CASE WHEN i % 2 = 0 THEN 'stream.even' ELSE 'stream.odd' END)),
               '{correlation_ids}', CASE WHEN i % 3 = 1 THEN '[]'::jsonb
                                        ELSE jsonb_build_array(md5('stream' || (i - (i - 1) % 3))::uuid) END),
               '{timestamp}', to_jsonb(to_char((now() - make_interval(days => CASE WHEN i <= 2 THEN 400 ELSE 1 END))
                                               AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
$$;
-- 1 .. 6 in one transaction, 7 .. 12 one by one
SELECT count(candystore.append(pg_temp.flow_envelope(i))) AS appended FROM generate_series(1, 6) i;
SELECT candystore.append(pg_temp.flow_envelope(7)) > 0 AS a, candystore.append(pg_temp.flow_envelope(8)) > 0 AS b;
SELECT candystore.append(pg_temp.flow_envelope(9)) > 0 AS appended \gset
SELECT count(candystore.append(pg_temp.flow_envelope(i))) AS appended FROM generate_series(10, 12) i;

-- in batches of five, every event once, in order; cursors sort as text
CREATE TEMP TABLE seen (batch int, cursor text, position bigint);
DO $$
DECLARE
    after text;
    b int := 0;
BEGIN
    LOOP
        b := b + 1;
        INSERT INTO seen SELECT b, r.cursor, r.position FROM candystore.read_all(after, 5) r;
        EXIT WHEN NOT FOUND;
        SELECT max(s.cursor) INTO after FROM seen s;
    END LOOP;
END
$$;
SELECT batch, array_agg(position ORDER BY cursor) AS positions FROM seen GROUP BY batch ORDER BY batch;
SELECT count(*) = count(DISTINCT position) AS each_once,
       bool_and(cursor ~ '^[0-9a-f]{16}-[0-9a-f]{16}$') AS cursor_shape FROM seen;
-- filtered by type, the same order
SELECT array_agg(position ORDER BY cursor) AS even FROM candystore.read_all(NULL, 100, '{stream.even}');
-- the row is the stored event
SELECT bool_and(r.envelope = e.envelope AND r.event_id = e.event_id AND r.event_type = e.event_type
                AND r.occurred_at = e.occurred_at AND r.recorded_at = e.recorded_at) AS rows_are_the_events
  FROM candystore.read_all(NULL) r JOIN candystore.events e USING (position);
-- an event appended by the reading transaction itself is not readable until it commits
BEGIN;
SELECT candystore.append(pg_temp.flow_envelope(13)) > 0 AS appended;
SELECT count(*) AS own_uncommitted_read FROM candystore.read_all((SELECT max(cursor) FROM seen));
COMMIT;
SELECT count(*) AS after_commit FROM candystore.read_all((SELECT max(cursor) FROM seen));

-- refusals: class 22, nothing read
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_all('not a cursor')$$) AS malformed;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_all('00000000000000zz-0000000000000001')$$) AS not_hex;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_all('8000000000000000-0000000000000001')$$) AS too_big;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_all('7000000000000000-0000000000000001')$$) AS from_the_future;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_all(NULL, 0)$$) AS zero_count;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_all(NULL, -5)$$) AS negative_count;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_all(NULL, NULL)$$) AS null_count;
SELECT pg_temp.expect_error($$SELECT candystore.wait_for_events('7000000000000000-0000000000000001', '1s')$$) AS wait_future;
SELECT pg_temp.expect_error($$SELECT candystore.wait_for_events(NULL, '-1s')$$) AS wait_negative;
SELECT pg_temp.expect_error($$SELECT candystore.wait_for_events(NULL, NULL)$$) AS wait_null;
-- wait_for_events: something to read returns at once; nothing waits out the timeout
SELECT candystore.wait_for_events(NULL, '1 minute') AS readable;
SELECT candystore.wait_for_events((SELECT max(cursor) FROM candystore.read_all(NULL)), '10 ms') AS nothing_new;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pg_temp.expect_error($$SELECT candystore.wait_for_events(NULL, '1s')$$) AS one_snapshot;
COMMIT;
-- the horizon view answers (nothing else runs here)
SELECT horizon IS NOT NULL AS has_horizon FROM candystore.read_horizon;

-- Subscriptions -----------------------------------------------------------------
SELECT candystore.subscribe('all', 'beginning') = '0000000000000000-0000000000000000' AS from_the_start;
SELECT candystore.subscribe('odd', 'beginning', '{stream.odd}') IS NOT NULL AS subscribed;
SELECT candystore.subscribe('later', 'now') IS NOT NULL AS subscribed;
SELECT candystore.subscribe('after8', (SELECT cursor FROM candystore.read_all(NULL, 100) WHERE position = 8)) IS NOT NULL AS subscribed;
SELECT pg_temp.expect_error($$SELECT candystore.subscribe('all')$$) AS taken;
SELECT pg_temp.expect_error($$SELECT candystore.subscribe('x', 'yesterday')$$) AS bad_start;
SELECT pg_temp.expect_error($$SELECT candystore.subscribe('', 'now')$$) AS no_name;
-- reading moves nothing; acking does, and never backwards
SELECT array_agg(position ORDER BY cursor) AS first_read FROM candystore.read_subscription('all', 4);
SELECT array_agg(position ORDER BY cursor) AS read_again FROM candystore.read_subscription('all', 4);
SELECT candystore.ack_subscription('all', (SELECT max(cursor) FROM candystore.read_subscription('all', 4))) AS moved;
SELECT array_agg(position ORDER BY cursor) AS after_ack FROM candystore.read_subscription('all', 4);
SELECT candystore.ack_subscription('all', (SELECT min(cursor) FROM candystore.read_all(NULL, 1))) AS moved_back;
SELECT array_agg(position ORDER BY cursor) AS still FROM candystore.read_subscription('all', 4);
SELECT array_agg(position ORDER BY cursor) AS odd FROM candystore.read_subscription('odd');
SELECT count(*) AS later FROM candystore.read_subscription('later');
SELECT array_agg(position ORDER BY cursor) AS after8 FROM candystore.read_subscription('after8');
SELECT candystore.append(pg_temp.flow_envelope(14)) > 0 AS appended;
SELECT array_agg(position ORDER BY cursor) AS later FROM candystore.read_subscription('later');
SELECT name, member, group_size, lag_events, lag_time >= '0' AS lag_time, last_read_at IS NOT NULL AS read,
       last_ack_at IS NOT NULL AS acked, purged_unread
  FROM candystore.subscriptions ORDER BY name;
-- refusals: nothing changed
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_subscription('missing')$$) AS unknown;
SELECT pg_temp.expect_error($$SELECT candystore.ack_subscription('missing', NULL)$$) AS unknown_ack;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_subscription('all', 0)$$) AS zero_count;
SELECT pg_temp.expect_error($$SELECT candystore.ack_subscription('all', '7000000000000000-0000000000000001')$$) AS ack_future;
SELECT pg_temp.expect_error($$SELECT candystore.ack_subscription('all', 'nonsense')$$) AS ack_malformed;
SELECT pg_temp.expect_error($$SELECT candystore.ack_subscription('all', NULL)$$) AS ack_null;
SELECT name, checkpoint = (SELECT cursor FROM candystore.read_all(NULL, 100) WHERE position = 4) AS unchanged
  FROM candystore.subscriptions WHERE name = 'all';

-- Consumer groups: split by causation group; each member its own checkpoint
SELECT candystore.subscribe('grouped', 'beginning') IS NOT NULL AS subscribed;
CREATE TEMP TABLE got AS
SELECT m AS member, r.position, r.cursor FROM generate_series(0, 2) m,
       LATERAL candystore.read_subscription('grouped', 100, m, 3) r;
SELECT member, count(*) AS events FROM got GROUP BY member ORDER BY member;
SELECT count(*) AS events, count(DISTINCT position) AS distinct_events,
       (SELECT count(*) FROM candystore.events) AS stored FROM got;
-- all the events of one causation group at one member
SELECT count(*) AS groups_split FROM (
    SELECT e.causation_group FROM got JOIN candystore.event_log e USING (position)
     GROUP BY e.causation_group HAVING count(DISTINCT got.member) > 1) split;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_subscription('grouped', 10, 0, 2)$$) AS other_size;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_subscription('grouped', 10, 3, 3)$$) AS no_such_member;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_subscription('grouped', 10)$$) AS ungrouped;
SELECT candystore.ack_subscription('grouped', (SELECT max(cursor) FROM got WHERE member = 1), 1, 3) AS member_1_acked;
SELECT member, lag_events = 0 AS caught_up FROM candystore.subscriptions WHERE name = 'grouped' ORDER BY member;

-- Privileges: a subscription is its owner's
CREATE ROLE regress_stream_alice IN ROLE candystore_reader;
CREATE ROLE regress_stream_bob IN ROLE candystore_reader;
CREATE ROLE regress_stream_nobody;
SET ROLE regress_stream_alice;
SELECT count(*) AS alice_reads FROM candystore.read_all(NULL);
SELECT candystore.subscribe('alice', 'beginning') IS NOT NULL AS alice_subscribed;
SELECT count(*) AS alice_reads_hers FROM candystore.read_subscription('alice', 3);
SELECT name FROM candystore.subscriptions;
SELECT candystore.wait_for_events(NULL, '1s') AS alice_waits;
RESET ROLE;
SET ROLE regress_stream_bob;
SELECT count(*) AS bob_sees FROM candystore.subscriptions;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_subscription('alice')$$) AS bob_reads_alices;
SELECT pg_temp.expect_error($$SELECT candystore.ack_subscription('alice', (SELECT max(cursor) FROM candystore.read_all(NULL)))$$) AS bob_acks_alices;
SELECT candystore.unsubscribe('alice') AS bob_drops_alices;
WITH moved AS (UPDATE candystore.subscription_checkpoint SET position = 0 RETURNING 1)
SELECT count(*) AS bob_moves_alices FROM moved;
SELECT pg_temp.expect_error($$INSERT INTO candystore.subscription_checkpoint (name, member, xid, position) VALUES ('alice', 7, '0', 0)$$) AS bob_adds_a_member;
SELECT pg_temp.expect_error($$SELECT candystore.subscribe('alice')$$) AS bob_takes_the_name;
RESET ROLE;
SET ROLE regress_stream_nobody;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_all(NULL)$$) AS nobody_reads;
SELECT pg_temp.expect_error($$SELECT candystore.subscribe('nobody')$$) AS nobody_subscribes;
SELECT pg_temp.expect_error($$SELECT candystore.wait_for_events(NULL, '1s')$$) AS nobody_waits;
RESET ROLE;
SELECT name, owner FROM candystore.subscriptions WHERE name = 'alice';

-- Retention: events purged before a checkpoint read them stop the reads
SELECT candystore.subscribe('fresh', 'beginning') IS NOT NULL AS never_read;
SELECT candystore.purge_events('100 days') AS purged;   -- events 1 and 2
SELECT name, member, purged_unread FROM candystore.subscriptions
 WHERE name IN ('all', 'odd', 'fresh', 'later', 'grouped') ORDER BY name, member;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_subscription('odd')$$) AS odd_lost_one;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_subscription('fresh')$$) AS fresh_lost_two;
SELECT count(*) AS all_reads_on FROM candystore.read_subscription('all');
SELECT candystore.ack_subscription('odd', NULL, accept_purged => true) AS accepted;
SELECT array_agg(position ORDER BY cursor) AS odd_after_the_gap FROM candystore.read_subscription('odd');

SELECT candystore.unsubscribe('alice') AS dropped, candystore.unsubscribe('alice') AS again;
DROP ROLE regress_stream_alice, regress_stream_bob, regress_stream_nobody;
\c :home_database
DROP DATABASE regress_candystore_stream;
