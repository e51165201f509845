# The schema registry across sessions: a session that has cached the latest
# schema of an event type (or its absence) sees a version registered by
# another session from its next statement, never one that was rolled back;
# and the registry survives pg_dump/restore (shipped versions come back with
# CREATE EXTENSION, registered ones as data).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('registry');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION candystore');

my $n = 0;
sub append_sql
{
	my ($type, $payload) = @_;
	$n++;
	my $id = sprintf('%08d-0000-4000-8000-000000000000', $n);
	return "SELECT candystore.append('{\"event_id\":\"$id\",\"event_type\":\"$type\","
	  . "\"timestamp\":\"2026-01-27T10:15:00Z\",\"version\":\"1.0.0\","
	  . "\"source\":{\"host\":\"h\",\"type\":\"manual\"},\"payload\":$payload}') > 0";
}

# Session A appends and so caches version 1.
$node->safe_psql('postgres',
	q{SELECT candystore.register_schema('t.reg.item', '{"type": "object", "properties": {"n": {"type": "integer"}}}')});
my $a = $node->background_psql('postgres', on_error_stop => 0);
is($a->query_safe(append_sql('t.reg.item', '{"n": 1}')), 't', 'session A appends under version 1');

# A registration rolled back in session B changes nothing for A.
$node->safe_psql('postgres', q{BEGIN;
	SELECT candystore.register_schema('t.reg.item', '{"type": "object", "required": ["never"]}', force => true);
	ROLLBACK;});
is($a->query_safe(append_sql('t.reg.item', '{"n": 2}')), 't', 'a rolled-back registration is not seen');

# Session B registers version 2 (unit required): A's next append is checked against it.
$node->safe_psql('postgres',
	q{SELECT candystore.register_schema('t.reg.item', '{"type": "object", "required": ["unit"], "properties": {"n": {"type": "integer"}}}', force => true)});
my ($out, $failed) = $a->query(append_sql('t.reg.item', '{"n": 3}'));
ok($failed, 'session A refuses a version-1 payload once version 2 is committed');
like($a->{stderr}, qr/invalid payload for event type "t\.reg\.item": \/payload: required property "unit" is missing/,
	'with the path and reason');
$a->{stderr} = '';
is($a->query_safe(append_sql('t.reg.item', '{"n": 4, "unit": "kg"}')), 't', 'a version-2 payload is stored');

# An unknown type cached as unknown becomes known when B registers it.
$a->query_safe('SET candystore.accept_unknown_event_types = off');
($out, $failed) = $a->query(append_sql('t.reg.fresh', '{}'));
like($a->{stderr}, qr/event type "t\.reg\.fresh" has no registered schema/, 'unknown type refused');
$a->{stderr} = '';
$node->safe_psql('postgres', q{SELECT candystore.register_schema('t.reg.fresh', '{"type": "object"}')});
is($a->query_safe(append_sql('t.reg.fresh', '{}')), 't', 'registered in another session: accepted');
$a->quit;

# pg_dump / restore: shipped schemas once, registered versions kept.
my $dump = "$PostgreSQL::Test::Utils::tmp_check/registry.sql";
$node->command_ok(['pg_dump', '-d', $node->connstr('postgres'), '-f', $dump], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->psql('restored', undef, extra_params => ['-f', $dump]);
is( $node->safe_psql('restored',
		q{SELECT count(*) FILTER (WHERE builtin) || ' ' || string_agg(event_type || ':' || version, ',' ORDER BY event_type, version) FILTER (WHERE NOT builtin)
		    FROM candystore.schemas}),
	$node->safe_psql('postgres',
		q{SELECT count(*) FILTER (WHERE builtin) || ' ' || string_agg(event_type || ':' || version, ',' ORDER BY event_type, version) FILTER (WHERE NOT builtin)
		    FROM candystore.schemas}),
	'the registry is the same after restore');
is( $node->safe_psql('restored',
		q{SELECT string_agg(event_type || ':' || version, ',' ORDER BY event_type, version) FROM candystore.schemas WHERE NOT builtin}),
	't.reg.fresh:1,t.reg.item:1,t.reg.item:2', 'registered versions restored');
my ($rc, $o, $e) = $node->psql('restored', append_sql('t.reg.item', '{"n": 5}'));
like($e, qr/required property "unit" is missing/, 'restored registry enforces the latest version');

$node->stop;
done_testing();
