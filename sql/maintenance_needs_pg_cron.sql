-- Without pg_cron candystore works and says how to enable maintenance;
-- the jobs it would schedule are listed.
\i sql/helpers/expect_error.sql
SELECT * FROM candystore.maintenance_jobs();
SELECT * FROM candystore.maintenance_jobs('1 day');
SELECT * FROM candystore.maintenance_jobs(dead_letter_retention => '30 days');
-- event retention is a job only when asked for
SELECT * FROM candystore.maintenance_jobs(event_retention => '400 days') WHERE job_name = 'candystore-events-purge';
\set VERBOSITY default
SELECT * FROM candystore.schedule_maintenance();
\set VERBOSITY terse
SELECT candystore.unschedule_maintenance() AS removed_without_pg_cron;
SELECT candystore.cleanup_outbox() >= 0 AS cleanup_runs_by_hand;
SELECT candystore.prune_dead_letters() >= 0 AS prune_runs_by_hand;
