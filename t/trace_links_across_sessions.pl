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

$node->stop;
done_testing();
