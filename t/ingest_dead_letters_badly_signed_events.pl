# The ingest worker under candystore.require_signatures, against a real
# RabbitMQ: a validly signed event and an unsigned event of a type that is not
# required are stored; a tampered, an unsigned and an unknown-key event of a
# required type are dead-lettered with SQLSTATE 22V08 and the reason (the
# status and what is wrong), beside them in the same batch.  Once the missing
# key is registered, redrive_dead_letters() stores that one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

start_broker();

my $node = node_with_worker('signing_worker',
	"candystore.batch_timeout_ms = 200\ncandystore.outbox_publisher = off\n"
	  . "candystore.require_signatures = 'test.signed.*'\n");
$node->poll_query_until('postgres', "SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'")
  or die "the worker never connected";
$node->safe_psql('postgres',
	"SELECT candystore.register_signing_key('worker-hmac', 'hmac-sha256', secret => '\\x" . ('5a' x 32) . "')");

sub envelope
{
	my ($n, $type) = @_;
	return sprintf('{"event_id":"51600000-0000-4000-8000-%012d","event_type":"%s","timestamp":"2026-01-27T10:15:00Z",'
		  . '"version":"1.0.0","source":{"host":"bigchungus","type":"webhook"},"correlation_ids":[],"payload":{"n":%d}}',
		$n, $type, $n);
}

sub signed
{
	my ($n, $change) = @_;
	return $node->safe_psql('postgres',
		"SELECT $change(candystore.sign_envelope('" . envelope($n, 'test.signed.event') . "', 'worker-hmac'))::text");
}

$node->safe_psql('postgres', q{
	CREATE FUNCTION tamper(e jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT jsonb_set(e, '{payload,n}', '99') $$;
	CREATE FUNCTION as_is(e jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT e $$;
	CREATE FUNCTION late_key(e jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT jsonb_set(e, '{signature,key_id}', '"late-key"') $$;
});
amqp_publish('test.signed.valid', signed(1, 'as_is'));
amqp_publish('test.signed.tampered', signed(2, 'tamper'));
amqp_publish('test.signed.unsigned', envelope(3, 'test.signed.event'));
amqp_publish('test.signed.unknown', signed(4, 'late_key'));
amqp_publish('test.plain', envelope(5, 'test.plain.event'));

$node->poll_query_until('postgres',
	q{SELECT (SELECT count(*) FROM candystore.dead_letters) = 3 AND (SELECT count(*) FROM candystore.events) = 2})
  or die "the messages did not arrive";
is($node->safe_psql('postgres', q{SELECT string_agg(routing_key, ', ' ORDER BY routing_key) FROM candystore.events}),
	'test.plain, test.signed.valid', 'the valid signature and the type not required are stored');
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(routing_key || ' ' || sqlstate || ' ' || substring(reason from 'signature (\w+):'), ', ' ORDER BY routing_key)
		  FROM candystore.dead_letters}),
	'test.signed.tampered 22V08 bad_signature, test.signed.unknown 22V08 unknown_key, test.signed.unsigned 22V08 unsigned',
	'tampered, unknown-key and unsigned events of the required type are dead-lettered with 22V08 and their status');
like($node->safe_psql('postgres', q{SELECT reason FROM candystore.dead_letters WHERE routing_key = 'test.signed.unknown'}),
	qr/^event of type "test\.signed\.event" refused: signature unknown_key: No key "late-key" is registered/,
	'the reason says what is wrong');

# the producer's new key registered: redrive stores that letter only
$node->safe_psql('postgres',
	"SELECT candystore.register_signing_key('late-key', 'hmac-sha256', secret => '\\x" . ('5a' x 32) . "')");
is($node->safe_psql('postgres', 'SELECT candystore.redrive_dead_letters()'), '1', 'redrive stores the event once its key is known');
is($node->safe_psql('postgres', q{SELECT string_agg(routing_key, ', ' ORDER BY routing_key) FROM candystore.dead_letters WHERE redriven_at IS NULL}),
	'test.signed.tampered, test.signed.unsigned', 'the tampered and the unsigned stay dead letters');

$node->stop;
done_testing();
