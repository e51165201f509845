# Logical replication of the store into a subscriber.  The subscriber's apply
# worker runs with session_replication_role = replica, where the protective
# triggers now fire too (ENABLE ALWAYS).  They guard UPDATE, DELETE and
# TRUNCATE by statement, and apply only inserts rows and fires row triggers:
# appended events arrive, and purge_events() (row deletes) and erase()
# (tombstones, row updates) on the publisher are applied as well; on the
# subscriber itself events stay immutable, in replica mode too.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$sub->start;

sub envelope
{
	my ($n, $ts, @parents) = @_;
	my $id = sprintf('1e000000-0000-4000-8000-%012d', $n);
	my $parents = join(', ', map { sprintf('"1e000000-0000-4000-8000-%012d"', $_) } @parents);
	return qq('{"event_id": "$id", "event_type": "replica.checked", "timestamp": "$ts", )
	  . qq("version": "1.0.0", "source": {"host": "h", "type": "manual"}, "correlation_ids": [$parents], )
	  . qq("payload": {"n": $n}}');
}

$_->safe_psql('postgres', 'CREATE EXTENSION candystore') for ($pub, $sub);
# partitions of one position on the publisher, from the third on: events 1
# and 2 in the default partition (purge_events() deletes the old one row by
# row, which is replicated; a dropped partition is not), event 3 in its own.
$pub->safe_psql('postgres', 'SELECT candystore.make_partition(3, 1), candystore.make_partition(4, 1)');
$pub->safe_psql('postgres', join(";\n",
	'SELECT candystore.append(' . envelope(1, '1990-01-01T00:00:00Z') . ')',
	'SELECT candystore.append(' . envelope(2, '2026-01-27T10:00:00Z', 1) . q{, 'replica.out')},
	# event_ids with event_log: an event is both rows.  Through the root, so
	# the subscriber files the rows in its own partitions.
	'CREATE PUBLICATION store FOR TABLE candystore.event_log, candystore.event_ids, candystore.causation_links'
	  . ' WITH (publish_via_partition_root = true)'));
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION store CONNECTION '" . $pub->connstr . " dbname=postgres' PUBLICATION store");
$sub->wait_for_subscription_sync($pub, 'store');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM candystore.events'), '2', 'the initial copy arrives');

$pub->safe_psql('postgres', 'SELECT candystore.append(' . envelope(3, '2026-01-27T11:00:00Z', 2) . ')');
$pub->wait_for_catchup('store');
my $trace = q{SELECT string_agg(event_id || '@' || depth, ' ' ORDER BY depth) FROM candystore.trace('1e000000-0000-4000-8000-000000000003')};
is($sub->safe_psql('postgres', $trace), $pub->safe_psql('postgres', $trace),
	'an appended event is applied in replica mode, and trace() answers on the subscriber');
is($sub->safe_psql('postgres', q{SELECT candystore.get_event('1e000000-0000-4000-8000-000000000003') = } . envelope(3, '2026-01-27T11:00:00Z', 2) . '::jsonb'),
	't', 'the event arrives as appended');

# purge_events() deletes rows; apply does not fire the statement trigger
is($pub->safe_psql('postgres', q{SELECT candystore.purge_events('20 years')}), '1', 'the publisher purges an old event');
$pub->wait_for_catchup('store');
is($sub->safe_psql('postgres', q{SELECT string_agg(right(event_id::text, 1), ' ' ORDER BY position) FROM candystore.events}),
	'2 3', 'the purge is applied on the subscriber');
is($sub->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_subscription WHERE subname = 'store' AND pid IS NOT NULL}),
	'1', 'the apply worker runs on');

# erase() rewrites rows; apply lets that UPDATE through as it does the purge's DELETE
is($pub->safe_psql('postgres', q{SELECT events FROM candystore.erase(ARRAY['1e000000-0000-4000-8000-000000000003']::uuid[], 'TAP')}),
	'1', 'the publisher erases an event');
$pub->wait_for_catchup('store');
is($sub->safe_psql('postgres', q{SELECT payload ? 'candystore_erasure' FROM candystore.events WHERE event_id = '1e000000-0000-4000-8000-000000000003'}),
	't', 'the erasure is applied on the subscriber');
is($sub->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_subscription WHERE subname = 'store' AND pid IS NOT NULL}),
	'1', 'the apply worker runs on after the erasure');

# on the subscriber, events are immutable in every mode
my ($rc, $out, $err) = $sub->psql('postgres', q{SET session_replication_role = replica; DELETE FROM candystore.event_log});
like($err, qr/candystore events are immutable/, 'a DELETE on the subscriber in replica mode is refused');
($rc, $out, $err) = $sub->psql('postgres', q{TRUNCATE candystore.event_log});
like($err, qr/candystore events are immutable/, 'a TRUNCATE on the subscriber is refused');
($rc, $out, $err) = $sub->psql('postgres', q{SET session_replication_role = replica; UPDATE candystore.event_log SET envelope = '{}'});
like($err, qr/candystore events are immutable/, 'an UPDATE on the subscriber in replica mode is refused');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM candystore.events'), '2', 'nothing was removed');

$sub->stop;
$pub->stop;
done_testing();
