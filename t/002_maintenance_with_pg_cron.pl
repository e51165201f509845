# With pg_cron preloaded, schedule_maintenance() registers candystore's jobs
# in this database, scheduling again updates rather than duplicates them,
# unschedule_maintenance() removes exactly them, and a job really runs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'candystore, pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron; CREATE EXTENSION candystore');

my $jobs = $node->safe_psql('postgres',
	q{SELECT string_agg(job_name || ' ' || schedule, ',' ORDER BY job_name) FROM candystore.schedule_maintenance('2 days')});
is($jobs, 'candystore-outbox-cleanup 17 * * * *,candystore-outbox-retry */5 * * * *', 'schedule_maintenance registers the jobs');
is($node->safe_psql('postgres', q{SELECT command FROM cron.job WHERE jobname = 'candystore-outbox-cleanup'}),
	q{SELECT candystore.cleanup_outbox('2 days')}, 'the job runs cleanup_outbox with the retention given');
is($node->safe_psql('postgres', q{SELECT command FROM cron.job WHERE jobname = 'candystore-outbox-retry'}),
	q{SELECT candystore.retry_outbox()}, 'the retry job runs retry_outbox');

# an unrelated job must survive unscheduling
$node->safe_psql('postgres', q{SELECT cron.schedule('someone-elses-job', '0 3 * * *', 'SELECT 1')});

$node->safe_psql('postgres', q{SELECT count(*) FROM candystore.schedule_maintenance('3 days')});
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || max(command) FILTER (WHERE jobname = 'candystore-outbox-cleanup') FROM cron.job WHERE jobname LIKE 'candystore-%'}),
	q{2 SELECT candystore.cleanup_outbox('3 days')}, 'scheduling again updates the jobs instead of adding more');

is($node->safe_psql('postgres', 'SELECT candystore.unschedule_maintenance()'), '2', 'unschedule_maintenance removes its jobs');
is($node->safe_psql('postgres', q{SELECT string_agg(jobname, ',') FROM cron.job}), 'someone-elses-job',
	'and only its jobs');

# A job runs for real: published outbox rows older than the retention go.
$node->safe_psql('postgres', q{
	SELECT candystore.publish('{"event_id": "72000000-0000-4000-8000-000000000001", "event_type": "artifact.created",
	  "timestamp": "2026-01-27T10:00:00Z", "version": "1.0.0", "source": {"host": "h", "type": "manual"}, "payload": {}}');
	UPDATE candystore.outbox SET published_at = now() - interval '10 days';
	SELECT cron.schedule('candystore-outbox-cleanup-test', '* * * * *', $$SELECT candystore.cleanup_outbox('1 day')$$);
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM candystore.outbox', 't'),
	'pg_cron ran the cleanup job within its minute');
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.events'), '1', 'cleaning the outbox keeps the event');

$node->stop;
done_testing();
