-- Stored events never change: UPDATE, DELETE and TRUNCATE fail for every
-- role, the superuser included, through the view and the table alike.
\i sql/helpers/expect_error.sql
SELECT candystore.append(pg_temp.sample_envelope('d4000000-0000-4000-8000-000000000001')) > 0 AS appended;
CREATE TEMP TABLE before AS SELECT * FROM candystore.event_log WHERE event_id = 'd4000000-0000-4000-8000-000000000001';

SELECT current_setting('is_superuser') AS superuser,
       pg_temp.expect_error($$UPDATE candystore.event_log SET routing_key = 'x' WHERE event_id = 'd4000000-0000-4000-8000-000000000001'$$) AS update_table,
       pg_temp.expect_error($$UPDATE candystore.events SET routing_key = 'x' WHERE event_id = 'd4000000-0000-4000-8000-000000000001'$$) AS update_view;
SELECT pg_temp.expect_error($$UPDATE candystore.event_log SET envelope = envelope || '{"payload": {}}'$$) AS rewrite_all,
       pg_temp.expect_error($$DELETE FROM candystore.event_log WHERE event_id = 'd4000000-0000-4000-8000-000000000001'$$) AS delete_table,
       pg_temp.expect_error($$DELETE FROM candystore.events$$) AS delete_view,
       pg_temp.expect_error($$TRUNCATE candystore.event_log$$) AS truncate;
-- the view's derived columns cannot be written either
SELECT pg_temp.expect_error($$UPDATE candystore.events SET payload = '{}'$$) AS update_derived;

-- the full report
\set VERBOSITY default
DELETE FROM candystore.events WHERE event_id = 'd4000000-0000-4000-8000-000000000001';
\set VERBOSITY terse

-- nothing changed
SELECT e.position = b.position AND e.envelope = b.envelope AND e.routing_key IS NOT DISTINCT FROM b.routing_key
       AND e.recorded_at = b.recorded_at AS unchanged
  FROM candystore.event_log e JOIN before b USING (event_id);
