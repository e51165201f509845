# Reading the store as a stream, with real concurrency: sessions appending in
# transactions held open and committed out of position order, transactions
# rolled back, and the ingest worker storing batches, all at once, while
# readers loop on read_all(), on a subscription (read, ack) and on a
# subscription split between three group members.  Every committed event is
# read exactly once by each, nothing rolled back is read, a group member gets
# all the events of a causation group, in order; the naive
# "position > last seen" reader, kept as the control, misses events.  Then
# wait_for_events(): woken by a commit, not by a rollback, waits for the read
# horizon, honours its timeout and cancellation; and checkpoints survive an
# immediate shutdown.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use CandystoreBroker;

my $amqp_port = start_broker();
my $publisher = build_amqp_tool('cs_publish');
my $node = node_with_worker(
	'stream', q{
candystore.batch_size = 50
candystore.batch_timeout_ms = 5
candystore.outbox_publisher = off
});
$node->poll_query_until('postgres',
	"SELECT state = 'consuming' FROM candystore.worker_status()")
  or die "the worker never connected";

# A causation flow: a root, its child and grandchild, appended in that order.
$node->safe_psql(
	'postgres', q{
CREATE FUNCTION stream_flow(kind text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[] := ARRAY[gen_random_uuid(), gen_random_uuid(), gen_random_uuid()];
BEGIN
    FOR i IN 1 .. 3 LOOP
        PERFORM candystore.append(jsonb_build_object(
            'event_id', ids[i], 'event_type', kind || '.' || (ARRAY['root', 'child', 'grandchild'])[i],
            'timestamp', '2026-01-27T10:15:00Z', 'version', '1.0.0',
            'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'a', 'meta', NULL),
            'correlation_ids', CASE WHEN i = 1 THEN '[]'::jsonb ELSE jsonb_build_array(ids[i - 1]) END,
            'agent_context', NULL, 'payload', '{}'::jsonb));
    END LOOP;
END
$$;
});

# Readers: each keeps its own cursor and everything it read, in order.
my %readers;
sub reader
{
	my ($name, $kind, $member) = @_;
	$readers{$name} = {
		kind => $kind,
		member => $member,
		cursor => undef,
		got => [],
		session => $node->background_psql('postgres')
	};
}
reader('read_all', 'read_all');
reader('naive', 'naive');
reader('subscription', 'subscription');
reader("member$_", 'group', $_) for 0 .. 2;
$node->safe_psql('postgres',
	"SELECT candystore.subscribe('all', 'beginning'), candystore.subscribe('group', 'beginning')");

# One batch for one reader; returns how many events it got.
sub read_batch
{
	my ($r) = @_;
	my $c = defined $r->{cursor} ? "'$r->{cursor}'" : 'NULL';
	my $sql;
	if ($r->{kind} eq 'read_all')
	{
		$sql = "SELECT cursor || ' ' || event_id FROM candystore.read_all($c, 300)";
	}
	elsif ($r->{kind} eq 'naive')
	{
		my $last = $r->{cursor} // 0;
		$sql = "SELECT position || ' ' || event_id FROM candystore.events"
		  . " WHERE position > $last ORDER BY position LIMIT 300";
	}
	elsif ($r->{kind} eq 'subscription')
	{
		$sql = "SELECT cursor || ' ' || event_id FROM candystore.read_subscription('all', 300)";
	}
	else
	{
		$sql = "SELECT cursor || ' ' || event_id FROM candystore.read_subscription('group', 300, $r->{member}, 3)";
	}
	my @rows = grep { $_ ne '' } split /\n/, $r->{session}->query_safe($sql);
	return 0 unless @rows;
	for (@rows)
	{
		my ($cursor, $id) = split / /;
		push @{ $r->{got} }, [ $cursor, $id ];
		$r->{cursor} = $cursor;
	}
	if ($r->{kind} eq 'subscription')
	{
		$r->{session}->query_safe("SELECT candystore.ack_subscription('all', '$r->{cursor}')");
	}
	elsif ($r->{kind} eq 'group')
	{
		$r->{session}->query_safe(
			"SELECT candystore.ack_subscription('group', '$r->{cursor}', $r->{member}, 3)");
	}
	return scalar @rows;
}
sub read_round { read_batch($readers{$_}) for sort keys %readers; }

# 1. The known interleaving, several times over: A appends and holds, B
# appends and commits, C appends and rolls back, readers read, A commits,
# readers read.
my ($a, $b, $c) = map { $node->background_psql('postgres') } 1 .. 3;
my $a_pid = $a->query_safe('SELECT pg_backend_pid()');
my $rounds = 5;
for my $round (1 .. $rounds)
{
	$a->query_safe("BEGIN; SELECT stream_flow('held')");
	$b->query_safe("SELECT stream_flow('quick')");
	$c->query_safe("BEGIN; SELECT stream_flow('rolledback'); ROLLBACK");
	read_round();
	$a->query_safe('COMMIT');
	read_round();
}
# the control: the naive reader read past A's events before they committed
my %naive = map { $_->[1] => 1 } @{ $readers{naive}{got} };
my $held = $node->safe_psql('postgres',
	"SELECT string_agg(event_id::text, ' ') FROM candystore.events WHERE event_type LIKE 'held.%'");
my @missed = grep { !$naive{$_} } split / /, $held;
is(scalar @missed, 3 * $rounds, 'control: the naive position > last_seen reader misses every held event');

# 2. Everything at once: pgbench sessions holding transactions open for a
# random while (and some rolling back), the ingest worker storing batches,
# the readers looping.
my $dir = PostgreSQL::Test::Utils::tempdir;
open my $fh, '>', "$dir/commit.sql" or die;
print $fh "\\set s random(0, 20)\nBEGIN;\nSELECT stream_flow('load');\n\\sleep :s ms\nSELECT stream_flow('load');\nCOMMIT;\n";
close $fh;
open $fh, '>', "$dir/rollback.sql" or die;
print $fh "\\set s random(0, 20)\nBEGIN;\nSELECT stream_flow('rolledback');\n\\sleep :s ms\nROLLBACK;\n";
close $fh;
my $bench = IPC::Run::start(
	[
		'pgbench', '-n', '-h', $node->host, '-p', $node->port, '-c', '4', '-j', '4',
		'-t', '60', '-f', "$dir/commit.sql\@4", '-f', "$dir/rollback.sql\@1", 'postgres'
	],
	'>', \my $bench_out, '2>', \my $bench_err);
my $publish = IPC::Run::start(
	[ $publisher, '127.0.0.1', $amqp_port, 'bloodbank.events.v1', 'fireflies.transcript.ready', 7, 2000, 0, 1 ],
	'>', \my $pub_out, '2>', \my $pub_err);
while ($bench->pumpable || $publish->pumpable)
{
	read_round();
	$bench->pump_nb if $bench->pumpable;
	$publish->pump_nb if $publish->pumpable;
}
$bench->finish or die "pgbench failed: $bench_err";
$publish->finish or die "cs_publish failed: $pub_err";
$node->poll_query_until('postgres',
	"SELECT count(*) = 2000 FROM candystore.events WHERE event_id::text LIKE '00000007-%'")
  or die "the worker did not store the run";
# drain: every reader until it gets nothing
for my $name (sort keys %readers)
{
	1 while read_batch($readers{$name}) > 0;
}

my %stored = map { $_ => 1 } split /\n/,
  $node->safe_psql('postgres', 'SELECT event_id FROM candystore.events');
my $rolled_back = $node->safe_psql('postgres',
	"SELECT count(*) FROM candystore.events WHERE event_type LIKE 'rolledback.%'");
is($rolled_back, '0', 'nothing rolled back is stored');
cmp_ok(scalar keys %stored, '>', 2000 + 6 * $rounds, 'the load stored its events');

# Each reader's events: exactly the committed ones, each once, in cursor order.
sub check_exactly_once
{
	my ($label, @got) = @_;
	my %count;
	$count{ $_->[1] }++ for @got;
	my @dups = grep { $count{$_} > 1 } keys %count;
	my @foreign = grep { !$stored{$_} } keys %count;
	my @unread = grep { !$count{$_} } keys %stored;
	is(scalar @dups, 0, "$label: nothing read twice");
	is(scalar @foreign, 0, "$label: nothing read that is not committed");
	is(scalar @unread, 0, "$label: every committed event read");
}
check_exactly_once('read_all', @{ $readers{read_all}{got} });
check_exactly_once('subscription', @{ $readers{subscription}{got} });
check_exactly_once('consumer group (union of 3 members)', map { @{ $readers{"member$_"}{got} } } 0 .. 2);
for my $name ('read_all', 'subscription', map { "member$_" } 0 .. 2)
{
	my @c = map { $_->[0] } @{ $readers{$name}{got} };
	my @sorted = sort @c;
	is_deeply(\@c, \@sorted, "$name: cursors increase");
}
is_deeply([ map { $_->[1] } @{ $readers{subscription}{got} } ],
	[ map { $_->[1] } @{ $readers{read_all}{got} } ],
	'the subscription reads what read_all reads, in the same order');

# Consumer groups: every causation flow at one member, root before child
# before grandchild; and every member had work.
my %group_of = map { split /\|/ } split /\n/,
  $node->safe_psql('postgres', 'SELECT event_id, causation_group FROM candystore.event_log');
my %type_of = map { split /\|/ } split /\n/,
  $node->safe_psql('postgres', 'SELECT event_id, event_type FROM candystore.event_log');
my (%member_of_group, $split, $disordered);
for my $m (0 .. 2)
{
	my %last_step;
	cmp_ok(scalar @{ $readers{"member$m"}{got} }, '>', 0, "member $m got events");
	for (@{ $readers{"member$m"}{got} })
	{
		my $g = $group_of{ $_->[1] };
		$split++ if defined $member_of_group{$g} && $member_of_group{$g} != $m;
		$member_of_group{$g} = $m;
		my %steps = (root => 1, child => 2, grandchild => 3);
		my ($name) = $type_of{ $_->[1] } =~ /\.(root|child|grandchild)$/;
		next unless defined $name;
		my $step = $steps{$name};
		$disordered++ if $step != ($last_step{$g} // 0) + 1;
		$last_step{$g} = $step;
	}
}
is($split // 0, 0, 'consumer group: all the events of a causation group at one member');
is($disordered // 0, 0, 'consumer group: each flow in order (root, child, grandchild)');
diag('naive reader missed ' . (scalar(keys %stored) - scalar(@{ $readers{naive}{got} })) . ' events in all');

# 3. wait_for_events()
my $w = $node->background_psql('postgres', on_error_stop => 0);
my $w_pid = $w->query_safe('SELECT pg_backend_pid()');
my $latest = $readers{read_all}{cursor};
sub waiting
{
	$node->poll_query_until('postgres',
		"SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $w_pid")
	  or die 'wait_for_events() does not wait';
}
# the answer of the pending wait, once it comes
sub answer
{
	my $out = $w->query_until(qr/done\n/, "\\echo done\n");
	$out =~ s/done\n//;
	chomp $out;
	return $out;
}

$w->query_until(qr/waiting\n/,
	"\\echo waiting\nSELECT candystore.wait_for_events('$latest', '5 minutes');\n");
waiting();
$c->query_safe("BEGIN; SELECT stream_flow('rolledback'); ROLLBACK");
# woken by the rollback's end, it finds nothing and waits again (the pause
# gives a wrong return the time to show; no timing is asserted)
select(undef, undef, undef, 0.5);
waiting();
is($node->safe_psql('postgres', "SELECT state FROM pg_stat_activity WHERE pid = $w_pid"),
	'active', 'wait_for_events: a rolled-back append does not end the wait');
$b->query_safe("SELECT stream_flow('woken')");
is(answer(), 't', 'wait_for_events: a commit ends the wait');

# committed but behind the horizon: the wait goes on until the older
# transaction ends, appending (its end broadcasts) or not (the re-check)
$latest = $node->safe_psql('postgres', "SELECT max(cursor) FROM candystore.read_all('$latest')");
for my $holder ('SELECT stream_flow(\'holder\')', 'CREATE TABLE holder_' . $$ . ' (x int)')
{
	$a->query_safe("BEGIN; $holder");
	$w->query_until(qr/waiting\n/,
		"\\echo waiting\nSELECT candystore.wait_for_events('$latest', '5 minutes');\n");
	waiting();
	$b->query_safe("SELECT stream_flow('behind')");
	is($node->safe_psql('postgres', "SELECT count(*) FROM candystore.read_all('$latest')"),
		'0', 'an event committed behind an open transaction is not readable yet');
	is($node->safe_psql('postgres',
			"SELECT oldest_pid = $a_pid AND waiting_events = 3 FROM candystore.read_horizon"),
		't', 'read_horizon names the transaction holding readers back and counts the events waiting');
	waiting();
	$a->query_safe('COMMIT');
	is(answer(), 't', "wait_for_events: returns when the transaction holding the horizon ends ($holder)");
	$latest = $node->safe_psql('postgres', "SELECT max(cursor) FROM candystore.read_all('$latest')");
}

# the timeout
is($w->query_safe("SELECT candystore.wait_for_events('$latest', '100 ms')"),
	'f', 'wait_for_events: false at the timeout');
# cancellation
$w->query_until(qr/waiting\n/,
	"\\echo waiting\nSELECT candystore.wait_for_events('$latest', '5 minutes');\n");
waiting();
$node->safe_psql('postgres', "SELECT pg_cancel_backend($w_pid)");
$w->query_until(qr/done\n/, "\\echo done\n");
like($w->{stderr}, qr/canceling statement due to user request/, 'wait_for_events: cancellable');
$w->{stderr} = '';
is($w->query_safe('SELECT 1'), '1', 'the session goes on after the cancel');

# 4. Checkpoints survive an immediate shutdown: a subscription resumes at its
# last ack, repeating only the batch it had not acknowledged.
$node->safe_psql('postgres', "SELECT candystore.subscribe('durable', 'beginning')");
my $acked = $node->safe_psql('postgres',
	"SELECT candystore.ack_subscription('durable', (SELECT max(cursor) FROM candystore.read_subscription('durable', 100)))");
my $unacked = $node->safe_psql('postgres',
	"SELECT string_agg(event_id::text, ',' ORDER BY cursor) FROM candystore.read_subscription('durable', 100)");
my $checkpoint = $node->safe_psql('postgres',
	"SELECT checkpoint FROM candystore.subscriptions WHERE name = 'durable'");
$_->quit for $a, $b, $c, $w, map { $_->{session} } values %readers;
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', "SELECT checkpoint FROM candystore.subscriptions WHERE name = 'durable'"),
	$checkpoint, 'the checkpoint survives an immediate shutdown');
is($node->safe_psql('postgres',
		"SELECT string_agg(event_id::text, ',' ORDER BY cursor) FROM candystore.read_subscription('durable', 100)"),
	$unacked, 'after the restart the subscription reads on from its ack: the unacknowledged batch, no gap');

$node->stop;
stop_broker();
done_testing();
