-- candystore_reader reads; candystore_writer also appends; neither can
-- change or remove events; PUBLIC gets nothing.  Functions that run with
-- raised privileges pin search_path.
\i sql/helpers/expect_error.sql
CREATE ROLE regress_cs_reader IN ROLE candystore_reader;
CREATE ROLE regress_cs_writer IN ROLE candystore_writer;
CREATE ROLE regress_cs_nobody;
-- runs a statement as a role and reports what happened
CREATE FUNCTION pg_temp.as_role(role text, statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    outcome text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', role);
    outcome := pg_temp.expect_error(statement);
    RESET ROLE;
    RETURN outcome;
END
$$;
SELECT candystore.append(pg_temp.sample_envelope('e5000000-0000-4000-8000-000000000001')) > 0 AS appended;

CREATE TEMP TABLE attempts (statement text);
INSERT INTO attempts VALUES
    ($$SELECT count(*) FROM candystore.events WHERE event_id = 'e5000000-0000-4000-8000-000000000001'$$),
    ($$SELECT candystore.get_event('e5000000-0000-4000-8000-000000000001') IS NOT NULL$$),
    ($$SELECT candystore.append(pg_temp.sample_envelope(gen_random_uuid()))$$),
    ($$SELECT count(*) FROM candystore.event_log$$),
    ($$INSERT INTO candystore.event_log (event_id, event_type, occurred_at, correlation_ids, envelope) VALUES (gen_random_uuid(), 'a.b', now(), '{}', '{}')$$),
    ($$UPDATE candystore.events SET routing_key = 'x'$$),
    ($$DELETE FROM candystore.events$$),
    ($$TRUNCATE candystore.event_log$$);

SELECT r.role, a.statement,
       pg_temp.as_role(r.role, a.statement) AS outcome
  FROM (VALUES ('regress_cs_reader'), ('regress_cs_writer'), ('regress_cs_nobody')) AS r(role)
  CROSS JOIN attempts a
 ORDER BY r.role, a.statement;

-- what each role ended up able to do, from the catalogs
SELECT r AS role,
       has_function_privilege(r, 'candystore.append(jsonb, text)', 'EXECUTE') AS can_append,
       has_function_privilege(r, 'candystore.get_event(uuid)', 'EXECUTE') AS can_get_event,
       has_table_privilege(r, 'candystore.events', 'SELECT') AS can_read,
       has_table_privilege(r, 'candystore.event_log', 'UPDATE, DELETE, TRUNCATE') AS can_change
  FROM unnest(ARRAY['candystore_reader', 'candystore_writer', 'regress_cs_nobody']) AS r
 ORDER BY r;

-- every SECURITY DEFINER function of the extension pins search_path
SELECT count(*) > 0 AS has_definer_functions
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'candystore')
   AND p.prosecdef;
SELECT count(*) AS definer_functions_without_pinned_search_path
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'candystore')
   AND p.prosecdef
   AND NOT coalesce(p.proconfig::text[] && ARRAY['search_path=pg_catalog, pg_temp'], false);

-- search_path games cannot redirect a writer's append: a hostile event_log
-- in the caller's schema is ignored
CREATE SCHEMA regress_evil;
CREATE TABLE regress_evil.event_log (LIKE candystore.event_log);
GRANT ALL ON SCHEMA regress_evil TO PUBLIC;
GRANT ALL ON regress_evil.event_log TO PUBLIC;
SET search_path = regress_evil, public;
SELECT pg_temp.as_role('regress_cs_writer', $$SELECT candystore.append(pg_temp.sample_envelope('e5000000-0000-4000-8000-000000000002'))$$) AS writer_append;
RESET search_path;
SELECT (SELECT count(*) FROM regress_evil.event_log) AS in_evil_table,
       (SELECT count(*) FROM candystore.events WHERE event_id = 'e5000000-0000-4000-8000-000000000002') AS in_store;

DROP SCHEMA regress_evil CASCADE;
DROP ROLE regress_cs_reader, regress_cs_writer, regress_cs_nobody;
