# Causation links are read from the stored events, not kept in backend
# memory: a child stored in one session before its parent is linked to the
# parent stored later in another session, and still after a restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('trace');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION candystore');

my $parent = '11111111-1111-4111-8111-111111111111';
my $child  = '22222222-2222-4222-8222-222222222222';
sub envelope {
	my ($id, $type, $parents) = @_;
	return "'{\"event_id\":\"$id\",\"event_type\":\"$type\","
	  . "\"timestamp\":\"2026-01-27T10:15:00.123456Z\",\"version\":\"1.0.0\","
	  . "\"source\":{\"host\":\"h\",\"type\":\"webhook\",\"app\":\"fireflies\",\"meta\":null},"
	  . "\"correlation_ids\":[$parents],\"agent_context\":null,\"payload\":{\"id\":\"ff_1\"}}'";
}

$node->safe_psql('postgres',
	'SELECT candystore.append(' . envelope($child, 'fireflies.transcript.ready', "\"$parent\"") . ')');
is($node->safe_psql('postgres',
		"SELECT coalesce(event_type, 'missing') FROM candystore.trace('$child') WHERE depth = 0"),
	'missing', 'parent not stored yet shows as missing');

$node->safe_psql('postgres',
	'SELECT candystore.append(' . envelope($parent, 'fireflies.transcript.upload', '') . ')');
is($node->safe_psql('postgres',
		"SELECT string_agg(event_type || ':' || depth, ',') FROM candystore.descendants('$parent')"),
	'fireflies.transcript.upload:0,fireflies.transcript.ready:1',
	'late parent is linked from another session');

$node->restart;
is($node->safe_psql('postgres',
		"SELECT string_agg(event_type || ':' || depth, ',') FROM candystore.ancestors('$child')"),
	'fireflies.transcript.ready:0,fireflies.transcript.upload:1',
	'links survive a restart');

# Concurrent appends: a child and its parent (which has a parent of its own)
# stored by two transactions in flight at the same time, in both orders.
# Whichever commits last, the child is found below the grandparent.
my $n = 0;
sub uuid_for { return sprintf('%08d-3333-4333-8333-333333333333', $_[0]); }
for my $child_first (1, 0)
{
	my ($grand, $mid, $leaf) = map { uuid_for(++$n) } 1 .. 3;
	$node->safe_psql('postgres',
		'SELECT candystore.append(' . envelope($grand, 'trace.grand', '') . ')');
	my $a = $node->background_psql('postgres');
	my $b = $node->background_psql('postgres');
	my $append_leaf = 'SELECT candystore.append(' . envelope($leaf, 'trace.leaf', "\"$mid\"") . ')';
	my $append_mid = 'SELECT candystore.append(' . envelope($mid, 'trace.mid', "\"$grand\"") . ')';
	$a->query_safe('BEGIN');
	$b->query_safe('BEGIN');
	if ($child_first)
	{
		$a->query_safe($append_leaf);
		$b->query_safe($append_mid);
	}
	else
	{
		$b->query_safe($append_mid);
		$a->query_safe($append_leaf);
	}
	$b->query_safe('COMMIT');
	$a->query_safe('COMMIT');
	$a->quit;
	$b->quit;
	my $order = $child_first ? 'child first' : 'parent first';
	is($node->safe_psql('postgres',
			"SELECT string_agg(event_type || ':' || depth, ',') FROM candystore.descendants('$grand')"),
		'trace.grand:0,trace.mid:1,trace.leaf:2',
		"concurrent appends, $order: descendants reach the child");
	is($node->safe_psql('postgres',
			"SELECT string_agg(event_type || ':' || depth, ',') FROM candystore.trace('$leaf')"),
		'trace.grand:0,trace.mid:1,trace.leaf:2',
		"concurrent appends, $order: trace of the child reaches the grandparent");
}

$node->stop;
done_testing();
