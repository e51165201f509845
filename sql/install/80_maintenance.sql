
-- Maintenance with pg_cron ----------------------------------------------------------
-- candystore works without pg_cron; where pg_cron is installed in the same
-- database, schedule_maintenance() registers the housekeeping jobs and
-- unschedule_maintenance() removes them.  Jobs are named candystore-*.

CREATE FUNCTION @extschema@.maintenance_jobs(outbox_retention interval DEFAULT '7 days',
                                               dead_letter_retention interval DEFAULT '7 days')
    RETURNS TABLE(job_name text, schedule text, command text)
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('candystore-outbox-cleanup', '17 * * * *',
            format('SELECT @extschema@.cleanup_outbox(%L)', outbox_retention)),
           ('candystore-dead-letters-prune', '47 * * * *',
            format('SELECT @extschema@.prune_dead_letters(%L)', dead_letter_retention)),
           ('candystore-outbox-retry', '*/5 * * * *', 'SELECT @extschema@.retry_outbox()')
$$;
COMMENT ON FUNCTION @extschema@.maintenance_jobs(interval, interval) IS
    'The jobs schedule_maintenance() registers: name, cron schedule, command.';

CREATE FUNCTION @extschema@.schedule_maintenance(outbox_retention interval DEFAULT '7 days',
                                                   dead_letter_retention interval DEFAULT '7 days')
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
    FOR job IN SELECT * FROM @extschema@.maintenance_jobs(outbox_retention, dead_letter_retention) LOOP
        job_name := job.job_name;
        schedule := job.schedule;
        command := job.command;
        -- scheduling a name that exists replaces that job
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, current_database())'
            INTO jobid USING job.job_name, job.schedule, job.command;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.schedule_maintenance(interval, interval) IS
    'Registers candystore''s housekeeping jobs with pg_cron (running them again updates them).';
REVOKE ALL ON FUNCTION @extschema@.schedule_maintenance(interval, interval) FROM PUBLIC;

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
