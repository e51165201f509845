# The loss of the PostgreSQL primary (every process killed at once) and the
# promotion of its standby lose no event the broker was told is stored.
#
# 1. A synchronous standby, candystore.require_sync_standby on: the primary
#    is lost between a batch's commit and its ack (held open by the
#    developer setting candystore.debug_ack_delay_ms).  On the promoted
#    standby every event acked before is there once, the committed but
#    unacked batch is redelivered and stored once, and ingestion resumes.
# 2. The negative control: an asynchronous standby that has fallen behind
#    (cut off its primary), the setting off: the worker stores and acks, the
#    primary is lost, and the promoted standby lacks events the broker has
#    forgotten: they are lost.
# 3. The same, with the standby named in synchronous_standby_names and the
#    setting on: the worker acks nothing while the standby is away, and
#    after the same loss the promoted standby stores every event.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;
use CandystoreCluster;

start_broker();

my $settings = q{
candystore.batch_size = 100
candystore.batch_timeout_ms = 20
candystore.reconnect_max_ms = 1000
candystore.outbox_publisher = off
};

sub ingest_state
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{SELECT state FROM candystore.worker_status() WHERE kind = 'ingest'});
}

# The queue's ready and unacknowledged message counts.
sub queue_counts
{
	return queues_until(qr/^event_store_manager_queue/m, 1, 'messages_ready messages_unacknowledged') =~
	  /^event_store_manager_queue\s+(\d+)\s+(\d+)$/m;
}

sub queue_is
{
	my ($ready_unacked, $name) = @_;
	like(queues_until(qr/^event_store_manager_queue\s+$ready_unacked$/m, 100, 'messages_ready messages_unacknowledged'),
		qr/^event_store_manager_queue\s+$ready_unacked$/m, $name);
}

# The standby is promoted; waits until its ingest worker is in STATE, and
# returns the state it is in.
sub promote
{
	my ($standby, $state) = @_;
	$standby->promote;
	$standby->poll_query_until('postgres',
		"SELECT state = '$state' FROM candystore.worker_status() WHERE kind = 'ingest'")
	  or diag("the ingest worker on the promoted standby did not reach state '$state'");
	return ingest_state($standby);
}

sub wait_stored
{
	my ($node, $run, $count) = @_;
	$node->poll_query_until('postgres',
		sprintf(q{SELECT count(*) >= %d FROM candystore.event_log WHERE event_id::text LIKE '%08x-%%'}, $count, $run))
	  or diag("run $run: fewer than $count events stored");
	return;
}

# 1. synchronous standby, lost between commit and ack
my ($primary, $standby) =
  standby_pair('primary', 'standby', $settings . "candystore.require_sync_standby = on\n", sync => 1);
is($primary->safe_psql('postgres',
		q{SELECT string_agg(application_name || ' ' || sync_state, ',') FROM pg_stat_replication}),
	'standby sync', 'the standby is the synchronous one');

publish_run(1, 300);
wait_stored($primary, 1, 300);
queue_is('0\s+0', 'run 1 stored and acked: the broker has forgotten it');

# From now on a committed batch waits 60 s for its ack; the standby's
# configuration (taken before) has no such delay.
my $committed = commit_in_ack_window($primary, 2, 250);
cmp_ok($committed, '>', 0, 'in the window: a batch of run 2 is committed on the primary');
is(stored_run($standby, 2), $committed, 'in the window: the synchronous standby has the committed batch');
my ($ready, $unacked) = queue_counts();
is($ready + $unacked, 250, 'in the window: the broker still holds every message of run 2');
cmp_ok($unacked, '>=', $committed, 'in the window: the committed batch is not acked');

lose_server($primary);
publish_run(3, 100);	# while there is no primary
# the new primary has the same settings: it acks nothing before it has a
# synchronous standby of its own
is(promote($standby, 'waiting: synchronous_standby_names is empty'), 'waiting: synchronous_standby_names is empty',
	'after failover: the new primary waits for a synchronous standby of its own');
is(stored_run($standby, 3), '0', 'after failover: nothing stored before it has one');
my $new_standby = add_standby($standby, 'new_standby');
$standby->append_conf('postgresql.conf', "synchronous_standby_names = 'new_standby'\n");
$standby->reload;
wait_stored($standby, 2, 250);
wait_stored($standby, 3, 100);
is(stored_run($standby, 1), '300', 'after failover: every event acked before is on the new primary');
is(stored_run($standby, 2), '250', 'after failover: the batch committed but not acked is redelivered, the rest stored');
is(stored_run($standby, 3), '100', 'after failover: ingestion resumes on the new primary');
is(stored_twice($standby), '0', 'after failover: no event is stored twice');
queue_is('0\s+0', 'after failover: everything acked');
$standby->wait_for_catchup($new_standby);
is(stored_run($new_standby, 3), '100', 'what the new primary acked is on its new synchronous standby');
$new_standby->stop;
$standby->stop;

# 2 and 3: the standby falls behind before the primary is lost.
sub lose_primary_with_standby_behind
{
	my ($name, $run, $conf, %opt) = @_;
	my ($p, $s) = standby_pair("${name}_primary", "${name}_standby", $settings . $conf, %opt);
	detach_standby($p, $s);
	publish_run($run, 200);
	return ($p, $s);
}

my ($async_primary, $async_standby) = lose_primary_with_standby_behind('async', 4, '');
wait_stored($async_primary, 4, 200);
queue_is('0\s+0', 'asynchronous standby behind: run 4 stored and acked on the primary');
lose_server($async_primary);
is(promote($async_standby, 'consuming'), 'consuming', 'asynchronous standby promoted: its worker consumes');
sleep 1;
is(stored_run($async_standby, 4), '0',
	'asynchronous standby behind: the acked events are missing on the promoted standby');
queue_is('0\s+0', 'asynchronous standby behind: and the broker has forgotten them: lost');
$async_standby->stop;

my ($sync_primary, $sync_standby) = lose_primary_with_standby_behind('sync', 5,
	"candystore.require_sync_standby = on\n", sync => 1);
$sync_primary->poll_query_until('postgres',
	q{SELECT state = 'waiting: no synchronous standby' FROM candystore.worker_status() WHERE kind = 'ingest'})
  or diag('the worker did not wait for the synchronous standby');
is(ingest_state($sync_primary), 'waiting: no synchronous standby',
	'synchronous standby behind, require_sync_standby on: the worker waits');
is(stored_run($sync_primary, 5), '0', 'synchronous standby behind: nothing stored on the primary');
($ready, $unacked) = queue_counts();
is($ready + $unacked, 200, 'synchronous standby behind: the broker still holds every message');
lose_server($sync_primary);
promote($sync_standby, 'waiting: synchronous_standby_names is empty');
# run without a standby from now on: the operator's choice
$sync_standby->safe_psql('postgres', 'ALTER SYSTEM SET candystore.require_sync_standby = off');
$sync_standby->reload;
wait_stored($sync_standby, 5, 200);
is(stored_run($sync_standby, 5), '200',
	'synchronous standby behind, require_sync_standby on: after the same loss every event is stored');
is(stored_twice($sync_standby), '0', 'no event stored twice');
queue_is('0\s+0', 'synchronous standby behind: everything acked, on the new primary');
$sync_standby->stop;

stop_broker();
done_testing();
