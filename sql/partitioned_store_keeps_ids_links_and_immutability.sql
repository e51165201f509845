-- event_log is partitioned by position; event ids stay unique across
-- partitions (event_ids), causation links cross them in both orders of
-- arrival, and no statement but candystore's own removes or adds a
-- partition's rows.  Partitions of 10 positions, in a database of its own.
SELECT current_database() AS home_database \gset
DROP DATABASE IF EXISTS regress_candystore_partitions;
CREATE DATABASE regress_candystore_partitions;
\c regress_candystore_partitions
CREATE EXTENSION candystore;
\i sql/helpers/expect_error.sql
CREATE FUNCTION pg_temp.id(n int) RETURNS uuid LANGUAGE sql AS $$
    SELECT ('ca000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid
$$;
CREATE FUNCTION pg_temp.env(n int, parents int[] DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_set(jsonb_set(pg_temp.sample_envelope(pg_temp.id(n)), '{correlation_ids}',
                     coalesce((SELECT jsonb_agg(pg_temp.id(p)) FROM unnest(parents) p), '[]')),
                     '{payload,n}', to_jsonb(n))
$$;

SELECT string_agg(p, ', ') AS made FROM candystore.make_partitions(ahead => 5, size => 10) p;
SELECT pg_temp.expect_error($$SELECT candystore.make_partitions(0)$$) AS zero_ahead,
       pg_temp.expect_error($$SELECT candystore.make_partition(1000, 0)$$) AS empty_partition;

-- event 1 in the first partition, a chain of 24 after it
SELECT candystore.append(pg_temp.env(1)) AS first_position;
SELECT count(*) AS stored FROM candystore.append_many(
    ARRAY(SELECT pg_temp.env(n, ARRAY[n - 1]) FROM generate_series(2, 25) n)) WHERE outcome = 'stored';

-- a duplicate of an event in an old partition is recognised, a conflict raised
SELECT candystore.append(pg_temp.env(1)) AS duplicate_position;
SELECT outcome, "position" FROM candystore.append_many(ARRAY[pg_temp.env(1), pg_temp.env(2, ARRAY[1])]);
SELECT pg_temp.expect_error($$SELECT candystore.append(jsonb_set(pg_temp.env(1), '{payload,n}', '2'))$$) AS conflict;
SELECT pg_temp.expect_error($$SELECT candystore.append_many(ARRAY[jsonb_set(pg_temp.env(3, ARRAY[2]), '{payload,n}', '4')])$$) AS conflict_in_batch;
SELECT count(*) AS events, count(DISTINCT tableoid) AS partitions FROM candystore.event_log;
SELECT (SELECT count(*) FROM candystore.event_ids) AS ids,
       (SELECT count(*) FROM candystore.event_ids i JOIN candystore.event_log l USING (position, event_id)) AS ids_matching_rows;

-- a child in a new partition whose parent is in an old one
SELECT candystore.append(pg_temp.env(26, ARRAY[1])) AS child_position;
SELECT event_id = pg_temp.id(1) AS root_is_event_1, depth
  FROM candystore.ancestors(pg_temp.id(26)) WHERE depth = 1;
SELECT count(*) AS in_trace_of_26 FROM candystore.trace(pg_temp.id(26));
SELECT array_agg(right(event_id::text, 2) ORDER BY event_id) AS children_of_1
  FROM candystore.descendants(pg_temp.id(1), 1) WHERE depth = 1;

-- the reverse: a child stored first, its parent 12 positions (two partitions) later
SELECT candystore.append(pg_temp.env(101, ARRAY[100])) AS orphan_position;
SELECT count(*) AS fillers FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n) FROM generate_series(200, 210) n));
SELECT candystore.append(pg_temp.env(100, ARRAY[26])) AS late_parent_position;
SELECT right(event_id::text, 3) AS event, depth, event_type IS NOT NULL AS stored
  FROM candystore.trace(pg_temp.id(101)) WHERE event_id IN (pg_temp.id(1), pg_temp.id(26), pg_temp.id(100), pg_temp.id(101))
 ORDER BY depth;
SELECT (SELECT tableoid::regclass FROM candystore.event_log WHERE event_id = pg_temp.id(101)) AS child_in,
       (SELECT tableoid::regclass FROM candystore.event_log WHERE event_id = pg_temp.id(100)) AS parent_in;
SELECT candystore.get_event(pg_temp.id(1)) = pg_temp.env(1) AS old_event_read_back;
SELECT count(*) AS caused_by_1 FROM candystore.events_caused_by(pg_temp.id(1));

-- positions beyond the partitions made land in the default partition; making
-- partitions later moves them out, keeping every row
SELECT count(*) AS more FROM candystore.append_many(ARRAY(SELECT pg_temp.env(n) FROM generate_series(300, 314) n));
SELECT count(*) AS in_default FROM candystore.event_log_default;
CREATE TEMP TABLE before_moving AS SELECT * FROM candystore.event_log;
SELECT string_agg(p, ', ') AS made FROM candystore.make_partitions(2) p;
SELECT count(*) AS in_default FROM candystore.event_log_default;
SELECT NOT EXISTS (SELECT * FROM candystore.event_log EXCEPT SELECT * FROM before_moving)
       AND (SELECT count(*) FROM candystore.event_log) = (SELECT count(*) FROM before_moving) AS every_row_kept;
SELECT partition, first_position, last_position FROM candystore.event_log_partitions ORDER BY first_position;

-- nobody changes a partition's rows, or takes a partition away, or attaches one
CREATE TABLE public.smuggled (LIKE candystore.event_log);
INSERT INTO public.smuggled SELECT * FROM candystore.event_log WHERE position = 1;
UPDATE public.smuggled SET position = 100000;
SELECT s AS attempt, pg_temp.expect_error(s) AS outcome
  FROM unnest(ARRAY[
    $$UPDATE candystore.event_log_p1 SET routing_key = 'x'$$,
    $$DELETE FROM candystore.event_log_p1$$,
    $$DELETE FROM candystore.event_log_p31 WHERE position = 32$$,
    $$TRUNCATE candystore.event_log_p11$$,
    $$TRUNCATE candystore.event_log_default$$,
    $$UPDATE candystore.event_ids SET event_type = 'x'$$,
    $$DELETE FROM candystore.event_ids$$,
    $$TRUNCATE candystore.event_ids$$,
    $$ALTER TABLE candystore.event_log DETACH PARTITION candystore.event_log_p1$$,
    $$ALTER TABLE candystore.event_log DETACH PARTITION candystore.event_log_p1 CONCURRENTLY$$,
    $$DROP TABLE candystore.event_log_p11$$,
    $$DROP TABLE public.smuggled, candystore.event_log_p21$$,
    $$ALTER TABLE candystore.event_log ATTACH PARTITION public.smuggled FOR VALUES FROM (100000) TO (100001)$$]) AS s;
SELECT count(*) AS events, (SELECT count(*) FROM candystore.event_log_partitions) AS partitions,
       (SELECT count(*) FROM public.smuggled) AS smuggled_kept
  FROM candystore.event_log;
DROP TABLE public.smuggled;

-- append() keeps event_ids and the partitions it wrote open for the rest of
-- its statement (src/store_insert.c): partitions made within that statement
-- (the default partition detached, rows moved, attached again) and appends
-- after them still work, each row in its partition
DO $$
BEGIN
    PERFORM candystore.append(pg_temp.env(400));
    PERFORM candystore.append_many(ARRAY(SELECT pg_temp.env(n) FROM generate_series(401, 430) n));
    RAISE NOTICE 'in the default partition: %', (SELECT count(*) FROM candystore.event_log_default);
    PERFORM candystore.make_partitions(3);
    PERFORM candystore.append(pg_temp.env(431));
END $$;
SELECT count(*) AS in_default, (SELECT count(*) FROM candystore.event_log
                                  WHERE (envelope->'payload'->>'n')::int BETWEEN 400 AND 431) AS stored
  FROM candystore.event_log_default;
SELECT max(last_position) >= (SELECT max(position) FROM candystore.event_log) AS every_row_in_a_range_partition
  FROM candystore.event_log_partitions;

\c :home_database
DROP DATABASE regress_candystore_partitions;
