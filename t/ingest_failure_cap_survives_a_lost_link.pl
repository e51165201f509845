# A message that fails alone is dead-lettered after
# candystore.max_message_failures failures counted against it, and the
# count survives a lost broker link: the broker redelivers the batch and the
# worker gives the message back the failures counted before, instead of
# max_message_failures tries anew at every reconnect.
#
# M fails always (P0001 from a trigger); N, its neighbour, succeeds its
# first 3 tries and then fails (the environment, as far as the worker can
# tell) until the test lets it through.  So M is blamed 2 or 3 times, then
# the batch waits; the connection is closed; after the redelivery N lets
# through again, and M needs only the rest of its 6 failures.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $cap = 6;
start_broker();
my $node = node_with_worker(
	'failure_cap', qq{
candystore.outbox_publisher = off
candystore.max_message_failures = $cap
candystore.batch_timeout_ms = 500
candystore.reconnect_max_ms = 1000
});
my $m = '0000ca90-0000-4000-8000-000000000001';
my $n = '0000ca90-0000-4000-8000-000000000002';
$node->safe_psql(
	'postgres', qq{
	CREATE SEQUENCE m_tries;
	CREATE SEQUENCE n_tries;
	CREATE TABLE ctl (n_ok_limit int);
	INSERT INTO ctl VALUES (3);
	CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN
		IF NEW.event_id = '$m' THEN
			PERFORM nextval('m_tries');
			RAISE EXCEPTION 'test: refusing M';
		END IF;
		IF NEW.event_id = '$n' AND nextval('n_tries') > (SELECT n_ok_limit FROM ctl) THEN
			RAISE EXCEPTION 'test: the environment fails N';
		END IF;
		RETURN NEW;
	END \$\$;
	CREATE TRIGGER refuse BEFORE INSERT ON candystore.event_log
		FOR EACH ROW EXECUTE FUNCTION refuse();});
$node->poll_query_until('postgres',
	q{SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'})
  or die "the worker never connected";

sub envelope
{
	my ($id) = @_;
	return qq({"event_id":"$id","event_type":"test.cap","timestamp":"2026-01-27T10:15:00Z",)
	  . q("version":"1.0.0","source":{"host":"h","type":"webhook"},"payload":{}});
}

sub last_value
{
	my ($seq) = @_;
	return $node->safe_psql('postgres', "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM $seq");
}

amqp_publish('test.cap', envelope($m));
amqp_publish('test.cap', envelope($n));

# phase 1: M blamed while N succeeds, then N fails: the batch waits
ok($node->poll_query_until('postgres', 'SELECT last_value >= 4 AND is_called FROM n_tries'),
	'N failed after its first three tries');
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.dead_letters'), '0',
	'M is not dead-lettered yet');

# phase 2: the link is lost while the batch waits; the broker redelivers it
rabbitmqctl(q{close_all_connections 'closed by the operator for a test'});
ok($node->poll_query_until('postgres', 'SELECT reconnects >= 1 FROM candystore.stats'),
	'the worker reconnected');
my $n_at = last_value('n_tries');
ok($node->poll_query_until('postgres', "SELECT last_value > $n_at FROM n_tries"),
	'the redelivered batch was tried (N still failing)');

# phase 3: N goes through; M is blamed until the cap
my $m0 = last_value('m_tries');
$node->safe_psql('postgres', 'UPDATE ctl SET n_ok_limit = 1000000');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM candystore.dead_letters'),
	'M is dead-lettered');
my $tries = last_value('m_tries') - $m0;
cmp_ok($tries, '<', $cap,
	"after the reconnect M needed fewer than $cap tries ($tries): its failures were kept");
like(
	$node->safe_psql('postgres', q{SELECT reason FROM candystore.dead_letters}),
	qr/^failed $cap times .*max_message_failures.*test: refusing M/,
	'the dead letter says it failed the capped number of times, with the last error');
is($node->safe_psql('postgres', "SELECT count(*) FROM candystore.event_log WHERE event_id = '$n'"),
	'1', 'N is stored');

$node->stop;
stop_broker();
done_testing();
