# A causation graph that reaches the ingest worker in one batch: the worker
# stores a batch in multi-row INSERTs (chunks of 8, 4 and 1 rows for 13
# messages), so parents and children share a statement, sit in consecutive
# statements, or come in the wrong order.  The walks must still return the
# whole graph, and a flow that arrives parents first must stay in one
# causation group without any link row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

start_broker();
my $node = node_with_worker('trace_batch', "candystore.batch_size = 200\ncandystore.batch_timeout_ms = 20\ncandystore.outbox_publisher = off\n");
$node->poll_query_until('postgres', "SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'")
  or die "the worker never connected";

sub id { return sprintf('0000abcd-0000-4000-8000-%012d', $_[0]); }

# name => number, then the batch in publishing order: [name, parents...]
my %n = (R => 1, A => 2, P1 => 3, P2 => 4, C2 => 5, P3 => 6, D => 7, B => 8,
	J => 9, E => 10, X => 11, P4 => 12, Z => 13, block => 99);
my @batch = (
	['R'], ['A', 'R'], ['P1'], ['P2', 'P1'],
	['C2', 'D'],                  # child before its parent, same statement
	['P3', 'P2'], ['D', 'A'], ['B', 'A'],
	['J', 'B', 'X'],              # first parent in the previous statement, second later
	['E', 'Z'],                   # parent in the next statement
	['X'], ['P4', 'P3'],
	['Z', 'B']);                  # a late parent with a parent of its own

sub envelope
{
	my ($name, @parents) = @_;
	return sprintf(
		'{"event_id":"%s","event_type":"test.trace.%s","timestamp":"2026-01-27T10:15:%02d.000000Z",'
		  . '"version":"1.0.0","source":{"host":"h","type":"webhook","app":"test","meta":null},'
		  . '"correlation_ids":[%s],"agent_context":null,"payload":{}}',
		id($n{$name}), lc($name), $n{$name} % 60,
		join(',', map { '"' . id($n{$_}) . '"' } @parents));
}

sub publish { amqp_publish('test.trace', $_[0]); }

# Hold the worker on a first message while the batch queues up behind it,
# so the whole graph arrives in its next batch.
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE candystore.event_log IN EXCLUSIVE MODE;');
publish(envelope('block'));
$node->poll_query_until(
	'postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	 WHERE backend_type = 'candystore ingest worker' AND wait_event_type = 'Lock'})
  or die "the worker never blocked";
publish(envelope(@$_)) for @batch;
$locker->query_safe('COMMIT');
$locker->quit;

$node->poll_query_until('postgres',
	"SELECT count(*) = 14 FROM candystore.event_log WHERE event_id::text LIKE '0000abcd-%'")
  or die "the batch never arrived";
is( $node->safe_psql(
		'postgres', q{
		SELECT count(DISTINCT xmin::text) FROM candystore.event_log
		 WHERE event_id::text LIKE '0000abcd-%' AND event_type <> 'test.trace.block'}),
	'1', 'the graph was stored by one transaction (one batch)');

my %name_of = map { id($n{$_}) => $_ } keys %n;

# "name@depth" of each row, in the function's order
sub walk
{
	my ($fn, $start) = @_;
	my $rows = $node->safe_psql('postgres',
		"SELECT event_id, depth FROM candystore.$fn('" . id($n{$start}) . "')");
	return join(' ', map { my ($i, $d) = split /\|/; "$name_of{$i}\@$d" } split /\n/, $rows);
}

is(walk('descendants', 'R'), 'R@0 A@1 D@2 B@2 C2@3 J@3 Z@3 E@4',
	'descendants: children before, after and in the next statements of their parents');
is(walk('ancestors', 'C2'), 'C2@0 D@1 A@2 R@3', 'ancestors of a child stored before its parent');
is(walk('ancestors', 'E'), 'E@0 Z@1 B@2 A@3 R@4', 'ancestors through a parent in a later statement');
is(walk('descendants', 'X'), 'X@0 J@1', 'a second parent stored after its child');
is(walk('trace', 'X'), 'R@0 X@0 A@1 J@1 D@2 B@2 C2@3 Z@3 E@4',
	'trace from the joined root: the whole graph, J one step from the root X');
is(walk('trace', 'E'), walk('trace', 'X'), 'trace is the same graph from any of its events');
is(walk('trace', 'P4'), 'P1@0 P2@1 P3@2 P4@3', 'the parents-first flow is one graph of its own');

# A flow that arrives parents first, in one statement or consecutive ones,
# shares its first event's group and needs no link row.
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(DISTINCT causation_group::text, ',') FROM candystore.event_log
		 WHERE event_id IN ('0000abcd-0000-4000-8000-000000000003', '0000abcd-0000-4000-8000-000000000004',
		                    '0000abcd-0000-4000-8000-000000000006', '0000abcd-0000-4000-8000-000000000012')}),
	id($n{P1}), 'the parents-first flow is filed in its root\'s group');
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(DISTINCT causation_group::text, ',') FROM candystore.event_log
		 WHERE event_id IN ('0000abcd-0000-4000-8000-000000000001', '0000abcd-0000-4000-8000-000000000002',
		                    '0000abcd-0000-4000-8000-000000000007', '0000abcd-0000-4000-8000-000000000008')}),
	id($n{R}), 'parents earlier in the same statement or an earlier one: the root\'s group');
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM candystore.causation_links
		 WHERE a IN (SELECT causation_group FROM candystore.event_log
		              WHERE event_id = '0000abcd-0000-4000-8000-000000000003')}),
	'0', 'the parents-first flow wrote no link row');

done_testing();
