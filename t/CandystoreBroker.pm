# What the TAP tests against a real RabbitMQ share: a private broker
# (scripts/lib.sh cs_rabbit_start/cs_rabbit_stop) that is stopped however
# the test ends, a PostgreSQL::Test::Cluster node whose ingest worker talks
# to it, and the AMQP tools of t/ (cs_publish, cs_consume) built for it.
package CandystoreBroker;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT =
  qw(start_broker stop_broker broker_dir free_port amqp_port rabbitmqctl queues_until amqp_publish build_amqp_tool node_with_worker);

my $root = $ENV{CANDYSTORE_ROOT} or die "CANDYSTORE_ROOT is not set";
# made on first use: PostgreSQL::Test::Utils sets up tempdir() at INIT time,
# after this module is loaded
my $tmp;
my $rmq;

sub workdir
{
	$tmp //= PostgreSQL::Test::Utils::tempdir();
	$rmq //= "$tmp/rabbitmq";
	return $tmp;
}

sub rabbit
{
	my ($what) = @_;
	workdir();
	my $rc = system('bash', '-c', "source '$root/scripts/lib.sh' && $what '$rmq'");
	die "$what failed" if $rc != 0 && $what ne 'cs_rabbit_stop';
}

# The broker is ours: stop it however the test ends (keeping the test's
# exit status).
END
{
	local $?;
	rabbit('cs_rabbit_stop') if defined $rmq && -d $rmq;
}

# Starts the broker (again, after stop_broker: on the same port); returns
# its AMQP port.  EXTRA_CONF, when given, is added to its rabbitmq.conf
# (and replaces what an earlier start added).
sub start_broker
{
	my ($extra_conf) = @_;
	if (defined $extra_conf)
	{
		mkdir(broker_dir());
		open(my $fh, '>', broker_dir() . '/extra.conf') or die "cannot write extra.conf: $!";
		print $fh $extra_conf;
		close $fh;
	}
	rabbit('cs_rabbit_start');
	return amqp_port();
}

# The broker's directory (its data, logs and extra.conf).
sub broker_dir
{
	workdir();
	return $rmq;
}

# A TCP port nothing listens on, for another listener of the broker.
sub free_port
{
	my $port = `bash -c "source '$root/scripts/lib.sh' && cs_free_port"`;
	chomp $port;
	die "no free port" unless $port =~ /^\d+$/;
	return $port;
}

sub stop_broker { rabbit('cs_rabbit_stop'); }

sub amqp_port
{
	my $port = slurp_file("$rmq/port");
	chomp $port;
	return $port;
}

sub rabbitmqctl
{
	my ($args) = @_;
	return scalar `bash -c "source '$root/scripts/lib.sh' && cs_rabbitmqctl '$rmq' $args"`;
}

# Lists the queues (name, then $columns: messages by default) until the
# list matches $re, at most $tries times 0.2 s; returns the last list.
sub queues_until
{
	my ($re, $tries, $columns) = @_;
	$columns //= 'messages';
	my $queues = '';
	for (1 .. $tries)
	{
		$queues = rabbitmqctl("list_queues name $columns --no-table-headers");
		last if $queues =~ $re;
		sleep 0.2;
	}
	return $queues;
}

# Publishes one persistent message to the bus exchange with amqp-publish.
sub amqp_publish
{
	my ($rk, $body) = @_;
	system('amqp-publish', '-u', 'amqp://127.0.0.1:' . amqp_port(), '-e',
		'bloodbank.events.v1', '-r', $rk, '-p', '-b', $body) == 0
	  or die "amqp-publish failed";
}

# Builds t/NAME.c (cs_publish, cs_consume) with the shared t/cs_amqp.c;
# returns the executable's path.
sub build_amqp_tool
{
	my ($name) = @_;
	my $exe = workdir() . "/$name";
	system('cc', '-O2', '-o', $exe, "$root/t/$name.c", "$root/t/cs_amqp.c", '-lrabbitmq') == 0
	  or die "cannot build $name";
	return $exe;
}

# A started node NAME with candystore preloaded and created in database
# postgres, its workers pointed at the broker; EXTRA_CONF is appended to
# postgresql.conf.
sub node_with_worker
{
	my ($name, $extra_conf) = @_;
	my $port = amqp_port();
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'candystore'
candystore.database = 'postgres'
candystore.amqp_url = 'amqp://guest:guest\@127.0.0.1:$port/'
} . ($extra_conf // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION candystore');
	return $node;
}

1;
