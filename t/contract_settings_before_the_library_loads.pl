# Without candystore in shared_preload_libraries its settings do not exist
# until a session first calls one of its functions: a writer's SET before
# that makes a placeholder.  When the library loads, the superuser-only
# settings drop a placeholder a non-superuser set (PostgreSQL warns), so the
# writer's append still meets the registered contract.  ALTER ROLE and ALTER
# DATABASE ... SET by a writer are refused too.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('not_preloaded');
$node->init;
$node->start;
$node->safe_psql('postgres', join(";\n",
	'CREATE EXTENSION candystore',
	'CREATE ROLE contract_writer LOGIN IN ROLE candystore_writer',
	q{SELECT candystore.register_schema('contract.signed', '{"type": "object", "required": ["kind"],
	    "properties": {"signed_at": {"type": "string", "format": "date-time"}, "kind": {"const": "contract"}}}')}));

my $append = q{SELECT candystore.append('{"event_id": "c1000000-0000-4000-8000-000000000001", "event_type": "contract.signed",
	"timestamp": "2026-01-27T10:15:00Z", "version": "1.0.0", "source": {"host": "h", "type": "manual"},
	"payload": {"signed_at": "yesterday", "kind": "other"}}')};
my ($rc, $out, $err) = $node->psql('postgres', join(";\n",
	'SET candystore.jsonschema_format_assertion = off',
	q{SET candystore.jsonschema_default_draft = '4'},
	$append), extra_params => ['-U', 'contract_writer']);
like($err, qr/permission denied to set parameter "candystore\.jsonschema_format_assertion"/,
	'the placeholder of format_assertion a writer set is dropped when the library loads');
like($err, qr/permission denied to set parameter "candystore\.jsonschema_default_draft"/,
	'so is the one of default_draft');
like($err, qr/invalid payload for event type "contract\.signed"/, 'and the append is refused by the contract')
  or diag($err);
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.events'), '0', 'nothing was stored');

# Nor can a writer store the settings for later sessions, before the
# library is loaded (PostgreSQL lets only a superuser store a setting the
# session does not know) or after (they are superuser-only).
$node->safe_psql('postgres', 'CREATE DATABASE writers_own OWNER contract_writer');
$node->safe_psql('writers_own', 'CREATE EXTENSION candystore');
for my $statement (
	'ALTER ROLE contract_writer SET candystore.jsonschema_format_assertion = off',
	q{ALTER ROLE contract_writer IN DATABASE writers_own SET candystore.jsonschema_default_draft = '4'},
	'ALTER DATABASE writers_own SET candystore.jsonschema_format_assertion = off')
{
	for my $loaded (0, 1)
	{
		my $sql = ($loaded ? q{SELECT candystore.jsonb_matches_schema('{}', '1');} : '') . $statement;
		($rc, $out, $err) = $node->psql('writers_own', $sql, extra_params => ['-U', 'contract_writer']);
		like($err, qr/permission denied to set parameter/,
			"refused to a writer, library " . ($loaded ? 'loaded' : 'not loaded yet') . ": $statement");
	}
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_db_role_setting'), '0', 'no setting was stored');

$node->stop;
done_testing();
