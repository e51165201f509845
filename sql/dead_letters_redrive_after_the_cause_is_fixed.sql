-- redrive_dead_letters() appends recorded dead letters again: those that now
-- pass are stored (or found stored) and marked redriven with their position;
-- the others keep their row with the new reason and one more attempt, and do
-- not stop the rest.  prune_dead_letters() removes only redriven ones.
\i sql/helpers/expect_error.sql
CREATE ROLE regress_dl_writer IN ROLE candystore_writer;
CREATE ROLE regress_dl_reader IN ROLE candystore_reader;

-- Dead letters as the ingest worker records them: reason, SQLSTATE, routing
-- key, headers, raw body.
CREATE TEMP TABLE letters (name text PRIMARY KEY, id bigint);
CREATE FUNCTION pg_temp.dead_letter(name text, reason text, sqlstate text, body bytea,
                                    routing_key text) RETURNS bigint
LANGUAGE sql AS $$
    WITH l AS (
        INSERT INTO candystore.dead_letters (reason, sqlstate, routing_key, headers, body)
        VALUES (reason, sqlstate, routing_key, '{"x-producer": "regress"}', body)
        RETURNING id)
    INSERT INTO letters SELECT name, id FROM l RETURNING id
$$;
-- stored before: an event whose id a bad producer later reused
SELECT candystore.append(pg_temp.sample_envelope('bd000000-0000-4000-8000-000000000010')) > 0 AS taken_id_stored;
-- stored before: the event a retried, identical message carries
SELECT candystore.append(pg_temp.sample_envelope('bd000000-0000-4000-8000-000000000020'), 'test.redrive') > 0 AS retried_event_stored;

SELECT count(pg_temp.dead_letter(name, reason, sqlstate, body, routing_key)) AS recorded
  FROM (VALUES
    -- rejected by a payload schema that has since been fixed: the body is a valid envelope
    ('schema_fixed', 'payload does not match schema fireflies.transcript.ready 1.0.0', '23514',
     convert_to(pg_temp.sample_envelope('bd000000-0000-4000-8000-000000000001')::text, 'UTF8'), 'eu.fireflies.transcript.ready'),
    ('malformed_json', 'malformed JSON: ...', '22P02', convert_to('{"event_id": ', 'UTF8'), 'test.redrive'),
    ('not_utf8', 'message body is not valid text in the database encoding', '22021', '\xff7b7d'::bytea, 'test.redrive'),
    ('no_event_type', 'envelope is missing event_type', '22004',
     convert_to((pg_temp.sample_envelope('bd000000-0000-4000-8000-000000000003') - 'event_type')::text, 'UTF8'), 'test.redrive'),
    ('id_taken', 'old reason', '23505',
     convert_to(jsonb_set(pg_temp.sample_envelope('bd000000-0000-4000-8000-000000000010'), '{payload}', '{"id": "ff_other", "other": true}')::text, 'UTF8'), 'test.redrive'),
    -- the same message came again after the event had been stored
    ('already_stored', 'could not serialize access', '40001',
     convert_to(pg_temp.sample_envelope('bd000000-0000-4000-8000-000000000020')::text, 'UTF8'), 'test.redrive'),
    -- left for a redrive of all
    ('later', 'payload does not match schema', '23514',
     convert_to(pg_temp.sample_envelope('bd000000-0000-4000-8000-000000000030')::text, 'UTF8'), 'test.redrive')
  ) AS v(name, reason, sqlstate, body, routing_key);

CREATE TEMP VIEW redriven AS
SELECT l.name, d.redrive_attempts AS attempts, d.redriven_at IS NOT NULL AS redriven,
       e.event_id, e.routing_key, d.sqlstate,
       regexp_replace(d.reason, 'position \d+', 'position N') AS reason  -- positions depend on the tests before
  FROM letters l JOIN candystore.dead_letters d USING (id)
  LEFT JOIN candystore.events e ON e.position = d.position
 ORDER BY l.id;

-- a writer may redrive, though it cannot update dead_letters itself
SELECT has_table_privilege('regress_dl_writer', 'candystore.dead_letters', 'UPDATE') AS writer_can_update;
SELECT array_agg(id) AS first_ids FROM letters WHERE name <> 'later' \gset
SET ROLE regress_dl_writer;
SELECT candystore.redrive_dead_letters(:'first_ids') AS resolved;
RESET ROLE;
-- stored (with the routing key it came with) or found stored; the rest keep
-- their row with today's reason
SELECT * FROM redriven;
SELECT count(*) AS stored_once FROM candystore.events
 WHERE event_id IN ('bd000000-0000-4000-8000-000000000001', 'bd000000-0000-4000-8000-000000000020');
SELECT payload AS id_taken_keeps_its_event FROM candystore.events WHERE event_id = 'bd000000-0000-4000-8000-000000000010';

-- again, all: the redriven are not tried again, the failing ones are; the
-- one left out before is stored now
SELECT candystore.redrive_dead_letters() AS resolved_all;
SELECT name, attempts, redriven FROM redriven;
-- redriving ids already redriven, unknown or NULL does nothing
SELECT candystore.redrive_dead_letters(ARRAY(SELECT id FROM letters WHERE name = 'schema_fixed') || ARRAY[-1, NULL]::bigint[]) AS nothing_left;
SELECT candystore.redrive_dead_letters('{}') AS empty_list;
SELECT max(attempts) AS schema_fixed_attempts FROM redriven WHERE name = 'schema_fixed';

-- readers may not redrive; pruning is for the owner (and its pg_cron job)
SELECT r AS role,
       has_function_privilege(r, 'candystore.redrive_dead_letters(bigint[])', 'EXECUTE') AS can_redrive,
       has_function_privilege(r, 'candystore.prune_dead_letters(interval)', 'EXECUTE') AS can_prune
  FROM unnest(ARRAY['candystore_reader', 'candystore_writer', 'public']) AS r
 ORDER BY r;
SET ROLE regress_dl_reader;
SELECT pg_temp.expect_error('SELECT candystore.redrive_dead_letters()') AS reader_redrives;
RESET ROLE;

-- prune: redriven more than the retention ago go; recent ones and those never
-- redriven (however old) stay
UPDATE candystore.dead_letters SET received_at = now() - interval '30 days'
 WHERE id IN (SELECT id FROM letters);
UPDATE candystore.dead_letters SET redriven_at = now() - interval '10 days'
 WHERE id IN (SELECT id FROM letters WHERE name IN ('schema_fixed', 'already_stored'));
SELECT candystore.prune_dead_letters() AS pruned_default_7_days;
SELECT name, redriven FROM redriven;
SELECT candystore.prune_dead_letters('0') AS pruned_all_redriven;
SELECT name FROM redriven;
SELECT pg_temp.expect_error($$SELECT candystore.prune_dead_letters('-1 day')$$) AS negative_retention;

DELETE FROM candystore.dead_letters WHERE id IN (SELECT id FROM letters);
DROP ROLE regress_dl_writer, regress_dl_reader;
