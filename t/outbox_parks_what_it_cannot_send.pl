# A row the broker refuses, or that AMQP cannot carry, stops neither the
# outbox publisher nor the rows of other routing keys: it is failed with its
# error, tried again with backoff up to candystore.outbox_max_attempts (at
# once, when it cannot be encoded), then parked until retry_outbox(), and
# the publisher does not reconnect over it (the broker's channel is opened
# again on the same connection).  Three causes, against a real RabbitMQ:
# an exchange that does not exist (the broker closes the channel on the
# passive declare), a routing key over 255 bytes as an upgraded 0.1.0
# installation can hold (it cannot be encoded), and a message over the
# broker's max_message_size (the broker closes the channel mid-batch, with
# other rows unconfirmed: the culprit must be found among them).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $amqp_port = start_broker();
# messages over 4 kB close the channel (read when a channel opens)
rabbitmqctl(q{eval 'application:set_env(rabbit, max_message_size, 4096).'});

my $consumer = build_amqp_tool('cs_consume');

sub declare_queue
{
	my ($queue, $exchange, $key) = @_;
	system($consumer, '127.0.0.1', $amqp_port, 'declare', $queue, $exchange, $key) == 0
	  or die "cannot declare $queue";
}

# The event numbers of the messages consumed until $max, or $idle_ms without one.
sub consume_ns
{
	my ($max, $idle_ms) = @_;
	my @lines = `$consumer 127.0.0.1 $amqp_port consume observer $max $idle_ms`;
	die "consumer failed" if $? != 0;
	return map { (split / /)[2] =~ /-(\d{12})$/ ? 0 + $1 : -1 } @lines;
}

declare_queue('observer', 'bloodbank.events.v1', '#');

my $node = node_with_worker(
	'parks', q{
candystore.ingest_workers = 0
candystore.reconnect_max_ms = 1000
candystore.outbox_batch_size = 50
candystore.outbox_poll_ms = 600000
candystore.outbox_retry_max_ms = 400
candystore.outbox_max_attempts = 3
});
$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION test_event(run int, n int, note_bytes int DEFAULT 10) RETURNS jsonb LANGUAGE sql AS $$
	  SELECT jsonb_build_object(
	    'event_id', format('%s-0000-4000-8000-%s', lpad(run::text, 8, '0'), lpad(n::text, 12, '0')),
	    'event_type', 'test.parking', 'timestamp', '2026-01-27T10:15:00.123456Z', 'version', '1.0.0',
	    'source', jsonb_build_object('host', 'bigchungus', 'type', 'webhook', 'app', 'test', 'meta', NULL),
	    'correlation_ids', '[]'::jsonb, 'agent_context', NULL,
	    'payload', jsonb_build_object('n', n, 'note', repeat('x', note_bytes)))
	$$;
	CREATE VIEW rows_of AS
	  SELECT e.event_id::text AS event_id, o.failures, o.attempts, o.last_error,
	         o.parked_at IS NOT NULL AS parked, o.published_at IS NOT NULL AS published,
	         o.next_attempt_at
	    FROM candystore.outbox o JOIN candystore.events e USING (position);});
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM candystore.worker_status() WHERE kind = 'publisher' AND broker IS NOT NULL})
  or die "the publisher never connected";

sub reconnects
{
	return $node->safe_psql('postgres', 'SELECT reconnects FROM candystore.publisher_stats()');
}

sub row_of
{
	my ($run, $n, $cols) = @_;
	return $node->safe_psql('postgres',
		sprintf(q{SELECT %s FROM rows_of WHERE event_id = '%08d-0000-4000-8000-%012d'}, $cols, $run, $n));
}

sub parked_eventually
{
	my ($run, $n) = @_;
	return $node->poll_query_until('postgres',
		sprintf(q{SELECT parked FROM rows_of WHERE event_id = '%08d-0000-4000-8000-%012d'}, $run, $n));
}

# 1. An exchange that does not exist.  Row 1 goes there; row 2 has its
# routing key (and waits for it); rows 3..12 have other keys.
my $reconnects = reconnects();
$node->safe_psql(
	'postgres', q{
	BEGIN;
	SELECT candystore.publish(test_event(1, 1), 'test.lost', 'missing.exchange');
	SELECT candystore.publish(test_event(1, 2), 'test.lost');
	SELECT count(candystore.publish(test_event(1, n), 'test.other.k' || n)) FROM generate_series(3, 12) n;
	COMMIT;});
ok(parked_eventually(1, 1), 'the refused row is parked');
is(join(',', sort { $a <=> $b } consume_ns(100, 2000)), join(',', 3 .. 12),
	'the rows of other routing keys are delivered');
like(row_of(1, 1, q{failures || ' ' || next_attempt_at || ' ' || last_error}),
	qr/^3 infinity .*404 NOT_FOUND - no exchange 'missing.exchange'/,
	'after candystore.outbox_max_attempts failures, with the broker\'s error');
is(row_of(1, 2, q{failures || ' ' || published}), '0 false',
	'the later row of its routing key waits, not failed');
is($node->safe_psql('postgres', 'SELECT outbox_parked FROM candystore.stats'), '1',
	'stats count the parked row');
cmp_ok(reconnects() - $reconnects, '<=', 1, 'the publisher did not reconnect over it');

# The exchange is declared: retry_outbox() sends the row and the one behind it.
declare_queue('observer', 'missing.exchange', '#');
is($node->safe_psql('postgres', 'SELECT candystore.retry_outbox()'), '1', 'retry_outbox() redrives it');
is(join(',', consume_ns(100, 2000)), '1,2', 'the parked row is delivered, then the row it held back');
is(row_of(1, 1, q{published || ' ' || parked || ' ' || failures}), 'true false 0',
	'and marked published, unparked');

# 2. A routing key of 300 bytes, enqueued before publish() checked it (0.1.0)
# or by a superuser: it cannot be encoded, and is parked at once.
$reconnects = reconnects();
$node->safe_psql(
	'postgres', q{
	INSERT INTO candystore.outbox (position, routing_key)
	  SELECT candystore.append(test_event(2, 1)), repeat('r', 300);
	SELECT count(candystore.publish(test_event(2, n), 'test.after.k' || n)) FROM generate_series(2, 6) n;});
ok(parked_eventually(2, 1), 'the row that cannot be encoded is parked');
like(row_of(2, 1, q{failures || ' ' || last_error}),
	qr/^1 cannot be sent: The routing key is 300 bytes long in UTF-8; AMQP allows at most 255\.$/,
	'at once, saying why');
is(join(',', sort { $a <=> $b } consume_ns(100, 2000)), join(',', 2 .. 6), 'the rows after it are delivered');
cmp_ok(reconnects() - $reconnects, '<=', 1, 'without reconnecting');
$node->safe_psql('postgres',
	q{DELETE FROM candystore.outbox WHERE routing_key = repeat('r', 300)});

# The default exchange ('') routes by queue name; it cannot be declared,
# not even passively, so the publisher must not check it.
$node->safe_psql('postgres', q{SELECT candystore.publish(test_event(2, 7), 'observer', '')});
is(join(',', consume_ns(10, 2000)), '7', 'a row for the default exchange reaches the queue it names');
is(row_of(2, 7, q{published || ' ' || failures}), 'true 0', 'and is marked published');

# 3. A message over the broker's max_message_size (4 kB here; the outbox's
# own limit is 16 MB): the broker closes the channel while other rows of the
# batch are unconfirmed.  Only the culprit is blamed.
$reconnects = reconnects();
$node->safe_psql(
	'postgres', q{
	BEGIN;
	SELECT count(candystore.publish(test_event(3, n), 'test.mixed.k' || n % 4)) FROM generate_series(1, 10) n;
	SELECT candystore.publish(test_event(3, 11, 6000), 'test.big');
	SELECT count(candystore.publish(test_event(3, n), 'test.mixed.k' || n % 4)) FROM generate_series(12, 30) n;
	COMMIT;});
ok(parked_eventually(3, 11), 'the message the broker refuses is parked');
like(row_of(3, 11, q{failures || ' ' || last_error}),
	qr/^3 .*406 PRECONDITION_FAILED - message size \d+ is larger than configured max size 4096/,
	'after candystore.outbox_max_attempts failures, with the broker\'s error');
$node->poll_query_until('postgres',
	q{SELECT count(*) = 29 FROM rows_of WHERE event_id LIKE '00000003-%' AND published})
  or diag('the other rows were not all published');
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FILTER (WHERE published) || ' published, ' || count(*) FILTER (WHERE failures > 0) || ' blamed'
		  FROM rows_of WHERE event_id LIKE '00000003-%' AND event_id <> '00000003-0000-4000-8000-000000000011'}),
	'29 published, 0 blamed',
	'every other row is published, none blamed for the closed channel');
my %seen = map { $_ => 1 } consume_ns(1000, 2000);
is(join(',', sort { $a <=> $b } keys %seen), join(',', 1 .. 10, 12 .. 30),
	'and delivered (at least once)');
cmp_ok(reconnects() - $reconnects, '<=', 1, 'the channel was opened again, the connection kept');

# The broker takes larger messages again: retry_outbox() sends it.
rabbitmqctl(q{eval 'application:set_env(rabbit, max_message_size, 134217728).'});
is($node->safe_psql('postgres', 'SELECT candystore.retry_outbox()'), '1', 'retry_outbox() redrives it');
$node->poll_query_until('postgres',
	q{SELECT published FROM rows_of WHERE event_id = '00000003-0000-4000-8000-000000000011'})
  or diag('the big row was never published');
is(join(',', consume_ns(10, 3000)), '11', 'the parked message is delivered once the broker takes it');

is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.outbox WHERE published_at IS NULL'),
	'0', 'nothing is left pending');
cmp_ok($node->safe_psql('postgres', 'SELECT reconnects FROM candystore.publisher_stats()'),
	'<=', 3, 'the publisher reconnected at most a few times over all of it');
my $log = slurp_file($node->logfile);
like($log, qr/parked outbox row \d+ after 3 failed attempts/, 'the log names each parked row');
unlike($log, qr/outbox publisher.*exited with exit code/, 'the publisher never exited');

# 4. An installation of 0.1.0 running this library: its outbox lacks the
# columns the publisher records into, so the publisher waits (it does not
# fail) until ALTER EXTENSION UPDATE.  A routing key of 300 bytes that 0.1.0
# accepted is then parked, and the rows behind it are delivered.
my $pid = $node->safe_psql('postgres', q{SELECT pid FROM candystore.worker_status() WHERE kind = 'publisher'});
$node->safe_psql(
	'postgres', q{
	DROP VIEW rows_of;
	DROP EXTENSION candystore;
	CREATE EXTENSION candystore VERSION '0.1.0';
	INSERT INTO candystore.outbox (position, routing_key)
	  SELECT candystore.append(test_event(4, 1)), repeat('r', 300);
	SELECT candystore.publish(test_event(4, 2), 'test.old.k2');});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT state = 'retrying: extension not updated' FROM candystore.worker_status() WHERE kind = 'publisher'}),
	'on 0.1.0 the publisher waits for the update');
$node->safe_psql(
	'postgres', q{
	ALTER EXTENSION candystore UPDATE;
	CREATE VIEW rows_of AS
	  SELECT e.event_id::text AS event_id, o.failures, o.parked_at IS NOT NULL AS parked,
	         o.published_at IS NOT NULL AS published, o.last_error
	    FROM candystore.outbox o JOIN candystore.events e USING (position);
	SELECT candystore.publish(test_event(4, 3), 'test.old.k3');});
ok(parked_eventually(4, 1), 'after the update, the upgraded 300-byte routing key is parked');
is(join(',', sort { $a <=> $b } consume_ns(10, 2000)), '2,3', 'the rows behind it are delivered');
is($node->safe_psql('postgres', q{SELECT pid FROM candystore.worker_status() WHERE kind = 'publisher'}),
	$pid, 'the publisher never restarted');

$node->stop;
done_testing();
