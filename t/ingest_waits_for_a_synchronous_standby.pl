# candystore.require_sync_standby: the ingest worker acks nothing while no
# synchronous standby is connected.  It holds its batch uncommitted and
# unacked (worker_status() says why), the messages stay in the queue and
# nothing is lost; once a synchronous standby is connected they are stored,
# on both servers, and acked.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;
use CandystoreCluster;

start_broker();

sub ingest_state
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{SELECT state FROM candystore.worker_status() WHERE kind = 'ingest'});
}

my $primary = candystore_primary(
	'primary', q{
candystore.batch_size = 100
candystore.batch_timeout_ms = 20
candystore.reconnect_max_ms = 1000
candystore.outbox_publisher = off
candystore.require_sync_standby = on
});

# 1. synchronous_standby_names empty: held, nothing stored, nothing acked
publish_run(1, 250);
$primary->poll_query_until('postgres',
	q{SELECT state LIKE 'waiting: %' FROM candystore.worker_status() WHERE kind = 'ingest'})
  or diag('the worker never said it waits');
is(ingest_state($primary), 'waiting: synchronous_standby_names is empty',
	'no synchronous standby configured: worker_status() says the worker waits, and why');
sleep 1;
is(stored_run($primary, 1), '0', 'no synchronous standby configured: nothing is stored');
like(queues_until(qr/^event_store_manager_queue\s+250$/m, 50),
	qr/^event_store_manager_queue\s+250$/m, 'no synchronous standby configured: every message is still in the queue');

# 2. a standby named in synchronous_standby_names connects: all stored, acked
my $standby = add_standby($primary, 'standby');
$primary->append_conf('postgresql.conf', "synchronous_standby_names = 'standby'\n");
$primary->reload;
$primary->poll_query_until('postgres',
	q{SELECT count(*) = 250 FROM candystore.event_log WHERE event_id::text LIKE '00000001-%'})
  or diag('the held messages were not stored once the standby connected');
is(stored_run($primary, 1), '250', 'synchronous standby connected: every held message is stored');
is($primary->safe_psql('postgres',
		q{SELECT string_agg(application_name || ' ' || sync_state, ',') FROM pg_stat_replication}),
	'standby sync', 'the standby is the synchronous one');
is(ingest_state($primary), 'consuming', 'synchronous standby connected: the worker consumes again');
is($primary->safe_psql('postgres',
		q{SELECT synchronous_commit FROM candystore.worker_status() WHERE kind = 'ingest'}),
	'on', "the worker's commits wait for the synchronous standby");
like(queues_until(qr/^event_store_manager_queue\s+0$/m, 50),
	qr/^event_store_manager_queue\s+0$/m, 'synchronous standby connected: everything acked');
$primary->wait_for_catchup($standby);
is(stored_run($standby, 1), '250', 'what was acked is on the standby');

# 3. the standby stops: held again, nothing lost; back: stored
$standby->stop;
$primary->poll_query_until('postgres', 'SELECT count(*) = 0 FROM pg_stat_replication')
  or die 'the standby did not disconnect';
publish_run(2, 180);
$primary->poll_query_until('postgres',
	q{SELECT state = 'waiting: no synchronous standby' FROM candystore.worker_status() WHERE kind = 'ingest'})
  or diag('the worker did not wait for the stopped standby');
is(ingest_state($primary), 'waiting: no synchronous standby',
	'standby stopped: worker_status() says the worker waits for it');
sleep 1;
is(stored_run($primary, 2), '0', 'standby stopped: nothing is stored');
like(queues_until(qr/^event_store_manager_queue\s+180$/m, 50),
	qr/^event_store_manager_queue\s+180$/m, 'standby stopped: every message is still in the queue');
is($primary->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'candystore ingest worker' AND wait_event = 'SyncRep'}),
	'0', 'standby stopped: the worker is not stuck in a commit waiting for it');
$standby->start;
$primary->poll_query_until('postgres',
	q{SELECT count(*) = 180 FROM candystore.event_log WHERE event_id::text LIKE '00000002-%'})
  or diag('the held messages were not stored once the standby came back');
is(stored_run($primary, 2), '180', 'standby back: every held message is stored');
like(queues_until(qr/^event_store_manager_queue\s+0$/m, 50),
	qr/^event_store_manager_queue\s+0$/m, 'standby back: everything acked');
$primary->wait_for_catchup($standby);
is(stored_run($standby, 2), '180', 'standby back: what was acked is on the standby');

# 4. turned off by a reload: the worker stores without a standby
$standby->stop;
$primary->append_conf('postgresql.conf', "synchronous_standby_names = ''\ncandystore.require_sync_standby = off\n");
$primary->reload;
publish_run(3, 50);
$primary->poll_query_until('postgres',
	q{SELECT count(*) = 50 FROM candystore.event_log WHERE event_id::text LIKE '00000003-%'})
  or diag('with the setting off the worker did not store');
is(stored_run($primary, 3), '50', 'require_sync_standby off: stored without a standby');

is(stored_twice($primary), '0', 'no event stored twice');

$primary->stop;
stop_broker();
done_testing();
