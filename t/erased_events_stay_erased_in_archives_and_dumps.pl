# What leaves the database after an erasure shows the erased form:
# archive_events() writes the tombstones (and nothing of the originals),
# restore_archive() takes them back in a fresh store that validates payloads
# against a strict schema, and pg_dump (restored with pg_restore) carries
# the tombstones and the audit, not the content.  The originals redelivered
# to the restored store are duplicates.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('erased');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION candystore');

my $dir = PostgreSQL::Test::Utils::tempdir();
chmod 0777, $dir;    # the server (maybe another user) writes here

my $secret = 'Ada Lovelace, 12 Secret Street';
$node->safe_psql('postgres', <<"SQL");
CREATE TABLE originals AS
SELECT n, jsonb_build_object(
        'event_id', ('e4000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
        'event_type', 'person.moved', 'timestamp', '2026-01-27T10:15:00Z',
        'version', '1.0.0', 'source', jsonb_build_object('host', 'h', 'type', 'manual'),
        'correlation_ids', CASE WHEN n > 1 THEN jsonb_build_array(('e4000000-0000-4000-8000-' || lpad((n - 1)::text, 12, '0'))::uuid) ELSE '[]' END,
        'payload', jsonb_build_object('person', CASE WHEN n % 2 = 0 THEN 'ada' ELSE 'bob' END,
                                      'address', CASE WHEN n % 2 = 0 THEN '$secret' ELSE 'elsewhere' END)) AS envelope
  FROM generate_series(1, 20) n;
SELECT count(candystore.append(envelope)) FROM originals;
SELECT candystore.register_subject_path('person.moved', '\$.person');
SELECT candystore.erase_subject('ada', 'request 7');
SQL
is($node->safe_psql('postgres', q{SELECT count(*) FROM candystore.events WHERE payload ? 'candystore_erasure'}),
	'10', "ada's ten events are erased");

# archive: tombstones, none of the content
my $archive = "$dir/all.jsonl.gz";
my $m = $node->safe_psql('postgres', qq{SELECT m->>'count' FROM candystore.archive_events('$archive', 1, 1000) m});
is($m, '20', 'the archive holds every event');
my $text = `zcat '$archive'`;
is($?, 0, 'zcat reads the archive');
unlike($text, qr/Secret Street/, 'the archive holds none of the erased content');
is(scalar(() = $text =~ /candystore_erasure/g), 10, 'it holds the ten tombstones');

# restore into a fresh store with a strict schema and full validation
my $other = PostgreSQL::Test::Cluster->new('restored');
$other->init;
$other->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$other->start;
$other->safe_psql('postgres', 'CREATE EXTENSION candystore');
$other->safe_psql('postgres', q{SELECT candystore.register_schema('person.moved',
	'{"type": "object", "required": ["person", "address"], "additionalProperties": false,
	  "properties": {"person": {"type": "string"}, "address": {"type": "string"}}}')});
my $r = $other->safe_psql('postgres', qq{SELECT candystore.restore_archive('$archive')->>'stored'});
is($r, '20', 'restore_archive stores the tombstones beside the others, the schema notwithstanding');
is( $other->safe_psql('postgres',
		q{SELECT count(*) FROM candystore.events WHERE payload ? 'candystore_erasure'}),
	'10', 'the restored store has the ten tombstones');
is($other->safe_psql('postgres', q{SELECT count(*) FROM candystore.trace('e4000000-0000-4000-8000-000000000020')}),
	'20', 'the causation chain is whole across the tombstones');
# the originals, redelivered there, are duplicates
my $originals = $node->safe_psql('postgres', q{SELECT string_agg(quote_literal(envelope::text), ',' ORDER BY n) FROM originals});
is( $other->safe_psql('postgres',
		"SELECT string_agg(DISTINCT outcome, ',') FROM candystore.append_many(ARRAY[$originals]::jsonb[])"),
	'duplicate', 'the originals are duplicates of what was restored');
$other->stop;

# pg_dump: the erased form and the audit (the test's own copy of the
# originals goes first)
$node->safe_psql('postgres', 'DROP TABLE originals');
my $dump = "$dir/dump.custom";
$node->command_ok(['pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres')], 'pg_dump');
my $restored = PostgreSQL::Test::Cluster->new('from_dump');
$restored->init;
$restored->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$restored->start;
$restored->safe_psql('postgres', 'CREATE DATABASE copy');
$restored->command_ok(['pg_restore', '-d', $restored->connstr('copy'), $dump], 'pg_restore');
my $sql = `pg_restore -f - '$dump'`;
is($?, 0, 'pg_restore reads the dump back as SQL');
unlike($sql, qr/Secret Street/, 'the dump holds none of the erased content');
like($sql, qr/candystore_erasure/, 'but the tombstones');
my $in_event_log = $restored->safe_psql('copy',
	q{SELECT count(*) FROM candystore.event_log WHERE envelope::text LIKE '%Secret Street%'});
is($in_event_log, '0', 'the restored event log holds none of the erased content');
is( $restored->safe_psql('copy',
		q{SELECT count(*) FROM candystore.events WHERE payload ? 'candystore_erasure'}),
	'10', 'the dump carries the tombstones');
is( $restored->safe_psql('copy', q{SELECT reason || ':' || events FROM candystore.erasures}),
	'request 7:10', 'and the audit');
is( $restored->safe_psql('copy', q{SELECT count(*) FROM candystore.subject_paths}),
	'1', 'and the subject paths');
$restored->stop;

# Two erasures of the same event at once: the second waits for the first's
# row lock, finds a tombstone there, and is refused (40001) whole, rather
# than digesting the tombstone; run again, it erases what is left.
sub id { return sprintf('e4000000-0000-4000-8000-%012d', $_[0]); }
my $digest_of_3 = $node->safe_psql('postgres',
	"SELECT candystore.envelope_digest(envelope) FROM candystore.event_log WHERE event_id = '" . id(3) . "'");
my $first = $node->background_psql('postgres');
my $second = $node->background_psql('postgres', on_error_stop => 0);
$first->query_safe("BEGIN; SELECT candystore.erase(ARRAY['" . id(1) . "', '" . id(3) . "']::uuid[], 'first')");
$second->query_until(qr/sent/,
	"\\echo sent\nSELECT candystore.erase(ARRAY['" . id(3) . "', '" . id(5) . "']::uuid[], 'second');\n");
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%''second''%'})
  or die 'the second erasure never waited';
$first->query_safe('COMMIT');
$second->query('SELECT 1');
like($second->{stderr}, qr/a concurrent erasure erased some of these events first/,
	'the second of two concurrent erasures of an event is refused');
$first->quit;
$second->quit;
is( $node->safe_psql('postgres',
		"SELECT envelope #>> '{payload,candystore_erasure,original_sha256}' FROM candystore.event_log WHERE event_id = '" . id(3) . "'"),
	$digest_of_3, "the tombstone keeps the original's digest");
is( $node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM candystore.erasures WHERE reason = 'second') || ':' || (envelope->'payload' ? 'candystore_erasure') FROM candystore.event_log WHERE event_id = '" . id(5) . "'"),
	'0:false', 'the refused erasure left nothing');
is( $node->safe_psql('postgres', "SELECT events FROM candystore.erase(ARRAY['" . id(3) . "', '" . id(5) . "']::uuid[], 'second')"),
	'1', 'run again, it erases what is left');

$node->stop;
done_testing();
