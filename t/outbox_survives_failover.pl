# The outbox across the loss of the PostgreSQL primary: rows an application
# committed on the old primary (synchronous standby) are sent after the
# standby is promoted, at least once; none is lost.  The rows the old
# primary sent and marked stay sent; the rows it could not send (the broker
# was away when the primary was lost) are sent by the new primary's
# publisher, which starts by itself after promotion.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;
use CandystoreCluster;

my $amqp_port = start_broker();
my $consumer = build_amqp_tool('cs_consume');
system($consumer, '127.0.0.1', $amqp_port, 'declare', 'observer', 'bloodbank.events.v1', 'failover.#') == 0
  or die 'cannot declare the observer queue';

# The event ids the observer queue holds, one per message received.
sub observed
{
	my ($max, $idle_ms) = @_;
	my @lines = `$consumer 127.0.0.1 $amqp_port consume observer $max $idle_ms body`;
	die 'consumer failed' if $? != 0;
	return map { (split / /)[2] } @lines;
}

my ($primary, $standby) = standby_pair(
	'primary', 'standby', q{
candystore.reconnect_max_ms = 1000
candystore.outbox_batch_size = 20
}, sync => 1);

# Commits COUNT rows of RUN to NODE's outbox (routing keys failover.k0..k2).
sub publish_rows
{
	my ($node, $run, $count) = @_;
	$node->safe_psql(
		'postgres', sprintf(q{
		SELECT count(candystore.publish(jsonb_build_object(
		    'event_id', format('%%s-0000-4000-8000-%%s', lpad('%d', 8, '0'), lpad(n::text, 12, '0')),
		    'event_type', 'test.failover', 'timestamp', '2026-01-27T10:15:00Z', 'version', '1.0.0',
		    'source', jsonb_build_object('host', 'h', 'type', 'webhook'), 'correlation_ids', '[]'::jsonb,
		    'payload', jsonb_build_object('n', n)), 'failover.k' || n %% 3))
		  FROM generate_series(1, %d) n}, $run, $count));
	return;
}

# 1. sent and marked on the old primary
publish_rows($primary, 1, 60);
$primary->poll_query_until('postgres', 'SELECT count(*) = 0 FROM candystore.outbox WHERE published_at IS NULL')
  or diag('run 1 was not marked sent');
my %seen;
$seen{$_}++ for observed(1000, 3000);
is(scalar(grep { /^00000001-/ } keys %seen), 60, 'run 1: every row sent by the old primary');

# 2. committed while the broker is away, then the primary is lost
stop_broker();
publish_rows($primary, 2, 100);
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM candystore.outbox WHERE published_at IS NULL'),
	'100', 'the standby has the 100 rows the old primary could not send');
lose_server($primary);
start_broker();
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT count(*) = 0 FROM candystore.outbox WHERE published_at IS NULL')
  or diag('the new primary did not send the rows');
$seen{$_}++ for observed(1000, 3000);
is(scalar(grep { /^00000002-/ } keys %seen), 100,
	'after promotion: every row committed on the old primary and not sent is sent by the new primary');
is(scalar(grep { /^00000001-/ } keys %seen), 60, 'the rows sent before are still accounted for');
is($standby->safe_psql('postgres', 'SELECT count(*) FILTER (WHERE published_at IS NOT NULL) FROM candystore.outbox'),
	'160', 'the new primary marks every row sent');

# 3. the new primary goes on publishing
publish_rows($standby, 3, 10);
$standby->poll_query_until('postgres', 'SELECT count(*) = 0 FROM candystore.outbox WHERE published_at IS NULL')
  or diag('run 3 was not sent');
$seen{$_}++ for observed(1000, 3000);
is(scalar(grep { /^00000003-/ } keys %seen), 10, 'rows committed on the new primary are sent');

$standby->stop;
stop_broker();
done_testing();
