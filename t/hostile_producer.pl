# A hostile producer against the ingest worker (t/cs_hostile.c): every kind
# of message a publisher could send, a fixed set and a seeded random mix,
# interleaved with valid events.  Every message gets a recorded outcome:
# the worker never restarts, published = stored + dead-lettered exactly,
# every valid event is stored as published, every dead letter says why and
# keeps the body byte for byte; a redelivered message without identity is
# recorded again, flagged; and a pg_dump of it all restores in full.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $seed = $ENV{CANDYSTORE_HOSTILE_SEED} // 20261201;
my $random_count = 300;
my $max_message_bytes = 524288;
note "seed $seed (set CANDYSTORE_HOSTILE_SEED to replay another mix)";

my $amqp_port = start_broker();
my $hostile = build_amqp_tool('cs_hostile');

my $node = node_with_worker(
	'hostile', qq{
candystore.batch_size = 50
candystore.batch_timeout_ms = 20
candystore.reconnect_max_ms = 1000
candystore.outbox_publisher = off
candystore.max_message_bytes = $max_message_bytes
});
$node->poll_query_until('postgres',
	"SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'")
  or die "the worker never connected";
my $worker_pid = $node->safe_psql('postgres',
	"SELECT pid FROM candystore.worker_status() WHERE kind = 'ingest'");

my $manifest_file = PostgreSQL::Test::Utils::tempdir() . '/manifest';
my $published =
  `$hostile 127.0.0.1 $amqp_port bloodbank.events.v1 $seed $random_count $max_message_bytes $manifest_file`;
die "cs_hostile failed" if $? != 0;
chomp $published;

my (@stored, @dead);
for my $line (split /\n/, slurp_file($manifest_file))
{
	my %m;
	@m{qw(outcome message_id sqlstate label event_id length hex)} = split /\t/, $line;
	push @{ $m{outcome} eq 'stored' ? \@stored : \@dead }, \%m;
}
is(scalar(@stored) + scalar(@dead), $published, 'the manifest lists every message published');
note scalar(@stored) . " valid events, " . scalar(@dead) . " messages to dead-letter";

my $total = q{(SELECT count(*) FROM candystore.event_log) + (SELECT count(*) FROM candystore.dead_letters)};
$node->poll_query_until('postgres', "SELECT $total >= $published")
  or diag('timed out waiting for every message to get an outcome');
# one more batch window: anything extra would show up now
sleep 1;
is( $node->safe_psql(
		'postgres',
		'SELECT (SELECT count(*) FROM candystore.event_log) || \'|\' || (SELECT count(*) FROM candystore.dead_letters)'
	),
	scalar(@stored) . '|' . scalar(@dead),
	'published = stored + dead-lettered, exactly');
like(queues_until(qr/^event_store_manager_queue\s+0$/m, 50),
	qr/^event_store_manager_queue\s+0$/m, 'every delivery acked');

is($node->safe_psql('postgres', "SELECT pid FROM candystore.worker_status() WHERE kind = 'ingest'"),
	$worker_pid, 'the worker never restarted (same pid)');
unlike(slurp_file($node->logfile), qr/exited with exit code/, 'no process exited with an error');

# every valid event, stored as published
my $values = join ',', map { "('$_->{event_id}', '$_->{hex}')" } @stored;
is( $node->safe_psql(
		'postgres', qq{
		SELECT count(*) FROM (VALUES $values) v(event_id, hex)
		  JOIN candystore.event_log e ON e.event_id = v.event_id::uuid
		 WHERE e.envelope = convert_from(decode(v.hex, 'hex'), 'UTF8')::jsonb
		   AND e.routing_key = 'test.hostile'}),
	scalar(@stored),
	'every valid event is stored jsonb-equal to what was published');

# every dead letter says why; the ones we can name have the SQLSTATE and
# the body byte for byte
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM candystore.dead_letters
		 WHERE reason = '' OR sqlstate !~ '^[0-9A-Z]{5}$' OR properties IS NULL}),
	'0',
	'every dead letter has a reason, a SQLSTATE and the properties');
my @named = grep { $_->{message_id} ne '-' } @dead;
$values = join ',',
  map { "('$_->{message_id}', '$_->{sqlstate}', '$_->{label}', $_->{length}, '$_->{hex}')" } @named;
is( $node->safe_psql(
		'postgres', qq{
		SELECT coalesce(string_agg(v.message_id || ' (' || v.label || '): ' || coalesce(d.sqlstate || ' ' || d.reason, 'no dead letter'), E'\\n'), '')
		  FROM (VALUES $values) v(message_id, sqlstate, label, length, hex)
		  LEFT JOIN candystore.dead_letters d ON d.properties->>'message_id' = v.message_id
		 WHERE d.id IS NULL
		    OR (v.sqlstate <> '?' AND d.sqlstate <> v.sqlstate)
		    OR length(d.body) <> v.length
		    OR (v.hex <> '-' AND encode(d.body, 'hex') <> v.hex)}),
	'',
	scalar(@named) . ' dead letters by message id: expected SQLSTATE, body byte for byte');
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(DISTINCT sqlstate, ',' ORDER BY sqlstate) FROM candystore.dead_letters
		 WHERE sqlstate LIKE '54%'}),
	'54000,54001',
	'nesting and size limits are dead-lettered with their 54xxx SQLSTATE');

# the same malformed bytes published twice, without identity: two messages
is( $node->safe_psql(
		'postgres', q|
		SELECT count(*) FROM candystore.dead_letters WHERE body = convert_to('{"twice": ', 'UTF8')|),
	'2',
	'two publishes of the same malformed body: two dead letters');

# invalid UTF-8 in the routing key never reaches event_log; the dead letter
# keeps it escaped
my $bad_rk = grep { $_->{label} eq 'invalid UTF-8 routing key' } @dead;
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM candystore.dead_letters
		 WHERE routing_key = 'test.hostile.bad\x80\xff\xc3\xc0\x80' AND sqlstate = '22021'}),
	$bad_rk,
	'invalid routing keys: dead-lettered (22021), stored escaped');
is($node->safe_psql('postgres', q{SELECT count(*) FROM candystore.event_log WHERE routing_key <> 'test.hostile'}),
	'0', 'no other routing key in event_log');

# headers of every field type, invalid keys and values escaped
is( $node->safe_psql('postgres', <<'SQL'),
SELECT headers ? 'bool\x80\xff\xc3\xc0\x80'
   AND headers->'u64' = '18446744073709551615'
   AND headers->'i64' = '-9223372036854775808'
   AND headers->'f64' = '1.7976931348623157e308'
   AND headers->'decimal' = '4294967295e-255'
   AND headers->'u8' = '255'
   AND headers->'bytes' = '"a\\x00b\\xff\u0001"'
   AND headers->'array' = '[7, "in array\\x80\\xff\\xc3\\xc0\\x80", 5e-324, null]'
   AND jsonb_typeof(headers->'table'->'table'->'table') = 'object'
   AND properties->>'content_type' = 'application/json'
  FROM candystore.dead_letters WHERE body = convert_to('{not json', 'UTF8')
SQL
	't',
	'headers of every AMQP field type are kept, invalid text escaped');

# Redelivery: the worker is terminated while its batch holds the same
# malformed bytes twice, published without identity.  Both come back
# redelivered; both are recorded, the second flagged a possible redelivery.
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE candystore.event_log IN EXCLUSIVE MODE;');
amqp_publish('test.hostile.again',
	'{"event_id":"0000c0de-0000-4000-8000-ffffffffffff","event_type":"test.hostile","timestamp":"2026-01-27T10:15:00Z",'
	  . '"version":"1.0.0","source":{"host":"h","type":"webhook"},"payload":{}}');
$node->poll_query_until(
	'postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	 WHERE backend_type = 'candystore ingest worker' AND wait_event_type = 'Lock'})
  or die "the worker never blocked";
amqp_publish('test.hostile.again', '{"again": ');
amqp_publish('test.hostile.again', '{"again": ');
like(
	queues_until(qr/^event_store_manager_queue\s+0\s+3$/m, 50, 'messages_ready messages_unacknowledged'),
	qr/^event_store_manager_queue\s+0\s+3$/m,
	'the worker holds all three unacked');
$node->safe_psql('postgres',
	q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'candystore ingest worker'});
$locker->query_safe('COMMIT');
$locker->quit;
$node->poll_query_until('postgres',
	q{SELECT count(*) = 2 FROM candystore.dead_letters WHERE routing_key = 'test.hostile.again'})
  or diag('timed out waiting for the redelivered dead letters');
sleep 1;
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) || ' ' || count(*) FILTER (WHERE redelivered) || ' ' || count(*) FILTER (WHERE possible_redelivery)
		  FROM candystore.dead_letters WHERE routing_key = 'test.hostile.again'}),
	'2 2 1',
	'redelivered identical bytes without identity: both recorded, the second flagged');

# pg_dump, then pg_restore into a second cluster: every row comes back
my $dump = PostgreSQL::Test::Utils::tempdir() . '/hostile.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump -Fc');
my $restored = PostgreSQL::Test::Cluster->new('restored');
$restored->init;
$restored->start;
$restored->command_ok([ 'pg_restore', '--exit-on-error', '-d', $restored->connstr('postgres'), $dump ],
	'pg_restore into a second cluster');
my $fingerprint = q{
	SELECT (SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', position, event_id, event_type, occurred_at,
	                 recorded_at, routing_key, correlation_ids, envelope), E'\n' ORDER BY position))
	          FROM candystore.event_log)
	    || ' ' ||
	       (SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', id, received_at, reason, sqlstate, routing_key,
	                 headers, encode(body, 'hex'), body_digest, redelivered, properties, event_id,
	                 possible_redelivery), E'\n' ORDER BY id))
	          FROM candystore.dead_letters)};
my $before = $node->safe_psql('postgres', $fingerprint);
is($restored->safe_psql('postgres', $fingerprint), $before, 'every event and dead letter restored as it was');
like($before, qr/^\d+ \w+ \d+ \w+$/, 'the fingerprint covers both tables');

$restored->stop;
$node->stop;
done_testing();
