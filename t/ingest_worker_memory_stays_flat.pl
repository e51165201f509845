# The ingest worker's palloc'd memory, against a real RabbitMQ: small for a
# small candystore.batch_size, and no larger after 20 batches than after 2.
# (Its batch array was once sized for the setting's upper bound, 100,000
# deliveries: 30 MB whatever batch_size said.)  The totals come from
# pg_log_backend_memory_contexts(), which writes the worker's contexts to
# the server log.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use CandystoreBroker;

start_broker();
my $publisher = build_amqp_tool('cs_publish');
my $amqp_port = amqp_port();

my $node = node_with_worker('worker_memory',
	"candystore.batch_size = 50\ncandystore.batch_timeout_ms = 20\ncandystore.outbox_publisher = off\n");
$node->poll_query_until('postgres', "SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'")
  or die "the worker never connected";
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'candystore ingest worker'");
die "no ingest worker" unless $pid =~ /^\d+$/;

# publishes COUNT ~1 KB envelopes of run RUN and waits until TOTAL are stored
sub ingest
{
	my ($run, $count, $total) = @_;
	system("$publisher 127.0.0.1 $amqp_port bloodbank.events.v1 fireflies.transcript.ready $run $count 0 1 600 >/dev/null") == 0
	  or die "publisher failed";
	$node->poll_query_until('postgres', "SELECT count(*) = $total FROM candystore.events")
	  or die "the events were not stored";
}

# the worker's grand total of palloc'd memory, as it logs it
sub worker_memory
{
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		my $log = slurp_file($node->logfile, $offset);
		return $1 if $log =~ /\[$pid\] LOG:  Grand total: (\d+) bytes/;
		usleep(100_000);
	}
	die "the worker logged no memory contexts";
}

ingest(1, 100, 100);    # 2 batches of 50
my $after_2 = worker_memory();
ingest(2, 1000, 1100);    # 20 more
my $after_22 = worker_memory();
note("palloc'd memory: $after_2 bytes after 2 batches, $after_22 after 22");

cmp_ok($after_2, '<', 8 * 1024 * 1024, 'with batch_size 50 the worker holds less than 8 MB');
cmp_ok($after_22, '<=', $after_2 + 1024 * 1024, 'twenty more batches add less than 1 MB');

$node->stop;
done_testing();
