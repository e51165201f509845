# The ingest worker against a real RabbitMQ and a real PostgreSQL: for each
# scenario, everything published through the broker ends up exactly once
# either in the event log or in candystore.dead_letters, and the queue is
# left empty (everything acked).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $amqp_port = start_broker();

# An independent publisher (rabbitmq-c, publisher confirms).
my $publisher = build_amqp_tool('cs_publish');

sub publish
{
	my ($run, $count, $poison_every, $copies, $rk) = @_;
	$rk //= 'fireflies.transcript.ready';
	my $out = `$publisher 127.0.0.1 $amqp_port bloodbank.events.v1 $rk $run $count $poison_every $copies`;
	die "publisher failed" if $? != 0;
	chomp $out;
	return $out;
}

my $node = node_with_worker(
	'ingest', q{
candystore.batch_size = 200
candystore.batch_timeout_ms = 20
candystore.reconnect_max_ms = 1000
candystore.outbox_publisher = off
});

$node->poll_query_until('postgres',
	"SELECT state = 'consuming' FROM candystore.worker_status()")
  or die "the worker never connected";

sub run_counts
{
	my ($run) = @_;
	my $prefix = sprintf('%08x-0000-4000-8000-', $run);
	return $node->safe_psql(
		'postgres', qq{
		SELECT (SELECT count(*) FROM candystore.event_log WHERE event_id::text LIKE '$prefix%'),
		       (SELECT count(*) FROM candystore.dead_letters
		         WHERE convert_from(body, 'UTF8') LIKE '%"$prefix%')});
}

# Waits until stored + dead-lettered reaches the expected total, then checks
# it is exactly that and that the broker has nothing left unacked.
sub check_run
{
	my ($name, $run, $stored, $dead) = @_;
	my $prefix = sprintf('%08x-0000-4000-8000-', $run);
	$node->poll_query_until(
		'postgres', qq{
		SELECT (SELECT count(*) FROM candystore.event_log WHERE event_id::text LIKE '$prefix%')
		     + (SELECT count(*) FROM candystore.dead_letters
		         WHERE convert_from(body, 'UTF8') LIKE '%"$prefix%') >= @{[ $stored + $dead ]}})
	  or diag("$name: timed out waiting for the run to arrive");
	# one more batch window: anything extra would show up now
	sleep 1;
	is(run_counts($run), "$stored|$dead", "$name: published = stored + dead-lettered, exactly");
	my $queues = queues_until(qr/^event_store_manager_queue\s+0$/m, 50);
	like($queues, qr/^event_store_manager_queue\s+0$/m, "$name: every delivery acked");
}

sub stat_value
{
	my ($col) = @_;
	return $node->safe_psql('postgres', "SELECT $col FROM candystore.stats");
}

# Holds the worker mid-batch: its insert waits on this lock with the
# batch's deliveries unacked.
sub hold_worker
{
	my $locker = $node->background_psql('postgres');
	$locker->query_safe('BEGIN; LOCK TABLE candystore.event_log IN EXCLUSIVE MODE;');
	return $locker;
}

sub await_worker_blocked
{
	$node->poll_query_until(
		'postgres', q{
		SELECT count(*) > 0 FROM pg_stat_activity
		 WHERE backend_type = 'candystore ingest worker' AND wait_event_type = 'Lock'})
	  or die "the worker never blocked";
}

# 1. clean run
publish(1, 2000, 0, 1);
check_run('clean run', 1, 2000, 0);
is(stat_value('stored'), '2000', 'stats count what was stored');

# 2. 1% poison: malformed JSON and invalid envelopes are dead-lettered with
# the reason, routing key and raw body; the rest of their batches commit
publish(2, 2000, 100, 1, 'test.poison.mix');
check_run('1% poison', 2, 1980, 20);
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(DISTINCT sqlstate || ' ' || split_part(reason, ':', 1), ', ' ORDER BY sqlstate || ' ' || split_part(reason, ':', 1))
		  FROM candystore.dead_letters WHERE routing_key = 'test.poison.mix'}),
	'22007 invalid envelope, 22P02 malformed JSON',
	'dead letters say why');
is( $node->safe_psql(
		'postgres', q{
		SELECT convert_from(body, 'UTF8') FROM candystore.dead_letters
		 WHERE routing_key = 'test.poison.mix' AND sqlstate = '22P02' ORDER BY id LIMIT 1}),
	'{"event_id": "00000002-0000-4000-8000-000000000064", not json',
	'a dead letter keeps the raw body');

# 3. duplicates published twice (the publisher's retry): stored once
my $dups_before = stat_value('duplicates');
publish(3, 500, 0, 2);
check_run('published duplicates', 3, 500, 0);
cmp_ok(stat_value('duplicates') - $dups_before, '==', 500, 'the second copies count as duplicates');

# 3b. errors only storing can raise (an event id already stored with other
# content; a number jsonb cannot hold; a \u0000 escape jsonb refuses)
# dead-letter that message only: the good messages of the same batch are
# stored
my $envelope = '{"event_id":"%s","event_type":"test.storing","timestamp":"2026-01-27T10:15:00Z",'
  . '"version":"1.0.0","source":{"host":"bigchungus","type":"webhook","app":"fireflies","meta":null},'
  . '"correlation_ids":[],"agent_context":null,"payload":%s}';
my $locker = hold_worker();
publish(9, 1, 0, 1);
await_worker_blocked();
amqp_publish('test.storing', sprintf($envelope, '00000001-0000-4000-8000-000000000001', '{"other":true}'));
amqp_publish('test.storing', sprintf($envelope, '00000009-0000-4000-8000-0000000000ff', '{"n":1e1000000}'));
amqp_publish('test.storing', sprintf($envelope, '00000009-0000-4000-8000-0000000000fe', '{"s":"nul \\u0000 here"}'));
publish(10, 100, 0, 1);
$locker->query_safe('COMMIT');
$locker->quit;
check_run('good messages batched with storing errors', 10, 100, 0);
$node->poll_query_until('postgres',
	"SELECT count(*) = 3 FROM candystore.dead_letters WHERE routing_key = 'test.storing'");
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(sqlstate, ', ' ORDER BY sqlstate) FROM candystore.dead_letters
		 WHERE routing_key = 'test.storing'}),
	'22003, 22P05, 23505',
	'storing errors are dead-lettered with their SQLSTATE');
is($node->safe_psql('postgres', q{SELECT count(*) FROM candystore.event_log WHERE event_type = 'test.storing'}),
	'0', 'nothing of the refused messages is stored');

# 4. the broker restarts while a batch is in flight: the batch commits but
# cannot be acked, so the broker redelivers it, and the worker recognises
# every message of it (stored events and dead letters alike)
my $reconnects = stat_value('reconnects');
$dups_before = stat_value('duplicates');
$locker = hold_worker();
publish(4, 3000, 100, 1);
await_worker_blocked();
stop_broker();
start_broker();
$locker->query_safe('COMMIT');
$locker->quit;
check_run('broker restart mid-stream', 4, 2970, 30);
cmp_ok(stat_value('reconnects'), '>', $reconnects, 'the worker reconnected');
cmp_ok(stat_value('duplicates'), '>', $dups_before, 'the redelivered batch was recognised as duplicates');

# 5. the worker's backend is terminated mid-batch; the postmaster restarts
# it and the broker redelivers what was not acked
my $redelivered = stat_value('redelivered');
$locker = hold_worker();
publish(5, 3000, 50, 1);
await_worker_blocked();
ok( $node->safe_psql(
		'postgres', q{
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		 WHERE backend_type = 'candystore ingest worker'}) eq 't',
	'worker terminated');
$locker->query_safe('COMMIT');
$locker->quit;
check_run('worker terminated mid-batch', 5, 2940, 60);
cmp_ok(stat_value('redelivered'), '>', $redelivered, 'the broker redelivered the unacked batch');

# 6. PostgreSQL stops immediately mid-batch and recovers
$locker = hold_worker();
publish(6, 3000, 0, 1);
await_worker_blocked();
$node->stop('immediate');
eval { $locker->quit };
$node->start;
check_run('PostgreSQL immediate shutdown mid-stream', 6, 3000, 0);

# SIGHUP: a new queue name takes effect without a restart; the worker
# declares, binds and consumes the new queue (the old one, still bound,
# keeps its copies unconsumed)
$node->append_conf('postgresql.conf', "candystore.queue = 'reloaded_queue'\n");
$node->reload;
$node->poll_query_until('postgres',
	"SELECT state = 'consuming' AND connected_since > now() - interval '1 min' FROM candystore.worker_status()");
my $queues = queues_until(qr/^reloaded_queue\s/m, 50);
like($queues, qr/^reloaded_queue\s+0$/m, 'after reload the worker declared the new queue');
publish(8, 500, 0, 1);
$node->poll_query_until('postgres',
	"SELECT count(*) = 500 FROM candystore.event_log WHERE event_id::text LIKE '00000008-%'");
is(run_counts(8), '500|0', 'after reload: stored from the new queue');
$queues = rabbitmqctl('list_queues name messages --no-table-headers');
like($queues, qr/^event_store_manager_queue\s+500$/m, 'after reload: the old queue is no longer consumed');

# Payload contracts: a message whose payload fails the schema registered for
# its event type is dead-lettered (22V01, with the path); the valid message
# next to it is stored.
$node->safe_psql('postgres', q{SELECT candystore.register_schema('test.contract',
	'{"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}')});
my $contract = '{"event_id":"%s","event_type":"test.contract","timestamp":"2026-01-27T10:15:00Z",'
  . '"version":"1.0.0","source":{"host":"h","type":"webhook"},"payload":%s}';
amqp_publish('test.contract', sprintf($contract, '0000000c-0000-4000-8000-000000000001', '{"n":1}'));
amqp_publish('test.contract', sprintf($contract, '0000000c-0000-4000-8000-000000000002', '{"n":"one"}'));
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM candystore.dead_letters WHERE routing_key = 'test.contract'");
is( $node->safe_psql('postgres',
		q{SELECT sqlstate || ' ' || (reason LIKE '%/payload/n: string is not of type "integer"%') FROM candystore.dead_letters
		   WHERE routing_key = 'test.contract'}),
	'22V01 true', 'payload failing its schema: dead-lettered with SQLSTATE and path');
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM candystore.event_log WHERE event_type = 'test.contract'");
is( $node->safe_psql('postgres',
		q{SELECT string_agg(event_id::text, ',') FROM candystore.event_log WHERE event_type = 'test.contract'}),
	'0000000c-0000-4000-8000-000000000001', 'the valid message next to it is stored');

# The queue deleted on the broker: the broker cancels the worker's consumer
# (consumer cancel notification), the worker says so, reconnects, declares
# and binds the queue again, and consumes what is published next.
$reconnects = stat_value('reconnects');
rabbitmqctl('delete_queue reloaded_queue');
$node->poll_query_until('postgres',
	q{SELECT last_error LIKE '%cancelled the consumer of queue "reloaded_queue"%' AND state = 'consuming'
	    FROM candystore.worker_status() WHERE kind = 'ingest'})
  or diag('the worker did not notice that its consumer was cancelled');
ok( $node->safe_psql('postgres',
		q{SELECT last_error LIKE '%cancelled the consumer%' AND state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'}) eq 't',
	'queue deleted: the worker reports the cancelled consumer and consumes again');
cmp_ok(stat_value('reconnects'), '>', $reconnects, 'queue deleted: the worker reconnected');
publish(13, 300, 0, 1);
$node->poll_query_until('postgres',
	"SELECT count(*) = 300 FROM candystore.event_log WHERE event_id::text LIKE '0000000d-%'");
is(run_counts(13), '300|0', 'queue deleted: what is published next is stored from the queue declared again');

# The broker closes the connection (an operator's close_connection): the
# worker reports the broker's reply code and text, as the connect path and
# the publisher do (one decoding of close frames, worker/amqp_link.c),
# reconnects and consumes again.
$reconnects = stat_value('reconnects');
rabbitmqctl(q{close_all_connections 'closed by the operator for a test'});
$node->poll_query_until('postgres',
	q{SELECT last_error LIKE '%connection closed by broker: 320 CONNECTION_FORCED - %closed by the operator for a test%'
	    FROM candystore.worker_status() WHERE kind = 'ingest'})
  or diag('the worker did not report the broker\'s close: '
	  . $node->safe_psql('postgres', q{SELECT last_error FROM candystore.worker_status() WHERE kind = 'ingest'}));
ok( $node->safe_psql('postgres',
		q{SELECT last_error LIKE '%320 CONNECTION_FORCED%' FROM candystore.worker_status() WHERE kind = 'ingest'}) eq 't',
	'connection closed by the broker: the worker reports its reply code and text');
publish(14, 100, 0, 1);
$node->poll_query_until('postgres',
	"SELECT count(*) = 100 FROM candystore.event_log WHERE event_id::text LIKE '0000000e-%'");
is(run_counts(14), '100|0', 'connection closed by the broker: the worker reconnects and stores what comes next');
cmp_ok(stat_value('reconnects'), '>', $reconnects, 'connection closed by the broker: the worker reconnected');

is( $node->safe_psql('postgres',
		"SELECT count(*) FROM (SELECT event_id FROM candystore.event_log GROUP BY 1 HAVING count(*) > 1) d"),
	'0', 'no event stored twice');

$node->stop;
done_testing();
