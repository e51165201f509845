# Dead letters the ingest worker recorded from a real RabbitMQ can be
# redriven once their cause is fixed: a check that refused valid envelopes
# (standing in for a payload schema that was wrong) is removed, and
# redrive_dead_letters() stores them with the routing key they came with;
# a message that is still malformed keeps its row with the new reason.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

start_broker();

my $node = node_with_worker('redrive', "candystore.batch_timeout_ms = 20\ncandystore.outbox_publisher = off\n");
$node->poll_query_until('postgres', "SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'")
  or die "the worker never connected";

# The cause: a check on the store that refuses every test.redrive event.
$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION refuse_redrive_events() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	    IF NEW.event_type = 'test.redrive' THEN
	        RAISE EXCEPTION 'payload does not match schema test.redrive 1.0.0' USING ERRCODE = 'check_violation';
	    END IF;
	    RETURN NEW;
	END $$;
	CREATE TRIGGER refuse_redrive_events BEFORE INSERT ON candystore.event_log
	    FOR EACH ROW EXECUTE FUNCTION refuse_redrive_events();
});

my $envelope = '{"event_id":"%s","event_type":"%s","timestamp":"2026-01-27T10:15:00Z",'
  . '"version":"1.0.0","source":{"host":"bigchungus","type":"webhook","app":"fireflies","meta":null},'
  . '"correlation_ids":[],"agent_context":null,"payload":{"n":1}}';
my $refused_1 = sprintf($envelope, 'bd100000-0000-4000-8000-000000000001', 'test.redrive');
amqp_publish('eu.test.redrive', $refused_1);
amqp_publish('us.test.redrive', sprintf($envelope, 'bd100000-0000-4000-8000-000000000002', 'test.redrive'));
amqp_publish('test.broken', '{"event_id": "bd100000-0000-4000-8000-000000000003", not json');
amqp_publish('test.fine', sprintf($envelope, 'bd100000-0000-4000-8000-000000000004', 'test.fine'));

$node->poll_query_until('postgres',
	q{SELECT (SELECT count(*) FROM candystore.dead_letters) = 3 AND (SELECT count(*) FROM candystore.events) = 1})
  or die "the messages did not arrive";
is( $node->safe_psql(
		'postgres', q{SELECT string_agg(routing_key || ' ' || sqlstate, ', ' ORDER BY id) FROM candystore.dead_letters}),
	'eu.test.redrive 23514, us.test.redrive 23514, test.broken 22P02',
	'the worker dead-lettered the refused and the malformed messages');

# Redriving before the fix changes nothing but the attempt count.
is($node->safe_psql('postgres', 'SELECT candystore.redrive_dead_letters()'), '0', 'before the fix nothing passes');

# The fix; a writer (not the owner) redrives.
$node->safe_psql('postgres', q{
	DROP TRIGGER refuse_redrive_events ON candystore.event_log;
	CREATE ROLE ops IN ROLE candystore_writer;
});
is($node->safe_psql('postgres', 'SET ROLE ops; SELECT candystore.redrive_dead_letters()'), '2',
	'after the fix the refused messages are stored');
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(e.event_id || ' ' || e.routing_key, ', ' ORDER BY d.id)
		  FROM candystore.dead_letters d JOIN candystore.events e USING (position)
		 WHERE d.redriven_at IS NOT NULL}),
	'bd100000-0000-4000-8000-000000000001 eu.test.redrive, bd100000-0000-4000-8000-000000000002 us.test.redrive',
	'each with the routing key it was published with, linked from its dead letter');
is( $node->safe_psql(
		'postgres', q{
		SELECT redrive_attempts || ' ' || sqlstate || ' ' || split_part(reason, ':', 1)
		  FROM candystore.dead_letters WHERE redriven_at IS NULL}),
	'2 22P02 invalid input syntax for type json',
	'the malformed message stays, with the new reason and its attempts');

# The broker delivering the same message again now finds it stored.
my $duplicates = $node->safe_psql('postgres', 'SELECT duplicates FROM candystore.stats');
amqp_publish('eu.test.redrive', $refused_1);
ok( $node->poll_query_until(
		'postgres', "SELECT duplicates = $duplicates + 1 FROM candystore.stats"),
	'a later delivery of a redriven message is a duplicate');
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.dead_letters'), '3',
	'and is not dead-lettered again');

$node->stop;
done_testing();
