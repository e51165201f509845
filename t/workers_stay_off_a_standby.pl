# A primary and a streaming hot standby, candystore preloaded on both with
# the same settings.  Neither background worker runs on the standby (they
# start at BgWorkerStart_RecoveryFinished); the standby serves the readers
# (get_event, trace, session_timeline, read_all, wait_for_events); LISTEN
# is refused there.  After promotion the workers start by themselves and
# ingestion resumes on the new primary.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;
use CandystoreCluster;

start_broker();

sub workers_running
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'candystore%'});
}

my $primary = candystore_primary(
	'primary', q{
candystore.batch_size = 100
candystore.batch_timeout_ms = 20
candystore.reconnect_max_ms = 1000
});

# A parent and its child in one session, for trace and session_timeline.
my $envelope = '{"event_id":"%s","event_type":"test.standby","timestamp":"2026-01-27T10:15:00Z",'
  . '"version":"1.0.0","source":{"host":"h","type":"webhook"},"correlation_ids":[%s],'
  . '"payload":{"session_id":"standby-session"}}';
my $parent = '0000005a-0000-4000-8000-000000000001';
my $child = '0000005a-0000-4000-8000-000000000002';
amqp_publish('test.standby', sprintf($envelope, $parent, ''));
amqp_publish('test.standby', sprintf($envelope, $child, qq{"$parent"}));
publish_run(1, 500);
$primary->poll_query_until('postgres',
	q{SELECT count(*) = 502 FROM candystore.event_log})
  or die "the first events never arrived";

my $standby = add_standby($primary, 'standby');

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
# give the postmaster time to start a worker, were it to start one
sleep 2;
is(workers_running($standby), '0', 'no candystore worker runs on the standby');
is($standby->safe_psql('postgres',
		q{SELECT count(*) FROM candystore.worker_status() WHERE pid IS NOT NULL AND pid <> 0}),
	'0', 'worker_status() on the standby shows no worker process');
is(workers_running($primary), '2', 'both workers run on the primary');
is(stored_run($standby, 1), '500', 'the standby has what the primary stored');

# Reads on the standby.
is($standby->safe_psql('postgres', "SELECT candystore.get_event('$child')->>'event_type'"),
	'test.standby', 'get_event works on the standby');
is($standby->safe_psql('postgres',
		"SELECT string_agg(event_id::text || ':' || depth, ',' ORDER BY depth) FROM candystore.trace('$child')"),
	"$parent:0,$child:1", 'trace works on the standby');
is($standby->safe_psql('postgres',
		"SELECT string_agg(event_id::text, ',' ORDER BY position) FROM candystore.session_timeline('standby-session')"),
	"$parent,$child", 'session_timeline works on the standby');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM candystore.read_all(NULL, 10000)'),
	'502', 'read_all from the beginning works on the standby');
my $cursor = $standby->safe_psql('postgres',
	q{SELECT cursor FROM (SELECT cursor, row_number() OVER () n FROM candystore.read_all(NULL, 10000)) r ORDER BY n DESC LIMIT 1});
is($standby->safe_psql('postgres', "SELECT count(*) FROM candystore.read_all('$cursor', 10000)"),
	'0', 'a cursor read on the standby reads on');

# LISTEN is refused during recovery: a reader polls read_all (or
# wait_for_events) on a standby instead.
my ($ret, $out, $err) = $standby->psql('postgres', 'LISTEN candystore_events');
isnt($ret, 0, 'LISTEN is refused on the standby');
like($err, qr/cannot execute LISTEN during recovery/, 'LISTEN on the standby: the server says why');

# wait_for_events on the standby returns when replay brings an event after
# the cursor (no transaction of the standby appends, so it re-checks).
my $waiter = $standby->background_psql('postgres');
$waiter->query_until(qr/started/,
	qq{\\echo started\nSELECT candystore.wait_for_events('$cursor', '60 s') || ' ' || (clock_timestamp() - statement_timestamp() < '30 s');\n});
publish_run(2, 10);
$primary->poll_query_until('postgres', 'SELECT count(*) = 512 FROM candystore.event_log')
  or die "run 2 never arrived on the primary";
my $woke = $waiter->query_safe('SELECT 1');
like($woke, qr/^true true$/m,
	'wait_for_events on the standby returns true when replay brings events, without waiting out its timeout');
$waiter->quit;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT count(*) FROM candystore.read_all('$cursor', 10000)"),
	'10', 'read_all on the standby reads the replayed events after the cursor');

# Failover: the primary goes away, the standby is promoted.
$primary->stop('immediate');
publish_run(3, 300);
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die "the standby was never promoted";
$standby->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type LIKE 'candystore%'")
  or diag('the workers did not start after promotion');
is(workers_running($standby), '2', 'after promotion both workers start by themselves');
$standby->poll_query_until('postgres',
	q{SELECT count(*) = 300 FROM candystore.event_log WHERE event_id::text LIKE '00000003-%'})
  or diag('ingest did not resume on the promoted standby');
is(stored_run($standby, 3), '300', 'after promotion ingestion resumes on the new primary');
is($standby->safe_psql('postgres',
		q{SELECT state FROM candystore.worker_status() WHERE kind = 'ingest'}),
	'consuming', 'worker_status() on the new primary shows the ingest worker consuming');
is(stored_twice($standby), '0', 'no event stored twice');

$standby->stop;
stop_broker();
done_testing();
