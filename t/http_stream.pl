# candystore-http's live stream (GET /v1/stream), metrics and health, against
# a real server, PostgreSQL and RabbitMQ: events arrive in order with their
# cursors as SSE ids; a client that reconnects with Last-Event-ID after the
# server was restarted while events kept being appended misses nothing and
# gets nothing twice; the type filter; a client behind the in-memory ring
# catches up from the database, also past the ring's head without getting
# those events twice; a client that stops reading is cut and
# resumes where it was; more clients than --max-stream-clients get 503; one
# database reader however many clients; a role that may not read is refused;
# /metrics passes promtool; /health/ready turns 503 for an outbox lag and a
# missing extension.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Socket qw(SOL_SOCKET SO_RCVBUF pack_sockaddr_in inet_aton);
use IPC::Run;
use Time::HiRes qw(time sleep);
use CandystoreBroker;

my $root = $ENV{CANDYSTORE_ROOT};
my $server_exe = (grep { -x } map { "$_/candystore-http" } split(/:/, $ENV{PATH}))[0]
  // "$root/http/candystore-http";
-x $server_exe or BAIL_OUT("candystore-http is not built");

start_broker();
my $node = node_with_worker(
	'http_stream', q{
candystore.outbox_publisher = off
candystore.batch_timeout_ms = 5
});
$node->poll_query_until('postgres',
	"SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'")
  or die "the ingest worker never connected";

# The deployment the README describes: a NOINHERIT authenticator granted the
# roles tokens map to.
$node->safe_psql(
	'postgres', q{
CREATE ROLE candystore_authenticator LOGIN NOINHERIT;
GRANT candystore_http, candystore_reader TO candystore_authenticator;
CREATE ROLE stream_reader NOLOGIN IN ROLE candystore_reader;
CREATE ROLE stream_nobody NOLOGIN;
-- restricted by event type grants to stream.beta
CREATE ROLE stream_beta_team NOLOGIN IN ROLE candystore_reader;
SELECT candystore.grant_event_types('stream_beta_team', '{stream.beta}');
GRANT stream_reader, stream_nobody, stream_beta_team TO candystore_authenticator;
});
my $token = $node->safe_psql('postgres',
	"SELECT candystore.create_api_token('stream_reader', now() + interval '1 day')");
my $nobody_token = $node->safe_psql('postgres',
	"SELECT candystore.create_api_token('stream_nobody', now() + interval '1 day')");
my $beta_token = $node->safe_psql('postgres',
	"SELECT candystore.create_api_token('stream_beta_team', now() + interval '1 day')");

my $max_clients = 12;
my $http_port;
my $server;
my $server_log = PostgreSQL::Test::Utils::tempdir() . '/http.log';

# Options: read_interval_ms (the reader's CANDYSTORE_HTTP_STREAM_READ_INTERVAL_MS)
sub start_server
{
	my (%o) = @_;
	$http_port = free_port();
	local $ENV{CANDYSTORE_HTTP_LISTEN} = "127.0.0.1:$http_port";
	local $ENV{CANDYSTORE_HTTP_DB} = $node->connstr('postgres') . ' user=candystore_authenticator';
	local $ENV{CANDYSTORE_HTTP_MAX_STREAM_CLIENTS} = $max_clients;
	local $ENV{CANDYSTORE_HTTP_READY_MAX_OUTBOX_LAG_S} = 2;
	# /health/ready must answer when the extension (and with it the tokens) is gone
	local $ENV{CANDYSTORE_HTTP_PUBLIC_READY} = 'true';
	# small, so that clients fall behind the ring and catch up from the database
	local $ENV{CANDYSTORE_HTTP_STREAM_RING_EVENTS} = 50;    # two pages: a client joining at the oldest entry is not pushed out by the next page
	local $ENV{CANDYSTORE_HTTP_STREAM_PAGE_EVENTS} = 25;
	local $ENV{CANDYSTORE_HTTP_STREAM_CLIENT_MAX_LAG_BYTES} = 30000;
	local $ENV{CANDYSTORE_HTTP_STREAM_KEEPALIVE_S} = 2;
	local $ENV{CANDYSTORE_HTTP_STREAM_READ_INTERVAL_MS} = $o{read_interval_ms} // 5;
	$server = IPC::Run::start([$server_exe], '<', \undef, '>>', $server_log, '2>>', $server_log);
	for (1 .. 100)
	{
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $http_port);
		if ($s) { close $s; return; }
		sleep 0.1;
	}
	die "candystore-http did not start: " . slurp_file($server_log);
}

# SIGTERM; returns the exit status
sub stop_server
{
	$server->signal('TERM');
	$server->finish;
	my $rc = $server->full_result(0) >> 8;
	undef $server;
	return $rc;
}

END
{
	local $?;
	if (defined $server)
	{
		$server->signal('TERM');
		eval { $server->finish };
	}
}

# One HTTP request (HTTP/1.0, so the body ends when the server closes):
# returns (status, body).
sub http_get
{
	my ($path, $tok) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $http_port) or die "connect: $!";
	print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n"
	  . (defined $tok ? "Authorization: Bearer $tok\r\n" : '') . "\r\n";
	local $/;
	my $resp = <$s>;
	close $s;
	my ($head, $body) = split(/\r\n\r\n/, $resp, 2);
	my ($status) = $head =~ m{^HTTP/1\.\d (\d+)};
	return ($status, $body);
}

# An SSE client on a raw socket.  Options: after, last_event_id, type, rcvbuf.
sub sse_open
{
	my ($path, %o) = @_;
	my $s = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";
	# a small receive buffer (set before connecting) makes a slow reader quickly visible
	setsockopt($s, SOL_SOCKET, SO_RCVBUF, $o{rcvbuf}) if $o{rcvbuf};
	$s->connect(pack_sockaddr_in($http_port, inet_aton('127.0.0.1'))) or die "connect: $!";
	print $s "GET $path HTTP/1.0\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
	  . "Authorization: Bearer " . ($o{token} // $token) . "\r\n"
	  . (defined $o{last_event_id} ? "Last-Event-ID: $o{last_event_id}\r\n" : '') . "\r\n";
	return { sock => $s, buf => '', head => undef, events => [], comments => 0, eof => 0 };
}

# Reads what has arrived, until cond() holds, EOF, or timeout seconds.
sub sse_read
{
	my ($c, $cond, $timeout) = @_;
	my $sel = IO::Select->new($c->{sock});
	my $end = time + ($timeout // 30);
	while (!$c->{eof} && !($cond && $cond->()) && time < $end)
	{
		next unless $sel->can_read(0.2);
		my $n = sysread($c->{sock}, my $chunk, 65536);
		if (!$n) { $c->{eof} = 1; last; }
		$c->{buf} .= $chunk;
		if (!defined $c->{head} && $c->{buf} =~ s/^(.*?)\r\n\r\n//s)
		{
			$c->{head} = $1;
			($c->{status}) = $c->{head} =~ m{^HTTP/1\.\d (\d+)};
		}
		next unless defined $c->{head} && $c->{status} == 200;
		while ($c->{buf} =~ s/^(.*?)\n\n//s)
		{
			my %f;
			for my $line (split /\n/, $1)
			{
				if ($line =~ /^:/) { $c->{comments}++; next; }
				my ($k, $v) = $line =~ /^([a-z]+): ?(.*)$/ or next;
				$f{$k} = $v;
			}
			push @{ $c->{events} }, \%f if defined $f{id};
		}
	}
	return $c;
}

sub ids { return map { $_->{id} } @{ $_[0]->{events} }; }

sub append_events
{
	my ($kind, $n, $size) = @_;
	$size //= 10;
	$node->safe_psql(
		'postgres', qq{
SELECT count(candystore.append(jsonb_build_object(
    'event_id', gen_random_uuid(), 'event_type', '$kind', 'timestamp', '2026-01-27T10:15:00Z',
    'version', '1.0.0', 'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'a', 'meta', NULL),
    'correlation_ids', '[]'::jsonb, 'agent_context', NULL,
    'payload', jsonb_build_object('pad', repeat('x', $size)))))
  FROM generate_series(1, $n)});
}

# every cursor read_all() returns after $after, in order
sub cursors_after
{
	my ($after, $type) = @_;
	my $a = defined $after ? "'$after'" : 'NULL';
	my $t = defined $type ? "ARRAY['$type']" : 'NULL';
	return split /\n/, $node->safe_psql('postgres',
		"SELECT cursor FROM candystore.read_all($a, 100000, $t)");
}

# Waits until the server has no stream client left.  A parked client's
# departure is noticed when it next sends (an event it wants, or a
# keepalive, every 2 s here): one event first.  Returns the count left.
sub settle_clients
{
	append_events('stream.nudge', 1);
	my $left;
	for (1 .. 50)
	{
		my (undef, $m) = http_get('/metrics', $token);
		($left) = $m =~ /^candystore_http_stream_clients (\d+)$/m;
		last if defined $left && $left == 0;
		sleep 0.2;
	}
	return $left;
}

sub strictly_increasing
{
	my @a = @_;
	for my $i (1 .. $#a) { return 0 unless $a[$i] gt $a[ $i - 1 ]; }
	return 1;
}

start_server();

# ---- health and metrics ------------------------------------------------
my ($st, $body) = http_get('/health/live');
is($st, 200, 'live answers without a token');
($st, $body) = http_get('/health/ready');
is($st, 200, 'ready: database, extension, ingest worker, outbox all fine') or diag($body);
like($body, qr/"status":"ready"/, 'ready says so');
like($body, qr/"ingest_workers":\{"running":1,"consuming":1\}/, 'with its findings');

# ---- order, ids, types, one reader --------------------------------------
my @live = map { sse_open('/v1/stream') } 1 .. 3;
my $typed = sse_open('/v1/stream?type=stream.beta');
my $granted = sse_open('/v1/stream', token => $beta_token);
my $start_cursor = ($node->safe_psql('postgres',
	"SELECT max(cursor COLLATE \"C\") FROM candystore.read_all(NULL, 100000)")) || undef;
sse_read($_, sub { 0 }, 0.5) for (@live, $typed, $granted);
is($live[0]{status}, 200, 'the stream answers 200');
like($live[0]{head}, qr{content-type: text/event-stream}i, 'as text/event-stream');

append_events('stream.alpha', 10);
append_events('stream.beta', 5);
append_events('stream.alpha', 10);
my @expected = cursors_after($start_cursor);
is(scalar @expected, 25, '25 events appended');
for my $c (@live) { sse_read($c, sub { @{ $c->{events} } >= 25 }, 20); }
is_deeply([ ids($live[0]) ], \@expected, 'a live client gets every event, in order, its cursor as id');
is_deeply([ ids($live[2]) ], \@expected, 'so does every other client');
ok(strictly_increasing(ids($live[1])), 'ids strictly increase');
is($live[0]{events}[10]{event}, 'stream.beta', 'the SSE event name is the event type');
like($live[0]{events}[0]{data}, qr/^\{"cursor" : "\Q$expected[0]\E", "position" : \d+, .*"event" : \{/,
	'data is the item: cursor, position, ..., the envelope');
sse_read($typed, sub { @{ $typed->{events} } >= 5 }, 20);
is_deeply([ ids($typed) ], [ cursors_after($start_cursor, 'stream.beta') ], 'type= filters');
# the live ring is read as the hub's role: a role restricted to stream.beta gets only those
sse_read($granted, sub { @{ $granted->{events} } >= 5 }, 20);
sse_read($granted, sub { 0 }, 0.5);
is_deeply([ ids($granted) ], [ cursors_after($start_cursor, 'stream.beta') ],
	'a role restricted by event type grants gets only its types live');

# a client further back than the ring (40 events) catches up from the database, then goes live
append_events('stream.gamma', 50);
my $behind = sse_open("/v1/stream?after=$expected[0]");
sse_read($behind, sub { @{ $behind->{events} } >= 10 }, 10);
append_events('stream.gamma', 10);
my @all_after_first = cursors_after($expected[0]);
sse_read($behind, sub { @{ $behind->{events} } >= @all_after_first }, 30);
is_deeply([ ids($behind) ], \@all_after_first,
	'a client behind the ring catches up from the database and joins the live feed: no gap, no repeat');
# a role restricted to stream.beta, behind the ring: its pages from the
# database (read as its role) hold only its types
my $granted_behind = sse_open('/v1/stream', token => $beta_token, last_event_id => $expected[0]);
sse_read($granted_behind, sub { @{ $granted_behind->{events} } >= 5 }, 20);
sse_read($granted_behind, sub { 0 }, 1);
is_deeply([ ids($granted_behind) ], [ cursors_after($expected[0], 'stream.beta') ],
	'a restricted role gets only its types when it catches up');

close $_->{sock} for (@live, $typed, $behind, $granted, $granted_behind);
is(settle_clients(), 0, 'clients that went are forgotten once something is sent to them');

# many clients, one database reader
my @more = map { sse_open('/v1/stream') } 1 .. $max_clients;
for my $c (@more) { sse_read($c, sub { defined $c->{status} }, 5); }
is(scalar(grep { ($_->{status} // 0) == 200 } @more), $max_clients, "$max_clients clients connected");
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'candystore-http stream'"),
	1,
	"$max_clients clients, one database reader");
my $refused = sse_open('/v1/stream');
sse_read($refused, sub { defined $refused->{status} }, 5);
is($refused->{status}, 503, 'one client more than --max-stream-clients: 503');
like($refused->{buf}, qr/"status":503/, 'as a problem document');
close $_->{sock} for (@more, $refused);

# a role that may not read the store, and a malformed cursor
my $nobody = sse_open('/v1/stream', token => $nobody_token);
sse_read($nobody, sub { defined $nobody->{status} }, 5);
is($nobody->{status}, 403, 'a role without read rights is refused (403)');
close $nobody->{sock};
($st, $body) = http_get('/v1/stream?after=nonsense', $token);
is($st, 400, 'a malformed cursor: 400');

is(settle_clients(), 0, 'and the server forgets them');

# an idle client gets keepalive comments
my $idle = sse_open('/v1/stream?type=stream.none');
sse_read($idle, sub { $idle->{comments} >= 1 }, 6);
ok($idle->{comments} >= 1, 'an idle client gets a keepalive comment');
is(scalar @{ $idle->{events} }, 0, 'and no event of another type');
close $idle->{sock};

# ---- a slow client is cut and resumes with Last-Event-ID ------------------
my $slow = sse_open('/v1/stream', rcvbuf => 4096);
sse_read($slow, sub { defined $slow->{status} }, 5);
is($slow->{status}, 200, 'a client that will not read connects');
my $slow_from = ($node->safe_psql('postgres',
	"SELECT max(cursor COLLATE \"C\") FROM candystore.read_all(NULL, 100000)"));
append_events('stream.bulk', 1000, 4000);
my @bulk = cursors_after($slow_from);
sleep 1;
sse_read($slow, undef, 20);    # now read what the kernel kept, until the server's close
ok($slow->{eof}, 'a client that stopped reading was disconnected')
  or diag('got ' . scalar(@{ $slow->{events} }) . ' events');
ok(@{ $slow->{events} } < @bulk, 'before it had everything (' . scalar(@{ $slow->{events} }) . ' of ' . scalar(@bulk) . ')');
my $resume = sse_open('/v1/stream', last_event_id => (ids($slow))[-1] // $slow_from);
sse_read($resume, sub { $resume->{events}[-1] && $resume->{events}[-1]{id} eq $bulk[-1] }, 30);
is_deeply([ ids($slow), ids($resume) ], \@bulk, 'reconnected with Last-Event-ID: nothing missed, nothing twice');
($st, $body) = http_get('/metrics', $token);
like($body, qr/^candystore_http_stream_clients_cut_total [1-9]/m, 'the cut is counted');
close $_->{sock} for ($resume);

# ---- across a restart while events keep being appended -------------------
my $reader = sse_open('/v1/stream');
sse_read($reader, sub { 0 }, 0.3);
my $before_restart = $node->safe_psql('postgres',
	"SELECT max(cursor COLLATE \"C\") FROM candystore.read_all(NULL, 100000)");
my $appending = IPC::Run::start(
	[
		'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c', q{
DO $$ BEGIN
  FOR i IN 1 .. 120 LOOP
    PERFORM candystore.append(jsonb_build_object(
        'event_id', gen_random_uuid(), 'event_type', 'stream.restart', 'timestamp', '2026-01-27T10:15:00Z',
        'version', '1.0.0', 'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'a', 'meta', NULL),
        'correlation_ids', '[]'::jsonb, 'agent_context', NULL, 'payload', jsonb_build_object('i', i)));
    COMMIT;
    PERFORM pg_sleep(0.025);
  END LOOP;
END $$}
	],
	'>', \my $app_out, '2>', \my $app_err);
sse_read($reader, sub { @{ $reader->{events} } >= 20 }, 20);
is(stop_server(), 0, 'SIGTERM: the server exits 0');
sse_read($reader, undef, 10);
ok($reader->{eof}, 'SIGTERM ends the stream');
my $got_before = scalar @{ $reader->{events} };
start_server();
my $again = sse_open('/v1/stream', last_event_id => (ids($reader))[-1]);
$appending->finish;
is($appending->full_result(0) >> 8, 0, 'the appender ran through the restart') or diag($app_err);
my @restart = cursors_after($before_restart);
is(scalar @restart, 120, '120 events appended across the restart');
sse_read($again, sub { $again->{events}[-1] && $again->{events}[-1]{id} eq $restart[-1] }, 30);
is_deeply([ ids($reader), ids($again) ], \@restart,
	"Last-Event-ID after a restart: no gap, no repeat ($got_before events before it)");
my %seen;
my @dups = grep { $seen{$_}++ } (ids($reader), ids($again));
is(scalar @dups, 0, 'no event twice');
close $again->{sock};

# ---- a catch-up that reads past the ring's head ---------------------------
# The reader reads at most every 4 s here.  A client catching up from the
# database (type-filtered, so its last page is short) reads events the
# reader has not read yet and joins the ring ahead of its head: when the
# reader then appends those events, the client must not get them again.
is(stop_server(), 0, 'the server stops for a slow reader');
start_server(read_interval_ms => 4000);
my $watch = sse_open('/v1/stream');
sse_read($watch, sub { 0 }, 0.5);
my $seam_from = $node->safe_psql('postgres',
	"SELECT max(cursor COLLATE \"C\") FROM candystore.read_all(NULL, 100000)");
append_events('stream.seam_other', 45);    # more than the ring holds: the client is behind it
my $seam_other_last = (cursors_after($seam_from))[-1];
sse_read($watch, sub { $watch->{events}[-1] && $watch->{events}[-1]{id} eq $seam_other_last }, 20);
# the reader has just read: the next 2 events stay unread by it for about 4 s
append_events('stream.seam', 2);
my $seam = sse_open("/v1/stream?type=stream.seam&after=$seam_from");
sse_read($seam, sub { @{ $seam->{events} } >= 2 }, 10);
sse_read($watch, sub { @{ $watch->{events} } >= 47 }, 15);    # the reader has read them
append_events('stream.seam', 1);
my @seam_expected = cursors_after($seam_from, 'stream.seam');
sse_read($seam, sub { $seam->{events}[-1] && $seam->{events}[-1]{id} eq $seam_expected[-1] }, 15);
is_deeply([ ids($seam) ], \@seam_expected,
	'a client whose catch-up read past the ring\'s head joins it without a repeat');
close $_->{sock} for ($watch, $seam);
is(stop_server(), 0, 'the slow reader\'s server stops');
start_server();

# ---- metrics (of the restarted server) --------------------------------------
($st, $body) = http_get('/health/ready');
is($st, 200, 'ready after the restart') or diag($body);
like($body, qr/"stream_reader":"connected"/, 'and reports the stream reader connected');
($st, $body) = http_get('/metrics', $token);
is($st, 200, '/metrics answers');
my $metrics_file = PostgreSQL::Test::Utils::tempdir() . '/metrics.txt';
open(my $mf, '>', $metrics_file) or die;
print $mf $body;
close $mf;
my ($promtool_out, $promtool_err);
IPC::Run::run([ 'promtool', 'check', 'metrics' ], '<', $metrics_file, '>', \$promtool_out, '2>', \$promtool_err);
is($? >> 8, 0, 'promtool check metrics accepts /metrics') or diag($promtool_out . $promtool_err);
like($body, qr/^candystore_http_requests_total\{route="\/health\/ready",method="GET",status="200"\} 1$/m,
	'requests by route template, method, status');
like($body, qr/^candystore_http_request_duration_seconds_bucket\{route="\/health\/ready",method="GET",status="200",le="\+Inf"\} 1$/m,
	'latency histograms');
like($body, qr/^candystore_worker_state_current\{worker="\d+",kind="ingest",state="consuming"\} 1$/m,
	'worker states from worker_status()');
like($body, qr/^candystore_outbox_oldest_pending_age_seconds 0$/m, 'outbox lag');
like($body, qr/^candystore_metrics_query_errors 0$/m, 'every metrics query ran');
$node->safe_psql('postgres', 'ANALYZE candystore.event_log');
($st, $body) = http_get('/metrics', $token);
like($body, qr/^candystore_events_by_type_estimated\{event_type="stream.bulk"\} 1000$/m,
	'events by type, from the planner statistics');

# ---- ready turns 503 ----------------------------------------------------------
$node->safe_psql('postgres',
	q{SELECT candystore.publish(jsonb_build_object(
    'event_id', gen_random_uuid(), 'event_type', 'stream.out', 'timestamp', '2026-01-27T10:15:00Z',
    'version', '1.0.0', 'source', jsonb_build_object('host', 'h', 'type', 'webhook', 'app', 'a', 'meta', NULL),
    'correlation_ids', '[]'::jsonb, 'agent_context', NULL, 'payload', '{}'::jsonb), 'stream.out')});
sleep 2.5;
($st, $body) = http_get('/health/ready');
is($st, 503, 'ready: 503 when the outbox lags more than --ready-max-outbox-lag-s') or diag($body);
like($body, qr/"reason":"outbox lag/, 'with the reason');
$node->safe_psql('postgres', 'DELETE FROM candystore.outbox');
($st, $body) = http_get('/health/ready');
is($st, 200, 'ready again once the outbox is drained') or diag($body);

# the ingest worker and the stream's reader keep reading: a deadlock with the
# DROP is possible, and then the DROP is tried again
my ($drop_rc, $drop_err);
for (1 .. 5)
{
	$drop_rc = $node->psql('postgres', 'DROP EXTENSION candystore CASCADE', stderr => \$drop_err);
	last if $drop_rc == 0;
	sleep 0.5;
}
is($drop_rc, 0, 'the extension is dropped') or diag($drop_err);
($st, $body) = http_get('/health/ready');
is($st, 503, 'ready: 503 when the extension is missing') or diag($body);
like($body, qr/"reason":"[^"]*not created/, 'with the reason');
is(stop_server(), 0, 'the server stops cleanly');

done_testing();
