# The outbox publisher against a real RabbitMQ and a real PostgreSQL: what
# commits reaches a consumer bound to the exchange (at least once, in order
# per routing key), what rolls back never does, and nothing is lost when the
# broker is away or PostgreSQL stops between the broker's confirms and the
# mark.  An ingest worker bound with '#' to the same exchange sees every
# message the publisher sends come back, and must count it as a duplicate.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $amqp_port = start_broker();

# An independent consumer (rabbitmq-c).
my $consumer = build_amqp_tool('cs_consume');

sub declare_queue
{
	my ($queue, $exchange, $key) = @_;
	system($consumer, '127.0.0.1', $amqp_port, 'declare', $queue, $exchange, $key) == 0
	  or die "cannot declare $queue";
}

# Consumes until $max messages, or $idle_ms without one; returns them in
# arrival order.
sub consume
{
	my ($max, $idle_ms) = @_;
	my @lines = `$consumer 127.0.0.1 $amqp_port consume observer $max $idle_ms body`;
	die "consumer failed" if $? != 0;
	my @messages;
	for (@lines)
	{
		chomp;
		my @f = split / /, $_, 8;
		push @messages,
		  {
			rk => $f[1],
			id => $f[2],
			mode => $f[3],
			ctype => $f[4],
			replay => $f[5],
			body => $f[7]
		  };
	}
	return @messages;
}

sub ids { return join(',', map { substr($_->{id}, -3) } @_); }

# The observer queue sees everything published to the exchange.
declare_queue('observer', 'bloodbank.events.v1', '#');

my $node = node_with_worker(
	'publisher', q{
candystore.reconnect_max_ms = 1000
candystore.outbox_batch_size = 50
# a long poll: messages arriving within seconds were woken by their commit
candystore.outbox_poll_ms = 600000
candystore.outbox_retry_max_ms = 600000
});
$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION test_event(run int, n int, event_type text) RETURNS jsonb LANGUAGE sql AS $$
	  SELECT jsonb_build_object(
	    'event_id', format('%s-0000-4000-8000-%s', lpad(run::text, 8, '0'), lpad(n::text, 12, '0')),
	    'event_type', event_type, 'timestamp', '2026-01-27T10:15:00.123456Z', 'version', '1.0.0',
	    'source', jsonb_build_object('host', 'bigchungus', 'type', 'webhook', 'app', 'test', 'meta', NULL),
	    'correlation_ids', '[]'::jsonb, 'agent_context', NULL,
	    'payload', jsonb_build_object('n', n, 'note', 'ünïcode ✓'))
	$$;});
$node->poll_query_until('postgres',
	q{SELECT count(*) = 2 FROM candystore.worker_status() WHERE broker IS NOT NULL})
  or die "the workers never connected";

sub stat_values
{
	my ($cols) = @_;
	return $node->safe_psql('postgres', "SELECT $cols FROM candystore.stats");
}

# 1. Committed and rolled-back transactions.
$node->psql(
	'postgres', q{
	BEGIN; SELECT candystore.publish(test_event(1, 1, 'test.committed')); COMMIT;
	BEGIN; SELECT candystore.publish(test_event(1, 2, 'test.committed')); ROLLBACK;
	SELECT candystore.publish(test_event(1, 3, 'test.committed'));
	BEGIN; SELECT candystore.publish(test_event(1, 4, 'test.committed')); SELECT 1/0; COMMIT;
	BEGIN;
	  SAVEPOINT s; SELECT candystore.publish(test_event(1, 5, 'test.committed')); ROLLBACK TO s;
	  SELECT candystore.publish(test_event(1, 6, 'test.committed'));
	COMMIT;
	BEGIN; SELECT candystore.publish(test_event(1, 7, 'test.committed'), 'test.committed.custom'); COMMIT;
}, on_error_stop => 0);
my @got = consume(100, 3000);
is(ids(@got), '001,003,006,007', 'only committed publishes reach the consumer, once each, in commit order');
is(join(',', map { "$_->{rk} $_->{mode} $_->{ctype} $_->{replay}" } @got[ 0, 3 ]),
	'test.committed 2 application/json -,test.committed.custom 2 application/json -',
	'routing key, persistent delivery, content type; no replay header');
is($got[0]{id}, '00000001-0000-4000-8000-000000000001', 'message_id is the event id');
is( $got[0]{body},
	$node->safe_psql('postgres',
		q{SELECT envelope::text FROM candystore.event_log WHERE event_id = '00000001-0000-4000-8000-000000000001'}),
	'the body is the stored envelope');
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FILTER (WHERE published_at IS NOT NULL) || '/' || count(*) || ' attempts ' || max(attempts)
		  FROM candystore.outbox}),
	'4/4 attempts 1',
	'the outbox holds the committed rows only, marked published after one attempt');

# The ingest worker, bound with '#' to the same exchange, gets the four back
# and recognises them as the events they are.
$node->poll_query_until('postgres', 'SELECT duplicates >= 4 FROM candystore.stats')
  or diag('the ingest worker never saw the echoes');
sleep 1;
is(stat_values('stored, duplicates, dead_lettered'), '0|4|0',
	'echoes through a # binding are duplicates, not new events or dead letters');

# 2. Order per routing key, across transactions and batches.
$node->safe_psql(
	'postgres', q{
	SELECT count(candystore.publish(test_event(2, n, 'test.order'), 'test.order.k' || n % 3))
	  FROM generate_series(1, 40) n;
	SELECT count(candystore.publish(test_event(2, n, 'test.order'), 'test.order.k' || n % 3))
	  FROM generate_series(41, 90) n;
	SELECT count(candystore.publish(test_event(2, n, 'test.order'), 'test.order.k' || n % 3))
	  FROM generate_series(91, 120) n;});
@got = consume(1000, 3000);
is(scalar(@got), 120, 'every event of three keys arrives exactly once');
my %last;
my $in_order = 1;
for my $m (@got)
{
	my $n = 0 + (substr($m->{id}, -12));
	$in_order = 0 if defined $last{ $m->{rk} } && $n <= $last{ $m->{rk} };
	$last{ $m->{rk} } = $n;
}
ok($in_order, 'each routing key arrives in publish order');

# A row that cannot be sent (its exchange does not exist yet) is retried
# with growing backoff and records why; later rows of its routing key wait
# for it, rows of other keys do not.  Once it waits longer than the checks
# below take, retry_outbox() makes it due at once.
$node->safe_psql(
	'postgres', q{
	BEGIN;
	SELECT candystore.publish(test_event(3, 1, 'test.blocked'), 'test.blocked', 'late.exchange');
	SELECT candystore.publish(test_event(3, 2, 'test.blocked'), 'test.blocked');
	SELECT candystore.publish(test_event(3, 3, 'test.free'), 'test.free');
	COMMIT;});
$node->poll_query_until(
	'postgres', q{
	SELECT next_attempt_at > now() + interval '5 seconds'
	  FROM candystore.outbox o JOIN candystore.events e USING (position)
	 WHERE e.event_id = '00000003-0000-4000-8000-000000000001'})
  or diag('the blocked row was not retried');
@got = consume(100, 2000);
is(ids(@got), '003', 'a row of another key is not held back');
like(
	$node->safe_psql(
		'postgres', q{
		SELECT last_error FROM candystore.outbox o JOIN candystore.events e USING (position)
		 WHERE e.event_id = '00000003-0000-4000-8000-000000000001'}),
	qr/404 NOT_FOUND - no exchange 'late.exchange'/,
	'the failing row records the broker\'s error');
is( $node->safe_psql(
		'postgres', q{
		SELECT next_attempt_at > now() AND published_at IS NULL FROM candystore.outbox o
		  JOIN candystore.events e USING (position)
		 WHERE e.event_id = '00000003-0000-4000-8000-000000000001'}),
	't', 'it waits for its next attempt');
declare_queue('observer', 'late.exchange', '#');
is($node->safe_psql('postgres', 'SELECT candystore.retry_outbox()'), '1', 'retry_outbox() makes it due now');
@got = consume(100, 3000);
is(ids(@got), '001,002', 'then it is sent, and the row it held back after it');
cmp_ok(stat_values('outbox_retries'), '>=', 6, 'stats count the retries');

# 3. The broker is away while transactions commit: the rows wait, record
# the error, and all arrive once it is back.
stop_broker();
$node->safe_psql('postgres',
	"SELECT candystore.publish(test_event(4, n, 'test.outage')) FROM generate_series(1, 20) n;"
	  . "SELECT count(candystore.publish(test_event(4, n, 'test.outage'))) FROM generate_series(21, 100) n")
  ;
$node->poll_query_until(
	'postgres', q{
	SELECT count(*) > 0 FROM candystore.outbox WHERE routing_key = 'test.outage'
	   AND published_at IS NULL AND last_error LIKE '%connecting to %'})
  or diag('no error recorded while the broker is away');
is( $node->safe_psql(
		'postgres', q{
		SELECT state IN ('connecting', 'waiting to reconnect') AND last_error IS NOT NULL
		  FROM candystore.worker_status() WHERE kind = 'publisher'}),
	't', 'worker_status shows the publisher waiting for the broker');
is(stat_values(q{outbox_pending || ' ' || (outbox_oldest_pending_age > '0')}), '100 true',
	'stats show the pending rows and their age');
start_broker();
@got = consume(1000, 5000);
is(scalar(@got), 100, 'after the outage every row arrives, exactly once');
is(join(',', map { 0 + (substr($_->{id}, -12)) } @got), join(',', 1 .. 100), 'in order');
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FILTER (WHERE published_at IS NOT NULL) || ' ' || bool_or(last_error IS NOT NULL)
		  FROM candystore.outbox WHERE routing_key = 'test.outage'}),
	'100 true', 'all marked published; the outage is recorded in last_error');
cmp_ok(stat_values('outbox_reconnects'), '>', 0, 'the publisher reconnected');

# 4. PostgreSQL stops (immediate) after the broker confirmed a batch and
# before it was marked: after recovery the batch is sent again.  Duplicates,
# never loss.
$node->append_conf('postgresql.conf', "candystore.outbox_test_mark_delay_ms = 600000\n");
$node->reload;
sleep 1;
$node->safe_psql('postgres',
	"SELECT count(candystore.publish(test_event(5, n, 'test.crash'))) FROM generate_series(1, 20) n");
$node->poll_query_until('postgres',
	q{SELECT state = 'delaying mark (test)' FROM candystore.worker_status() WHERE kind = 'publisher'})
  or diag('the publisher never reached the mark');
@got = consume(1000, 3000);
is(scalar(@got), 20, 'the batch was confirmed and delivered before the crash');
$node->stop('immediate');
$node->append_conf('postgresql.conf', "candystore.outbox_test_mark_delay_ms = 0\n");
$node->start;
@got = consume(1000, 5000);
is(join(',', map { 0 + (substr($_->{id}, -12)) } @got), join(',', 1 .. 20),
	'after recovery the unmarked batch is sent again, whole and in order');
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM candystore.outbox WHERE published_at IS NULL});
is($node->safe_psql('postgres', q{SELECT count(*) FROM candystore.outbox WHERE routing_key = 'test.crash' AND published_at IS NOT NULL}),
	'20', 'and marked published this time');

# 5. replay() sends stored events again, in their original order, with the
# replay header.
is( $node->safe_psql('postgres',
		q{SELECT candystore.replay('-infinity', 'infinity', ARRAY['test.committed'])}),
	'4', 'replay enqueues the four events');
@got = consume(100, 3000);
is(join(',', map { substr($_->{id}, -3) . " $_->{rk} $_->{replay}" } @got),
	'001 test.committed true,003 test.committed true,006 test.committed true,007 test.committed.custom true',
	'replayed events arrive in order, on their routing keys, marked as replays');

# 6. A transaction that took its outbox id before a burst and commits while
# the burst is sent: the burst is read on from each batch's last row, and the
# row that skips is read from the start when the burst ends (or sixteen
# batches later), not left to the poll.
{
	my $late = $node->background_psql('postgres');
	$late->query_safe('BEGIN');
	$late->query_safe(q{SELECT candystore.publish(test_event(6, 1, 'test.late'), 'test.late')});
	$node->safe_psql('postgres',
		q{SELECT count(candystore.publish(test_event(6, n, 'test.burst'), 'test.burst')) FROM generate_series(2, 1001) n});
	$late->query_safe('COMMIT');
	$late->quit;
}
@got = consume(2000, 3000);
is(scalar(@got), 1001, 'a burst of 1,000 rows and a row committed behind it arrive, each once');
is(scalar(grep { $_->{rk} eq 'test.late' } @got), 1, 'the row whose id is below the burst is sent (the poll is ten minutes)');
my @burst = map { 0 + substr($_->{id}, -12) } grep { $_->{rk} eq 'test.burst' } @got;
is(join(',', @burst), join(',', 2 .. 1001), 'the burst arrives in order');

# Everything the publisher sent came back to the ingest worker: nothing new
# was stored and nothing dead-lettered, and its queue is drained.
my $queues = queues_until(qr/^event_store_manager_queue\s+0$/m, 100);
like($queues, qr/^event_store_manager_queue\s+0$/m, 'the ingest worker consumed every echo');
is( $node->safe_psql(
		'postgres', q{
		SELECT (SELECT count(*) FROM candystore.event_log) || ' events, '
		    || (SELECT count(*) FROM candystore.dead_letters) || ' dead letters'}),
	'1248 events, 0 dead letters',
	'the store holds exactly the published events');
is(stat_values('stored || \' \' || dead_lettered || \' \' || outbox_pending || \' \' || outbox_nacks || \' \' || (outbox_oldest_pending_age IS NULL)'),
	'0 0 0 0 true', 'stats: no echo stored or dead-lettered; nothing pending; no nacks');

$node->stop;
done_testing();
