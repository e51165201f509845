# Every transaction that appends events sends one NOTIFY on candystore_events
# after it commits, carrying the highest position it appended; rolled-back
# work, rolled-back savepoints and pure duplicates send nothing; the same for
# append_many(), one notification per batch.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('notify');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION candystore');

sub envelope
{
	my ($n) = @_;
	my $id = sprintf('70000000-0000-4000-8000-%012d', $n);
	return qq('{"event_id": "$id", "event_type": "artifact.created", "timestamp": "2026-01-27T10:00:00Z", "version": "1.0.0", "source": {"host": "h", "type": "manual"}, "payload": {"n": $n}}');
}

# A listener session that stays open while other sessions append.
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN candystore_events');

sub notifications
{
	# psql prints notifications it has received when it runs the next command
	my $out = $listener->query_safe('SELECT 1');
	my @payloads = ($out =~ /Asynchronous notification "candystore_events" with payload "(\d+)"/g);
	return \@payloads;
}

my $pos = $node->safe_psql('postgres', 'SELECT candystore.append(' . envelope(1) . ')');
is_deeply(notifications(), [$pos], 'one append, one notification with its position');

my $last = $node->safe_psql('postgres',
	'BEGIN; SELECT candystore.append(' . envelope(2) . '); SELECT candystore.append(' . envelope(3) . '); '
	  . 'SELECT max(position) FROM candystore.events; COMMIT;');
$last = (split /\n/, $last)[-1];
is_deeply(notifications(), [$last], 'a transaction appending several events sends one notification, with the highest position');

$node->safe_psql('postgres', 'BEGIN; SELECT candystore.append(' . envelope(4) . '); ROLLBACK;');
is_deeply(notifications(), [], 'a rolled-back transaction sends nothing');

$node->safe_psql('postgres', 'SELECT candystore.append(' . envelope(1) . ')');
is_deeply(notifications(), [], 'a duplicate appends nothing and sends nothing');

my $kept = $node->safe_psql('postgres',
	'BEGIN; SELECT candystore.append(' . envelope(5) . '); SAVEPOINT s; SELECT candystore.append(' . envelope(6)
	  . '); ROLLBACK TO s; COMMIT;');
$kept = (split /\n/, $kept)[0];
is_deeply(notifications(), [$kept], 'positions from a rolled-back savepoint are not announced');

# append_many(): one notification for the whole batch, none for duplicates
# or for a batch refused as a whole
my $many = $node->safe_psql('postgres',
	'SELECT max(position) FROM candystore.append_many(ARRAY[' . join(', ', map { envelope($_) . '::jsonb' } 7, 8, 9) . '])');
is_deeply(notifications(), [$many], 'append_many sends one notification, with the highest position');
$node->safe_psql('postgres',
	'SELECT count(*) FROM candystore.append_many(ARRAY[' . envelope(1) . '::jsonb, ' . envelope(8) . '::jsonb])');
is_deeply(notifications(), [], 'an append_many of duplicates sends nothing');
my ($rc) = $node->psql('postgres',
	'SELECT count(*) FROM candystore.append_many(ARRAY[' . envelope(10) . "::jsonb, '{}'::jsonb])");
isnt($rc, 0, 'an append_many with a refused envelope fails');
is_deeply(notifications(), [], 'and sends nothing');

is($node->safe_psql('postgres', q{SELECT count(*) FROM candystore.events WHERE event_id::text LIKE '70000000-%'}),
	'7', 'the store holds exactly the committed events');

$listener->quit;
$node->stop;
done_testing();
