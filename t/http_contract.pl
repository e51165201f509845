# The contract of candystore-http, checked with the clients that will use
# it: the served /openapi.json (holding every registered payload schema)
# passes swagger-parser and `redocly lint`; openapi-typescript generates
# types from it and a Candybar-style TypeScript client compiles under
# `tsc --strict` and runs against the server (reads, pages, follows a
# trace, appends, consumes the stream with the npm eventsource client and
# resumes it with Last-Event-ID), every response it receives validating
# against the document (ajv); promtool accepts /metrics and a real
# Prometheus scrapes it; trace.svg renders to a PNG in headless Chromium.
# The npm packages come from http/contract/install.sh (scripts/test.sh runs it).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy qw(copy);
use File::Path qw(make_path);
use IPC::Run;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $root = $ENV{CANDYSTORE_ROOT} or die "CANDYSTORE_ROOT is not set";
my $contract = "$root/http/contract";
my $modules = "$contract/node_modules";
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $json = JSON::PP->new->canonical;

-d "$modules/.bin"
  or BAIL_OUT("$modules is missing: run http/contract/install.sh (scripts/test.sh does)");
my ($server) = grep { -x } ((map { "$_/candystore-http" } split /:/, $ENV{PATH}), "$root/http/candystore-http");
$server or BAIL_OUT('candystore-http is not built (make)');

# The store: the demo's sample flow, an authenticator as docs/reference.md
# says to create it, a reader token and a writer token.
my $node = PostgreSQL::Test::Cluster->new('http_contract');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION candystore;
CREATE ROLE contract_authenticator LOGIN NOINHERIT;
GRANT candystore_http, candystore_reader, candystore_writer TO contract_authenticator;
});
my @flow = grep { /\S/ } split /\n/, slurp_file("$root/demo/sample-flow.jsonl");
$node->safe_psql('postgres', join(";\n", map { "SELECT candystore.append(\$j\$$_\$j\$)" } @flow));
my $writer_token = $node->safe_psql('postgres',
	q{SELECT candystore.create_api_token('candystore_writer', now() + interval '1 hour', 'contract writer')});
my $reader_token = $node->safe_psql('postgres',
	q{SELECT candystore.create_api_token('candystore_reader', now() + interval '1 hour', 'contract reader')});

# --- processes this test starts, stopped by pid however it ends ------------
my %started;

sub start_process
{
	my ($name, $log, @cmd) = @_;
	my $pid = fork // die "fork: $!";
	if ($pid == 0)
	{
		open STDOUT, '>>', $log or die "$log: $!";
		open STDERR, '>&', \*STDOUT or die;
		exec @cmd or die "exec $cmd[0]: $!";
	}
	$started{$name} = $pid;
	return $pid;
}

# SIGTERM, then up to 30 s for it to exit; its exit status
sub stop_process
{
	my ($name) = @_;
	my $pid = delete $started{$name} or return undef;
	kill 'TERM', $pid;
	my $deadline = time + 30;
	while (time < $deadline)
	{
		return $? if waitpid($pid, WNOHANG) == $pid;
		sleep 0.1;
	}
	kill 'KILL', $pid;
	waitpid($pid, 0);
	return -1;
}
END { stop_process($_) for keys %started; }

sub run_cmd
{
	my (@cmd) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err);
	return ($ok, $out, $err);
}

# curl: (status, content type, body, headers)
sub http
{
	my ($url, %o) = @_;
	my @cmd = ('curl', '-s', '--max-time', '20', '-D', "$tmp/headers", '-o', "$tmp/body", '-w', '%{http_code}');
	push @cmd, '-H', "Authorization: Bearer $o{token}" if $o{token};
	my ($ok, $status) = run_cmd(@cmd, $url);
	my $headers = -f "$tmp/headers" ? slurp_file("$tmp/headers") : '';
	my ($type) = $headers =~ /^content-type:\s*([^\r\n]+)/mi;
	return ($status, $type // '', -f "$tmp/body" ? slurp_file("$tmp/body") : '', $headers);
}

# the responses this script receives with curl go through the client's
# checker too (http/contract/src/check-response.ts), once it is compiled
my @received;

sub remember
{
	my ($method, $url, $status, $type, $body) = @_;
	my $file = "$tmp/received-" . scalar(@received);
	PostgreSQL::Test::Utils::append_to_file($file, $body);
	push @received, [ $method, $url, $status, $type, $file ];
}

sub wait_for_port
{
	my ($url) = @_;
	for (1 .. 300)
	{
		my ($status) = http($url);
		return 1 if $status ne '000';
		sleep 0.1;
	}
	return 0;
}

# --- the server ---------------------------------------------------------------
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $base = "http://127.0.0.1:$port";
my $server_log = "$tmp/candystore-http.log";
start_process('candystore-http', $server_log, $server, "--listen=127.0.0.1:$port",
	'--db=host=' . $node->host . ' port=' . $node->port . ' dbname=postgres user=contract_authenticator');
ok(wait_for_port("$base/health/live"), 'candystore-http listens') or BAIL_OUT(slurp_file($server_log));

# --- the served document --------------------------------------------------------
# a payload schema registered now is in the document served next
$node->safe_psql('postgres', q{SELECT candystore.register_schema('contract.checked',
	'{"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]}')});
my ($status, $type, $body) = http("$base/openapi.json", token => $reader_token);
remember('GET', "$base/openapi.json", $status, $type, $body);
is($status, '200', 'GET /openapi.json');
like($type, qr{^application/json}, 'served as application/json');
my $doc = eval { decode_json($body) } // {};
my $served = "$tmp/openapi.json";
PostgreSQL::Test::Utils::append_to_file($served, $body);
like($doc->{openapi} // '', qr/^3\.1\./, 'an OpenAPI 3.1 document');
my $components = join("\n", sort keys %{ $doc->{components}{schemas} // {} });
my @registered = split /\n/, $node->safe_psql('postgres',
	q{SELECT DISTINCT event_type FROM candystore.schemas ORDER BY 1});
my @missing = grep { $components !~ /^\Q$_\E\b/m } @registered;
is(scalar(@missing), 0, 'its components hold a schema for each of the ' . scalar(@registered)
	  . ' registered event types, the one registered a moment ago included') or diag("missing: @missing");

# (redocly: no telemetry, no update check: the test makes no outside calls)
local $ENV{REDOCLY_TELEMETRY} = 'off';
local $ENV{REDOCLY_SUPPRESS_UPDATE_NOTICE} = 'true';
my ($ok, $out, $err) = run_cmd('node', "$modules/.bin/redocly", 'lint', '--format=stylish', $served);
ok($ok, 'redocly lint accepts the served document') or diag($out . $err);
# (swagger-parser below, compiled with the client)

# --- the Candybar-style client ------------------------------------------------
my $ts = "$tmp/contract";
make_path("$ts/src/generated");
copy("$contract/tsconfig.json", "$ts/tsconfig.json") or die $!;
copy($_, "$ts/src/") or die $! for glob("$contract/src/*.ts");
symlink($modules, "$ts/node_modules") or die "symlink: $!";
($ok, $out, $err) = run_cmd('node', "$modules/.bin/openapi-typescript", $served,
	'--empty-objects-unknown', '-o', "$ts/src/generated/api.d.ts");
ok($ok, 'openapi-typescript generates types from the served document') or diag($out . $err);
($ok, $out, $err) = run_cmd('node', "$modules/.bin/tsc", '--strict', '-p', $ts);
ok($ok, 'the client and the contract run compile with tsc --strict against them') or diag($out . $err);
SKIP:
{
	skip 'nothing compiled', 2 unless -f "$ts/build/main.js";
	($ok, $out, $err) = run_cmd('node', "$ts/build/validate-document.js", $served);
	ok($ok, 'swagger-parser validates the served document') or diag($out . $err);

	local $ENV{CS_HTTP_URL} = $base;
	local $ENV{CS_WRITER_TOKEN} = $writer_token;
	local $ENV{CS_READER_TOKEN} = $reader_token;
	local $ENV{CS_SAMPLE_FLOW} = "$root/demo/sample-flow.jsonl";
	local $ENV{CS_OPENAPI} = $served;
	($ok, $out, $err) = run_cmd('node', "$ts/build/main.js");
	my $checks = 0;
	for my $line (split /\n/, $out)
	{
		if ($line =~ /^(not )?ok - (.*?)(?: # (.*))?$/)
		{
			$checks++;
			ok(!defined $1, "client: $2") or diag($3 // '');
		}
		elsif ($line =~ /^# /) { note($line); }
	}
	ok($ok && $checks > 30, "the contract run ends cleanly after $checks checks") or diag($err);
}

# --- /metrics: promtool, then a real Prometheus -----------------------------------
($status, $type, $body) = http("$base/metrics", token => $reader_token);
remember('GET', "$base/metrics", $status, $type, $body);
is($status, '200', 'GET /metrics');
like($type, qr{^text/plain; version=0\.0\.4}, 'in the Prometheus text format');
PostgreSQL::Test::Utils::append_to_file("$tmp/metrics.txt", $body);
{
	my ($pout, $perr) = ('', '');
	my $accepted = IPC::Run::run(['promtool', 'check', 'metrics'], '<', "$tmp/metrics.txt", '>', \$pout, '2>', \$perr);
	ok($accepted && $body =~ /^candystore_/m, 'promtool check metrics accepts it') or diag($pout . $perr);
}

my $prom_port = PostgreSQL::Test::Cluster::get_free_port();
PostgreSQL::Test::Utils::append_to_file("$tmp/prometheus.yml", <<"YML");
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: candystore-http
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials: $reader_token
    static_configs:
      - targets: ['127.0.0.1:$port']
YML
start_process('prometheus', "$tmp/prometheus.log", 'prometheus', "--config.file=$tmp/prometheus.yml",
	"--storage.tsdb.path=$tmp/prometheus-data", "--web.listen-address=127.0.0.1:$prom_port", '--log.level=warn');
my ($up, $series) = ('', 0);
for (1 .. 600)
{
	my (undef, undef, $answer) = http("http://127.0.0.1:$prom_port/api/v1/query?query=up%7Bjob%3D%22candystore-http%22%7D");
	my $r = eval { decode_json($answer) };
	$up = $r->{data}{result}[0]{value}[1] // '' if $r;
	last if $up eq '1';
	sleep 0.1;
}
is($up, '1', 'a real Prometheus scrapes /metrics: its up series is 1');
{
	my (undef, undef, $answer) = http("http://127.0.0.1:$prom_port/api/v1/query?query=count(%7B__name__%3D~%22candystore_.%2B%22%2Cjob%3D%22candystore-http%22%7D)");
	my $r = eval { decode_json($answer) };
	$series = $r->{data}{result}[0]{value}[1] // 0 if $r;
	cmp_ok($series, '>', 0, "and stores the candystore_* series it scraped ($series)");
}
is(stop_process('prometheus'), 0, 'Prometheus stops on SIGTERM');

# --- trace.svg in headless Chromium ------------------------------------------------
my ($leaf) = $flow[-1] =~ /"event_id": "([^"]+)"/;
($status, $type, $body) = http("$base/v1/events/$leaf/trace.svg", token => $reader_token);
remember('GET', "$base/v1/events/$leaf/trace.svg", $status, $type, $body);
is($status, '200', 'GET trace.svg of the sample flow');
like($type, qr{^image/svg\+xml}, 'as image/svg+xml');
PostgreSQL::Test::Utils::append_to_file("$tmp/trace.svg", $body);
my @types = map { /"event_type": "([^"]+)"/ } @flow;
is(scalar(grep { index($body, $_) >= 0 } @types), scalar(@types), 'the picture names every event of the flow');
# the window is the picture's size (points to CSS pixels)
my ($wpt, $hpt) = $body =~ /<svg[^>]*\bwidth="([\d.]+)pt"[^>]*\bheight="([\d.]+)pt"/s;
my ($w, $h) = (int(($wpt // 600) * 4 / 3 + 0.999), int(($hpt // 400) * 4 / 3 + 0.999));
PostgreSQL::Test::Utils::append_to_file("$tmp/blank.svg",
	qq{<svg xmlns="http://www.w3.org/2000/svg" width="${w}px" height="${h}px"></svg>});

sub screenshot
{
	my ($svg, $png, @extra) = @_;
	local $ENV{HOME} = "$tmp/chromium-home";
	return run_cmd('chromium', '--headless', @extra, '--disable-gpu', '--hide-scrollbars',
		"--user-data-dir=$tmp/chromium-profile", "--screenshot=$png", "--window-size=$w,$h", "file://$svg");
}
# Chromium's sandbox cannot run as root (nor where user namespaces are off):
# then without it; the page is our own server's SVG
my @sandbox = $> == 0 ? ('--no-sandbox') : ();
($ok, $out, $err) = screenshot("$tmp/trace.svg", "$tmp/trace.png", @sandbox);
if (!-s "$tmp/trace.png" && !@sandbox)
{
	note("chromium failed with its sandbox, retrying without: $err");
	@sandbox = ('--no-sandbox');
	($ok, $out, $err) = screenshot("$tmp/trace.svg", "$tmp/trace.png", @sandbox);
}
ok(-s "$tmp/trace.png", 'headless Chromium renders trace.svg to a PNG') or diag($out . $err);
screenshot("$tmp/blank.svg", "$tmp/blank.png", @sandbox);
my $png = -f "$tmp/trace.png" ? slurp_file("$tmp/trace.png") : '';
my ($pw, $ph) = length($png) >= 24 && substr($png, 0, 8) eq "\x89PNG\r\n\x1a\n" ? unpack('NN', substr($png, 16, 8)) : (0, 0);
is("${pw}x$ph", "${w}x$h", "the PNG is the picture's size (${w}x$h)");
my $blank = -s "$tmp/blank.png" // 0;
cmp_ok($blank, '>', 0, 'a blank page of that size renders too (the reference)');
cmp_ok(length($png), '>', 4 * $blank, 'and the picture holds a drawing (' . length($png) . " bytes; the blank page: $blank)");
note("the PNG: $tmp/trace.png");

# --- what curl received, against the document ----------------------------------------
for my $path ('/health/live', '/health/ready', '/v1/stats', '/v1/dead-letters', '/v1/schemas/contract.checked',
	'/v1/events?limit=1000', "/v1/events/$leaf/trace?format=dot", '/v1/events/not-a-uuid')
{
	remember('GET', "$base$path", http("$base$path", token => $reader_token));
}
remember('GET', "$base/v1/events", http("$base/v1/events"));
SKIP:
{
	skip 'the checker did not compile', 1 unless -f "$ts/build/check-response.js";
	my @wrong;
	for my $r (@received)
	{
		my ($method, $url, $st, $ct, $file) = @$r;
		my ($fine, $why, $err2) = run_cmd('node', "$ts/build/check-response.js", $served, $method, $url, $st, $ct, $file);
		push @wrong, "$method $url $st: $why$err2" unless $fine;
	}
	is(scalar(@wrong), 0, 'the ' . scalar(@received) . ' responses received with curl (openapi.json, metrics, trace.svg, health, stats, dead letters, schemas, a page, dot, 400, 401) conform to the document')
	  or diag(join("\n", @wrong));
}

# --- SIGTERM: the server drains and exits 0 ----------------------------------------
is(stop_process('candystore-http'), 0, 'candystore-http exits 0 on SIGTERM');

$node->stop;
done_testing();
