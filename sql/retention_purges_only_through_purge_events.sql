-- purge_events() is the one way events leave the store: it removes events
-- older than the given age, keeps those the outbox has not sent, and is for
-- the extension owner only.  It runs in a database of its own, so it purges
-- nothing the other tests stored.
SELECT current_database() AS home_database \gset
DROP DATABASE IF EXISTS regress_candystore_retention;
CREATE DATABASE regress_candystore_retention;
\c regress_candystore_retention
CREATE EXTENSION candystore;
\i sql/helpers/expect_error.sql
CREATE TEMP TABLE aged AS
SELECT i, jsonb_set(pg_temp.sample_envelope(format('ba000000-0000-4000-8000-%s', lpad(i::text, 12, '0'))::uuid),
                    '{timestamp}', to_jsonb(to_char((now() - make_interval(days => i * 30)) AT TIME ZONE 'UTC',
                                                    'YYYY-MM-DD"T"HH24:MI:SS"Z"'))) AS e
  FROM generate_series(1, 5) AS i;   -- 30, 60, 90, 120 and 150 days old
SELECT count(candystore.append(e)) FROM aged WHERE i <> 4;
-- the 120-day-old event is published but not yet sent
SELECT candystore.publish(e) > 0 AS published FROM aged WHERE i = 4;

SELECT pg_temp.expect_error($$SELECT candystore.purge_events('-1 day')$$) AS negative;

SELECT candystore.purge_events('100 days') AS purged;
SELECT (SELECT i FROM aged WHERE (e->>'event_id')::uuid = events.event_id) AS age_in_months
  FROM candystore.events WHERE event_id::text LIKE 'ba000000-%' ORDER BY 1;

-- once sent, it can go, and its outbox row with it
UPDATE candystore.outbox SET published_at = now()
  FROM candystore.events e WHERE e.position = outbox.position AND e.event_id = 'ba000000-0000-4000-8000-000000000004';
SELECT candystore.purge_events('100 days') AS purged_after_send;
SELECT count(*) AS remaining, count(*) FILTER (WHERE o.id IS NOT NULL) AS with_outbox_rows
  FROM candystore.events e LEFT JOIN candystore.outbox o USING (position) WHERE e.event_id::text LIKE 'ba000000-%';

-- events stay immutable outside purge_events, also right after it ran
SELECT pg_temp.expect_error($$DELETE FROM candystore.event_log WHERE event_id = 'ba000000-0000-4000-8000-000000000001'$$) AS direct_delete;

-- writers and readers cannot purge
CREATE ROLE regress_cs_purger IN ROLE candystore_writer;
SET ROLE regress_cs_purger;
SELECT pg_temp.expect_error($$SELECT candystore.purge_events('1 day')$$) AS writer_purge;
RESET ROLE;
DROP ROLE regress_cs_purger;
SELECT count(*) AS still_there FROM candystore.events WHERE event_id::text LIKE 'ba000000-%';
\c :home_database
DROP DATABASE regress_candystore_retention;
