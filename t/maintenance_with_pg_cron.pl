# With pg_cron preloaded, schedule_maintenance() registers candystore's jobs
# in this database (with event_retention, an hourly purge_events()),
# scheduling again updates rather than duplicates them,
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
is($jobs, 'candystore-dead-letters-prune 47 * * * *,candystore-outbox-cleanup 17 * * * *,candystore-outbox-retry */5 * * * *,candystore-partitions-premake 7,37 * * * *,candystore-purged-partitions-drop 27 * * * *', 'schedule_maintenance registers the jobs');
is($node->safe_psql('postgres', q{SELECT command FROM cron.job WHERE jobname = 'candystore-outbox-cleanup'}),
	q{SELECT candystore.cleanup_outbox('2 days')}, 'the job runs cleanup_outbox with the retention given');
is($node->safe_psql('postgres', q{SELECT command FROM cron.job WHERE jobname = 'candystore-dead-letters-prune'}),
	q{SELECT candystore.prune_dead_letters('7 days')}, 'the dead-letter job prunes with the default retention');
is($node->safe_psql('postgres', q{SELECT command FROM cron.job WHERE jobname = 'candystore-outbox-retry'}),
	q{SELECT candystore.retry_outbox()}, 'the retry job runs retry_outbox');

# an unrelated job must survive unscheduling
$node->safe_psql('postgres', q{SELECT cron.schedule('someone-elses-job', '0 3 * * *', 'SELECT 1')});

$node->safe_psql('postgres', q{SELECT count(*) FROM candystore.schedule_maintenance('3 days', '30 days')});
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || string_agg(command, ', ' ORDER BY command) FROM cron.job WHERE jobname LIKE 'candystore-%'}),
	q{5 SELECT candystore.cleanup_outbox('3 days'), SELECT candystore.drop_purged_partitions(), SELECT candystore.make_partitions(), SELECT candystore.prune_dead_letters('30 days'), SELECT candystore.retry_outbox()},
	'scheduling again updates the jobs instead of adding more');
my ($rc, $out, $err) = $node->psql('postgres', q{SELECT * FROM candystore.schedule_maintenance('3 days', '-1 day')});
like($err, qr/dead_letter_retention must not be negative/, 'a negative dead-letter retention is refused');

# Event retention: a job only when asked for, and the jobs follow the last call.
is($node->safe_psql('postgres',
		q{SELECT string_agg(command, ',') FROM candystore.schedule_maintenance('3 days', '30 days', event_retention => '400 days')
		   WHERE job_name = 'candystore-events-purge'}),
	q{SELECT candystore.purge_events('400 days')}, 'event_retention adds the purge job');
is($node->safe_psql('postgres', q{SELECT schedule FROM cron.job WHERE jobname = 'candystore-events-purge'}),
	'57 * * * *', 'the purge runs hourly');
is($node->safe_psql('postgres', q{SELECT candystore.purge_events('400 days')}), '0',
	'its command runs (nothing that old here)');
($rc, $out, $err) = $node->psql('postgres', q{SELECT * FROM candystore.schedule_maintenance(event_retention => '0')});
like($err, qr/event_retention must be positive/, 'a zero event retention is refused');
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE jobname = 'candystore-events-purge'}),
	'1', 'and the refused call changed nothing');
$node->safe_psql('postgres', q{SELECT count(*) FROM candystore.schedule_maintenance('3 days', '30 days')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE jobname LIKE 'candystore-%'}),
	'5', 'scheduling again without event_retention removes the purge job');

is($node->safe_psql('postgres', 'SELECT candystore.unschedule_maintenance()'), '5', 'unschedule_maintenance removes its jobs');
is($node->safe_psql('postgres', q{SELECT string_agg(jobname, ',') FROM cron.job}), 'someone-elses-job',
	'and only its jobs');

# A job runs for real: published outbox rows older than the retention go.
$node->safe_psql('postgres', q{
	SELECT candystore.publish('{"event_id": "72000000-0000-4000-8000-000000000001", "event_type": "artifact.created",
	  "timestamp": "2026-01-27T10:00:00Z", "version": "1.0.0", "source": {"host": "h", "type": "manual"}, "payload": {}}');
	UPDATE candystore.outbox SET published_at = now() - interval '10 days';
	SELECT cron.schedule('candystore-outbox-cleanup-test', '* * * * *', $$SELECT candystore.cleanup_outbox('1 day')$$);
});
# ... and dead letters redriven more than the retention ago; one that was
# never redriven stays, however old.
$node->safe_psql('postgres', q{
	INSERT INTO candystore.dead_letters (received_at, reason, sqlstate, routing_key, body, redriven_at, position)
	VALUES (now() - interval '20 days', 'fixed since', '23514', 'rk', '\x7b7d', now() - interval '10 days', 1),
	       (now() - interval '20 days', 'still broken', '22P02', 'rk', '\x7b', NULL, NULL);
	SELECT cron.schedule('candystore-dead-letters-prune-test', '* * * * *', $$SELECT candystore.prune_dead_letters('1 day')$$);
});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM candystore.outbox', 't'),
	'pg_cron ran the cleanup job within its minute');
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.events'), '1', 'cleaning the outbox keeps the event');
ok($node->poll_query_until('postgres', q{SELECT string_agg(reason, ',') = 'still broken' FROM candystore.dead_letters}, 't'),
	'pg_cron ran the prune job: the redriven dead letter is gone, the other stays');

$node->stop;
done_testing();
