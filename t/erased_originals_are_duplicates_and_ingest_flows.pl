# Erasure and the ingest worker, through a real RabbitMQ:
# - while a large erasure (erase_subject of 10,000 events) holds its
#   transaction open, the worker goes on storing new events: the erasure
#   locks only the rows it rewrites;
# - after it commits, the erased originals delivered again are duplicates:
#   acked, nothing stored, the tombstones stay, nothing dead-lettered;
# - other content under an erased event's id is still a conflict (23505),
#   dead-lettered.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $amqp_port = start_broker();
my $publisher = build_amqp_tool('cs_publish');

# cs_publish's payload is {"id", "n", "pad": PAD x's}: the pad is the subject.
sub publish
{
	my ($run, $count, $pad) = @_;
	my $out = `$publisher 127.0.0.1 $amqp_port bloodbank.events.v1 fireflies.transcript.ready $run $count 0 1 $pad`;
	die "publisher failed" if $? != 0;
	return;
}

my $node = node_with_worker(
	'erasure', q{
candystore.batch_size = 200
candystore.batch_timeout_ms = 20
candystore.outbox_publisher = off
});
$node->poll_query_until('postgres', "SELECT state = 'consuming' FROM candystore.worker_status()")
  or die "the worker never connected";

sub stored
{
	my ($run) = @_;
	my $prefix = sprintf('%08x-0000-4000-8000-', $run);
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM candystore.event_log WHERE event_id::text LIKE '$prefix%'");
}

sub erased
{
	my ($run) = @_;
	my $prefix = sprintf('%08x-0000-4000-8000-', $run);
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM candystore.event_log WHERE event_id::text LIKE '$prefix%' AND envelope->'payload' ? 'candystore_erasure'");
}

sub stat_value
{
	my ($col) = @_;
	return $node->safe_psql('postgres', "SELECT $col FROM candystore.stats");
}

sub queue_drained
{
	my $queues = queues_until(qr/^event_store_manager_queue\s+0$/m, 100);
	return $queues =~ /^event_store_manager_queue\s+0$/m;
}

my $subject = 'x' x 64;
my $big = 10000;
publish(1, $big, 64);
$node->poll_query_until('postgres', "SELECT count(*) = $big FROM candystore.event_log WHERE event_id::text LIKE '00000001-%'")
  or die "run 1 was not stored";
$node->safe_psql('postgres', q{SELECT candystore.register_subject_path('fireflies.transcript.ready', '$.pad')});

# The erasure, held open: its row locks stay until COMMIT.
my $eraser = $node->background_psql('postgres');
$eraser->query_safe('BEGIN');
my $count = $eraser->query_safe("SELECT events FROM candystore.erase_subject('$subject', 'TAP request')");
like($count, qr/^\s*$big\s*$/m, "the erasure covers the subject's $big events");

# New events of another subject, and redeliveries of originals being erased
publish(2, 2000, 32);
publish(1, 50, 64);
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 2000 FROM candystore.event_log WHERE event_id::text LIKE '00000002-%'"),
	'the worker stores new events while the erasure is open');
ok(queue_drained(), 'and acks everything, the redeliveries included');
is($node->safe_psql('postgres', q{SELECT count(*) FROM candystore.dead_letters}), '0', 'nothing dead-lettered');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'candystore ingest worker' AND wait_event_type = 'Lock'}),
	'0', 'the worker is not waiting on a lock');

$eraser->query_safe('COMMIT');
$eraser->quit;
is(erased(1), $big, 'the erasure committed: every event of the subject is a tombstone');
is(erased(2), '0', 'the events stored meanwhile are untouched');

# The erased originals again, all of them: duplicates, acked, nothing stored.
my $dups = stat_value('duplicates');
publish(1, $big, 64);
ok($node->poll_query_until('postgres', "SELECT duplicates - $dups >= $big FROM candystore.stats"),
	'the redelivered originals count as duplicates');
ok(queue_drained(), 'every redelivered original is acked');
is(stored(1), $big, 'nothing new stored');
is(erased(1), $big, 'no resurrection: the tombstones stay');
is($node->safe_psql('postgres', q{SELECT count(*) FROM candystore.dead_letters}), '0', 'nothing dead-lettered');

# Other content under erased ids: a conflict, dead-lettered with 23505.
publish(1, 5, 8);
ok( $node->poll_query_until('postgres', q{SELECT count(*) = 5 FROM candystore.dead_letters WHERE sqlstate = '23505'}),
	'other content under an erased id is dead-lettered as a conflict');
ok(queue_drained(), 'and acked');
is(erased(1), $big, 'the tombstones are unchanged');

$node->stop;
stop_broker();
done_testing();
