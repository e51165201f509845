-- purge_events() detaches the partitions whose every event is past the horizon
-- into candystore_purged (no row deletes: n_tup_del stays 0, no dead tuples;
-- drop_purged_partitions() drops them later), and deletes row by
-- row only in the partitions it must keep: one holding an event the outbox
-- has yet to send, one a subscription has yet to read past, one with
-- younger events.  In a database of its own; partitions of 5 positions.
SELECT current_database() AS home_database \gset
DROP DATABASE IF EXISTS regress_candystore_partition_retention;
CREATE DATABASE regress_candystore_partition_retention;
\c regress_candystore_partition_retention
CREATE EXTENSION candystore;
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.env(n int, ts text DEFAULT '1990-01-01T00:00:00Z', parents int[] DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(jsonb_set(pg_temp.sample_envelope(('cb000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid),
                     '{timestamp}', to_jsonb(ts)), '{payload,n}', to_jsonb(n)),
                     '{correlation_ids}', coalesce((SELECT jsonb_agg(('cb000000-0000-4000-8000-' || lpad(p::text, 12, '0'))::uuid) FROM unnest(parents) p), '[]'))
$$;
SELECT count(*) AS made FROM candystore.make_partitions(ahead => 6, size => 5);

-- positions 1-5 and 6-10: old events; 8 is published but not yet sent
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n) FROM generate_series(1, 7) n));
SELECT candystore.publish(pg_temp.env(8)) AS unsent_position;
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n) FROM generate_series(9, 10) n));
-- 11-15: old events but one young one; 16-20: old, read by no subscription yet
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n) FROM generate_series(11, 14) n));
SELECT candystore.append(pg_temp.env(15, '2999-01-01T00:00:00Z')) AS young_position;
SELECT candystore.subscribe('regress_retention', 'beginning') IS NOT NULL AS subscribed;
SELECT count(*) AS read FROM candystore.read_subscription('regress_retention', 15);
SELECT candystore.ack_subscription('regress_retention', (SELECT max(cursor) FROM candystore.read_subscription('regress_retention', 15)));
-- 16-18 old: the subscription has not read them; 19 a child of 1 (in a dropped partition)
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n) FROM generate_series(16, 18) n));
SELECT candystore.append(pg_temp.env(19, '2999-01-01T00:00:00Z', ARRAY[1])) AS child_of_a_purged_event;
SELECT pg_stat_force_next_flush();

SELECT candystore.purge_events('1 year') AS purged;
SELECT pg_stat_force_next_flush();
SELECT partition, first_position, last_position FROM candystore.event_log_partitions ORDER BY first_position;
-- kept: 8 (unsent), 15 and 19 (young), 16-18 (unread by the subscription: row deletes, counted)
SELECT string_agg(right(event_id::text, 2), ' ' ORDER BY position) AS remaining FROM candystore.events;
SELECT count(*) AS ids FROM candystore.event_ids;
SELECT purged_unread FROM candystore.subscription_checkpoint WHERE name = 'regress_retention';
-- the detached partition is out of event_log, in candystore_purged, rows untouched
SELECT c.relname, c.relispartition FROM pg_class c
 WHERE c.relnamespace = 'candystore_purged'::regnamespace AND c.relkind = 'r';
SELECT count(*) AS purged_rows_readable FROM candystore.event_log WHERE position <= 5;
-- the detached partition deleted no row: the rows deleted in the kept
-- ones (4 + 4 + 3) and its 5 rows are the 16 purged
SELECT relname, n_tup_del FROM pg_stat_user_tables
 WHERE relname IN ('event_log_p1', 'event_log_p6', 'event_log_p11', 'event_log_p16') ORDER BY relname;
SELECT sum(n_tup_del) AS deleted_row_by_row
  FROM pg_stat_user_tables s JOIN pg_inherits i ON i.inhrelid = s.relid
 WHERE i.inhparent = 'candystore.event_log'::regclass;
-- monitoring: what is there, and what retention does next
SELECT partition, first_position, last_position, bytes > 0 AS has_bytes, newest_occurred_at, unsent_outbox_rows
  FROM candystore.partitions ORDER BY first_position NULLS LAST;
SELECT partitions, bytes > 0 AS has_bytes, events_in_default_partition, oldest_partition, newest_partition,
       positions_made_ahead, next_retention_action
  FROM candystore.partition_status;
-- the deferred drop: the detached partition goes, and only it; no one else
-- may detach or drop a partition still attached
SELECT pg_temp.expect_error($$ALTER TABLE candystore.event_log DETACH PARTITION candystore.event_log_p6$$);
SELECT pg_temp.expect_error($$DROP TABLE candystore.event_log_p11$$);
SELECT candystore.drop_purged_partitions() AS dropped;
SELECT count(*) AS left_in_candystore_purged FROM pg_class WHERE relnamespace = 'candystore_purged'::regnamespace;
SELECT candystore.drop_purged_partitions() AS dropped_again;
-- detaching 1-5 touched no event_ids row: its ids stay, the range is noted,
-- and the event_ids rows deleted are those of the 11 events purged row by row
SELECT first_position, last_position FROM candystore.purged_ranges;
SELECT n_tup_del AS event_ids_rows_deleted FROM pg_stat_user_tables WHERE relid = 'candystore.event_ids'::regclass;
-- a purged event redelivered is a duplicate, stored at its old position, not resurrected
SELECT candystore.append(pg_temp.env(1)) AS redelivered_purged_event;
SELECT outcome, position FROM candystore.append_many(ARRAY[pg_temp.env(2, '2001-01-01T00:00:00Z')]);
SELECT candystore.get_event('cb000000-0000-4000-8000-000000000001') IS NULL AS purged_event_gone;
-- the walks skip purged events: 1 is a missing parent of 19
SELECT right(event_id::text, 2) AS id, event_type IS NULL AS missing
  FROM candystore.trace('cb000000-0000-4000-8000-000000000019') ORDER BY 1;
SELECT count(*) AS ancestors_of_19 FROM candystore.ancestors('cb000000-0000-4000-8000-000000000019');
SELECT count(*) AS trace_from_purged FROM candystore.trace('cb000000-0000-4000-8000-000000000001');
-- forgetting the ids, in batches; the range goes with the last of them
SELECT candystore.forget_purged_ids(2) AS forgotten;
SELECT count(*) AS ranges_while_ids_remain FROM candystore.purged_ranges;
SELECT candystore.forget_purged_ids(100) AS forgotten;
SELECT candystore.forget_purged_ids() AS forgotten, count(*) AS ranges FROM candystore.purged_ranges;
SELECT count(*) AS ids FROM candystore.event_ids;
SELECT pg_temp.expect_error($$SELECT candystore.forget_purged_ids(0)$$);
-- once forgotten, the child of the purged event still names it, and appending it again finds the child
SELECT candystore.append(pg_temp.env(1)) > 19 AS parent_appended_again;
SELECT count(*) AS in_trace FROM candystore.trace('cb000000-0000-4000-8000-000000000019');

\c :home_database
DROP DATABASE regress_candystore_partition_retention;
