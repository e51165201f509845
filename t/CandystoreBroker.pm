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
  qw(start_broker stop_broker broker_dir free_port amqp_port rabbitmqctl queues_until amqp_publish build_amqp_tool node_with_worker candystore_node
  start_cluster cluster_port cluster_ctl kill_cluster_node stop_cluster_node restart_cluster_node cluster_pid cluster_node_name);

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
	stop_cluster();
}

# A RabbitMQ cluster on this machine (start_cluster): each node's directory.
my @cluster;

sub on_node
{
	my ($what, $dir) = @_;
	return system('bash', '-c', "source '$root/scripts/lib.sh' && $what '$dir'");
}

# Starts N RabbitMQ nodes (distinct names, ports and data directories, one
# cookie and one epmd), joins them into one cluster, and returns how many.
# EXTRA_CONF is added to each node's rabbitmq.conf.  The nodes are stopped
# however the test ends.
sub start_cluster
{
	my ($n, $extra_conf) = @_;
	my $base = workdir() . '/cluster';
	my $epmd = free_port();
	my $cookie = join('', map { ('A' .. 'Z')[ int(rand(26)) ] } 1 .. 20);
	my $name = 'cs' . $$ . 'x' . int(rand(100000));

	mkdir($base);
	for my $i (1 .. $n)
	{
		my $dir = "$base/node$i";
		mkdir($dir);
		my %files = (
			node => "$name-$i\@localhost\n",
			epmd_port => "$epmd\n",
			shared_epmd => '',
			'.erlang.cookie' => $cookie,
			'extra.conf' => $extra_conf // '');
		while (my ($f, $text) = each %files)
		{
			open(my $fh, '>', "$dir/$f") or die "cannot write $dir/$f: $!";
			print $fh $text;
			close $fh;
		}
		chmod(0400, "$dir/.erlang.cookie");
		push @cluster, $dir;
	}
	# started together: each start takes seconds of a busy machine
	my @pids;
	for my $dir (@cluster)
	{
		my $pid = fork() // die "fork: $!";
		if ($pid == 0)
		{
			exec('bash', '-c', "source '$root/scripts/lib.sh' && cs_rabbit_start '$dir'");
			die "exec: $!";
		}
		push @pids, $pid;
	}
	my $failed = 0;
	for (@pids) { waitpid($_, 0); $failed ||= $?; }
	die "a cluster node did not start" if $failed;
	my $first = slurp_file("$cluster[0]/node");
	chomp $first;
	for my $i (2 .. $n)
	{
		for my $args ('stop_app', "join_cluster '$first'", 'start_app')
		{
			my $out = cluster_ctl($i, $args);
			die "rabbitmqctl $args on node $i failed: $out" if $?;
		}
	}
	return $n;
}

# What the start of cluster node I (from 1) wrote in the file NAME of its
# directory: its port, node name or pid.
sub cluster_file
{
	my ($i, $name) = @_;
	my $value = slurp_file("$cluster[$i - 1]/$name");
	chomp $value;
	return $value;
}

# The AMQP port of cluster node I (from 1).
sub cluster_port { return cluster_file($_[0], 'port'); }

# rabbitmqctl ARGS against cluster node I; returns its output.
sub cluster_ctl
{
	my ($i, $args) = @_;
	return scalar `bash -c "source '$root/scripts/lib.sh' && cs_rabbitmqctl '$cluster[$i - 1]' $args" 2>&1`;
}

# The Erlang node name of cluster node I.
sub cluster_node_name { return cluster_file($_[0], 'node'); }

# The pid of cluster node I (its Erlang VM).
sub cluster_pid { return cluster_file($_[0], 'pid'); }

# Kills cluster node I at once (SIGKILL, by its pid), as a crash would.
sub kill_cluster_node
{
	my ($i) = @_;
	my $dir = $cluster[ $i - 1 ];
	my $pid = cluster_pid($i);
	kill('KILL', $pid) or die "cannot kill node $i ($pid): $!";
	while (kill(0, $pid)) { select(undef, undef, undef, 0.1); }
	unlink("$dir/pid");
	return;
}

# Stops cluster node I (a clean shutdown, by its pid).
sub stop_cluster_node
{
	my ($i) = @_;
	on_node('cs_rabbit_stop', $cluster[ $i - 1 ]);
	return;
}

# Starts cluster node I again (it rejoins its cluster).
sub restart_cluster_node
{
	my ($i) = @_;
	on_node('cs_rabbit_start', $cluster[ $i - 1 ]) == 0 or die "node $i did not start again";
	return;
}

sub stop_cluster
{
	return unless @cluster;
	on_node('cs_rabbit_stop', $_) for @cluster;
	on_node('cs_rabbit_epmd_stop', $cluster[0]);
	@cluster = ();
	return;
}

# Starts the broker (again, after stop_broker: on the same port); returns
# its AMQP port.  EXTRA_CONF, when given, is added to its rabbitmq.conf
# (and replaces what an earlier start added); PLUGINS, when given, are the
# plugins it enables (comma-separated, e.g. rabbitmq_consistent_hash_exchange).
sub start_broker
{
	my ($extra_conf, $plugins) = @_;
	if (defined $plugins)
	{
		mkdir(broker_dir());
		open(my $fh, '>', broker_dir() . '/plugins') or die "cannot write plugins: $!";
		print $fh $plugins;
		close $fh;
	}
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
# postgres (at VERSION if given, else the current one), its workers pointed
# at the broker; EXTRA_CONF is appended to postgresql.conf.
sub node_with_worker
{
	my ($name, $extra_conf, $version) = @_;
	return candystore_node($name, conf => $extra_conf, version => $version);
}

# A started node NAME with candystore preloaded and created in database
# postgres.  Options: amqp_url (the private broker's by default),
# allows_streaming (for a primary with standbys), conf (appended to
# postgresql.conf), version (the extension version to create; the current
# one by default).
sub candystore_node
{
	my ($name, %opt) = @_;
	my $url = $opt{amqp_url} // 'amqp://guest:guest@127.0.0.1:' . amqp_port() . '/';
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $opt{allows_streaming} ? 1 : 0);
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'candystore'
candystore.database = 'postgres'
candystore.amqp_url = '$url'
} . ($opt{conf} // ''));
	$node->start;
	$node->safe_psql('postgres',
		'CREATE EXTENSION candystore' . (defined $opt{version} ? " VERSION '$opt{version}'" : ''));
	return $node;
}

1;
