# An installation of 0.1.0, built from the install script as released
# (sql/released/), holding events, links, schemas, a resource, dead letters
# and outbox rows, is upgraded with ALTER EXTENSION candystore UPDATE.
# Afterwards (a) its catalog equals a fresh install of the current version,
# object for object, (b) every row it held is still there and readable, and
# (c) the whole pg_regress suite passes against an upgraded database.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = $ENV{CANDYSTORE_ROOT} or die "CANDYSTORE_ROOT is not set";
my ($current) = slurp_file("$root/candystore.control") =~ /^default_version = '([^']+)'/m;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('upgraded', q{CREATE EXTENSION candystore VERSION '0.1.0'});
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'candystore'}),
	'0.1.0', 'the released 0.1.0 installs');

sub envelope
{
	my ($n, @parents) = @_;
	my $id = sprintf('0a000000-0000-4000-8000-%012d', $n);
	my $parents = join(', ', map { sprintf('"0a000000-0000-4000-8000-%012d"', $_) } @parents);
	return qq('{"event_id": "$id", "event_type": "upgrade.checked", "timestamp": "2026-01-27T10:00:00Z", )
	  . qq("version": "1.0.0", "source": {"host": "h", "type": "manual"}, "correlation_ids": [$parents], )
	  . qq("payload": {"n": $n}, "extra": "kept"}');
}

# Data of every kind a 0.1.0 user can have.
$node->safe_psql('upgraded', join(";\n",
	q{SELECT candystore.register_schema('upgrade.checked', '{"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}')},
	q{SELECT candystore.add_schema_resource('https://example.com/upgrade/common.json', '{"type": "string"}')},
	'SELECT candystore.append(' . envelope(1) . q{, 'upgrade.checked')},
	'SELECT candystore.append(' . envelope(2, 1) . q{, 'upgrade.checked')},
	'SELECT candystore.append(' . envelope(4, 3) . ')',     # a parent that arrives later
	'SELECT candystore.append(' . envelope(3, 1) . ')',
	q{SELECT candystore.publish(candystore.get_event('0a000000-0000-4000-8000-000000000002'), 'upgrade.out')},
	q{INSERT INTO candystore.dead_letters (reason, sqlstate, routing_key, headers, body)
	  VALUES ('invalid input syntax for type json', '22P02', 'upgrade.bad', '{"x-try": 1}', '\x7b6e6f74206a736f6e'::bytea)}));

my $census = q{SELECT (SELECT count(*) FROM candystore.events) || '/' ||
  (SELECT count(*) FROM candystore.causation_links) || '/' ||
  (SELECT count(*) FROM candystore.schemas WHERE NOT builtin) || '/' ||
  (SELECT count(*) FROM candystore.schema_resources) || '/' ||
  (SELECT count(*) FROM candystore.dead_letters) || '/' ||
  (SELECT count(*) FROM candystore.outbox)};
my $before = $node->safe_psql('upgraded', $census);
my $trace_before = $node->safe_psql('upgraded',
	q{SELECT string_agg(event_id || ':' || depth, ',' ORDER BY depth, event_id) FROM candystore.trace('0a000000-0000-4000-8000-000000000004')});

$node->safe_psql('upgraded', 'ALTER EXTENSION candystore UPDATE');
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'candystore'}),
	$current, "ALTER EXTENSION UPDATE reaches $current");

# (b) the data
is($node->safe_psql('upgraded', $census), $before, 'every event, link, schema, resource, dead letter and outbox row is kept');
is($node->safe_psql('upgraded',
		q{SELECT candystore.get_event('0a000000-0000-4000-8000-000000000002') = }
		  . envelope(2, 1) . '::jsonb'),
	't', 'an event upgraded from 0.1.0 comes back exactly as appended');
is($node->safe_psql('upgraded',
		q{SELECT string_agg(event_id || ':' || depth, ',' ORDER BY depth, event_id) FROM candystore.trace('0a000000-0000-4000-8000-000000000004')}),
	$trace_before, 'the causation links still answer trace()');
# events stored under 0.1.0 are read as a stream first, in position order,
# then an event appended after the upgrade
$node->safe_psql('upgraded', q{SELECT candystore.append('{"event_id": "0a000000-0000-4000-8000-00000000000a", "event_type": "upgrade.streamed", "timestamp": "2026-01-27T10:00:00Z", "version": "1.0.0", "source": {"host": "h", "type": "manual"}, "payload": {}}')});
is($node->safe_psql('upgraded', q{SELECT string_agg(position::text, ',' ORDER BY cursor) FROM candystore.read_all(NULL, 100000)}),
	$node->safe_psql('upgraded', q{SELECT string_agg(position::text, ',' ORDER BY position) FROM candystore.events}),
	'read_all() reads the events stored under 0.1.0, in position order, then the new ones');
my ($rc, $out, $err) = $node->psql('upgraded',
	q{SELECT candystore.append('{"event_id": "0a000000-0000-4000-8000-000000000009", "event_type": "upgrade.checked", "timestamp": "2026-01-27T10:00:00Z", "version": "1.0.0", "source": {"host": "h", "type": "manual"}, "payload": {"n": "not an integer"}}')});
like($err, qr/invalid payload for event type "upgrade.checked"/, 'a schema registered under 0.1.0 is still enforced after the upgrade')
  or diag($err);

# (a) the catalog.  pg_dump leaves extension members out of an ordinary
# dump; --binary-upgrade dumps each of them.  The OIDs it pins differ
# between the two databases and are left out of the comparison.
$node->safe_psql('fresh', 'CREATE EXTENSION candystore');
sub catalog
{
	my ($db) = @_;
	my $dump = `pg_dump --schema-only --binary-upgrade --no-owner -h ${\$node->host} -p ${\$node->port} -U postgres $db`;
	die "pg_dump of $db failed" if $? != 0;
	my @lines = grep {
		!/binary_upgrade_set_|pg_catalog\.binary_upgrade_|^-- (Name|Dumped)|^SELECT pg_catalog\.set_config|^\\(un)?restrict |^WHERE oid = '\d+';$|^SELECT pg_catalog\.setval\(/
	} split /\n/, $dump;
	my $text = join("\n", @lines);
	$text =~ s/relfrozenxid = '\d+'/relfrozenxid = 'X'/g;
	$text =~ s/relminmxid = '\d+'/relminmxid = 'X'/g;
	$text =~ s/\n{3,}/\n\n/g;
	return $text;
}
my $fresh = catalog('fresh');
my $upgraded = catalog('upgraded');
my $dir = PostgreSQL::Test::Utils::tempdir();
open(my $fh, '>', "$dir/fresh.sql") or die; print $fh $fresh; close $fh;
open($fh, '>', "$dir/upgraded.sql") or die; print $fh $upgraded; close $fh;
ok(length($fresh) > 10000, 'the catalog dump holds the extension\'s objects');
my $diff = `diff -u '$dir/fresh.sql' '$dir/upgraded.sql'`;
is($diff, '', "the upgraded catalog equals a fresh install of $current") or diag(substr($diff, 0, 20000));

# The shipped schemas and built-in resources are data the install script
# writes, not catalog: the upgraded database holds exactly a fresh one's.
my $shipped = q{SELECT string_agg(format('%s v%s %s', event_type, version, md5(schema::text)), E'\n' ORDER BY event_type, version)
  FROM candystore.schemas WHERE builtin};
my $resources = q{SELECT string_agg(format('%s %s', uri, md5(document::text)), E'\n' ORDER BY uri)
  FROM candystore.schema_resources WHERE builtin};
is($node->safe_psql('upgraded', $shipped), $node->safe_psql('fresh', $shipped),
	'the upgraded database holds the shipped schemas of a fresh install');
is($node->safe_psql('upgraded', $resources), $node->safe_psql('fresh', $resources),
	'the upgraded database holds the built-in resources of a fresh install');

# An upgrade registers a shipped schema the old version did not have: here
# one is taken out of a 0.1.0 installation before the upgrade (as if 0.1.0
# had not shipped it).  A shipped version stored with other content stops
# the upgrade, which then changes nothing.
$node->safe_psql('postgres', 'CREATE DATABASE shipped');
$node->safe_psql('shipped', q{CREATE EXTENSION candystore VERSION '0.1.0'});
$node->safe_psql('shipped', q{
	ALTER TABLE candystore.schemas DISABLE TRIGGER USER;
	DELETE FROM candystore.schemas WHERE event_type = 'theboard.meeting.started';
	UPDATE candystore.schemas SET schema = schema || '{"x-changed": true}' WHERE event_type = 'artifact.created';
	ALTER TABLE candystore.schemas ENABLE TRIGGER USER;});
($rc, $out, $err) = $node->psql('shipped', 'ALTER EXTENSION candystore UPDATE');
like($err, qr/schemas\/artifact\/created\.v1\.schema\.json: version 1 of "artifact\.created" is already registered with other content/,
	'a shipped version stored with other content stops the upgrade, naming the file');
is($node->safe_psql('shipped', q{SELECT extversion FROM pg_extension WHERE extname = 'candystore'}),
	'0.1.0', 'the stopped upgrade changed nothing');
$node->safe_psql('shipped', q{
	ALTER TABLE candystore.schemas DISABLE TRIGGER USER;
	UPDATE candystore.schemas SET schema = schema - 'x-changed' WHERE event_type = 'artifact.created';
	ALTER TABLE candystore.schemas ENABLE TRIGGER USER;});
$node->safe_psql('shipped', 'ALTER EXTENSION candystore UPDATE');
is($node->safe_psql('shipped', $shipped), $node->safe_psql('fresh', $shipped),
	'the upgrade registered the shipped schema the old installation lacked');

# (c) the regression suite against a database upgraded from 0.1.0.  Its
# tests expect an empty store under pg_regress's database name.
$node->safe_psql('postgres', 'CREATE DATABASE contrib_regression');
$node->safe_psql('contrib_regression', q{CREATE EXTENSION candystore VERSION '0.1.0'});
$node->safe_psql('contrib_regression', 'ALTER EXTENSION candystore UPDATE');
my @tests = sort map { m{([^/]+)\.sql$} } glob("$root/sql/*.sql");
my $outdir = "$dir/regress";
chdir $root;    # the tests \i their helpers by relative path
mkdir $outdir;
my $regress = system($ENV{PG_REGRESS}, '--use-existing', '--dbname=contrib_regression',
	'--host=' . $node->host, '--port=' . $node->port, '--user=postgres',
	"--inputdir=$root", "--outputdir=$outdir", "--bindir=", @tests);
is($regress, 0, 'the pg_regress suite passes against a database upgraded from 0.1.0')
  or diag(-e "$outdir/regression.diffs" ? substr(slurp_file("$outdir/regression.diffs"), 0, 20000) : 'no diffs');

$node->stop;
done_testing();
