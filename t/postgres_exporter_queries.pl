# monitoring/postgres-exporter-queries.yaml, run by Debian's
# prometheus-postgres-exporter against a cluster whose workers have
# ingested, dead-lettered and published through a real RabbitMQ: every
# candystore metric is exported with the value SQL gives, promtool accepts
# the exposition, and the sample alert rules are valid and name only metrics
# the exporter exports.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);
use CandystoreBroker;

my $root = $ENV{CANDYSTORE_ROOT};
my $queries = "$root/monitoring/postgres-exporter-queries.yaml";
my $rules = "$root/monitoring/candystore-alerts.yml";

start_broker();
my $node = node_with_worker(
	'exporter', q{
candystore.batch_timeout_ms = 20
listen_addresses = '127.0.0.1'
});
$node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM candystore.worker_status() WHERE state IN ('consuming', 'idle')")
  or die "the workers never connected";

# Through the broker: three events of the sample flow and one malformed
# message (a dead letter).  Through the outbox: the fourth event.
my @flow = split /\n/, slurp_file("$root/demo/sample-flow.jsonl");
for my $event (@flow[0 .. 2])
{
	my ($type) = $event =~ /"event_type": "([^"]+)"/;
	amqp_publish($type, $event);
}
amqp_publish('fireflies.transcript.ready', '{"not json');
$node->poll_query_until('postgres',
	    "SELECT (SELECT count(*) FROM candystore.events) = 3"
	  . " AND (SELECT count(*) FROM candystore.dead_letters) = 1")
  or die "the worker did not store what was published";
$node->safe_psql('postgres', "SELECT candystore.publish(\$e\$$flow[3]\$e\$::jsonb)");
$node->poll_query_until('postgres',
	"SELECT published = 1 FROM candystore.publisher_stats()")
  or die "the publisher did not publish";
# the ingest worker hears it back from the bus: a duplicate
$node->poll_query_until('postgres',
	"SELECT delivered = 5 AND duplicates = 1 FROM candystore.worker_stats()")
  or die "the published event did not come back";

# A row the broker keeps refusing, an hour old and held back for a day; a
# dead letter of another SQLSTATE; one already redriven (not counted).
$node->safe_psql(
	'postgres', q{
	INSERT INTO candystore.outbox (position, routing_key, enqueued_at, attempts, next_attempt_at, last_error)
	VALUES (1, 'held.back', now() - interval '1 hour', 3, now() + interval '1 day', 'NOT_FOUND - no exchange');
	INSERT INTO candystore.dead_letters (reason, sqlstate, body) VALUES ('too deep', '22V01', '{}');
	INSERT INTO candystore.dead_letters (reason, sqlstate, body, redriven_at)
	VALUES ('fixed', '23514', '{}', now());
	ANALYZE candystore.event_log;
	-- the exporter's role as the docs set it up: candystore_reader, nothing more
	CREATE ROLE exporter LOGIN IN ROLE candystore_reader;
});

# The exporter, on a free loopback port, connected over TCP with trust as
# the role exporter.  Its built-in metrics are left out: they predate the
# _total naming promtool checks, and the test is about candystore's.
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $log = "$PostgreSQL::Test::Utils::tmp_check/exporter.log";
my $pid = fork() // die "fork: $!";
if ($pid == 0)
{
	open(STDOUT, '>', $log) or die;
	open(STDERR, '>&', \*STDOUT) or die;
	$ENV{DATA_SOURCE_NAME} =
	  'host=127.0.0.1 port=' . $node->port . ' user=exporter dbname=postgres sslmode=disable';
	exec('prometheus-postgres-exporter', "--web.listen-address=127.0.0.1:$port",
		"--extend.query-path=$queries", '--disable-default-metrics', '--disable-settings-metrics')
	  or die "exec: $!";
}
# stopped by its pid however the test ends, keeping the test's exit status
END { local $?; if ($pid) { kill 'TERM', $pid; waitpid($pid, 0); } }

my $metrics = '';
for (1 .. 100)
{
	$metrics = `curl -sf http://127.0.0.1:$port/metrics`;
	last if $metrics =~ /^candystore_extension_installed/m;
	sleep 0.2;
}
my $file = "$PostgreSQL::Test::Utils::tmp_check/metrics.txt";
PostgreSQL::Test::Utils::append_to_file($file, $metrics);

# name => [ [ {label => value}, value ], ... ]
my %samples;
for (split /\n/, $metrics)
{
	next if /^#/ || !/^(\w+)(?:\{(.*)\})? (\S+)$/;
	my ($name, $labels, $value) = ($1, $2 // '', $3);
	my %l = $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
	push @{ $samples{$name} }, [ \%l, $value ];
}

# The value of the one sample of NAME whose labels include LABELS.
sub metric
{
	my ($name, %want) = @_;
	my @found = grep {
		my $l = $_->[0];
		!grep { ($l->{$_} // '') ne $want{$_} } keys %want
	} @{ $samples{$name} // [] };
	return 'missing' if !@found;
	return @found == 1 ? $found[0][1] : scalar(@found) . ' samples';
}

sub sql { return $node->safe_psql('postgres', shift); }

is(metric('candystore_extension_installed', version => '0.2.0'), 1, 'the extension and its version');

my @ingest = qw(delivered stored duplicates dead_lettered redelivered batches reconnects);
my @ingest_sql = split /\|/, sql('SELECT ' . join(', ', @ingest) . ' FROM candystore.worker_stats()');
is_deeply([ map { metric("candystore_ingest_${_}_total") } @ingest ],
	\@ingest_sql, 'ingest counters as candystore.worker_stats() gives them');
is_deeply([ map { metric("candystore_ingest_${_}_total") } qw(delivered stored duplicates dead_lettered) ],
	[ 5, 3, 1, 1 ], 'ingest: 5 delivered, 3 stored, 1 duplicate (the published one), 1 dead-lettered');

my @publisher = qw(published confirms nacks retries batches reconnects);
my @publisher_sql = split /\|/, sql('SELECT ' . join(', ', @publisher) . ' FROM candystore.publisher_stats()');
is_deeply([ map { metric("candystore_publisher_${_}_total") } @publisher ],
	\@publisher_sql, 'publisher counters as candystore.publisher_stats() gives them');
is(metric('candystore_publisher_published_total'), 1, 'publisher: 1 published');

is(metric('candystore_worker_state_current', kind => 'ingest', state => 'consuming'),
	1, 'the ingest worker is consuming');
is(metric('candystore_worker_state_current', kind => 'ingest', state => 'connecting'),
	0, 'and not connecting');
is(metric('candystore_worker_state_current', kind => 'publisher', state => 'idle'),
	1, 'the publisher is idle');
my %current;
$current{"$_->[0]{kind} $_->[0]{worker}"} += $_->[1] for @{ $samples{candystore_worker_state_current} };
is_deeply(\%current, { 'ingest 1' => 1, 'publisher 1' => 1 }, 'each worker is in exactly one state');
ok(metric('candystore_worker_connected_seconds', kind => 'ingest') > 0, 'the ingest worker is connected');

is(metric('candystore_outbox_pending'), 1, 'outbox: 1 row pending');
is(metric('candystore_outbox_failing'), 1, 'outbox: 1 row failing');
is(metric('candystore_outbox_waiting_retry'), 1, 'outbox: 1 row waiting for its retry');
ok(metric('candystore_outbox_oldest_pending_age_seconds') >= 3600, 'outbox: the oldest pending row is an hour old');

my $worker_sqlstate = sql("SELECT sqlstate FROM candystore.dead_letters WHERE sqlstate <> '22V01' AND redriven_at IS NULL");
is(metric('candystore_dead_letters_waiting', sqlstate => $worker_sqlstate), 1, "dead letters: 1 of $worker_sqlstate");
is(metric('candystore_dead_letters_waiting', sqlstate => '22V01'), 1, 'dead letters: 1 of 22V01');
is(metric('candystore_dead_letters_waiting', sqlstate => '23514'), 'missing', 'a redriven dead letter is not counted');
is(metric('candystore_dead_letter_waiting'), 2, 'dead letters: 2 waiting in all');

is(metric('candystore_events_newest_position'),
	sql('SELECT max(position) FROM candystore.events'), 'events: the newest position');
is(metric('candystore_events_estimated'), 4, 'events: 4 estimated after ANALYZE');
is(metric('candystore_schemas_event_types'),
	sql('SELECT count(DISTINCT event_type) FROM candystore.schemas'), 'schemas: event types');
is(metric('candystore_schemas_versions'),
	sql('SELECT count(*) FROM candystore.schemas'), 'schemas: versions');

my $exporter_log = slurp_file($log);
unlike($exporter_log, qr/level=error/, 'every query ran') or diag($exporter_log);

my $out = `promtool check metrics < $file 2>&1`;
is($?, 0, 'promtool check metrics accepts the exposition') or diag($out);
$out = `promtool check rules $rules 2>&1`;
is($?, 0, 'promtool check rules accepts the alert rules') or diag($out);
my %named = map { $_ => 1 } map { /\b(candystore_\w+)/g } slurp_file($rules) =~ /^\s*expr:(.*)$/mg;
is_deeply([ grep { !$samples{$_} } sort keys %named ], [], 'the alert rules name only exported metrics');

done_testing();
