# The workers against a 3-node RabbitMQ cluster with quorum queues, when the
# node they are connected to dies (kill -9; it also holds the queues'
# leaders, declared there): the ingest worker moves to another node within a
# few heartbeats, and every event two clients published with confirms is
# stored once or dead-lettered (published = stored + dead-lettered, no
# duplicate stored).  The outbox publisher moves too, and marks a row
# published only for a confirm on its live connection: every row it marked
# reached the observer's queue.  Then two of three nodes stopped: the quorum
# is lost, the worker waits, loses nothing, and resumes once a node is back.
# Last, a frozen node (SIGSTOP) is given up through the heartbeats.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $per_client = 1000;
my $poison_every = 100;	# 10 bad messages of each client's 1000
my $bad = 2 * $per_client / $poison_every;

start_cluster(3);
my @port = (undef, map { cluster_port($_) } 1 .. 3);
my $publisher = build_amqp_tool('cs_publish');
my $consumer = build_amqp_tool('cs_consume');

# the observer of what the outbox publisher sends: a quorum queue, declared
# through node 2 (it survives)
is(cluster_ctl(2, 'cluster_status --formatter json') =~ tr/@// >= 3, 1, 'three nodes form one cluster');
system($consumer, '127.0.0.1', $port[2], 'declare', 'observer', 'bloodbank.events.v1', 'out.#') == 0
  or die "cannot declare the observer queue";

my $urls = join(',', map { "amqp://guest:guest\@127.0.0.1:$port[$_]/" } 1 .. 3);
my $node = candystore_node(
	'ha',
	amqp_url => $urls,
	conf => q{
candystore.amqp_heartbeat = 2
candystore.queue_type = quorum
candystore.dead_letter_queue_type = quorum
candystore.binding_keys = 'ha.#'
candystore.batch_size = 100
candystore.reconnect_max_ms = 1000
candystore.outbox_batch_size = 20
});
$node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM candystore.worker_status() WHERE broker LIKE '%:$port[1]/'")
  or die "the workers never connected to the first node";
pass('both workers connect to the first URL of the list');

like(cluster_ctl(2, 'list_queues name type --no-table-headers'),
	qr/event_store_manager_dlq\s+quorum/, 'candystore.dead_letter_queue_type = quorum declares a quorum DLQ');

$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION test_event(n int) RETURNS jsonb LANGUAGE sql AS $$
	  SELECT jsonb_build_object(
	    'event_id', format('00000099-0000-4000-8000-%s', lpad(n::text, 12, '0')),
	    'event_type', 'test.out', 'timestamp', '2026-01-27T10:15:00.123456Z', 'version', '1.0.0',
	    'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'test'),
	    'correlation_ids', '[]'::jsonb, 'payload', jsonb_build_object('n', n))
	$$;});

# the outbox has rows in flight too
$node->safe_psql('postgres',
	"SELECT count(candystore.publish(test_event(n), 'out.test')) FROM generate_series(1, 200) n");

like(cluster_ctl(1, 'list_connections timeout --no-table-headers'), qr/^2$/m,
	'candystore.amqp_heartbeat is the heartbeat the workers negotiate');

# The worst moment: a batch is in the worker's hand, its commit waits (a
# lock), and the node dies before the ack.  The batch commits; its ack is
# lost with the node, so the new leader delivers it again: duplicates, not
# events stored twice.
my ($lock_in, $lock_out) = ('', '');
my $locker = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres') ],
	'<', \$lock_in, '>', \$lock_out);
$lock_in .= "BEGIN; LOCK TABLE candystore.event_log IN EXCLUSIVE MODE; SELECT 'locked';\n";
$locker->pump until $lock_out =~ /locked/;
# Two clients publish through nodes 2 and 3, with confirms, while node 1 dies.
my ($out1, $out2, $err1, $err2) = ('', '', '', '');
my $c1 = IPC::Run::start([ $publisher, '127.0.0.1', $port[2], 'bloodbank.events.v1', 'ha.test', 1,
		$per_client, $poison_every, 1 ], '>', \$out1, '2>', \$err1);
my $c2 = IPC::Run::start([ $publisher, '127.0.0.1', $port[3], 'bloodbank.events.v1', 'ha.test', 2,
		$per_client, $poison_every, 1 ], '>', \$out2, '2>', \$err2);

$node->poll_query_until('postgres', q{
	SELECT wait_event_type = 'Lock' FROM pg_stat_activity
	 WHERE pid = (SELECT pid FROM candystore.worker_status() WHERE kind = 'ingest')})
  or die "the worker never waited for the lock";
my $leader = cluster_node_name(1);
like(cluster_ctl(2, 'list_queues name leader --no-table-headers'),
	qr/^event_store_manager_queue\s+\Q$leader\E$/m, 'node 1 leads the ingest queue (declared there)');
my ($reconnects_before, $duplicates_before, $stored_at_kill) = split /\|/, $node->safe_psql('postgres',
	q{SELECT reconnects, duplicates, (SELECT count(*) FROM candystore.event_log) FROM candystore.worker_stats()});
kill_cluster_node(1);
my $killed_at = time();
$lock_in .= "COMMIT;\n";
$locker->finish;
cmp_ok($stored_at_kill, '<', 2 * $per_client - $bad, "the node died while events flowed ($stored_at_kill stored)");
$node->safe_psql('postgres',
	"SELECT count(candystore.publish(test_event(n), 'out.test')) FROM generate_series(201, 400) n");

ok( $node->poll_query_until('postgres',
		"SELECT broker LIKE '%:$port[2]/' AND state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'"),
	'the ingest worker moves to the next node of the list');
my $moved_after = time() - $killed_at;
cmp_ok($moved_after, '<=', 30, "it moved within a few heartbeats ($moved_after s)");
ok( $node->poll_query_until('postgres',
		"SELECT broker NOT LIKE '%:$port[1]/' FROM candystore.worker_status() WHERE kind = 'publisher'"),
	'the outbox publisher moves too');

$c1->finish or die "client 1 failed: $err1";
$c2->finish or die "client 2 failed: $err2";
chomp($out1, $out2);
my $published = $out1 + $out2;
is($published, 2 * $per_client, 'both clients had every message confirmed');

my $counts = q{
	SELECT (SELECT count(*) FROM candystore.event_log
	         WHERE event_id::text LIKE '00000001-%' OR event_id::text LIKE '00000002-%')
	     + (SELECT count(DISTINCT body_digest) FROM candystore.dead_letters WHERE routing_key = 'ha.test')};
ok($node->poll_query_until('postgres', $counts, $published), 'published = stored + dead-lettered');
is( $node->safe_psql('postgres',
		q{SELECT count(DISTINCT body_digest) FROM candystore.dead_letters WHERE routing_key = 'ha.test'}),
	$bad, 'the bad messages, and only they, are dead-lettered');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM (SELECT event_id FROM candystore.event_log GROUP BY 1 HAVING count(*) > 1) d}),
	'0', 'no event is stored twice');
cmp_ok($node->safe_psql('postgres', q{SELECT reconnects FROM candystore.worker_stats()}),
	'>', $reconnects_before, 'worker_stats() counts the reconnections');
cmp_ok($node->safe_psql('postgres', q{SELECT duplicates FROM candystore.worker_stats()}),
	'>', $duplicates_before, 'the batch committed as the node died came again, and was counted as duplicates');

# The outbox: every row marked published was confirmed on a live link, so
# it is in the observer queue (the rest was sent again).
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 400 FROM candystore.outbox WHERE published_at IS NOT NULL"),
	'every outbox row is published after the node loss');
my $seen = `'$consumer' 127.0.0.1 $port[2] consume observer 100000 3000`;
my %seen;
$seen{ (split ' ', $_)[2] } = 1 for split /\n/, $seen;
my @marked = split /\n/, $node->safe_psql('postgres',
	q{SELECT e.event_id FROM candystore.outbox o JOIN candystore.events e USING (position)
	   WHERE o.published_at IS NOT NULL});
is(scalar(grep { !$seen{$_} } @marked), 0,
	'every row marked published reached the observer queue (' . scalar(keys %seen) . ' distinct seen)');

# Two of three nodes down (node 1 killed, node 3 stopped): the quorum is
# lost.  The worker waits, loses nothing, and resumes when node 3 is back.
my $stored = $node->safe_psql('postgres', 'SELECT count(*) FROM candystore.event_log');
stop_cluster_node(3);
sleep 3;
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.event_log'), $stored,
	'with two of three nodes down nothing is lost');
restart_cluster_node(3);
my ($out4, $err4) = ('', '');
my $c4 = IPC::Run::start([ $publisher, '127.0.0.1', $port[3], 'bloodbank.events.v1', 'ha.test', 4,
		100, 0, 1 ], '>', \$out4, '2>', \$err4);
$c4->finish or die "client 4 failed: $err4";
chomp $out4;
is($out4, 100, 'once a second node is back, publishes are confirmed again');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 100 FROM candystore.event_log WHERE event_id::text LIKE '00000004-%'"),
	'and the worker stores them');
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.event_log'), $stored + 100,
	'nothing else was stored or lost');

# A node that stops answering without closing its connections (frozen: the
# kernel still acknowledges TCP): only heartbeats tell.  Both workers, the
# publisher idle, give it up after about two intervals (2 s here, 60 s by
# default).
my %on = map { split /\|/ } split /\n/, $node->safe_psql('postgres',
	q{SELECT kind, substring(broker from ':(\d+)/') FROM candystore.worker_status()});
my ($frozen) = grep { $port[$_] == $on{ingest} } 1 .. 3;
my @who = ('ingest worker 1', $on{publisher} == $on{ingest} ? ('outbox publisher') : ());
my $frozen_pid = cluster_pid($frozen);
my $log_from = -s $node->logfile;
kill('STOP', $frozen_pid) or die "cannot stop node $frozen: $!";
my $frozen_at = time();
my $noticed = 0;
while (time() - $frozen_at < 60)
{
	my $log = substr(slurp_file($node->logfile), $log_from);
	$noticed = grep { $log =~ /candystore \Q$_\E lost RabbitMQ: [^\n]*heartbeat/ } @who;
	last if $noticed == @who;
	select(undef, undef, undef, 0.2);
}
my $silent_for = time() - $frozen_at;
kill('CONT', $frozen_pid);
is($noticed, scalar(@who), 'a frozen node is given up through the missing heartbeats by: ' . join(', ', @who));
cmp_ok($silent_for, '<=', 30, "within a few heartbeats ($silent_for s)");

$node->stop;
done_testing();
