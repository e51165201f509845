# candystore-http against a real PostgreSQL with curl: every REST endpoint
# and its errors, tokens mapped to roles (401/403), malformed ids and
# cursors, oversized bodies, injection attempts in every parameter, a slow
# client, TLS (SIGHUP re-reads the certificate and key), SIGHUP (the token cache is emptied) and SIGTERM (requests in
# flight finish, then the server exits 0).  Every response that is an error
# is application/problem+json with the request id the X-Request-Id header
# carries.
use strict;
use warnings;
use File::Temp ();
use FindBin;
use IO::Select;
use IO::Socket::INET;
use IPC::Run ();
use JSON::PP;
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $root = $ENV{CANDYSTORE_ROOT} // "$FindBin::RealBin/..";
my $json = JSON::PP->new->utf8->allow_nonref;
my $tmp = PostgreSQL::Test::Utils::tempdir();

my $node = PostgreSQL::Test::Cluster->new('http_api');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION candystore;
	CREATE ROLE candystore_authenticator LOGIN NOINHERIT;
	GRANT candystore_http, candystore_reader, candystore_writer TO candystore_authenticator;
	-- a role the authenticator may become but that may read nothing
	CREATE ROLE http_nothing NOLOGIN;
	GRANT http_nothing TO candystore_authenticator;
	-- a role the authenticator was never granted
	CREATE ROLE http_stranger NOLOGIN;
	GRANT candystore_reader TO http_stranger;
	-- may register schemas (the owner's by default)
	CREATE ROLE http_schema_admin NOLOGIN IN ROLE candystore_writer;
	GRANT EXECUTE ON FUNCTION candystore.register_schema(text, jsonb, boolean) TO http_schema_admin;
	GRANT http_schema_admin TO candystore_authenticator;
	-- may append only through append_many (and read): proves an array takes that path
	CREATE ROLE http_bulk_only NOLOGIN IN ROLE candystore_reader;
	GRANT EXECUTE ON FUNCTION candystore.append_many(jsonb[], text[]) TO http_bulk_only;
	GRANT http_bulk_only TO candystore_authenticator;
});

sub token
{
	my ($role) = @_;
	return $node->safe_psql('postgres',
		"SELECT candystore.create_api_token('$role', now() + interval '1 hour', 'http_api.pl')");
}
my %tok = map { $_ => token($_) }
  qw(candystore_reader candystore_writer http_nothing http_stranger http_schema_admin http_bulk_only);
my $reader = $tok{candystore_reader};
my $writer = $tok{candystore_writer};

# ---- the server ------------------------------------------------------------

my $conninfo = $node->connstr('postgres') . ' user=candystore_authenticator';
my $bin = 'candystore-http';
if (system("command -v $bin >/dev/null 2>&1") != 0)
{
	$bin = "$root/http/candystore-http";
}

# start_server(\%env, @flags) -> {pid, port, base, log}
sub start_server
{
	my (%o) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $log = "$tmp/server-$port.log";
	my $scheme = $o{tls} ? 'https' : 'http';
	my @cmd = ($bin, "--listen=127.0.0.1:$port", "--db=$conninfo", @{ $o{flags} // [] });
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>>', $log) or POSIX::_exit(126);
		open(STDERR, '>>', $log) or POSIX::_exit(126);
		exec(@cmd) or POSIX::_exit(127);
	}
	my $s = { pid => $pid, port => $port, base => "$scheme://127.0.0.1:$port", log => $log };
	for (1 .. 100)
	{
		my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1);
		if ($sock) { close($sock); return $s; }
		die "candystore-http exited:\n" . slurp_file($log) if waitpid($pid, POSIX::WNOHANG()) == $pid;
		sleep(0.1);
	}
	die "candystore-http did not listen on $port:\n" . slurp_file($log);
}

sub stop_server
{
	my ($s) = @_;
	return unless $s->{pid};
	kill 'TERM', $s->{pid};
	my $status;
	for (1 .. 200)
	{
		if (waitpid($s->{pid}, POSIX::WNOHANG()) == $s->{pid}) { $status = $?; last; }
		sleep(0.1);
	}
	unless (defined $status)
	{
		kill 'KILL', $s->{pid};
		waitpid($s->{pid}, 0);
		$status = -1;
	}
	$s->{pid} = 0;
	return $status;
}

my @servers;
END { stop_server($_) for grep { $_->{pid} } @servers; }

my $server = start_server(flags => ['--max-body-bytes=65536', '--idle-timeout-s=2', '--request-timeout-s=4',
		'--statement-timeout-ms=1000', '--threads=4', '--pool-size=4']);
push @servers, $server;

# ---- a curl client -----------------------------------------------------------

# req(METHOD, PATH, token => ..., body => ..., headers => [...], base => ...)
# -> {status, headers => {lc name => value}, body, json}
sub req
{
	my ($method, $path, %o) = @_;
	my $base = $o{base} // $server->{base};
	my @cmd = ('curl', '-sS', '-i', '--max-time', $o{max_time} // 20, '-X', $method, '-g',
		$o{curl} ? @{ $o{curl} } : ());
	push @cmd, '-H', "Authorization: Bearer $o{token}" if defined $o{token};
	push @cmd, '-H', $_ for @{ $o{headers} // [] };
	if (defined $o{body})
	{
		my $f = File::Temp->new(DIR => $tmp);
		binmode($f);
		print $f $o{body};
		close($f);
		push @cmd, '-H', 'Content-Type: application/json' unless $o{no_content_type};
		push @cmd, '--data-binary', '@' . $f->filename;
		$o{_keep} = $f;
	}
	push @cmd, $base . $path;
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
	my %r = (status => 0, headers => {}, body => '', err => $err);
	# skip "100 Continue" and other interim responses
	while ($out =~ s/\AHTTP\/[\d.]+ 1\d\d[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n//) { }
	if ($out =~ s/\AHTTP\/[\d.]+ (\d{3})[^\r\n]*\r?\n((?:[^\r\n]+\r?\n)*)\r?\n//)
	{
		$r{status} = $1;
		for my $line (split /\r?\n/, $2)
		{
			my ($k, $v) = $line =~ /^([^:]+):\s*(.*)$/ or next;
			$r{headers}{ lc $k } = $v;
		}
		$r{body} = $out;
		$r{json} = eval { $json->decode($out) }
		  if ($r{headers}{'content-type'} // '') =~ /json/;
	}
	return \%r;
}

# is_problem(RESPONSE, STATUS, NAME[, SQLSTATE]): the status, a problem
# document with that status, the request id of the header
sub is_problem
{
	my ($r, $status, $name, $sqlstate) = @_;
	is($r->{status}, $status, "$name: $status");
	is($r->{headers}{'content-type'}, 'application/problem+json', "$name: problem+json");
	my $p = $r->{json} // {};
	is($p->{status}, $status, "$name: problem status");
	ok(defined $p->{request_id} && $p->{request_id} eq ($r->{headers}{'x-request-id'} // ''),
		"$name: request id in the body and the header");
	is($p->{sqlstate}, $sqlstate, "$name: sqlstate $sqlstate") if defined $sqlstate;
	return $p;
}

sub count_events { return $node->safe_psql('postgres', 'SELECT count(*) FROM candystore.event_log'); }

# ---- public and authentication ------------------------------------------------

my $r = req('GET', '/health/live');
isnt($r->{status}, 401, '/health/live answers without a token');

$r = req('GET', '/v1/events');
is_problem($r, 401, 'no token');
like($r->{headers}{'www-authenticate'} // '', qr/^Bearer/, '401 carries WWW-Authenticate: Bearer');
is_problem(req('GET', '/v1/events', token => 'cs_not_a_token'), 401, 'an unknown token');
is_problem(req('GET', '/v1/events', headers => ["Authorization: Basic dXNlcjpwYXNz"]), 401,
	'Basic instead of Bearer');
is(req('GET', '/v1/events', token => $reader)->{status}, 200, 'a reader token reads');

# a revoked token: refused once the cache (10 s) no longer holds it; SIGHUP
# empties the cache at once
my $victim = token('candystore_reader');
is(req('GET', '/v1/stats', token => $victim)->{status}, 200, 'a fresh token works');
$node->safe_psql('postgres',
	"SELECT candystore.revoke_api_token(id) FROM candystore.api_tokens
	  WHERE token_sha256 = candystore.api_token_digest('$victim')");
kill 'HUP', $server->{pid};
my $refused = 0;
for (1 .. 50)
{
	if (req('GET', '/v1/stats', token => $victim)->{status} == 401) { $refused = 1; last; }
	sleep(0.1);
}
ok($refused, 'after SIGHUP a revoked token is refused at once');

is_problem(req('GET', '/v1/events', token => $tok{http_nothing}), 403,
	'a role without privileges', '42501');
is_problem(req('GET', '/v1/events', token => $tok{http_stranger}), 403,
	'a role the authenticator was not granted', '42501');

# ---- appending ------------------------------------------------------------------

open(my $fh, '<', "$root/demo/sample-flow.jsonl") or die "sample flow: $!";
my @flow = grep { /\S/ } <$fh>;
close($fh);
chomp @flow;
my @flow_ids = map { $json->decode($_)->{event_id} } @flow;

$r = req('POST', '/v1/events', token => $reader, body => $flow[0]);
is_problem($r, 403, 'a reader cannot append', '42501');
is(count_events(), 0, 'nothing stored by the refused append');

$r = req('POST', '/v1/events', token => $writer, body => $flow[0]);
is($r->{status}, 201, 'append: 201');
is($r->{headers}{location}, "/v1/events/$flow_ids[0]", 'append: Location');
is($r->{json}{event_id}, $flow_ids[0], 'append: the event id');
is($r->{json}{position}, 1, 'append: the position');
like($r->{json}{cursor}, qr/^[0-7][0-9a-f]{15}-[0-7][0-9a-f]{15}$/, 'append: a cursor');
ok($r->{json}{created}, 'append: created');

$r = req('POST', '/v1/events', token => $writer, body => $flow[0]);
is($r->{status}, 200, 'an identical duplicate: 200');
is($r->{json}{position}, 1, 'the duplicate names the stored position');
ok(!$r->{json}{created}, 'the duplicate is not created');

(my $conflicting = $flow[0]) =~ s/Team Standup/Another Title/;
is_problem(req('POST', '/v1/events', token => $writer, body => $conflicting), 409,
	'a different event with a stored id', '23505');

(my $bad_source = $flow[0]) =~ s/"source": \{[^}]*\}/"source": 42/;
(my $bad_id = $bad_source) =~ s/3f6c2a9e/4f6c2a9e/;
my $p = is_problem(req('POST', '/v1/events', token => $writer, body => $bad_id), 422,
	'a refused envelope');
is($p->{pointer}, '/source', 'the pointer names the refused field');
like($p->{sqlstate}, qr/^22/, 'a data exception sqlstate');

is_problem(req('POST', '/v1/events', token => $writer, body => '{"event_id": '), 422,
	'not JSON', '22P02');
is_problem(req('POST', '/v1/events', token => $writer, body => ''), 422, 'an empty body');
is_problem(req('POST', '/v1/events', token => $writer, body => '[]'), 422, 'an empty array');
is_problem(req('POST', '/v1/events', token => $writer, body => $flow[1],
		headers => ['Content-Type: text/plain'], no_content_type => 1), 415, 'text/plain');

# an array: one transaction; a refused element refuses all, its index in the pointer
my $before = count_events();
$r = req('POST', '/v1/events', token => $writer, body => "[$flow[1], $bad_id]");
$p = is_problem($r, 422, 'an array with a refused element');
is($p->{pointer}, '/1/source', 'the pointer starts with the element index');
is(count_events(), $before, 'nothing of the refused array is stored');

$r = req('POST', '/v1/events', token => $writer, body => "[$flow[0], $flow[1], $flow[2], $flow[3]]");
is($r->{status}, 201, 'an array: 201') or diag($r->{body});
is(ref $r->{json}, 'ARRAY', 'an array in, an array out');
is_deeply([ map { $_->{event_id} } @{ $r->{json} } ], \@flow_ids, 'in the order sent');
is_deeply([ map { $_->{created} ? 1 : 0 } @{ $r->{json} } ], [ 0, 1, 1, 1 ],
	'the stored one is not created again');
is(count_events(), 4, 'four events stored');


# ---- reading ------------------------------------------------------------------

$r = req('GET', "/v1/events/$flow_ids[2]", token => $reader);
is($r->{status}, 200, 'get event: 200');
is($r->{body}, $node->safe_psql('postgres', "SELECT candystore.get_event('$flow_ids[2]')"),
	'the body is the envelope exactly as get_event returns it');
my $etag = $r->{headers}{etag};
like($etag // '', qr/^"\d+"$/, 'an ETag');
like($r->{headers}{'cache-control'} // '', qr/immutable/, 'Cache-Control: immutable');
$r = req('GET', "/v1/events/$flow_ids[2]", token => $reader, headers => ["If-None-Match: $etag"]);
is($r->{status}, 304, 'If-None-Match: 304');
is($r->{body}, '', '304 has no body');
is_problem(req('GET', '/v1/events/00000000-0000-4000-8000-000000000000', token => $reader), 404,
	'an unknown event');
for my $bad ('not-a-uuid', '3f6c2a9e8d414b7a9e152c7d0b4f8a61x', "3f6c2a9e-8d41-4b7a-9e15-2c7d0b4f8a6'",
	'%27%3B%20DROP%20TABLE%20candystore.event_log%3B--', '%00', 'x' x 3000)
{
	is_problem(req('GET', "/v1/events/$bad", token => $reader), 400,
		'a malformed id (' . substr($bad, 0, 20) . ')');
}

# pages with Link: rel="next"
$r = req('GET', '/v1/events?limit=3', token => $reader);
is($r->{status}, 200, 'list: 200');
is_deeply([ map { $_->{event}{event_id} } @{ $r->{json}{events} } ], [ @flow_ids[0 .. 2] ],
	'the first page in stream order');
is($r->{json}{events}[0]{position}, 1, 'an item has the position');
ok(exists $r->{json}{events}[0]{routing_key}, 'an item has the routing key');
like($r->{json}{events}[0]{recorded_at}, qr/^\d{4}-\d\d-\d\dT/, 'recorded_at is ISO 8601');
my $next = $r->{json}{next};
like($r->{headers}{link} // '', qr/^<\/v1\/events\?after=\Q$next\E&limit=3>; rel="next"$/,
	'a full page links to the next');
my ($link) = ($r->{headers}{link} // '') =~ /^<([^>]+)>/;
$r = req('GET', $link, token => $reader);
is_deeply([ map { $_->{event}{event_id} } @{ $r->{json}{events} } ], [ $flow_ids[3] ],
	'the next page goes on where the first stopped');
is($r->{json}{next}, undef, 'the last page has no next');
ok(!exists $r->{headers}{link}, 'and no Link');
$r = req('GET', '/v1/events?type=artifact.created&type=fireflies.transcript.upload', token => $reader);
is_deeply([ map { $_->{event}{event_type} } @{ $r->{json}{events} } ],
	[ 'fireflies.transcript.upload', 'artifact.created' ], 'type filters, repeated');
$r = req('GET', '/v1/events?type=artifact.created,fireflies.transcript.ready', token => $reader);
is(scalar @{ $r->{json}{events} }, 2, 'type filters, comma-separated');

is_problem(req('GET', '/v1/events?after=nonsense', token => $reader), 400, 'a malformed cursor', '22P02');
is_problem(req('GET', '/v1/events?after=7fffffffffffffff-0000000000000001', token => $reader), 400,
	'a cursor ahead of the read horizon', '22023');
is_problem(req('GET', '/v1/events?after=%27%3B%20DROP%20TABLE%20x%3B--', token => $reader), 400,
	'an injection in the cursor');
is_problem(req('GET', '/v1/events?after=' . ('0' x 5000), token => $reader), 400, 'a very long cursor');
is_problem(req('GET', '/v1/events?after=%00', token => $reader), 400, 'a NUL in the cursor');
is_problem(req('GET', "/v1/events?limit=$_", token => $reader), 400, "limit=$_")
  for ('0', '1001', 'abc', '-1', '1e3', '99999999999999999999');
$r = req('GET', "/v1/events?type=%27%3B%20DROP%20TABLE%20candystore.event_log%3B--", token => $reader);
is($r->{status}, 200, 'an injection in type is just an unknown type');
is(scalar @{ $r->{json}{events} }, 0, '... that matches nothing');
is_problem(req('GET', '/v1/events?type=a%00b', token => $reader), 400, 'a NUL in type');
is_problem(req('GET', '/v1/events?type=%FF%FE', token => $reader), 400, 'invalid UTF-8 in type');

# ---- traces ---------------------------------------------------------------------

my $leaf = $flow_ids[3];
$r = req('GET', "/v1/events/$leaf/trace", token => $reader);
is($r->{status}, 200, 'trace: 200');
is($r->{json}{root}, $leaf, 'trace: the root is the event asked about');
is(scalar @{ $r->{json}{nodes} }, 4, 'trace: every event of the flow');
ok(scalar @{ $r->{json}{edges} } >= 3, 'trace: the causation edges');
like(req('GET', "/v1/events/$leaf/trace?format=mermaid", token => $reader)->{body},
	qr/^(graph|flowchart)/, 'trace as Mermaid');
$r = req('GET', "/v1/events/$leaf/trace?format=dot", token => $reader);
like($r->{body}, qr/^digraph/, 'trace as DOT');
like($r->{headers}{'content-type'}, qr{^text/plain}, 'DOT is text/plain');
is_problem(req('GET', "/v1/events/$leaf/trace?format=png", token => $reader), 400, 'an unknown format');
is_problem(req('GET', "/v1/events/$leaf/trace?format=%27;DROP", token => $reader), 400,
	'an injection in format');
$r = req('GET', "/v1/events/$leaf/trace.svg", token => $reader);
is($r->{status}, 200, 'trace.svg: 200');
is($r->{headers}{'content-type'}, 'image/svg+xml', 'trace.svg: image/svg+xml');
like($r->{body}, qr/<svg.*fireflies\.transcript\.upload/s, 'trace.svg draws the events');
is_problem(req('GET', '/v1/events/00000000-0000-4000-8000-000000000000/trace', token => $reader), 404,
	'the trace of an unknown event');
is_problem(req('GET', '/v1/events/00000000-0000-4000-8000-000000000000/trace.svg', token => $reader),
	404, 'the picture of an unknown event');

$r = req('GET', "/v1/events/$leaf/ancestors", token => $reader);
is($r->{status}, 200, 'ancestors: 200');
is($r->{json}{events}[0]{event_id}, $leaf, 'ancestors: the event at depth 0');
ok(scalar @{ $r->{json}{events} } > 1, 'ancestors: and its causes');
$r = req('GET', "/v1/events/$flow_ids[0]/descendants?max_depth=1", token => $reader);
is($r->{status}, 200, 'descendants: 200');
ok(!grep({ $_->{depth} > 1 } @{ $r->{json}{events} }), 'descendants: max_depth holds');
is_problem(req('GET', "/v1/events/$leaf/descendants?max_depth=x", token => $reader), 400,
	'a malformed max_depth');
is_problem(req('GET', '/v1/events/00000000-0000-4000-8000-000000000000/ancestors', token => $reader),
	404, 'the ancestors of an unknown event');

# ---- sessions ---------------------------------------------------------------------

$r = req('GET', '/v1/sessions/standup-2026-01-27/timeline', token => $reader);
is($r->{status}, 200, 'timeline: 200');
is($r->{json}{session_id}, 'standup-2026-01-27', 'timeline: the session');
ok(scalar @{ $r->{json}{events} } >= 1, 'timeline: its events');
is($r->{json}{events}[0]{event}{event_id}, $flow_ids[0], 'timeline: envelopes included');
for my $s ("x%27%3B%20DROP%20TABLE%20candystore.event_log%3B--", '%E2%9C%93%20caf%C3%A9', 'a%22b%5C')
{
	$r = req('GET', "/v1/sessions/$s/timeline", token => $reader);
	is($r->{status}, 200, "an odd session id is just a session ($s)");
	is(scalar @{ $r->{json}{events} // [1] }, 0, '... with no events');
}
is($json->decode(req('GET', '/v1/sessions/%E2%9C%93%20caf%C3%A9/timeline', token => $reader)->{body})
	  ->{session_id}, "\x{2713} caf\x{e9}", 'a unicode session id comes back decoded');
is_problem(req('GET', '/v1/sessions/a%00b/timeline', token => $reader), 400, 'a NUL in the session id');
is_problem(req('GET', '/v1/sessions/%C3%28/timeline', token => $reader), 400,
	'invalid UTF-8 in the session id');
is_problem(req('GET', '/v1/sessions/' . ('s' x 2000) . '/timeline', token => $reader), 400,
	'a very long session id');

# ---- authorization by event type ------------------------------------------------------
# Two roles, each granted its own event types: a hidden event is 404 (as if
# not stored, so its existence does not leak), a trace shows it as
# "(hidden)", and a write of a type not granted is 403 (42501).

$node->safe_psql('postgres', q{
	CREATE ROLE http_team_fireflies NOLOGIN IN ROLE candystore_writer;
	CREATE ROLE http_team_artifacts NOLOGIN IN ROLE candystore_writer;
	GRANT http_team_fireflies, http_team_artifacts TO candystore_authenticator;
	SELECT candystore.grant_event_types('http_team_fireflies', '{fireflies.#}');
	SELECT candystore.grant_event_types('http_team_artifacts', '{artifact.*}');
});
my $ff = token('http_team_fireflies');
my $art = token('http_team_artifacts');
is(req('GET', "/v1/events/$flow_ids[0]", token => $ff)->{status}, 200, 'authz: a granted type is served');
is_problem(req('GET', "/v1/events/$flow_ids[0]", token => $art), 404, 'authz: a hidden event is 404');
is(req('GET', "/v1/events/$leaf", token => $art)->{status}, 200, 'authz: the other team reads its own');
$r = req('GET', '/v1/events?limit=100', token => $art);
is_deeply([ map { $_->{event}{event_type} } @{ $r->{json}{events} } ], ['artifact.created'],
	'authz: the list holds only the granted types');
$r = req('GET', "/v1/events/$leaf/trace", token => $art);
is($r->{status}, 200, 'authz: a trace through hidden events: 200');
is(scalar @{ $r->{json}{nodes} }, 4, 'authz: the walk is not cut by hidden events');
is(scalar(grep { ($_->{event_type} // '') eq '(hidden)' && !defined $_->{occurred_at} } @{ $r->{json}{nodes} }),
	3, 'authz: the hidden events show as (hidden), without a time');
is_problem(req('GET', "/v1/events/$flow_ids[0]/trace", token => $art), 404,
	'authz: the trace of a hidden event is 404');
$r = req('GET', '/v1/sessions/standup-2026-01-27/timeline', token => $art);
ok(!grep({ $_->{event}{event_type} ne 'artifact.created' } @{ $r->{json}{events} }),
	'authz: the timeline holds only the granted types');
my $stored_before_refusal = count_events();
(my $other_ff = $flow[0]) =~ s/3f6c2a9e-8d41-4b7a-9e15-2c7d0b4f8a61/3f6c2a9e-8d41-4b7a-9e15-2c7d0b4f8a62/;
$p = is_problem(req('POST', '/v1/events', token => $art, body => $other_ff), 403,
	'authz: a write of a type not granted', '42501');
like($json->encode($p // {}), qr/fireflies\.transcript\.upload/, 'authz: the refusal names the type');
is(count_events(), $stored_before_refusal, 'authz: nothing stored by the refused write');
# (a stored event again, so that the counts later in this test hold)
is(req('POST', '/v1/events', token => $ff, body => $flow[0])->{status}, 200,
	'authz: the granted team may write its type');
is(req('GET', "/v1/events/$flow_ids[0]", token => $reader)->{status}, 200,
	'authz: a role without grants still reads everything');

# ---- schemas ------------------------------------------------------------------------

$r = req('GET', '/v1/schemas', token => $reader);
is($r->{status}, 200, 'schemas: 200');
ok((grep { $_->{event_type} eq 'fireflies.transcript.upload' } @{ $r->{json}{schemas} }),
	'schemas: the shipped ones');
$r = req('GET', '/v1/schemas/fireflies.transcript.upload', token => $reader);
is($r->{status}, 200, 'a schema: 200');
is($r->{json}{versions}[0]{version}, 1, 'a schema: its versions');
is(ref $r->{json}{versions}[0]{schema}, 'HASH', 'a schema: the JSON Schema');
is_problem(req('GET', '/v1/schemas/no.such.type', token => $reader), 404, 'an unknown event type');
is_problem(req('GET', "/v1/schemas/x'%3B%20DROP%20TABLE%20candystore.schemas%3B--", token => $reader),
	404, 'an injection in the event type');

my $schema = '{"type":"object","required":["n"],"properties":{"n":{"type":"integer"}}}';
is_problem(req('POST', '/v1/schemas/http.test', token => $writer, body => $schema), 403,
	'a writer may not register a schema', '42501');
$r = req('POST', '/v1/schemas/http.test', token => $tok{http_schema_admin}, body => $schema);
is($r->{status}, 201, 'register: 201');
is_deeply($r->{json}, { event_type => 'http.test', version => 1 }, 'register: the version');
$r = req('POST', '/v1/schemas/http.test', token => $tok{http_schema_admin}, body => $schema);
is($r->{status}, 200, 'the same schema again: 200');
is_problem(req('POST', '/v1/schemas/http.test', token => $tok{http_schema_admin},
		body => '{"type":"object","required":["n","m"]}'), 409,
	'an incompatible change', '22V03');
is_problem(req('POST', '/v1/schemas/Not%20A%20Type', token => $tok{http_schema_admin}, body => $schema),
	422, 'an invalid event type', '22P02');
is_problem(req('POST', '/v1/schemas/http.test2', token => $tok{http_schema_admin}, body => '[1]'),
	422, 'a schema that is not an object', '22023');

# a payload the registered schema refuses: 422 with the pointer into the payload
my $bad_payload = $json->encode({
		event_id => '99999999-0000-4000-8000-000000000001', event_type => 'http.test',
		timestamp => '2026-01-27T10:00:00Z', version => '1.0.0',
		source => { host => 'h', type => 'manual' }, payload => { n => 'x' } });
$p = is_problem(req('POST', '/v1/events', token => $writer, body => $bad_payload), 422,
	'a payload its schema refuses', '22V01');
is($p->{pointer}, '/payload/n', 'the pointer names the payload field');

# ---- dead letters, stats ---------------------------------------------------------------

$node->safe_psql('postgres', q{
	INSERT INTO candystore.dead_letters (reason, sqlstate, routing_key, body)
	VALUES ('not json', '22P02', 'rk.1', '\x7b'), ('not json either', '22P02', 'rk.2', '\x5b')});
$r = req('GET', '/v1/dead-letters?limit=1', token => $reader);
is($r->{status}, 200, 'dead letters: 200');
is(scalar @{ $r->{json}{dead_letters} }, 1, 'dead letters: limit');
is($r->{json}{dead_letters}[0]{routing_key}, 'rk.2', 'dead letters: newest first');
my $older = req('GET', "/v1/dead-letters?before=$r->{json}{next}", token => $reader);
is($older->{json}{dead_letters}[0]{routing_key}, 'rk.1', 'dead letters: before= pages on');
is_problem(req('GET', '/v1/dead-letters?before=x', token => $reader), 400, 'a malformed before');
is_problem(req('POST', '/v1/dead-letters/redrive', token => $reader, body => '{}'), 403,
	'a reader cannot redrive', '42501');
$r = req('POST', '/v1/dead-letters/redrive', token => $writer, body => '{"ids":[1]}');
is($r->{status}, 200, 'redrive: 200');
is($r->{json}{redriven}, 0, 'redrive: a letter that still fails is not resolved');
like($node->safe_psql('postgres', 'SELECT redrive_attempts FROM candystore.dead_letters WHERE id = 1'),
	qr/^1$/, 'redrive: it was tried');
is_problem(req('POST', '/v1/dead-letters/redrive', token => $writer, body => '[1]'), 422,
	'redrive: not an object');
is_problem(req('POST', '/v1/dead-letters/redrive', token => $writer, body => '{"ids":["x"]}'), 422,
	'redrive: not ids', '22P02');

$r = req('GET', '/v1/stats', token => $reader);
is($r->{status}, 200, 'stats: 200');
ok(exists $r->{json}{ingest}{stored}, 'stats: the ingest counters');
is(ref $r->{json}{workers}, 'ARRAY', 'stats: the workers');

# ---- the OpenAPI document ------------------------------------------------------------

$r = req('GET', '/openapi.json', token => $reader);
is($r->{status}, 200, 'openapi.json: 200');
is($r->{json}{openapi}, '3.1.0', 'OpenAPI 3.1');
is($r->{json}{components}{schemas}{Envelope}{title}, 'EventEnvelope', 'the envelope schema is in it');
is($r->{json}{components}{schemas}{Envelope}{properties}{event_id}{'$ref'},
	'#/components/schemas/Envelope/$defs/event_id', 'its references point into the document');
ok(!exists $r->{json}{components}{schemas}{Envelope}{'$id'}, 'without its $id');
ok($r->{json}{components}{schemas}{'http.test.v1'}, 'a schema registered now is in it');
ok($r->{json}{components}{schemas}{'fireflies.transcript.upload.v1'}, 'the shipped schemas are in it');
ok($r->{json}{components}{schemas}{Problem}, 'the static components stay');
my %ops;
for my $path (keys %{ $r->{json}{paths} })
{
	$ops{ $_->{operationId} } = 1 for values %{ $r->{json}{paths}{$path} };
}
ok($ops{$_}, "operation $_") for qw(listEvents getEvent appendEvents getEventsBySession getTrace streamEvents);

# ---- routing and limits ----------------------------------------------------------------

is_problem(req('GET', '/v1/nothing', token => $reader), 404, 'an unknown path');
$r = req('DELETE', '/v1/events', token => $writer);
is_problem($r, 405, 'a method the path does not have');
is($r->{headers}{allow}, 'GET, POST', '405 names the methods in Allow');

my $big = '[' . join(',', ($flow[0]) x 200) . ']';
ok(length($big) > 65536, 'a body over --max-body-bytes');
is_problem(req('POST', '/v1/events', token => $writer, body => $big), 413, 'an oversized body');
is_problem(req('POST', '/v1/events', token => $writer, body => $big,
		headers => ['Transfer-Encoding: chunked']), 413, 'an oversized chunked body');
$r = req('GET', '/v1/events', token => $reader, headers => [ 'X-Big: ' . ('b' x 70000) ]);
ok($r->{status} >= 400 && $r->{status} < 500, "headers over the connection's memory: $r->{status}");
$r = req('GET', '/v1/events?after=' . ('a' x 70000), token => $reader);
ok($r->{status} >= 400 && $r->{status} < 500, "a very long URL: $r->{status}");

# an X-Request-Id a client sends is kept when plain, replaced otherwise
is(req('GET', '/v1/stats', token => $reader, headers => ['X-Request-Id: abc-123'])
	  ->{headers}{'x-request-id'}, 'abc-123', 'a plain X-Request-Id is kept');
like(req('GET', '/v1/stats', token => $reader, headers => ['X-Request-Id: a"b\\c'])
	  ->{headers}{'x-request-id'}, qr/^[0-9a-f]{16}$/, 'an odd X-Request-Id is replaced');

# statement_timeout: a request stuck behind a lock gets 503 (57014) and Retry-After
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE candystore.schemas IN ACCESS EXCLUSIVE MODE');
$r = req('GET', '/v1/schemas', token => $reader);
is_problem($r, 503, 'a statement over statement_timeout', '57014');
ok(defined $r->{headers}{'retry-after'}, '503 carries Retry-After');
$locker->query_safe('ROLLBACK');

is(count_events(), 4, 'after every injection attempt the events are all there');
is($node->safe_psql('postgres', "SELECT count(*) FROM candystore.schemas WHERE event_type = 'http.test'"),
	1, 'and the schemas too');

# one connection for every request: a role never outlives its request
my $one = start_server(flags => ['--pool-size=1']);
push @servers, $one;
# each token looked up once first: below, requests follow each other on the
# one connection with no token lookup (run as candystore_http) between them,
# so a role left from one request would show in the next
is(req('GET', '/v1/stats', token => $_, base => $one->{base})->{status}, $_ eq $tok{http_nothing} ? 403 : 200,
	'one connection: a first request with each token') for ($writer, $reader, $tok{http_nothing});
is(req('POST', '/v1/events', token => $writer, body => $flow[0], base => $one->{base})->{status}, 200,
	'one connection: the writer appends');
is(req('POST', '/v1/events', token => $reader, body => $flow[0], base => $one->{base})->{status}, 403,
	'one connection: the reader after it may not');
is(req('GET', '/v1/stats', token => $tok{http_nothing}, base => $one->{base})->{status}, 403,
	'one connection: a role without privileges after it may not read');
# a refused request rolls back its own set_config of the role, so the session
# is back in the previous request's role: the next request must set it again
is(req('GET', '/v1/stats', token => $tok{http_nothing}, base => $one->{base})->{status}, 403,
	'one connection: nor on its second request (a failure leaves no role to reuse)');
is(req('POST', '/v1/events', token => $reader, body => $flow[0], base => $one->{base})->{status}, 403,
	'one connection: a second refused append by the reader, after the writer\'s 200');
is(req('GET', "/v1/events/$flow_ids[0]", token => $reader, base => $one->{base})->{status}, 200,
	'one connection: the reader reads');
is(req('GET', "/v1/events/$flow_ids[0]", token => $tok{http_nothing}, base => $one->{base})->{status}, 403,
	'one connection: then the role without privileges may not');
is(req('GET', "/v1/events/$flow_ids[0]", token => $tok{http_nothing}, base => $one->{base})->{status}, 403,
	'one connection: twice');
is(req('GET', "/v1/events/$flow_ids[0]", token => $reader, base => $one->{base})->{status}, 200,
	'one connection: the reader still reads');
is(req('GET', '/v1/stats', token => $reader, base => $one->{base})->{status}, 200,
	'one connection: the reader after it reads');
is(req('POST', '/v1/events', token => $writer, body => $flow[0], base => $one->{base})->{status}, 200,
	'one connection: the writer again');
is(req('POST', '/v1/dead-letters/redrive', token => $reader, body => '{}', base => $one->{base})->{status},
	403, 'one connection: a reader after the writer still may not redrive');
is(req('GET', "/v1/events/$flow_ids[0]", token => $tok{http_nothing}, base => $one->{base})->{status}, 403,
	'one connection: nor may a role without privileges read an event');

# lookups in flight together are batched on the connection (lookup_queue.c):
# each is still answered as its own token's role, however they interleave
my %want = (reader => 200, nothing => 403, hidden => 404);
my @gets;
for my $i (1 .. 20)
{
	push @gets, [ $reader, $flow_ids[0], 'reader' ], [ $tok{http_nothing}, $flow_ids[0], 'nothing' ],
	  [ $art, $flow_ids[0], 'hidden' ];
}
my @batch_cmd = ('curl', '-sS', '--max-time', 20, '--parallel', '--parallel-immediate', '--parallel-max', 60);
for my $g (@gets)
{
	push @batch_cmd, '-H', "Authorization: Bearer $g->[0]", '-o', '/dev/null', '-w', "%{http_code} $g->[2]\n",
	  "$one->{base}/v1/events/$g->[1]", '--next';
}
pop @batch_cmd;
my ($bout, $berr) = ('', '');
IPC::Run::run(\@batch_cmd, '>', \$bout, '2>', \$berr);
my %seen;
$seen{$2}{$1}++ while $bout =~ /^(\d{3}) (\w+)$/mg;
is_deeply(\%seen, { map { $_ => { $want{$_} => 20 } } keys %want },
	'one connection, 60 lookups at once with three tokens: each answered as its own role')
  or diag($bout . $berr);
is(stop_server($one), 0, 'the one-connection server stops');

# CORS: only the origins named may read answers from a browser page
$r = req('OPTIONS', '/v1/events', headers => ['Origin: https://candybar.example']);
is($r->{status}, 204, 'OPTIONS on a known path: 204 without a token');
is($r->{headers}{allow}, 'GET, POST, OPTIONS', 'OPTIONS: Allow');
ok(!exists $r->{headers}{'access-control-allow-origin'}, 'no CORS unless --cors-origins');
my $cors = start_server(flags => ['--cors-origins=https://candybar.example, tauri://localhost']);
push @servers, $cors;
$r = req('OPTIONS', '/v1/events', base => $cors->{base},
	headers => [ 'Origin: tauri://localhost', 'Access-Control-Request-Method: POST',
		'Access-Control-Request-Headers: authorization, content-type' ]);
is($r->{status}, 204, 'a CORS preflight: 204');
is($r->{headers}{'access-control-allow-origin'}, 'tauri://localhost', 'preflight: the origin allowed');
like($r->{headers}{'access-control-allow-methods'} // '', qr/POST/, 'preflight: the methods');
like($r->{headers}{'access-control-allow-headers'} // '', qr/Authorization/, 'preflight: the headers');
$r = req('GET', '/v1/events?limit=1', token => $reader, base => $cors->{base},
	headers => ['Origin: https://candybar.example']);
is($r->{headers}{'access-control-allow-origin'}, 'https://candybar.example', 'a read from an allowed origin');
like($r->{headers}{'access-control-expose-headers'} // '', qr/Link/, 'it may read the Link header');
$r = req('GET', '/v1/events?limit=1', base => $cors->{base}, headers => ['Origin: https://candybar.example']);
is($r->{headers}{'access-control-allow-origin'}, 'https://candybar.example', 'a 401 is readable by the page too');
$r = req('GET', '/v1/events?limit=1', token => $reader, base => $cors->{base},
	headers => ['Origin: https://evil.example']);
ok(!exists $r->{headers}{'access-control-allow-origin'}, 'another origin gets no CORS headers');
is_problem(req('OPTIONS', '/v1/nothing', base => $cors->{base}, headers => ['Origin: tauri://localhost']),
	404, 'OPTIONS on an unknown path');
is(stop_server($cors), 0, 'the CORS server stops');

# ---- a slow client -------------------------------------------------------------------------

# half a request line, then silence: cut after --idle-timeout-s (2 s) while
# others are served meanwhile
my $slow = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $server->{port}) or die $!;
print $slow "GET /v1/ev";
$slow->flush;
my $t0 = time();
is(req('GET', '/v1/stats', token => $reader)->{status}, 200, 'served while a slow client stalls');
ok(time() - $t0 < 1.9, 'without waiting for it (the idle timeout is 2 s)');
$slow->blocking(1);
my $got = '';
my $n = eval {
	local $SIG{ALRM} = sub { die "alarm\n" };
	alarm 15;
	my $k = sysread($slow, $got, 1024);
	alarm 0;
	$k;
};
my $waited = time() - $t0;
ok(defined $n && $n == 0, 'the stalled connection is closed by the server');
ok($waited >= 1.5 && $waited < 10, sprintf('after the idle timeout (%.1f s)', $waited));
close($slow);

# a byte every 0.3 s never leaves the connection idle for 2 s: it is cut when
# the whole request has not arrived within --request-timeout-s (4 s)
{
	local $SIG{PIPE} = 'IGNORE';
	my $trickle = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $server->{port}) or die $!;
	my $sel = IO::Select->new($trickle);
	my $request = "GET /v1/stats HTTP/1.1\r\nHost: x\r\n" . ('X-Pad: ' . ('p' x 60) . "\r\n") x 10;
	my $start = time();
	my ($closed, $served_meanwhile) = (0, 0);
	for my $i (0 .. length($request) - 1)
	{
		last if time() - $start > 15;
		if ($sel->can_read(0))
		{
			my $buf;
			my $k = sysread($trickle, $buf, 1024);
			$closed = 1 if !$k;
			last;
		}
		last unless defined syswrite($trickle, substr($request, $i, 1));
		$served_meanwhile ||= req('GET', '/v1/stats', token => $reader)->{status} == 200 if $i == 5;
		sleep(0.3);
	}
	my $took = time() - $start;
	ok($closed, sprintf('a client trickling its headers is cut (after %.1f s)', $took));
	ok($took >= 3.5 && $took < 8, 'at the request timeout, not the idle one');
	ok($served_meanwhile, 'others are served meanwhile');
	close($trickle);
}

# ---- the log ------------------------------------------------------------------------------

my @lines = split /\n/, slurp_file($server->{log});
my @bad = grep { !eval { $json->decode($_); 1 } } @lines;
is(scalar @bad, 0, 'every log line is one JSON object') or diag(join("\n", @bad[0 .. 4]));
my @requests = grep { $_->{msg} eq 'request' } map { $json->decode($_) } grep { /^\{/ } @lines;
ok(@requests > 50, 'a line for each request');
ok(!grep({ !$_->{request_id} || !$_->{route} || !$_->{status} } @requests),
	'each with request id, route and status');
ok(!grep({ $_->{route} =~ /[0-9a-f]{8}-/ } @requests), 'routes are templates, never ids');
unlike(slurp_file($server->{log}), qr/\Q$reader\E/, 'tokens are never logged');

# ---- SIGTERM drains ---------------------------------------------------------------------

# a request in flight (held by a lock) finishes; then the server exits 0
my $drain = start_server(flags => ['--statement-timeout-ms=20000']);
push @servers, $drain;
$locker->query_safe('BEGIN; LOCK TABLE candystore.schemas IN ACCESS EXCLUSIVE MODE');
my ($out, $err) = ('', '');
my $inflight = IPC::Run::start(
	[ 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '30',
	  '-H', "Authorization: Bearer $reader", "$drain->{base}/v1/schemas" ],
	'>', \$out, '2>', \$err);
# wait until the request waits on the lock
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND usename = 'candystore_authenticator'")
  or diag('the request never waited on the lock');
kill 'TERM', $drain->{pid};
my $refusing = 0;
for (1 .. 50)
{
	my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $drain->{port}, Timeout => 2);
	if (!$c) { $refusing = 1; last; }
	close($c);
	sleep(0.1);
}
ok($refusing, 'after SIGTERM no new connection is accepted');
$locker->query_safe('ROLLBACK');
$inflight->finish;
is($out, '200', 'the request in flight when SIGTERM came is answered');
my $status;
for (1 .. 100)
{
	if (waitpid($drain->{pid}, POSIX::WNOHANG()) == $drain->{pid}) { $status = $?; last; }
	sleep(0.1);
}
is($status, 0, 'the server exits 0 after draining');
$drain->{pid} = 0;
like(slurp_file($drain->{log}), qr/"msg":"draining".*"msg":"stopped"/s, 'it logs draining and stopped');
$locker->quit;

# ---- arrays through append_many ----------------------------------------------------
# an array is one append_many() statement, not append() per element: a role
# that may execute only append_many stores arrays but not a single envelope
my @bulk = map { (my $e = $flow[$_]) =~ s/$flow_ids[$_]/sprintf('b5%06d-0000-4000-8000-000000000000', $_)/e; $e } 0 .. 2;
is_problem(req('POST', '/v1/events', token => $tok{http_bulk_only}, body => $bulk[0]), 403,
	'append_many only: a single envelope (append()) is refused', '42501');
my $bulk_before = count_events();
(my $bulk_bad = $bulk[2]) =~ s/"source": \{[^}]*\}/"source": 42/;
$p = is_problem(req('POST', '/v1/events', token => $tok{http_bulk_only}, body => "[$bulk[0], $bulk[1], $bulk_bad]"),
	422, 'append_many only: an array with a refused third element');
is($p->{pointer}, '/2/source', 'the pointer names the element index (from append_many) and the field');
is(count_events(), $bulk_before, 'nothing of it is stored');
$r = req('POST', '/v1/events', token => $tok{http_bulk_only}, body => "[$bulk[0], $bulk[1], $bulk[0]]");
is($r->{status}, 201, 'append_many only: an array is stored') or diag($r->{body});
is_deeply([ map { $_->{created} ? 1 : 0 } @{ $r->{json} } ], [ 1, 1, 0 ],
	'the repeated element is a duplicate of the first');
is($r->{json}[0]{position}, $r->{json}[2]{position}, 'with the first one\'s position');
is(count_events(), $bulk_before + 2, 'two events stored');
is(req('POST', '/v1/events', token => $tok{http_bulk_only}, body => "[$bulk[0], $bulk[1]]")->{status}, 200,
	'the same array again: 200, nothing created');

# ---- TLS -----------------------------------------------------------------------------------

system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
	'-keyout', "$tmp/key.pem", '-out', "$tmp/cert.pem", '-addext', 'subjectAltName=IP:127.0.0.1') == 0
  or die 'openssl req failed';
my $tls = start_server(tls => 1, flags => ["--tls-cert=$tmp/cert.pem", "--tls-key=$tmp/key.pem"]);
push @servers, $tls;
$r = req('GET', "/v1/events/$flow_ids[0]", token => $reader, base => $tls->{base},
	curl => [ '--cacert', "$tmp/cert.pem" ]);
is($r->{status}, 200, 'HTTPS with the certificate given');
is($r->{json}{event_id}, $flow_ids[0], 'HTTPS serves the event');
$r = req('GET', '/v1/events', token => $reader, base => "http://127.0.0.1:$tls->{port}");
isnt($r->{status}, 200, 'plain HTTP to the TLS port is not served');

# SIGHUP re-reads the certificate and key: a renewed certificate (another
# key, another subject) is served to new connections; a broken one is refused
# and the one served before stays
sub make_cert
{
	my ($name, $cn) = @_;
	system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', "/CN=$cn",
		'-keyout', "$tmp/$name-key.pem", '-out', "$tmp/$name-cert.pem",
		'-addext', 'subjectAltName=IP:127.0.0.1') == 0
	  or die 'openssl req failed';
}
sub tls_get
{
	my ($ca) = @_;
	return req('GET', "/v1/events/$flow_ids[0]", token => $reader, base => $tls->{base},
		curl => [ '--cacert', $ca ]);
}
make_cert('renewed', 'renewed.localhost');
is(tls_get("$tmp/renewed-cert.pem")->{status}, 0, 'before SIGHUP a client trusting only the renewed certificate fails');
# replaced in place, as certbot and friends do
system('cp', "$tmp/renewed-key.pem", "$tmp/key.pem") == 0 or die;
system('cp', "$tmp/renewed-cert.pem", "$tmp/cert.pem") == 0 or die;
kill 'HUP', $tls->{pid};
my $renewed = 0;
for (1 .. 50)
{
	if (tls_get("$tmp/renewed-cert.pem")->{status} == 200) { $renewed = 1; last; }
	sleep(0.1);
}
ok($renewed, 'after SIGHUP the renewed certificate is served');
like(slurp_file($tls->{log}), qr/TLS certificate and key reloaded/, 'the reload is logged');
make_cert('other', 'other.localhost');
# a key that is not the certificate's: refused, the renewed one stays
system('cp', "$tmp/other-key.pem", "$tmp/key.pem") == 0 or die;
kill 'HUP', $tls->{pid};
my $refused_tls = 0;
for (1 .. 50)
{
	if (slurp_file($tls->{log}) =~ /refused, the certificate served before stays/) { $refused_tls = 1; last; }
	sleep(0.1);
}
ok($refused_tls, 'a key that does not match the certificate is refused on SIGHUP, and logged');
is(tls_get("$tmp/renewed-cert.pem")->{status}, 200, 'the certificate served before stays');
is(tls_get("$tmp/other-cert.pem")->{status}, 0, 'the refused one is not served');
is(stop_server($tls), 0, 'the TLS server stops cleanly');

is(stop_server($server), 0, 'the server stops cleanly');
$node->stop;
done_testing();
