# archive_partition/archive_events write a partition's events to a gzip JSON
# Lines file on the server with a manifest; `zcat | jq` reads it; after the
# events are purged, restore_archive gives back every envelope, jsonb-equal
# and byte-identical as get_event prints it; restoring twice stores nothing;
# an existing path is never overwritten; a corrupted, truncated or
# miscounted archive is refused with SQLSTATE XX001 and nothing appended;
# the calls need the server-file roles.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('archives');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION candystore');
# Partitions of 50 positions: 120 events fill two and part of a third.
$node->safe_psql('postgres', 'SELECT candystore.make_partitions(4, 50)');

my $dir = PostgreSQL::Test::Utils::tempdir();
chmod 0777, $dir;    # the server (maybe another user) writes here

$node->safe_psql('postgres', <<'SQL');
CREATE TABLE kept AS
SELECT n, jsonb_build_object(
        'event_id', ('c0000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,
        'event_type', 'archive.test', 'timestamp', '2026-01-27T10:15:00.123456Z',
        'version', '1.0.0', 'source', jsonb_build_object('host', 'h', 'type', 'manual'),
        'correlation_ids', CASE WHEN n > 1 THEN jsonb_build_array(('c0000000-0000-4000-8000-' || lpad((n - 1)::text, 12, '0'))::uuid) ELSE '[]' END,
        'payload', jsonb_build_object('n', n, 'text', E'odd "quoted" \\ \u00fc \t\n', 'big', 12345678901234567890.000),
        'unknown_field', 'kept') AS envelope,
       CASE WHEN n % 3 = 0 THEN NULL ELSE 'key.' || n END AS routing_key
  FROM generate_series(1, 120) n;
SELECT count(candystore.append(envelope, routing_key)) FROM kept;
CREATE TABLE printed AS
SELECT n, candystore.get_event((envelope->>'event_id')::uuid)::text AS text FROM kept;
SQL

my $first = $node->safe_psql('postgres',
	q{SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	   WHERE i.inhparent = 'candystore.event_log'::regclass AND c.relname = 'event_log_p1'});
is($first, 'event_log_p1', 'the first partition exists');

my $a1 = "$dir/p1.jsonl.gz";
my $all = "$dir/all.jsonl.gz";
my $m = $node->safe_psql('postgres',
	qq{SELECT m->>'count', m->>'first_position', m->>'last_position', length(m->>'sha256')
	     FROM candystore.archive_partition('candystore.event_log_p1', '$a1') m});
is($m, '50|1|50|64', 'archive_partition: 50 events, positions 1..50, a SHA-256');
$m = $node->safe_psql('postgres',
	qq{SELECT m->>'count' FROM candystore.archive_events('$all', 1, 1000) m});
is($m, '120', 'archive_events: every event');
ok(-f "$a1.manifest.json", 'the manifest is beside the archive');

# Standard tools read it.
my $jq = `zcat '$all' | jq -c -s 'map(.position) | [length, .[0], .[-1]]'`;
is($?, 0, 'zcat | jq reads the archive');
chomp $jq;
is($jq, '[120,1,120]', 'jq sees every line in order');
my $rk = `zcat '$all' | jq -r 'select(.position == 3) | .routing_key'`;
chomp $rk;
is($rk, 'null', 'a NULL routing key is JSON null');

# The client-side path (docs/operations.md): COPY to STDOUT through psql, as
# a reader, writes the same lines.
$node->safe_psql('postgres', 'CREATE ROLE looker LOGIN IN ROLE candystore_reader');
my $client = $node->safe_psql('postgres', q{SET ROLE looker;
	COPY (SELECT json_build_object('position', position, 'recorded_at', recorded_at,
	      'routing_key', routing_key, 'envelope', envelope) FROM candystore.events
	     WHERE position BETWEEN 1 AND 1000 ORDER BY position)
	  TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')});
my $server = `zcat '$all'`;
chomp $server;
is($client, $server, 'COPY TO STDOUT through psql writes the lines archive_events writes');

# Never overwritten.
my ($ret, $out, $err) = $node->psql('postgres',
	qq{SELECT candystore.archive_events('$a1', 1, 10)});
isnt($ret, 0, 'an existing archive path is refused');
like($err, qr/could not create archive file.*File exists/, '... saying it exists');

# The store is emptied by retention.
$node->safe_psql('postgres', q{SELECT candystore.purge_events('0 seconds')});
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.event_log'), '0',
	'every event purged');
# Dropped partitions keep their ids in event_ids (the ledger): appended
# again, a purged event is a duplicate; restore_archive forgets them first.
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.purged_ranges'), '>', 0,
	'the dropped partitions are noted');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.event_ids'), '>', 0,
	'their ids are kept');

# Damaged archives: nothing appended.
sub copy_file
{
	my ($from, $to, $len) = @_;
	open(my $in, '<:raw', $from) or die $!;
	local $/;
	my $data = <$in>;
	close $in;
	$data = substr($data, 0, $len) if defined $len;
	return $data;
}
sub write_file
{
	my ($to, $data) = @_;
	open(my $out, '>:raw', $to) or die $!;
	print $out $data;
	close $out;
}
my $bytes = copy_file($all);
my $manifest = copy_file("$all.manifest.json");

my $bad = "$dir/flipped.jsonl.gz";
my $flipped = $bytes;
substr($flipped, length($flipped) / 2, 1) = chr(ord(substr($flipped, length($flipped) / 2, 1)) ^ 0xff);
write_file($bad, $flipped);
write_file("$bad.manifest.json", $manifest);
($ret, $out, $err) = $node->psql('postgres',
	qq{\\set VERBOSITY verbose\nSELECT candystore.restore_archive('$bad')});
isnt($ret, 0, 'a corrupted archive is refused');
like($err, qr/XX001.*corrupted or incomplete/s, '... with SQLSTATE XX001');
like($err, qr/SHA-256/, '... naming the SHA-256');

my $trunc = "$dir/truncated.jsonl.gz";
write_file($trunc, substr($bytes, 0, int(length($bytes) * 0.6)));
write_file("$trunc.manifest.json", $manifest);
($ret, $out, $err) = $node->psql('postgres',
	qq{\\set VERBOSITY verbose\nSELECT candystore.restore_archive('$trunc')});
isnt($ret, 0, 'a truncated archive is refused');
like($err, qr/XX001.*corrupted or incomplete/s, '... with SQLSTATE XX001');

# A truncated archive whose manifest was rewritten to match its SHA-256:
# the gzip stream or the line count gives it away.
my $sha = `sha256sum '$trunc'`;
($sha) = split ' ', $sha;
my $forged = $manifest;
$forged =~ s/"sha256": "[0-9a-f]+"/"sha256": "$sha"/;
write_file("$trunc.manifest.json", $forged);
($ret, $out, $err) = $node->psql('postgres',
	qq{\\set VERBOSITY verbose\nSELECT candystore.restore_archive('$trunc')});
isnt($ret, 0, 'a truncated archive with a matching SHA-256 is refused');
like($err, qr/XX001.*corrupted or incomplete/s, '... with SQLSTATE XX001');

# Truncated at the end of a line (the lines decompress whole, the manifest
# forged to match): the gzip stream's missing end gives it away.
my $cut = "$dir/cut.jsonl.gz";
system("zcat '$all' | head -n 60 | gzip > '$cut.full'") == 0 or die;
write_file($cut, substr(copy_file("$cut.full"), 0, -8));   # without gzip's trailer
($sha) = split ' ', `sha256sum '$cut'`;
$forged = $manifest;
$forged =~ s/"sha256": "[0-9a-f]+"/"sha256": "$sha"/;
$forged =~ s/"count": 120/"count": 60/;    # only the stream's end is wrong
write_file("$cut.manifest.json", $forged);
($ret, $out, $err) = $node->psql('postgres',
	qq{\\set VERBOSITY verbose\nSELECT candystore.restore_archive('$cut')});
isnt($ret, 0, 'an archive cut without its gzip end is refused');
like($err, qr/XX001.*ends early/s, '... saying the stream ends early');

# A well-formed archive whose manifest miscounts.
my $short = "$dir/miscounted.jsonl.gz";
write_file($short, $bytes);
my $miscount = $manifest;
$miscount =~ s/"count": 120/"count": 121/;
write_file("$short.manifest.json", $miscount);
($ret, $out, $err) = $node->psql('postgres',
	qq{\\set VERBOSITY verbose\nSELECT candystore.restore_archive('$short')});
isnt($ret, 0, 'an archive holding fewer lines than its manifest says is refused');
like($err, qr/holds 120 lines; its manifest says 121/, '... saying how many');

is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.event_log'), '0',
	'nothing was appended by the refused restores');

# Restore: every envelope back, byte for byte; twice stores nothing.
is($node->safe_psql('postgres', qq{SELECT r->>'count', r->>'stored' FROM candystore.restore_archive('$all') r}),
	'120|120', 'restore appends every event');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM candystore.event_ids i
	  LEFT JOIN candystore.event_log l ON l.position = i.position WHERE l.position IS NULL}),
	'0', 'no restored event keeps a stale id in the ledger');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM kept k
	 WHERE candystore.get_event((k.envelope->>'event_id')::uuid) = k.envelope}),
	'120', 'every envelope is jsonb-equal to what was appended');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM printed p JOIN kept k USING (n)
	 WHERE candystore.get_event((k.envelope->>'event_id')::uuid)::text = p.text}),
	'120', 'get_event prints every envelope byte-identically');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM kept k JOIN candystore.event_log l ON l.event_id = (k.envelope->>'event_id')::uuid
	 WHERE l.routing_key IS NOT DISTINCT FROM k.routing_key}),
	'120', 'routing keys come back');
is($node->safe_psql('postgres', qq{SELECT r->>'stored', r->>'duplicates' FROM candystore.restore_archive('$all') r}),
	'0|120', 'restoring twice stores nothing new');
is($node->safe_psql('postgres', qq{SELECT r->>'stored' FROM candystore.restore_archive('$a1') r}),
	'0', 'restoring the partition archive over them stores nothing new');

# Who may call.
$node->safe_psql('postgres', q{
	CREATE ROLE clerk LOGIN;
	GRANT candystore_writer TO clerk;
	GRANT EXECUTE ON FUNCTION candystore.restore_archive(text), candystore.archive_events(text, bigint, bigint) TO clerk;});
($ret, $out, $err) = $node->psql('postgres',
	qq{SET ROLE clerk; SELECT candystore.restore_archive('$all')});
like($err, qr/permission denied to read archive files/, 'restore needs pg_read_server_files');
($ret, $out, $err) = $node->psql('postgres',
	qq{SET ROLE clerk; SELECT candystore.archive_events('$dir/clerk.gz', 1, 10)});
like($err, qr/permission denied to write archive files/, 'archive needs pg_write_server_files');
$node->safe_psql('postgres', 'GRANT pg_read_server_files TO clerk');
is($node->safe_psql('postgres', qq{SET ROLE clerk; SELECT r->>'stored' FROM candystore.restore_archive('$all') r}),
	'0', 'with pg_read_server_files a writer may restore');

$node->stop;
done_testing();
