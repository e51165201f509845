# purge_events() against an append still in flight into a partition it is
# about to detach (the partition's every position handed out, the last
# row not yet committed): the purge waits for it, then looks at the
# partition again, and keeps it if the committed row is an event the
# outbox has yet to send or one younger than the horizon (the partition's
# old events then go row by row, the kept one stays).  Without that second
# look the DETACH, waiting for the same lock, would take the new event
# with it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreRace;

my $node = PostgreSQL::Test::Cluster->new('retention_in_flight');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;
$node->safe_psql('postgres',
	'CREATE EXTENSION candystore; SELECT candystore.make_partitions(ahead => 3, size => 5)');

sub envelope
{
	my ($n, $timestamp) = @_;
	my $id = sprintf('5c000000-0000-4000-8000-%012d', $n);
	return qq('{"event_id": "$id", "event_type": "artifact.created", "timestamp": "$timestamp", )
	  . qq("version": "1.0.0", "source": {"host": "h", "type": "manual"}, "payload": {"n": $n}}'::jsonb);
}

sub old_events
{
	return 'SELECT count(*) FROM candystore.append_many(ARRAY['
	  . join(', ', map { envelope($_, '1990-01-01T00:00:00Z') } @_) . '])';
}

# Runs purge_events('1 year') while another transaction has run $in_flight
# (taking the partition's last position), then commits that; returns what
# the purge returned (or its error).
sub purge_during
{
	my ($in_flight) = @_;
	return race($node, $in_flight, q{SELECT candystore.purge_events('1 year')}, 'COMMIT', '%purge_events%');
}

sub attached
{
	return $node->safe_psql('postgres',
		q{SELECT string_agg(partition::text, ' ' ORDER BY first_position) FROM candystore.event_log_partitions});
}

# with nothing in flight, positions 1-5 (old, sent) go whole
$node->safe_psql('postgres', old_events(1 .. 5));
is($node->safe_psql('postgres', q{SELECT candystore.purge_events('1 year')}),
	'5', 'a partition with nothing in flight is detached whole');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(relname, ' ') FROM pg_class WHERE relnamespace = 'candystore_purged'::regnamespace AND relkind = 'r'}),
	'event_log_p1', 'into candystore_purged');

# positions 6-9 old and sent; 10, the partition's last, published in flight
$node->safe_psql('postgres', old_events(6 .. 9));
is( purge_during('SELECT candystore.publish(' . envelope(10, '1990-01-01T00:00:00Z') . ')'),
	'4', 'an old event published in flight: the purge waits, then deletes only the four others');
is( $node->safe_psql('postgres',
		q{SELECT position FROM candystore.outbox WHERE published_at IS NULL}),
	'10', 'the event published in flight keeps its unsent outbox row');
isnt($node->safe_psql('postgres',
		q{SELECT candystore.get_event('5c000000-0000-4000-8000-000000000010')}),
	'', 'and is still stored');
like(attached(), qr/^candystore\.event_log_p6 /, 'its partition stays attached');

# positions 11-14 old; 15, the partition's last, a young event appended in flight
$node->safe_psql('postgres', old_events(11 .. 14));
is( purge_during('SELECT candystore.append(' . envelope(15, '2999-01-01T00:00:00Z') . ')'),
	'4', 'a young event appended in flight: the purge waits, then deletes only the four old ones');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(position::text, ' ' ORDER BY position) FROM candystore.event_log}),
	'10 15', 'the unsent event and the young one are all that is left');
like(attached(), qr/^candystore\.event_log_p6 candystore\.event_log_p11\b/, 'both partitions stay attached');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_class WHERE relnamespace = 'candystore_purged'::regnamespace AND relkind = 'r'}),
	'1', 'nothing more was detached');

$node->stop;
done_testing();
