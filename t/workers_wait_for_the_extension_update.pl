# After a package upgrade the new library runs against the old version's
# SQL objects until ALTER EXTENSION candystore UPDATE: the ingest worker
# must not consume into them.  It waits, visibly, and stores everything once
# the update has run: nothing is dead-lettered for the version gap, nothing
# is lost, and the worker is never restarted.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $root = $ENV{CANDYSTORE_ROOT} or die "CANDYSTORE_ROOT is not set";
my ($current) = slurp_file("$root/candystore.control") =~ /^default_version = '([^']+)'/m;

my $amqp_port = start_broker();
my $publisher = build_amqp_tool('cs_publish');

my $node = node_with_worker('version_gap', q{
candystore.outbox_publisher = off
candystore.reconnect_max_ms = 500
}, '0.1.0');

# 0.1.0's worker_status() is served by this library too
$node->poll_query_until('postgres',
	q{SELECT pid IS NOT NULL FROM candystore.worker_status() WHERE kind = 'ingest'})
  or die "the worker never started";
my $pid = $node->safe_psql('postgres', q{SELECT pid FROM candystore.worker_status() WHERE kind = 'ingest'});

my $out = `$publisher 127.0.0.1 $amqp_port bloodbank.events.v1 fireflies.transcript.ready 7 50 0 1`;
die "publisher failed" if $? != 0;

ok( $node->poll_query_until('postgres',
		q{SELECT state = 'retrying: extension not updated' FROM candystore.worker_status() WHERE kind = 'ingest'}),
	'the worker waits for the update and says so in worker_status()');
like(
	$node->safe_psql('postgres', q{SELECT last_error FROM candystore.worker_status() WHERE kind = 'ingest'}),
	qr/SQLSTATE 55V01: extension "candystore" is version 0\.1\.0 in database "postgres" but the loaded library is \Q$current\E/,
	'its last error names both versions');
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.event_log'), '0',
	'nothing is stored into the old version\'s tables');
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.dead_letters'), '0',
	'nothing is dead-lettered for the version gap');

$node->safe_psql('postgres', 'ALTER EXTENSION candystore UPDATE');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 50 FROM candystore.event_log'),
	'after ALTER EXTENSION UPDATE every event published meanwhile is stored');
is($node->safe_psql('postgres', q{SELECT state FROM candystore.worker_status() WHERE kind = 'ingest'}),
	'consuming', 'the worker is consuming again');
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.dead_letters'), '0',
	'still no dead letter');
is($node->safe_psql('postgres', q{SELECT pid FROM candystore.worker_status() WHERE kind = 'ingest'}),
	$pid, 'the worker was never restarted');
unlike(slurp_file($node->logfile), qr/exited with exit code/, 'no worker exited');

$node->stop;
done_testing();
