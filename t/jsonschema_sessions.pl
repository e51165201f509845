# JSON Schema engine across sessions: resources registered by one session
# resolve in another, and a session validating many documents against one
# schema compiles it once and keeps its memory flat.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('jsonschema');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION candystore');

# A reader session compiles a schema whose $ref is not yet registered: error.
my ($rc, $out, $err) = $node->psql('postgres',
	q{SELECT candystore.jsonb_matches_schema('{"$ref": "https://t.example/int.json"}', '1')});
isnt($rc, 0, 'unregistered $ref fails');
like($err, qr/could not resolve JSON Schema \$ref/, 'with a clear message');

# Another session registers it; a new session resolves it.
$node->safe_psql('postgres',
	q{SELECT candystore.add_schema_resource('https://t.example/int.json', '{"type": "integer"}')});
is($node->safe_psql('postgres',
		q{SELECT candystore.jsonb_matches_schema('{"$ref": "https://t.example/int.json"}', '"x"')}),
	'f', 'registered resource resolves in another session');

# One session, one schema, 1000 then 100000 more validations: the schema is
# compiled once and the engine's memory does not grow.
my $schema = q{'{"type": "object", "required": ["id", "n"],
  "properties": {"id": {"type": "string", "format": "uuid"},
                 "n": {"type": "integer", "minimum": 0},
                 "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}}},
  "additionalProperties": false}'::jsonb};
my $doc = q{jsonb_build_object('id', gen_random_uuid(), 'n', i, 'tags', jsonb_build_array('a', 'bc'))};
my $mem = q{SELECT count(*) || ' ' || sum(total_bytes) FROM pg_backend_memory_contexts
             WHERE name IN ('candystore json schema', 'candystore json schema cache')};
my @lines = split /\n/, $node->safe_psql('postgres', qq{
	SELECT count(*) FILTER (WHERE candystore.jsonb_matches_schema($schema, $doc)) FROM generate_series(1, 1000) i;
	$mem;
	SELECT count(*) FILTER (WHERE candystore.jsonb_matches_schema($schema, $doc)) FROM generate_series(1, 100000) i;
	$mem;
});
is($lines[0], '1000', 'first 1000 documents valid');
is($lines[2], '100000', 'next 100000 documents valid');
like($lines[1], qr/^2 /, 'one compiled schema in the cache');
is($lines[3], $lines[1], 'engine memory identical after 100000 more validations');

$node->stop;
done_testing();
