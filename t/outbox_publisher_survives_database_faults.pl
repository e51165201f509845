# The outbox publisher treats its own database errors as the environment's,
# as the ingest worker does: it logs them, shows them in worker_status()
# (retrying: <cause>, last_error, last_sqlstate), backs off and tries again,
# and it never exits for them.  Rows confirmed by the broker but not marked
# because of the error are sent again (at least once) and marked once the
# database works.  While the extension is dropped it waits in the same state
# as the ingest worker (retrying: extension missing).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $amqp_port = start_broker();
my $consumer = build_amqp_tool('cs_consume');
system($consumer, '127.0.0.1', $amqp_port, 'declare', 'observer', 'bloodbank.events.v1', '#') == 0
  or die "cannot declare the observer queue";

my $node = node_with_worker(
	'publisher_faults', q{
candystore.ingest_workers = 0
candystore.reconnect_max_ms = 500
candystore.outbox_poll_ms = 200
});
my $test_event = q{
	CREATE FUNCTION test_event(n int) RETURNS jsonb LANGUAGE sql AS $$
	  SELECT jsonb_build_object(
	    'event_id', format('00000001-0000-4000-8000-%s', lpad(n::text, 12, '0')),
	    'event_type', 'test.fault', 'timestamp', '2026-01-27T10:15:00.123456Z', 'version', '1.0.0',
	    'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'test', 'meta', NULL),
	    'correlation_ids', '[]'::jsonb, 'agent_context', NULL, 'payload', jsonb_build_object('n', n))
	$$;};
$node->safe_psql('postgres', $test_event);

sub publisher
{
	my ($cols) = @_;
	return $node->safe_psql('postgres',
		"SELECT $cols FROM candystore.worker_status() WHERE kind = 'publisher'");
}

sub published
{
	my ($n) = @_;
	return qq{SELECT published_at IS NOT NULL FROM candystore.outbox o
	            JOIN candystore.event_log e USING (position)
	           WHERE e.event_id::text = test_event($n)->>'event_id'};
}

$node->poll_query_until('postgres',
	q{SELECT state = 'idle' FROM candystore.worker_status() WHERE kind = 'publisher'})
  or die "the publisher never connected";
$node->safe_psql('postgres', q{SELECT candystore.publish(test_event(1), 'test.fault.k1')});
ok($node->poll_query_until('postgres', published(1)), 'a row is published');
my $pid = publisher('pid');

# Marking fails: a trigger raises disk_full on every update of the outbox.
$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION fail_marks() RETURNS trigger LANGUAGE plpgsql AS $$
	  BEGIN RAISE EXCEPTION 'test: the disk is full' USING ERRCODE = '53100'; END $$;
	CREATE TRIGGER fail_marks BEFORE UPDATE ON candystore.outbox
	  FOR EACH ROW EXECUTE FUNCTION fail_marks();
	SELECT candystore.publish(test_event(2), 'test.fault.k2');});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT state = 'retrying: disk full' AND last_sqlstate = '53100'
		    FROM candystore.worker_status() WHERE kind = 'publisher'}),
	'a database error shows as retrying, with its SQLSTATE');
like(publisher('last_error'), qr/^SQLSTATE 53100: test: the disk is full$/,
	'last_error says what the database said');
# it goes on trying (the broker confirms each send, the mark fails each time)
ok($node->poll_query_until('postgres', q{SELECT outbox_confirms >= 4 FROM candystore.stats}),
	'the row is sent again while its mark fails');
is($node->safe_psql('postgres', published(2)), 'f', 'nothing is marked meanwhile');
is(publisher('pid'), $pid, 'the publisher did not exit');

$node->safe_psql('postgres', 'DROP TRIGGER fail_marks ON candystore.outbox');
ok($node->poll_query_until('postgres', published(2)),
	'once the database works the row is marked published');
ok( $node->poll_query_until(
		'postgres', q{SELECT state = 'idle' FROM candystore.worker_status() WHERE kind = 'publisher'}),
	'the publisher is idle again');
is(publisher('pid'), $pid, 'the same process');

# The extension dropped and created again: the publisher waits, visibly, in
# the ingest worker's wording.
# (worker_status() is read from another database meanwhile)
$node->safe_psql('postgres', 'CREATE DATABASE observe');
$node->safe_psql('observe', 'CREATE EXTENSION candystore');
$node->safe_psql('postgres', 'DROP EXTENSION candystore CASCADE');
ok( $node->poll_query_until(
		'observe',
		q{SELECT state = 'retrying: extension missing' FROM candystore.worker_status()
		   WHERE kind = 'publisher'}),
	'without the extension the publisher waits in the ingest worker\'s words');
is($node->safe_psql('observe',
		q{SELECT pid FROM candystore.worker_status() WHERE kind = 'publisher'}),
	$pid, 'it waits, it does not exit');
$node->safe_psql('postgres', 'CREATE EXTENSION candystore');
ok( $node->poll_query_until(
		'postgres', q{SELECT state = 'idle' FROM candystore.worker_status() WHERE kind = 'publisher'}),
	'it resumes once the extension is created');
$node->safe_psql('postgres', q{SELECT candystore.publish(test_event(3), 'test.fault.k3')});
ok($node->poll_query_until('postgres', published(3)), 'and publishes');
is(publisher('pid'), $pid, 'still the same process');

my $log = slurp_file($node->logfile);
like($log, qr/candystore outbox publisher cannot use the database: test: the disk is full/,
	'the error is logged');
unlike($log, qr/outbox publisher.*exited with exit code/, 'the publisher never exited');

$node->stop;
stop_broker();
done_testing();
