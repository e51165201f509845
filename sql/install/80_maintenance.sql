
-- Maintenance with pg_cron ----------------------------------------------------------
-- candystore works without pg_cron; where pg_cron is installed in the same
-- database, schedule_maintenance() registers the housekeeping jobs and
-- unschedule_maintenance() removes them.  Jobs are named candystore-*.

CREATE FUNCTION @extschema@.maintenance_jobs(outbox_retention interval DEFAULT '7 days',
                                               dead_letter_retention interval DEFAULT '7 days',
                                               event_retention interval DEFAULT NULL)
    RETURNS TABLE(job_name text, schedule text, command text)
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('candystore-outbox-cleanup', '17 * * * *',
            format('SELECT @extschema@.cleanup_outbox(%L)', outbox_retention)),
           ('candystore-dead-letters-prune', '47 * * * *',
            format('SELECT @extschema@.prune_dead_letters(%L)', dead_letter_retention)),
           ('candystore-outbox-retry', '*/5 * * * *', 'SELECT @extschema@.retry_outbox()'),
           ('candystore-partitions-premake', '7,37 * * * *', 'SELECT @extschema@.make_partitions()'),
           ('candystore-purged-partitions-drop', '27 * * * *', 'SELECT @extschema@.drop_purged_partitions()')
    UNION ALL
    -- event retention only when asked for: purging events is the user's decision
    SELECT 'candystore-events-purge', '57 * * * *', format('SELECT @extschema@.purge_events(%L)', event_retention)
     WHERE event_retention IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.maintenance_jobs(interval, interval, interval) IS
    'The jobs schedule_maintenance() registers: name, cron schedule, command.';

CREATE FUNCTION @extschema@.schedule_maintenance(outbox_retention interval DEFAULT '7 days',
                                                   dead_letter_retention interval DEFAULT '7 days',
                                                   event_retention interval DEFAULT NULL)
    RETURNS TABLE(job_name text, schedule text, command text, jobid bigint)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Add pg_cron to shared_preload_libraries, set cron.database_name = %L, restart, and run CREATE EXTENSION pg_cron.', current_database());
    END IF;
    IF outbox_retention < interval '0' THEN
        RAISE EXCEPTION 'outbox_retention must not be negative, not %', outbox_retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF dead_letter_retention < interval '0' THEN
        RAISE EXCEPTION 'dead_letter_retention must not be negative, not %', dead_letter_retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF event_retention <= interval '0' THEN
        RAISE EXCEPTION 'event_retention must be positive, not %', event_retention
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave it NULL (the default) to keep every event; purge_events() keeps what the outbox and subscriptions still need.';
    END IF;
    FOR job IN SELECT * FROM @extschema@.maintenance_jobs(outbox_retention, dead_letter_retention, event_retention) LOOP
        job_name := job.job_name;
        schedule := job.schedule;
        command := job.command;
        -- scheduling a name that exists replaces that job
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, current_database())'
            INTO jobid USING job.job_name, job.schedule, job.command;
        RETURN NEXT;
    END LOOP;
    -- the jobs are those of the last call: without event_retention, no purge
    IF event_retention IS NULL THEN
        EXECUTE 'SELECT count(cron.unschedule(jobid)) FROM cron.job
                  WHERE jobname = ''candystore-events-purge'' AND database = current_database()';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.schedule_maintenance(interval, interval, interval) IS
    'Registers candystore''s housekeeping jobs with pg_cron (running them again updates them); with event_retention, also purge_events(event_retention) hourly.';
REVOKE ALL ON FUNCTION @extschema@.schedule_maintenance(interval, interval, interval) FROM PUBLIC;

CREATE FUNCTION @extschema@.unschedule_maintenance() RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed bigint := 0;
    name text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN 0;
    END IF;
    FOR name IN EXECUTE 'SELECT jobname FROM cron.job WHERE jobname LIKE ''candystore-%'' AND database = current_database()' LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING name;
        removed := removed + 1;
    END LOOP;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION @extschema@.unschedule_maintenance() IS
    'Removes the jobs schedule_maintenance() registered; returns how many.';
REVOKE ALL ON FUNCTION @extschema@.unschedule_maintenance() FROM PUBLIC;

-- Monitoring: event_log's partitions ------------------------------------------------
-- One row per partition (the default one last): its positions, size, rows
-- (the planner's estimate), the newest event (purge_events(older_than) drops
-- it once that is older than older_than, unless unsent outbox rows or a
-- subscription hold it), and the outbox rows it holds unsent.
CREATE VIEW @extschema@.partitions AS
SELECT c.oid::regclass AS partition,
       p.first_position,
       p.last_position,
       pg_catalog.pg_total_relation_size(c.oid) AS bytes,
       greatest(c.reltuples, 0)::bigint AS estimated_events,
       CASE WHEN p.first_position IS NULL
            THEN (SELECT max(d.occurred_at) FROM @extschema@.event_log_default d)
            ELSE (SELECT max(e.occurred_at) FROM @extschema@.event_log e
                   WHERE e.position BETWEEN p.first_position AND p.last_position)
       END AS newest_occurred_at,
       (SELECT count(*) FROM @extschema@.outbox o
         WHERE o.published_at IS NULL AND p.first_position IS NOT NULL
           AND o.position BETWEEN p.first_position AND p.last_position) AS unsent_outbox_rows
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
  LEFT JOIN @extschema@.event_log_partitions p ON p.partition = c.oid::regclass
 WHERE i.inhparent = '@extschema@.event_log'::regclass;
COMMENT ON VIEW @extschema@.partitions IS
    'event_log''s partitions: positions, size, estimated rows, newest event and unsent outbox rows.';

-- One row: how many partitions, how big, the oldest and newest, how many
-- positions are made ahead, and what retention would do next.
CREATE VIEW @extschema@.partition_status AS
WITH reached AS (
    SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS position
      FROM @extschema@.event_ids_position_seq),
ranged AS (SELECT * FROM @extschema@.partitions WHERE first_position IS NOT NULL),
oldest AS (SELECT * FROM ranged ORDER BY first_position LIMIT 1),
newest AS (SELECT * FROM ranged ORDER BY first_position DESC LIMIT 1)
SELECT (SELECT count(*) FROM ranged) AS partitions,
       (SELECT sum(bytes) FROM @extschema@.partitions)::bigint AS bytes,
       (SELECT count(*) FROM @extschema@.event_log_default) AS events_in_default_partition,
       (SELECT partition FROM oldest) AS oldest_partition,
       (SELECT partition FROM newest) AS newest_partition,
       (SELECT last_position FROM newest) - (SELECT position FROM reached) AS positions_made_ahead,
       CASE
         WHEN NOT EXISTS (SELECT FROM oldest) THEN 'none: no range partitions yet; run make_partitions()'
         WHEN (SELECT last_position FROM oldest) > (SELECT position FROM reached)
           THEN 'none: the oldest partition is still being filled'
         WHEN (SELECT unsent_outbox_rows FROM oldest) > 0
           THEN format('%s is kept while it holds %s unsent outbox rows',
                       (SELECT partition FROM oldest), (SELECT unsent_outbox_rows FROM oldest))
         ELSE format('purge_events(older_than) detaches %s into candystore_purged once older_than < %s (unless a subscription has yet to read it); drop_purged_partitions() drops it later',
                     (SELECT partition FROM oldest),
                     pg_catalog.date_trunc('second', pg_catalog.now() - (SELECT newest_occurred_at FROM oldest)))
       END AS next_retention_action;
COMMENT ON VIEW @extschema@.partition_status IS
    'event_log''s partitions in one row: count, bytes, oldest and newest, positions made ahead, the next retention action.';
REVOKE ALL ON @extschema@.partitions, @extschema@.partition_status FROM PUBLIC;
GRANT SELECT ON @extschema@.partitions, @extschema@.partition_status TO pg_monitor;
