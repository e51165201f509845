# amqps:// fails closed: the ingest worker and the outbox publisher talk TLS
# only to a broker whose certificate chains to candystore.amqp_cacert (or,
# when that is empty, to the system's trusted CAs) and names the host of the
# URL.  Anything else is refused with a log line that says why (without the
# URL's password) and points at candystore.amqp_cacert; the worker stays up,
# retries with backoff, and the events wait in the queue, none lost.
#
# The certificates are made here with openssl: CA 1, a broker certificate it
# signed for localhost and 127.0.0.1, one it signed for another name only,
# and an unrelated CA 2.  The broker has a TLS listener besides its plain
# one; events are published on the plain one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $tls = broker_dir() . '/tls';
mkdir(broker_dir());
mkdir($tls) or die "cannot create $tls: $!";
chmod(0755, $tls);

sub openssl
{
	run_log([ 'openssl', @_ ]) or die "openssl @_ failed";
}

sub make_ca
{
	my ($name) = @_;
	openssl('req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
		'-nodes', '-keyout', "$tls/$name.key", '-out', "$tls/$name.pem", '-days', '3',
		'-subj', "/CN=candystore test $name",
		'-addext', 'basicConstraints=critical,CA:TRUE',
		'-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

sub make_server_cert
{
	my ($name, $ca, $cn, $san) = @_;
	openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
		'-nodes', '-keyout', "$tls/$name.key", '-out', "$tls/$name.csr", '-subj', "/CN=$cn");
	append_to_file("$tls/$name.ext",
		    "subjectAltName = $san\nbasicConstraints = CA:FALSE\n"
		  . "keyUsage = digitalSignature\nextendedKeyUsage = serverAuth\n");
	openssl('x509', '-req', '-in', "$tls/$name.csr", '-CA', "$tls/$ca.pem",
		'-CAkey', "$tls/$ca.key", '-CAcreateserial', '-out', "$tls/$name.pem",
		'-days', '3', '-extfile', "$tls/$name.ext");
	chmod(0644, "$tls/$name.key");    # the broker may run as another user
}

make_ca('ca1');
make_ca('ca2');
make_server_cert('broker', 'ca1', 'localhost', 'DNS:localhost, IP:127.0.0.1');
make_server_cert('elsewhere', 'ca1', 'broker.elsewhere.example', 'DNS:broker.elsewhere.example');

my $tls_port = free_port();

sub broker_conf
{
	my ($cert) = @_;
	return qq{listeners.ssl.1 = 127.0.0.1:$tls_port
ssl_options.cacertfile = $tls/ca1.pem
ssl_options.certfile = $tls/$cert.pem
ssl_options.keyfile = $tls/$cert.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
};
}

start_broker(broker_conf('broker'));

# Starts on the plain port (the node's default), to declare the topology.
my $node = node_with_worker(
	'amqps', qq{
candystore.reconnect_max_ms = 1000
candystore.outbox_poll_ms = 200
});

# Points both workers at URL with CA file CACERT ('' for the system's).
sub use_broker
{
	my ($url, $cacert) = @_;
	$node->append_conf('postgresql.conf',
		"candystore.amqp_url = '$url'\ncandystore.amqp_cacert = '$cacert'\n");
	$node->reload;
}

sub event_json
{
	my ($n) = @_;
	return sprintf(
		'{"event_id":"00000030-0000-4000-8000-%012d","event_type":"test.tls","timestamp":"2026-01-27T10:15:00Z",'
		  . '"version":"1.0.0","source":{"host":"h","type":"webhook","app":"tls","meta":null},'
		  . '"correlation_ids":[],"agent_context":null,"payload":{"n":%d}}',
		$n, $n);
}

sub stored
{
	my ($n) = @_;
	return $node->safe_psql('postgres',
		sprintf(q{SELECT count(*) FROM candystore.event_log WHERE event_id = '00000030-0000-4000-8000-%012d'}, $n));
}

sub wait_stored
{
	my ($n) = @_;
	return $node->poll_query_until('postgres',
		sprintf(q{SELECT count(*) = 1 FROM candystore.event_log WHERE event_id = '00000030-0000-4000-8000-%012d'}, $n));
}

sub connected_to
{
	my ($broker) = @_;
	return $node->poll_query_until('postgres',
		qq{SELECT count(*) = 2 FROM candystore.worker_status() WHERE state <> 'waiting to reconnect' AND broker = '$broker'});
}

sub worker_pids
{
	return $node->safe_psql('postgres',
		q{SELECT string_agg(kind || ' ' || pid, ', ' ORDER BY kind) FROM candystore.worker_status()});
}

# The log since OFFSET has refused connections of both workers, for REASON,
# at least twice for the ingest worker (it retried), and no worker exit;
# worker_status() shows the refusal (its start: the status is truncated).
sub refused
{
	my ($name, $offset, $reason, $status) = @_;
	my $line = qr/cannot reach RabbitMQ: connecting to amqps:\/\/[^ ]+: TLS: $reason/;
	ok( eval {
			$node->wait_for_log(
				qr/candystore ingest worker 1 $line.*\n(?s:.*)candystore ingest worker 1 $line/, $offset);
			$node->wait_for_log(qr/candystore outbox publisher $line/, $offset);
			1;
		},
		"$name: both workers log the refusal and why; the ingest worker retries");
	my $log = substr(slurp_file($node->logfile), $offset);
	unlike($log, qr/exited with exit code|terminated by signal/, "$name: no worker exited");
	unlike(join("\n", grep { /candystore (ingest worker|outbox publisher)/ } split /\n/, $log),
		qr/guest:guest/, "$name: the workers' log lines do not show the URL's password");
	like(
		$node->safe_psql('postgres',
			q{SELECT state || ': ' || last_error FROM candystore.worker_status() WHERE kind = 'ingest'}),
		qr/^waiting to reconnect: connecting to amqps:\/\/[^ ]+: TLS: $status/,
		"$name: worker_status() shows the refusal");
}

# Waits until both workers have failed to connect: past their start, when
# a configuration reload could be missed.
sub both_refused
{
	return $node->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM candystore.worker_status() WHERE state = 'waiting to reconnect'});
}

$node->poll_query_until('postgres',
	q{SELECT count(*) = 2 FROM candystore.worker_status() WHERE broker IS NOT NULL})
  or die "the workers never connected on the plain port";

# (a) The right CA: both workers connect over TLS; the ingest worker stores
# what is published, the publisher sends the outbox.
use_broker("amqps://guest:guest\@localhost:$tls_port/", "$tls/ca1.pem");
ok(connected_to("amqps://localhost:$tls_port/"), 'CA configured: both workers connect over TLS');
amqp_publish('test.tls', event_json(1));
ok(wait_stored(1), 'CA configured: the ingest worker stores a published event');
$node->safe_psql('postgres', "SELECT candystore.publish('" . event_json(2) . "'::jsonb)");
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM candystore.outbox WHERE published_at IS NOT NULL}),
	'CA configured: the outbox publisher publishes over TLS');

my $pids = worker_pids();
# OpenSSL's reason: the broker sends its chain with CA 1 in it, or not
my $untrusted = qr/(?:self-signed certificate in certificate chain|unable to get local issuer certificate)/;
my $not_trusted = qr/the broker's certificate is not trusted: $untrusted/;

# (c) Another CA: refused.
my $offset = -s $node->logfile;
use_broker("amqps://guest:guest\@localhost:$tls_port/", "$tls/ca2.pem");
refused('wrong CA', $offset,
	qr/$not_trusted \(checked against candystore.amqp_cacert "\Q$tls\E\/ca2.pem"\)/, $not_trusted);
amqp_publish('test.tls', event_json(3));

# (b) No CA configured, and CA 1 is not among the system's: refused, with
# the hint.
$offset = -s $node->logfile;
use_broker("amqps://guest:guest\@localhost:$tls_port/", '');
refused('no CA configured', $offset,
	qr/$not_trusted \(checked against the system's trusted CA certificates; set candystore.amqp_cacert to the broker's CA certificate file\)/,
	$not_trusted);
is(stored(3), '0', 'refused: the event published meanwhile is not stored');
is(worker_pids(), $pids, 'refused: the workers kept running (same PIDs), retrying');

# (b') No CA configured, CA 1 among the system's trusted ones (OpenSSL's
# SSL_CERT_FILE stands in for the system store): connects, and the event
# that waited in the queue arrives.
$ENV{SSL_CERT_FILE} = "$tls/ca1.pem";
$node->restart;
ok(connected_to("amqps://localhost:$tls_port/"), 'system trust store: both workers connect');
ok(wait_stored(3), 'system trust store: the event that waited is stored');
delete $ENV{SSL_CERT_FILE};
$node->restart;
ok(both_refused(), 'the system trust store without CA 1 again: refused');

# An address in the URL is matched against the certificate's IP addresses.
use_broker("amqps://guest:guest\@127.0.0.1:$tls_port/", "$tls/ca1.pem");
ok(connected_to("amqps://127.0.0.1:$tls_port/"), 'an IP address the certificate lists: connects');
amqp_publish('test.tls', event_json(4));
ok(wait_stored(4), 'an IP address the certificate lists: the event is stored');

# (d) The right CA, but a certificate for another host: refused.
$pids = worker_pids();
stop_broker();
start_broker(broker_conf('elsewhere'));
$offset = -s $node->logfile;
use_broker("amqps://guest:guest\@localhost:$tls_port/", "$tls/ca1.pem");
refused('another host', $offset,
	qr/the broker's certificate is not valid for host "localhost" \(connect by a name or address the certificate lists\)/,
	qr/the broker's certificate is not valid for host "localhost"/);
amqp_publish('test.tls', event_json(5));
sleep 2;
is(stored(5), '0', 'another host: the event is not stored');
is(worker_pids(), $pids, 'another host: the workers kept running (same PIDs)');

# Back on the plain port, the event arrives: nothing was lost.
use_broker('amqp://guest:guest@127.0.0.1:' . amqp_port() . '/', '');
ok(wait_stored(5), 'the event published while TLS was refused is stored once the link is right');

# Which CA the workers trust is for superusers to set and to see.
$node->safe_psql('postgres', 'CREATE ROLE tls_reader LOGIN');
my ($rc, $out, $err) =
  $node->psql('postgres', 'SHOW candystore.amqp_cacert', extra_params => [ '-U', 'tls_reader' ]);
like($err, qr/must be superuser or have privileges of pg_read_all_settings to examine "candystore.amqp_cacert"/,
	'candystore.amqp_cacert is hidden from other roles');

$node->stop;
done_testing();
