# The ingest worker against faults of the database while events flow: a
# lock held past lock_timeout, the extension dropped and created again, a
# full disk (a tablespace on a small tmpfs), a read-only database.  For each:
# the worker shows it is retrying and why, no message is dead-lettered, none
# is lost (published = stored), the worker never restarts, and it resumes by
# itself once the fault is lifted.  The queue is a quorum queue with a
# delivery limit of 2, so a worker that gave batches back to the broker
# would send good events to the broker's dead-letter queue: it must stay
# empty.  Then a message that fails alone with an error that is not a data
# error is dead-lettered after candystore.max_message_failures tries, and
# its neighbours are stored.  And the worker's commits are durable whatever
# synchronous_commit says in postgresql.conf.
use strict;
use warnings;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $amqp_port = start_broker();
my $publisher = build_amqp_tool('cs_publish');
my $tmp = PostgreSQL::Test::Utils::tempdir();

my $node = node_with_worker(
	'faults', q{
candystore.batch_size = 50
candystore.batch_timeout_ms = 20
candystore.reconnect_max_ms = 1000
candystore.queue_type = quorum
candystore.max_deliveries = 2
candystore.max_message_failures = 3
lock_timeout = '1s'
synchronous_commit = off
});

$node->poll_query_until('postgres',
	"SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'")
  or die "the worker never connected";
my $pid = $node->safe_psql('postgres', "SELECT pid FROM candystore.worker_status() WHERE kind = 'ingest'");

# Durability: off in postgresql.conf, on in the workers; remote_apply kept.
is( $node->safe_psql('postgres',
		"SELECT string_agg(kind || ' ' || synchronous_commit, ', ' ORDER BY kind) FROM candystore.worker_status()"),
	'ingest on, publisher on',
	'synchronous_commit = off in postgresql.conf: the workers commit with on');
$node->append_conf('postgresql.conf', "synchronous_commit = remote_apply\n");
$node->reload;
ok( $node->poll_query_until('postgres',
		"SELECT bool_and(synchronous_commit = 'remote_apply') FROM candystore.worker_status()"),
	'remote_apply in postgresql.conf is kept after a reload');
$node->append_conf('postgresql.conf', "synchronous_commit = local\n");
$node->reload;
ok($node->poll_query_until('postgres', "SELECT bool_and(synchronous_commit = 'on') FROM candystore.worker_status()"),
	'local in postgresql.conf is raised to on after a reload');

# Events flow: a loop publishes runs of 20 events (ids derived from the run
# number), logging "start RUN" and "done RUN COUNT".
my $next_run = 1;

sub start_publishing
{
	my $log = "$tmp/publish.$next_run.log";
	my $stop = "$tmp/stop.$next_run";
	my $script = qq{
run=$next_run
while [ ! -e '$stop' ]; do
	echo "start \$run" >> '$log'
	n=\$('$publisher' 127.0.0.1 $amqp_port bloodbank.events.v1 fireflies.transcript.ready \$run 20 0 1) || exit 1
	echo "done \$run \$n" >> '$log'
	run=\$((run + 1))
	sleep 0.1
done};
	my $h = IPC::Run::start([ 'bash', '-c', $script ]);
	return { h => $h, log => $log, stop => $stop, first => $next_run };
}

sub runs_in_log
{
	my ($p, $what) = @_;
	return () unless -e $p->{log};
	return map { /^$what (\d+)/ ? $1 : () } split /\n/, slurp_file($p->{log});
}

# Stops the loop; returns [first run, last run, messages published].
sub stop_publishing
{
	my ($p) = @_;
	open(my $fh, '>', $p->{stop}) or die;
	close $fh;
	ok($p->{h}->finish, 'the publisher loop ran without error');
	my $published = 0;
	$published += $_ for map { /^done \d+ (\d+)/ ? $1 : () } split /\n/, slurp_file($p->{log});
	my @done = runs_in_log($p, 'done');
	$next_run = $done[-1] + 1;
	return [ $p->{first}, $done[-1], $published ];
}

# Events of runs [lo, hi] stored.
sub stored_between
{
	my ($lo, $hi) = @_;
	return qq{SELECT count(*) FROM candystore.event_log
	           WHERE ('x' || substr(event_id::text, 1, 8))::bit(32)::int BETWEEN $lo AND $hi};
}

# Waits until every event of the runs is stored, then checks it is exactly
# that and that nothing was dead-lettered.
sub check_all_stored
{
	my ($name, $runs, $from) = @_;
	my ($lo, $hi, $published) = @$runs;
	$lo = $from if defined $from;
	my $expected = $published - 20 * ($lo - $runs->[0]);
	$node->poll_query_until('postgres', 'SELECT (' . stored_between($lo, $hi) . ") >= $expected")
	  or diag("$name: timed out waiting for the events");
	is($node->safe_psql('postgres', stored_between($lo, $hi)), $expected, "$name: published = stored");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.dead_letters'),
		'0', "$name: nothing dead-lettered");
}

# worker_status(), also while the extension is dropped
$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION public.worker_status(
	    OUT worker int, OUT pid int, OUT state text, OUT broker text,
	    OUT connected_since timestamptz, OUT last_error text, OUT last_error_at timestamptz,
	    OUT kind text, OUT last_sqlstate text, OUT synchronous_commit text)
	    RETURNS SETOF record AS 'candystore', 'candystore_worker_status' LANGUAGE C});

sub await_state
{
	my ($name, $state, $sqlstate) = @_;
	ok( $node->poll_query_until(
			'postgres', qq{
			SELECT state = '$state' AND last_sqlstate = '$sqlstate' AND last_error LIKE 'SQLSTATE $sqlstate: %'
			  FROM public.worker_status() WHERE kind = 'ingest'}),
		"$name: worker_status shows '$state' and SQLSTATE $sqlstate");
}

sub await_consuming
{
	my ($name) = @_;
	ok( $node->poll_query_until(
			'postgres', "SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'"),
		"$name: the worker resumes by itself");
}

# Publishes until the worker has received at least one more run.
sub await_flow
{
	my ($p) = @_;
	my @start = runs_in_log($p, 'done');
	my $want = (@start ? $start[-1] : $p->{first}) + 2;
	for (1 .. 300)
	{
		my @done = runs_in_log($p, 'done');
		return if @done && $done[-1] >= $want;
		usleep(100_000);
	}
	die "the publisher loop does not progress";
}

# (a) a lock held past lock_timeout, for more than 10 seconds
my $p = start_publishing();
await_flow($p);
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE candystore.event_log IN EXCLUSIVE MODE;');
await_state('lock', 'retrying: lock timeout', '55P03');
await_flow($p);
sleep 10;
$locker->query_safe('COMMIT');
$locker->quit;
await_consuming('lock');
check_all_stored('lock', stop_publishing($p));

# (b) DROP EXTENSION while events flow, CREATE EXTENSION again: every run
# published after the drop is stored in the new tables
$p = start_publishing();
await_flow($p);
$node->safe_psql('postgres', 'SET lock_timeout = 0; DROP EXTENSION candystore CASCADE');
my @started = runs_in_log($p, 'start');
my $after_drop = $started[-1] + 1;
await_state('extension dropped', 'retrying: extension missing', '42704');
await_flow($p);
$node->safe_psql('postgres', 'CREATE EXTENSION candystore');
await_consuming('extension re-created');
check_all_stored('extension re-created', stop_publishing($p), $after_drop);

# (c) disk full: event_log (its one partition, the default one) in a
# tablespace on a small tmpfs, filled up
SKIP:
{
	my $small_fs = $ENV{CANDYSTORE_SMALL_FS} // '';
	skip 'disk full: no small file system (scripts/test.sh mounts one when run as root)', 5
	  if $small_fs eq '';
	$node->safe_psql(
		'postgres', qq{
		CREATE TABLESPACE small LOCATION '$small_fs';
		SET lock_timeout = 0;
		ALTER TABLE candystore.event_log_default SET TABLESPACE small;
		CREATE TABLE filler (x text) TABLESPACE small;});
	$p = start_publishing();
	await_flow($p);
	# fill it: each insert fails with ENOSPC once nothing is left, and the
	# pages it extended stay in the file
	for (1 .. 10)
	{
		my ($ret, $out, $err) = $node->psql('postgres',
			"INSERT INTO filler SELECT repeat(md5(g::text), 30) FROM generate_series(1, 20000) g");
		last if $err =~ /No space left on device/;
	}
	await_state('disk full', 'retrying: disk full', '53100');
	await_flow($p);
	$node->safe_psql('postgres', 'DROP TABLE filler');
	await_consuming('disk full');
	check_all_stored('disk full', stop_publishing($p));
	$node->safe_psql('postgres',
		'SET lock_timeout = 0; ALTER TABLE candystore.event_log_default SET TABLESPACE pg_default; DROP TABLESPACE small');
}

# (d) the database made read-only (the worker reads it at its reload)
$p = start_publishing();
await_flow($p);
$node->safe_psql('postgres', 'ALTER SYSTEM SET default_transaction_read_only = on');
$node->reload;
await_state('read-only', 'retrying: read-only', '25006');
await_flow($p);
$node->safe_psql('postgres',
	'SET default_transaction_read_only = off; ALTER SYSTEM RESET default_transaction_read_only');
$node->reload;
await_consuming('read-only');
check_all_stored('read-only', stop_publishing($p));

# (e) a message that fails alone, with an error that is not a data error:
# dead-lettered after max_message_failures (3) tries, its neighbours stored
my $bad = sprintf('%08x-0000-4000-8000-%012x', $next_run + 1, 7);
$node->safe_psql(
	'postgres', qq{
	CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN
		IF NEW.event_id = '$bad' THEN
			RAISE EXCEPTION 'test: refusing %', NEW.event_id;	-- P0001
		END IF;
		RETURN NEW;
	END \$\$;
	CREATE TRIGGER refuse_one BEFORE INSERT ON candystore.event_log
		FOR EACH ROW EXECUTE FUNCTION refuse_one();});
$p = start_publishing();
ok( $node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM candystore.dead_letters'),
	'the failing message is dead-lettered');
await_flow($p);
my $runs = stop_publishing($p);
$node->poll_query_until('postgres', 'SELECT (' . stored_between($runs->[0], $runs->[1]) . ") >= $runs->[2] - 1");
is($node->safe_psql('postgres', stored_between($runs->[0], $runs->[1])),
	$runs->[2] - 1, 'failure cap: every other message is stored');
is( $node->safe_psql(
		'postgres', q{
		SELECT sqlstate || ' ' || (reason LIKE 'failed 3 times %max_message_failures%test: refusing%')::int
		  FROM candystore.dead_letters}),
	'P0001 1',
	'failure cap: the dead letter says it failed 3 times, with the last error and its SQLSTATE');
like($node->safe_psql('postgres', 'SELECT convert_from(body, \'UTF8\') FROM candystore.dead_letters'),
	qr/$bad/, 'failure cap: the dead letter is that message');

# Throughout: one worker process, no restart, nothing given back to the
# broker's dead-letter queue, everything acked.
is($node->safe_psql('postgres', "SELECT pid FROM candystore.worker_status() WHERE kind = 'ingest'"),
	$pid, 'the worker never restarted');
unlike(slurp_file($node->logfile), qr/exited with exit code/, 'no worker exited');
my $queues = queues_until(qr/^event_store_manager_queue\s+0$/m, 50);
like($queues, qr/^event_store_manager_queue\s+0$/m, 'every delivery acked');
like($queues, qr/^event_store_manager_dlq\s+0$/m, "nothing reached the broker's dead-letter queue");

$node->stop;
stop_broker();
done_testing();
