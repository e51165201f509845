# W3C trace context over AMQP: a message whose envelope has no trace_context
# but which carries a valid traceparent header (and tracestate) is stored
# with that trace_context, marked "source": "amqp_header"; an envelope's own
# trace_context is kept; a header that is not a valid traceparent is
# ignored.  The outbox sends traceparent (and tracestate) from the stored
# trace_context.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

start_broker();
my $amqp_port = amqp_port();
my $consumer = build_amqp_tool('cs_consume');
system($consumer, '127.0.0.1', $amqp_port, 'declare', 'trace_observer', 'bloodbank.events.v1', 'test.out.#') == 0
  or die "cannot declare the observer queue";

my $node = node_with_worker('trace', "candystore.batch_timeout_ms = 20\ncandystore.outbox_poll_ms = 200\n");
$node->poll_query_until('postgres',
	q{SELECT count(*) = 2 FROM candystore.worker_status() WHERE state IN ('consuming', 'idle')})
  or die "the workers never connected";

my $envelope = '{"event_id":"7ace0000-0000-4000-8000-%012d","event_type":"test.trace","timestamp":"2026-01-27T10:15:00Z",'
  . '"version":"1.0.0","source":{"host":"h","type":"webhook","app":"t","meta":null},'
  . '"correlation_ids":[],"agent_context":null%s,"payload":{"n":1}}';

sub publish_with_headers
{
	my ($n, $extra, @headers) = @_;
	system('amqp-publish', '-u', "amqp://127.0.0.1:$amqp_port", '-e', 'bloodbank.events.v1', '-r', 'test.in',
		'-p', (map { ('-H', $_) } @headers), '-b', sprintf($envelope, $n, $extra)) == 0
	  or die "amqp-publish failed";
}

my $tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
publish_with_headers(1, '', "traceparent: $tp", 'tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
publish_with_headers(2, ',"trace_context":{"trace_id":"own"}', "traceparent: $tp");
publish_with_headers(3, ',"trace_context":null', 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00');
publish_with_headers(4, '', 'traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01');
publish_with_headers(5, '', 'traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01');
publish_with_headers(6, '', 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01');
publish_with_headers(7, '', 'traceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
publish_with_headers(8, '', "traceparent: $tp-extra");
publish_with_headers(9, '', 'traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future');
publish_with_headers(10, '', "traceparent: $tp", "tracestate: bad\x01state");

$node->poll_query_until('postgres', q{SELECT count(*) = 10 FROM candystore.events WHERE event_type = 'test.trace'})
  or die "the messages were not stored: "
  . $node->safe_psql('postgres', 'SELECT reason FROM candystore.dead_letters');

sub trace_context
{
	my ($n) = @_;
	return $node->safe_psql('postgres',
		sprintf(q{SELECT coalesce(envelope->'trace_context', '"absent"')::text FROM candystore.event_log WHERE event_id = '7ace0000-0000-4000-8000-%012d'}, $n));
}

is( trace_context(1),
	'{"source": "amqp_header", "span_id": "00f067aa0ba902b7", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", "trace_flags": "01", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}',
	'traceparent and tracestate headers become the trace_context, marked as taken from the header');
is(trace_context(2), '{"trace_id": "own"}', "the envelope's own trace_context is kept");
like(trace_context(3), qr/"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"/,
	'a null trace_context is filled from the header');
is(trace_context(4), '"absent"', 'uppercase hex is not a traceparent');
is(trace_context(5), '"absent"', 'an all-zero trace id is not a traceparent');
is(trace_context(6), '"absent"', 'an all-zero parent id is not a traceparent');
is(trace_context(7), '"absent"', 'version ff is not a traceparent');
is(trace_context(8), '"absent"', 'version 00 has nothing after its flags');
like(trace_context(9), qr/"traceparent": "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"/,
	'a later version is read for the fields it shares with 00');
unlike(trace_context(10), qr/tracestate/, 'a tracestate with control characters is dropped');
like(trace_context(10), qr/"traceparent"/, 'but the traceparent is kept');

# The outbox: traceparent from the stored trace_context.
my $out = '{"event_id":"7ace0000-0000-4000-8000-1%011d","event_type":"test.out","timestamp":"2026-01-27T10:15:00Z",'
  . '"version":"1.0.0","source":{"host":"h","type":"webhook","app":"t","meta":null},"payload":{"n":1}%s}';
$node->safe_psql('postgres', join(";\n",
	sprintf(q{SELECT candystore.publish('%s', 'test.out.1')},
		sprintf($out, 1, qq(,"trace_context":{"traceparent":"$tp","tracestate":"congo=t61rcWkgMzE"}))),
	sprintf(q{SELECT candystore.publish('%s', 'test.out.2')},
		sprintf($out, 2, ',"trace_context":{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"}')),
	sprintf(q{SELECT candystore.publish('%s', 'test.out.3')}, sprintf($out, 3, '')),
	sprintf(q{SELECT candystore.publish('%s', 'test.out.4')}, sprintf($out, 4, ',"trace_context":{"trace_id":"nothex"}')),
	sprintf(q{SELECT candystore.publish('%s', 'test.out.5')},
		sprintf($out, 5, ',"trace_context":{"traceparent":"00-00000000000000000000000000000000-00f067aa0ba902b7-01",'
			  . '"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","trace_flags":"00","tracestate":"a=1"}')),
	sprintf(q{SELECT candystore.publish('%s', 'test.out.6')}, sprintf($out, 6, ',"trace_context":{"tracestate":"a=1"}'))));
my @lines = `$consumer 127.0.0.1 $amqp_port consume trace_observer 6 10000 trace`;
die "consumer failed" if $? != 0;
my %got = map { my @f = split / /; ($f[1] => "$f[7] $f[8]") } map { chomp; $_ } @lines;
is($got{'test.out.1'}, "traceparent=$tp tracestate=congo=t61rcWkgMzE",
	'the outbox sends the stored traceparent and tracestate');
is($got{'test.out.2'}, 'traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 tracestate=-',
	'a trace_context of trace_id and span_id is sent as a traceparent');
is($got{'test.out.3'}, 'traceparent=- tracestate=-', 'no trace_context: no traceparent');
is($got{'test.out.4'}, 'traceparent=- tracestate=-', 'a trace_context that makes no traceparent sends none');
is($got{'test.out.5'}, 'traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00 tracestate=a=1',
	'a traceparent with a zero trace id gives way to trace_id, span_id and trace_flags');
is($got{'test.out.6'}, 'traceparent=- tracestate=-', 'a tracestate alone is not sent');

$node->stop;
stop_broker();
done_testing();
