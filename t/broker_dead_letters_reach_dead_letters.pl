# With candystore.consume_dead_letter_queue, what RabbitMQ itself
# dead-letters reaches candystore.dead_letters: a message that expires in a
# queue whose dead-letter exchange is candystore's goes to its dead-letter
# queue, and the ingest worker records it, marked as dead-lettered by the
# broker (SQLSTATE 58V01), with its x-death history, its routing key and
# body as published; it can be redriven like any dead letter.  Without the
# setting the message stays in the queue.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

start_broker();
my $amqp_port = amqp_port();
my $consumer = build_amqp_tool('cs_consume');

my $node = node_with_worker('brokerdlq',
	"candystore.batch_timeout_ms = 20\ncandystore.outbox_publisher = off\ncandystore.consume_dead_letter_queue = off\n"
	  . "candystore.binding_keys = 'test.in.#'\n");
$node->poll_query_until('postgres', "SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'")
  or die "the worker never connected";

# A queue of another consumer, whose messages expire at once into
# candystore's dead-letter exchange (declared by the worker).
system($consumer, '127.0.0.1', $amqp_port, 'declare', 'test_expiring', 'bloodbank.events.v1', 'test.expire.#') == 0
  or die "cannot declare test_expiring";
rabbitmqctl(q{set_policy --apply-to queues cs_expire '^test_expiring\$' '{\"message-ttl\":1,\"dead-letter-exchange\":\"event_store_manager_dlx\"}'});
like(queues_until(qr/test_expiring\s+cs_expire/, 50, 'policy'), qr/test_expiring\s+cs_expire/, 'the expiry policy applies');

my $envelope = '{"event_id":"dead0000-0000-4000-8000-%012d","event_type":"test.expire","timestamp":"2026-01-27T10:15:00Z",'
  . '"version":"1.0.0","source":{"host":"h","type":"webhook","app":"t","meta":null},"payload":{"n":%d}}';

# Off: the dead-lettered message waits in the dead-letter queue.
amqp_publish('test.expire.one', sprintf($envelope, 1, 1));
like(queues_until(qr/event_store_manager_dlq\s+1\b/, 50), qr/event_store_manager_dlq\s+1\b/,
	'expired into the dead-letter queue');
sleep 1;
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.dead_letters'), '0',
	'without candystore.consume_dead_letter_queue the worker leaves it there');

# On (a reload): the worker reconnects and consumes it, and what follows.
$node->append_conf('postgresql.conf', "candystore.consume_dead_letter_queue = on\n");
$node->reload;
$node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM candystore.dead_letters')
  or die "the broker's dead letter was not recorded";
amqp_publish('test.expire.two', sprintf($envelope, 2, 2));
$node->poll_query_until('postgres', 'SELECT count(*) = 2 FROM candystore.dead_letters')
  or die "the second broker dead letter was not recorded";

is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(concat_ws(' ', routing_key, sqlstate, broker_dead_lettered, reason,
		                            x_death->0->>'reason', x_death->0->>'queue', x_death->0->>'exchange',
		                            x_death->0->'routing-keys'->>0, event_id), E'\n' ORDER BY id)
		  FROM candystore.dead_letters}),
	"test.expire.one 58V01 t dead-lettered by the broker (expired) from queue test_expiring, 1 time(s) expired test_expiring bloodbank.events.v1 test.expire.one dead0000-0000-4000-8000-000000000001\n"
	  . "test.expire.two 58V01 t dead-lettered by the broker (expired) from queue test_expiring, 1 time(s) expired test_expiring bloodbank.events.v1 test.expire.two dead0000-0000-4000-8000-000000000002",
	'each is recorded as dead-lettered by the broker, with its routing key, reason and x-death history');
is( $node->safe_psql('postgres',
		q{SELECT convert_from(body, 'UTF8')::jsonb->>'event_id' FROM candystore.dead_letters ORDER BY id LIMIT 1}),
	'dead0000-0000-4000-8000-000000000001', 'with the body as published');
like(queues_until(qr/event_store_manager_dlq\s+0\b/, 50), qr/event_store_manager_dlq\s+0\b/,
	'and acknowledged: the dead-letter queue is empty');
is($node->safe_psql('postgres', 'SELECT count(*) FROM candystore.events'), '0', 'nothing was stored as an event');

# They can be redriven: both are valid envelopes.
is($node->safe_psql('postgres', 'SELECT candystore.redrive_dead_letters()'), '2', 'redriving stores them');
is( $node->safe_psql('postgres', q{SELECT string_agg(routing_key, ' ' ORDER BY position) FROM candystore.events}),
	'test.expire.one test.expire.two', 'under the routing keys they were published with');

$node->stop;

# A quorum queue's delivery limit: a message whose batch cannot commit (an
# error not known to be the message's) is held, the link is lost twice, and
# RabbitMQ dead-letters it after candystore.max_deliveries = 1 redelivery;
# the worker then records it from the dead-letter queue.
$node = node_with_worker('quorumdlq',
	"candystore.batch_timeout_ms = 20\ncandystore.outbox_publisher = off\ncandystore.consume_dead_letter_queue = on\n"
	  . "candystore.queue = 'cs_quorum_ingest'\ncandystore.queue_type = quorum\ncandystore.max_deliveries = 1\n"
	  . "candystore.binding_keys = 'test.quorum.#'\ncandystore.reconnect_max_ms = 500\n");
$node->safe_psql('postgres', q{
	CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		RAISE EXCEPTION 'test: the environment fails' USING ERRCODE = 'lock_not_available';
	END $$;
	CREATE TRIGGER hold BEFORE INSERT ON candystore.event_log FOR EACH ROW EXECUTE FUNCTION hold();});
$node->poll_query_until('postgres', "SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'")
  or die "the worker never connected";
amqp_publish('test.quorum.x', sprintf($envelope, 3, 3));
for my $round (1 .. 10)
{
	last if $node->safe_psql('postgres', 'SELECT count(*) FROM candystore.dead_letters') eq '1';
	$node->poll_query_until('postgres', q{SELECT state LIKE 'retrying%' FROM candystore.worker_status() WHERE kind = 'ingest'});
	rabbitmqctl(q{close_all_connections 'closed by the test'});
	sleep 1;
}
ok($node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM candystore.dead_letters'),
	'the message over the delivery limit reached dead_letters');
is( $node->safe_psql(
		'postgres', q{SELECT concat_ws(' ', routing_key, sqlstate, broker_dead_lettered, x_death->0->>'reason', x_death->0->>'queue')
		  FROM candystore.dead_letters}),
	'test.quorum.x 58V01 t delivery_limit cs_quorum_ingest',
	'marked as dead-lettered by the broker for its delivery limit, from the quorum queue');
$node->stop;
stop_broker();
done_testing();
