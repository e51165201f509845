-- With session_replication_role = replica ordinary triggers do not fire; the
-- triggers that keep events immutable and the schema registry and its
-- resources add-only are ENABLE ALWAYS, so a superuser in replica mode is refused as in origin
-- mode.  purge_events() still works there.  It runs in a database of its
-- own: it purges.
SELECT current_database() AS home_database \gset
DROP DATABASE IF EXISTS regress_candystore_replica_mode;
CREATE DATABASE regress_candystore_replica_mode;
\c regress_candystore_replica_mode
CREATE EXTENSION candystore;
\i sql/helpers/expect_error.sql
-- partitions of two positions: the events below land in several
SELECT string_agg(p, ', ') AS partitions FROM candystore.make_partitions(2, 2) p;

-- the protective triggers fire in every mode
SELECT c.relname, t.tgname, t.tgenabled
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'candystore'::regnamespace AND NOT t.tgisinternal
   AND NOT c.relispartition
 ORDER BY 1, 2;
-- and on every partition of event_log (the row trigger cloned from event_log)
SELECT t.tgname, t.tgenabled, count(*) AS partitions
  FROM pg_inherits i JOIN pg_trigger t ON t.tgrelid = i.inhrelid
 WHERE i.inhparent = 'candystore.event_log'::regclass AND NOT t.tgisinternal
 GROUP BY 1, 2 ORDER BY 1, 2;

SELECT candystore.append(pg_temp.sample_envelope('d5000000-0000-4000-8000-000000000001')) > 0 AS appended;
SELECT candystore.append(jsonb_set(pg_temp.sample_envelope('d5000000-0000-4000-8000-000000000002'),
                                   '{timestamp}', '"1990-01-01T00:00:00Z"')) > 0 AS appended_old;
SELECT candystore.register_schema('regress.replica.checked', '{"type": "object"}') AS registered;
-- (this session now holds version 1 as the latest)
SELECT candystore.append(jsonb_set(jsonb_set(
           pg_temp.sample_envelope('d5000000-0000-4000-8000-000000000004'), '{event_type}', '"regress.replica.checked"'),
           '{payload}', '{"n": "one"}')) > 0 AS appended_v1;
CREATE TEMP TABLE events_before AS SELECT * FROM candystore.event_log;
CREATE TEMP TABLE schemas_before AS SELECT * FROM candystore.schemas;
SELECT candystore.add_schema_resource('https://regress.example/replica.json', '{"type": "string"}');
CREATE TEMP TABLE resources_before AS SELECT * FROM candystore.schema_resources;

SET session_replication_role = replica;
SELECT current_setting('is_superuser') AS superuser, current_setting('session_replication_role') AS mode;
SELECT s AS attempt, pg_temp.expect_error(s) AS outcome
  FROM unnest(ARRAY[
    $$UPDATE candystore.event_log SET routing_key = 'x'$$,
    $$UPDATE candystore.events SET routing_key = 'x'$$,
    $$DELETE FROM candystore.event_log$$,
    $$DELETE FROM candystore.events WHERE event_id = 'd5000000-0000-4000-8000-000000000001'$$,
    $$TRUNCATE candystore.event_log$$,
    $$UPDATE candystore.event_log_p1 SET routing_key = 'x'$$,
    $$DELETE FROM candystore.event_log_p1$$,
    $$TRUNCATE candystore.event_log_p1$$,
    $$ALTER TABLE candystore.event_log DETACH PARTITION candystore.event_log_p1$$,
    $$DROP TABLE candystore.event_log_p1$$,
    $$DELETE FROM candystore.event_ids$$,
    $$TRUNCATE candystore.event_ids$$,
    $$UPDATE candystore.schemas SET schema = '{}' WHERE event_type = 'regress.replica.checked'$$,
    $$DELETE FROM candystore.schemas WHERE event_type = 'regress.replica.checked'$$,
    $$TRUNCATE candystore.schemas$$,
    $$UPDATE candystore.schema_resources SET document = 'true' WHERE uri = 'https://regress.example/replica.json'$$,
    $$DELETE FROM candystore.schema_resources$$,
    $$TRUNCATE candystore.schema_resources$$]) AS s;
SELECT (SELECT count(*) FROM candystore.event_log) AS events,
       NOT EXISTS (SELECT * FROM candystore.event_log EXCEPT SELECT * FROM events_before) AS events_unchanged,
       NOT EXISTS (SELECT * FROM candystore.schemas EXCEPT SELECT * FROM schemas_before)
       AND (SELECT count(*) FROM candystore.schemas) = (SELECT count(*) FROM schemas_before) AS schemas_unchanged,
       NOT EXISTS (SELECT * FROM candystore.schema_resources EXCEPT SELECT * FROM resources_before)
       AND (SELECT count(*) FROM candystore.schema_resources) = (SELECT count(*) FROM resources_before) AS resources_unchanged;

-- a registration in replica mode is seen by the next append (the caches
-- of the latest versions are dropped)
SELECT candystore.register_schema('regress.replica.checked',
    '{"type": "object", "properties": {"n": {"type": "integer"}}}') AS registered_v2;
SELECT pg_temp.expect_error($$SELECT candystore.append(jsonb_set(jsonb_set(
           pg_temp.sample_envelope('d5000000-0000-4000-8000-000000000003'), '{event_type}', '"regress.replica.checked"'),
           '{payload}', '{"n": "one"}'))$$) AS against_v2;

-- the sanctioned deletion still works, in replica mode too
SELECT candystore.purge_events('20 years') AS purged;
SELECT event_id FROM candystore.event_log ORDER BY position;
RESET session_replication_role;

\c :home_database
DROP DATABASE regress_candystore_replica_mode;
