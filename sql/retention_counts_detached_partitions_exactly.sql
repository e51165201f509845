-- purge_events() returns exactly how many events it purged, also for the
-- partitions it detaches whole: counted off the partition's primary key when
-- vacuum has left every heap page all-visible, with count(*) otherwise.
-- Rolled-back appends leave gaps in the positions (so a partition of 1,000
-- positions does not hold 1,000 events) and, until vacuum, dead rows and
-- their index entries that must not be counted.  In a database of its own;
-- partitions of 1,000 positions (several leaf pages of the primary key).
-- The other probes read the partitions' occurred_at indexes; one without
-- it is asked through SQL.
SELECT current_database() AS home_database \gset
DROP DATABASE IF EXISTS regress_candystore_retention_count;
CREATE DATABASE regress_candystore_retention_count;
\c regress_candystore_retention_count
CREATE EXTENSION candystore;
CREATE EXTENSION pg_visibility;
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.env(n int, ts text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(pg_temp.sample_envelope(('cc000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid),
                     '{timestamp}', to_jsonb(ts)), '{payload,n}', to_jsonb(n))
$$;
SELECT count(*) AS made FROM candystore.make_partitions(ahead => 3, size => 1000);

-- positions 1-1000: events of 1980, three positions lost to rolled-back appends
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n, '1980-06-01T00:00:00Z') FROM generate_series(1, 400) n), NULL);
BEGIN;
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n, '1980-06-01T00:00:00Z') FROM generate_series(401, 403) n), NULL);
ROLLBACK;
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n, '1980-06-01T00:00:00Z') FROM generate_series(404, 1000) n), NULL);
-- positions 1001-2000: events of 1990, two positions lost, their rows dead and not vacuumed
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n, '1990-06-01T00:00:00Z') FROM generate_series(1001, 1500) n), NULL);
BEGIN;
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n, '1990-06-01T00:00:00Z') FROM generate_series(1501, 1502) n), NULL);
ROLLBACK;
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n, '1990-06-01T00:00:00Z') FROM generate_series(1503, 2000) n), NULL);
-- position 2001 on: young
SELECT candystore.append(pg_temp.env(2001, '2999-01-01T00:00:00Z')) AS young_position;
SELECT partition, count(*) AS events, max(e.position) - min(e.position) + 1 AS span
  FROM candystore.event_log e JOIN candystore.event_log_partitions p ON e.position BETWEEN p.first_position AND p.last_position
 GROUP BY partition ORDER BY partition;
-- the first partition all-visible (its dead rows gone), the second not
VACUUM candystore.event_log_p1;
SELECT relname, (SELECT all_visible FROM pg_visibility_map_summary(oid))
                = pg_relation_size(oid) / current_setting('block_size')::int AS all_visible
  FROM pg_class WHERE relname IN ('event_log_p1', 'event_log_p1001') ORDER BY relname;

-- events older than 40 years: the first partition, 997 events, from its primary key
SELECT candystore.purge_events(make_interval(years => extract(year FROM now())::int - 1985)) AS purged_from_the_index;
-- older than a year: the second, 998 events, by count(*) (its dead rows not counted)
SELECT candystore.purge_events('1 year') AS purged_by_count;
SELECT string_agg(c.relname, ' ' ORDER BY c.relname) AS detached
  FROM pg_class c WHERE c.relnamespace = 'candystore_purged'::regnamespace AND c.relkind = 'r';
SELECT count(*) AS events_left FROM candystore.event_log;
SELECT candystore.purge_events('1 year') AS purged_again;
-- an old event in a partition that has lost its occurred_at index: found
-- (through event_log) and purged row by row, the young one kept
SELECT candystore.append(pg_temp.env(2002, '1990-06-01T00:00:00Z')) AS old_in_the_young_partition;
DROP INDEX candystore.event_log_p2001_occurred_at_idx;
SELECT candystore.purge_events('1 year') AS purged_row_by_row;
SELECT string_agg(position::text, ' ') AS left FROM candystore.event_log;

\c :home_database
DROP DATABASE regress_candystore_retention_count;
