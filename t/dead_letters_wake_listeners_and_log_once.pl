# Every dead letter is loud: NOTIFY candystore_dead_letter (id, sqlstate,
# routing key) when it commits, and one LOG line with its reason, routing key
# and SQLSTATE -- once, even when the worker recorded it in a batch that was
# rolled back and redone message by message; a redrive that fails again is
# announced too; a flood logs candystore.dead_letter_log_limit lines per
# window and then one line saying how many were suppressed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

start_broker();

my $node = node_with_worker('loud',
	"candystore.batch_timeout_ms = 1000\ncandystore.outbox_publisher = off\n"
	  . "candystore.dead_letter_log_limit = 3\ncandystore.dead_letter_log_window = 2s\n");
$node->poll_query_until('postgres', "SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'")
  or die "the worker never connected";

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN candystore_dead_letter');

sub notifications
{
	my $out = $listener->query_safe('SELECT 1');
	my @payloads = ($out =~ /Asynchronous notification "candystore_dead_letter" with payload "(.*?)" received/g);
	return \@payloads;
}

sub log_lines_since
{
	my ($offset, $re) = @_;
	my $log = slurp_file($node->logfile, $offset);
	return scalar(() = $log =~ /$re/g);
}

my $envelope = '{"event_id":"%s","event_type":"test.loud","timestamp":"2026-01-27T10:15:00Z",'
  . '"version":"1.0.0","source":{"host":"h","type":"webhook","app":"t","meta":null},'
  . '"correlation_ids":[],"agent_context":null,"payload":{"n":%d}}';

# An event stored already, that the broker then brings with other content:
# storing it raises in the batch, which is rolled back and redone message by
# message -- after the malformed message's dead letter was inserted once.
$node->safe_psql('postgres',
	sprintf(q{SELECT candystore.append('%s')}, sprintf($envelope, 'b0d00000-0000-4000-8000-000000000001', 1)));
my $offset = -s $node->logfile;
amqp_publish('test.broken', '{"not json');
amqp_publish('test.conflict', sprintf($envelope, 'b0d00000-0000-4000-8000-000000000001', 2));
$node->poll_query_until('postgres', 'SELECT count(*) = 2 FROM candystore.dead_letters')
  or die "the messages were not dead-lettered";

my $broken = $node->safe_psql('postgres', q{SELECT id FROM candystore.dead_letters WHERE routing_key = 'test.broken'});
my @got = sort @{ notifications() };
like(join("\n", @got), qr/\{"id": $broken, "sqlstate": "22P02", "routing_key": "test.broken"\}/,
	'the listener is woken with the id, SQLSTATE and routing key of the dead letter');
is(scalar(@got), 2, 'one notification per dead letter');
sleep 1;    # the log is written after the commit
is( log_lines_since($offset, qr/dead letter \d+, routing key 'test\.broken', SQLSTATE 22P02: malformed JSON/),
	1, 'the malformed message is logged once, with its routing key, SQLSTATE and reason');
is(log_lines_since($offset, qr/dead letter \d+, routing key 'test\.conflict', SQLSTATE /),
	1, 'the message that failed in the batch is logged once');

# A redrive that fails again is a dead letter again: announced and logged.
$offset = -s $node->logfile;
$node->safe_psql('postgres', "SELECT candystore.redrive_dead_letters(ARRAY[$broken])");
is_deeply(notifications(), [qq({"id": $broken, "sqlstate": "22P02", "routing_key": "test.broken"})],
	'a letter that fails again when redriven wakes the listener');
is(log_lines_since($offset, qr/dead letter $broken failed again when redriven, routing key 'test\.broken', SQLSTATE 22P02/),
	1, 'and is logged once');

# Rolled back: nothing said.
$offset = -s $node->logfile;
$node->safe_psql('postgres',
	q{BEGIN; INSERT INTO candystore.dead_letters (reason, sqlstate, routing_key, body) VALUES ('r', '22000', 'test.rolled', ''); ROLLBACK;});
$node->safe_psql('postgres',
	q{BEGIN; SAVEPOINT s; INSERT INTO candystore.dead_letters (reason, sqlstate, routing_key, body) VALUES ('r', '22000', 'test.rolled', ''); ROLLBACK TO s; COMMIT;});
is_deeply(notifications(), [], 'a dead letter rolled back (or its savepoint) notifies nothing');
is(log_lines_since($offset, qr/candystore: dead letter.*test\.rolled/), 0, 'and logs nothing');

# A flood from one process (the rate limit is each process's): 3 lines per
# 2 s window, then one line counting the rest.
my $writer = $node->background_psql('postgres');
sleep 2;
$offset = -s $node->logfile;
$writer->query_safe(
	q{INSERT INTO candystore.dead_letters (reason, sqlstate, routing_key, body)
	  SELECT 'flood ' || i, '22000', 'test.flood', '' FROM generate_series(1, 50) i});
is(scalar(@{ notifications() }), 50, 'every dead letter of a flood is notified');
is(log_lines_since($offset, qr/routing key 'test\.flood'/), 3, 'only candystore.dead_letter_log_limit of them are logged');
sleep 2.2;
$writer->query_safe(
	q{INSERT INTO candystore.dead_letters (reason, sqlstate, routing_key, body) VALUES ('after', '22000', 'test.after', '')});
is(log_lines_since($offset, qr/47 more dead letters were not logged/), 1,
	'once the window is over, one line says how many were not logged');
is(log_lines_since($offset, qr/routing key 'test\.after'/), 1, 'and the next dead letter is logged again');

$writer->quit;
$listener->quit;
$node->stop;
stop_broker();
done_testing();
