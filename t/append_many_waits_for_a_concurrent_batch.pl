# append_many() against a concurrent transaction storing some of the same
# events: the batch waits for it, then finds each shared event stored (a
# duplicate, at the other transaction's position) if it committed, or
# stores it itself if it rolled back; a shared id with other content is a
# conflict (23505) that stores nothing of the batch.  append() alike (its
# row is inserted speculatively, as ON CONFLICT does: src/store_insert.c).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreRace ();

my $node = PostgreSQL::Test::Cluster->new('append_many_concurrent');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION candystore');

sub envelope
{
	my ($n, $payload) = @_;
	$payload //= qq({"n": $n});
	my $id = sprintf('5b000000-0000-4000-8000-%012d', $n);
	return qq('{"event_id": "$id", "event_type": "artifact.created", "timestamp": "2026-01-27T10:00:00Z", )
	  . qq("version": "1.0.0", "source": {"host": "h", "type": "manual"}, "payload": $payload}'::jsonb);
}

sub batch
{
	return 'SELECT string_agg(outcome, \',\' ORDER BY ordinality) FROM candystore.append_many(ARRAY['
	  . join(', ', map { ref $_ ? envelope(@$_) : envelope($_) } @_) . '])';
}

# Runs $second's batch while $first's transaction holds its own, then ends
# $first with $end; returns what the second batch reported (or its error).
sub race { return CandystoreRace::race($node, @_, '%candystore.append%') }

is(race(batch(1, 2), batch(3, 2, 4), 'COMMIT'),
	'stored,duplicate,stored', 'a shared event the other transaction committed is a duplicate');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM candystore.events WHERE event_id = '5b000000-0000-4000-8000-000000000002'}),
	'1', 'and is stored once');

is(race(batch(5, 6), batch(7, 6), 'ROLLBACK'),
	'stored,stored', 'a shared event the other transaction rolled back is stored by the batch');

like(race(batch(8), batch(9, [ 8, '{"n": "other"}' ]), 'COMMIT'),
	qr/ERROR:  event 5b000000-0000-4000-8000-000000000008 is already stored with different content/,
	'a shared id with other content is a conflict');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(right(event_id::text, 2), ' ' ORDER BY event_id) FROM candystore.events}),
	'01 02 03 04 06 07 08', 'the store holds exactly the committed events, nothing of the refused batch');

# append() one by one: the same race, the row inserted speculatively
sub single { return 'SELECT candystore.append(' . envelope(@_) . ')' }
my $stored_at = race(single(10), single(10), 'COMMIT');
is( $stored_at,
	$node->safe_psql('postgres',
		q{SELECT position FROM candystore.events WHERE event_id = '5b000000-0000-4000-8000-000000000010'}),
	'append() of an event a concurrent transaction committed returns its position');
like(race(single(11), single(11), 'ROLLBACK'),
	qr/^\d+$/, 'append() of an event a concurrent transaction rolled back stores it');
like(race(single(12), single(12, '{"n": "other"}'), 'COMMIT'),
	qr/ERROR:  event 5b000000-0000-4000-8000-000000000012 is already stored with different content/,
	'append() of a taken id with other content is a conflict');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM candystore.events WHERE event_id IN ('5b000000-0000-4000-8000-000000000010',
		  '5b000000-0000-4000-8000-000000000011', '5b000000-0000-4000-8000-000000000012')}),
	'3', 'each stored once');

$node->stop;
done_testing();
