# What the TAP tests of PostgreSQL high availability share: a primary with
# candystore preloaded that can stream, its hot standbys (backup and
# streaming), the loss of a server (every process killed at once, as in a
# power cut), and the runs of events t/cs_publish publishes with confirms.
package CandystoreCluster;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

our @EXPORT = qw(candystore_primary add_standby standby_pair detach_standby lose_server publish_run stored_run
  stored_twice commit_in_ack_window);

my $publisher;

# A started primary NAME (allows streaming) with candystore preloaded and
# created, its workers pointed at the broker and the ingest worker
# consuming; EXTRA_CONF is appended to postgresql.conf.
sub candystore_primary
{
	my ($name, $extra_conf) = @_;
	my $node = candystore_node($name, allows_streaming => 1, conf => $extra_conf);
	$node->poll_query_until('postgres',
		"SELECT state = 'consuming' FROM candystore.worker_status() WHERE kind = 'ingest'")
	  or die "the worker of $name never connected";
	return $node;
}

# A started hot standby NAME of PRIMARY from a fresh base backup; it
# streams with application_name NAME (the cluster_name) and has the
# primary's postgresql.conf, so candystore is preloaded alike.
sub add_standby
{
	my ($primary, $name) = @_;
	my $backup = "base_for_$name";
	$primary->backup($backup);
	my $standby = PostgreSQL::Test::Cluster->new($name);
	$standby->init_from_backup($primary, $backup, has_streaming => 1);
	$standby->start;
	$primary->wait_for_catchup($standby);
	return $standby;
}

# A primary PRIMARY_NAME (see candystore_primary) and its streaming standby
# STANDBY_NAME, caught up.  With option sync, the standby is then made the
# synchronous one (synchronous_standby_names; not before: the primary's own
# CREATE EXTENSION would wait for it).
sub standby_pair
{
	my ($primary_name, $standby_name, $extra_conf, %opt) = @_;
	my $primary = candystore_primary($primary_name, $extra_conf);
	my $standby = add_standby($primary, $standby_name);
	if ($opt{sync})
	{
		$primary->append_conf('postgresql.conf', "synchronous_standby_names = '$standby_name'\n");
		$primary->reload;
		$primary->poll_query_until('postgres',
			"SELECT sync_state = 'sync' FROM pg_stat_replication WHERE application_name = '$standby_name'")
		  or die "$standby_name did not become the synchronous standby";
	}
	return ($primary, $standby);
}

# Cuts STANDBY off its primary: it streams from a port nothing listens on
# (a reload restarts the WAL receiver), so it receives nothing more until
# promoted.  Waits until PRIMARY sees no replication connection.
sub detach_standby
{
	my ($primary, $standby) = @_;
	$standby->append_conf('postgresql.conf', "primary_conninfo = 'host=127.0.0.1 port=" . free_port() . "'\n");
	$standby->reload;
	$primary->poll_query_until('postgres', 'SELECT count(*) = 0 FROM pg_stat_replication')
	  or die 'the standby did not disconnect';
	return;
}

# NODE is lost as in a power cut: the postmaster and every child stopped at
# once (SIGSTOP), then killed (SIGKILL), so that no process finishes
# anything after the first signal.
sub lose_server
{
	my ($node) = @_;
	my $pm = $node->{_pid} or die 'the node is not running';
	kill('STOP', $pm);
	my @children = split ' ', `ps -o pid= --ppid $pm`;
	kill('STOP', @children);
	$node->kill9;
	kill('KILL', @children);
	for (1 .. 100)
	{
		last unless grep { kill(0, $_) } $pm, @children;
		sleep 0.1;
	}
	return;
}

# Publishes COUNT events of RUN (event ids RRRRRRRR-0000-4000-8000-…) with
# publisher confirms: each is on the broker when this returns.
sub publish_run
{
	my ($run, $count, $routing_key) = @_;
	$publisher //= build_amqp_tool('cs_publish');
	$routing_key //= 'fireflies.transcript.ready';
	my $port = amqp_port();
	system("$publisher 127.0.0.1 $port bloodbank.events.v1 $routing_key $run $count 0 1 >/dev/null") == 0
	  or die "publisher failed";
	return;
}

# How many events of RUN NODE has stored.
sub stored_run
{
	my ($node, $run) = @_;
	my $prefix = sprintf('%08x-0000-4000-8000-', $run);
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM candystore.event_log WHERE event_id::text LIKE '$prefix%'");
}

# Holds NODE's ingest worker between a batch's commit and its ack from now
# on (candystore.debug_ack_delay_ms, 60 s, by ALTER SYSTEM and a reload),
# publishes COUNT events of RUN and waits until a batch of them is
# committed and waiting for its ack; returns how many of RUN are stored.
sub commit_in_ack_window
{
	my ($node, $run, $count) = @_;
	$node->safe_psql('postgres', q{ALTER SYSTEM SET candystore.debug_ack_delay_ms = '60s'});
	$node->reload;
	sleep 1;	# the worker takes the reload (its latch is set) before the run comes
	publish_run($run, $count);
	$node->poll_query_until('postgres',
		q{SELECT state = 'committed, ack delayed' FROM candystore.worker_status() WHERE kind = 'ingest'})
	  or die "the worker never committed a batch of run $run";
	return stored_run($node, $run);
}

# How many event ids NODE stored more than once.
sub stored_twice
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		'SELECT count(*) FROM (SELECT event_id FROM candystore.event_log GROUP BY 1 HAVING count(*) > 1) d');
}

1;
