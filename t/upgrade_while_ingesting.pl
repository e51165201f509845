# The migration of an unpartitioned (0.1.0) store to the partitioned layout
# happens while the ingest worker runs and a publisher (with confirms)
# keeps publishing: ALTER EXTENSION candystore UPDATE while messages are on
# the broker and still coming, then partitions made while the worker
# stores them.  Every published event ends up stored exactly once
# (duplicates published too), every event stored before the update keeps
# its position, nothing is dead-lettered, and the worker is never
# restarted.  (Against a 0.1.0 catalog the worker holds its messages,
# t/workers_wait_for_the_extension_update.pl; here the update is mid-flow.)
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $amqp_port = start_broker();
my $publisher = build_amqp_tool('cs_publish');
my ($first_run, $second_run, $per_run, $before_update) = (1, 3, 3000, 1000);

my $node = node_with_worker('upgrade_ingesting', q{
candystore.outbox_publisher = off
candystore.reconnect_max_ms = 500
}, '0.1.0');
$node->poll_query_until('postgres',
	q{SELECT pid IS NOT NULL FROM candystore.worker_status() WHERE kind = 'ingest'})
  or die "the worker never started";
my $pid = $node->safe_psql('postgres', q{SELECT pid FROM candystore.worker_status() WHERE kind = 'ingest'});

# Events stored in the 0.1.0 layout, chained (each the child of the one before).
$node->safe_psql('postgres', qq{
	SELECT count(candystore.append(jsonb_build_object(
		'event_id', format('00000002-0000-4000-8000-%s', lpad(n::text, 12, '0')),
		'event_type', 'upgrade.stored', 'timestamp', '2026-01-27T10:00:00Z', 'version', '1.0.0',
		'source', jsonb_build_object('host', 'h', 'type', 'manual'),
		'correlation_ids', CASE WHEN n = 1 THEN '[]'::jsonb
		                   ELSE jsonb_build_array(format('00000002-0000-4000-8000-%s', lpad((n - 1)::text, 12, '0'))) END,
		'payload', jsonb_build_object('n', n))))
	  FROM generate_series(1, $before_update) n});
my $positions = q{SELECT md5(string_agg(event_id || ':' || position, ',' ORDER BY position))
                    FROM candystore.event_log WHERE event_type = 'upgrade.stored'};
my $positions_before = $node->safe_psql('postgres', $positions);

sub publish
{
	my ($run) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ $publisher, '127.0.0.1', $amqp_port, 'bloodbank.events.v1',
			'fireflies.transcript.ready', $run, $per_run, 0, 2 ], '>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err };
}

my $first = publish($first_run);
ok( $node->poll_query_until('postgres',
		q{SELECT state = 'retrying: extension not updated' FROM candystore.worker_status() WHERE kind = 'ingest'}),
	'the worker holds the messages for the 0.1.0 catalog');

is($node->safe_psql('postgres', q{SELECT count(*) FROM candystore.event_log WHERE event_type <> 'upgrade.stored'}),
	'0', 'nothing published is stored into the 0.1.0 layout');
note('the first publisher is ' . ($first->{h}->pumpable ? 'still publishing' : 'done') . ' at the update');
$node->safe_psql('postgres', 'ALTER EXTENSION candystore UPDATE');

# partitions made while the worker stores (rows move out of the default partition)
my $second = publish($second_run);
$node->poll_query_until('postgres', 'SELECT count(*) > 0 FROM candystore.event_ids WHERE event_type <> \'upgrade.stored\'')
  or die "the worker never stored after the update";
$node->safe_psql('postgres', 'SELECT count(*) FROM candystore.make_partitions(ahead => 2, size => 500)');
for my $p ($first, $second)
{
	ok($p->{h}->finish, 'a publisher had every message confirmed') or diag ${ $p->{err} };
}

my $all = $before_update + 2 * $per_run;
ok($node->poll_query_until('postgres', "SELECT count(*) = $all FROM candystore.event_log"),
	'every published event is stored');
$node->safe_psql('postgres', 'SELECT count(*) FROM candystore.make_partitions(ahead => 2)');
is($node->safe_psql('postgres', q{
	SELECT count(*) || '/' || count(DISTINCT event_id) FROM candystore.event_log}),
	"$all/$all", 'each once');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM (VALUES ($first_run), ($second_run)) r(run), generate_series(1, $per_run) i
	 WHERE NOT EXISTS (SELECT 1 FROM candystore.event_log l
	                    WHERE l.event_id = format('%s-0000-4000-8000-%s', lpad(to_hex(r.run), 8, '0'),
	                                              lpad(to_hex(i), 12, '0'))::uuid)}),
	'0', 'no published event is missing');
is($node->safe_psql('postgres', $positions), $positions_before,
	'the events stored before the update keep their positions');
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM candystore.event_ids) = (SELECT count(*) FROM candystore.event_log)}),
	't', 'every event has its id in event_ids');
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.event_log_default'), '0',
	'the default partition is empty once partitions are made');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM candystore.ancestors('00000002-0000-4000-8000-000000001000')}),
	$before_update, 'the causation chain stored before the update is walked whole');
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.dead_letters'), '0', 'no dead letter');
is($node->safe_psql('postgres', q{SELECT pid FROM candystore.worker_status() WHERE kind = 'ingest'}),
	$pid, 'the worker was never restarted');

$node->stop;
done_testing();
