# Without a synchronous standby the ingest worker commits its batches
# asynchronously and acks each once its WAL is flushed (the WAL writer
# flushes it while the next batch is read and checked).  What a user relies
# on:
# 1. the last batch before the queue goes quiet is acked too (its ack does
#    not wait for a next batch);
# 2. the server lost between a batch's commit and its ack (every process
#    killed at once; the window held open by the developer setting
#    candystore.debug_ack_delay_ms, which sits before the worker's own flush)
#    loses nothing: the broker still holds the batch, redelivers it after
#    the restart, and every event is stored once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);
use CandystoreBroker;
use CandystoreCluster;

start_broker();

# the WAL writer left to flush rarely: the worker's own flush makes the ack safe
my $node = candystore_primary('async_ack', q{
candystore.batch_size = 100
candystore.batch_timeout_ms = 20
candystore.outbox_publisher = off
wal_writer_delay = '10s'
wal_writer_flush_after = '1GB'
});

sub queue_is
{
	my ($ready_unacked, $name) = @_;
	like(queues_until(qr/^event_store_manager_queue\s+$ready_unacked$/m, 100, 'messages_ready messages_unacknowledged'),
		qr/^event_store_manager_queue\s+$ready_unacked$/m, $name);
}

# 1. a quiet queue after the run
publish_run(1, 250);
$node->poll_query_until('postgres', q{SELECT count(*) = 250 FROM candystore.event_log})
  or die 'run 1 was not stored';
queue_is('0\s+0', 'the queue goes quiet: every batch is acked, the last one too');

# 2. lost between commit and ack
my $committed = commit_in_ack_window($node, 2, 250);
cmp_ok($committed, '>', 0, 'in the window: a batch of run 2 is committed');
my ($ready, $unacked) =
  queues_until(qr/^event_store_manager_queue/m, 1, 'messages_ready messages_unacknowledged') =~
  /^event_store_manager_queue\s+(\d+)\s+(\d+)$/m;
is($ready + $unacked, 250, 'in the window: the broker still holds every message of run 2');
cmp_ok($unacked, '>=', $committed, 'in the window: the committed batch is not acked');

my $postmaster = $node->{_pid};
lose_server($node);
# the lock files name the killed postmaster until it is reaped
for (1 .. 300)
{
	last unless kill(0, $postmaster);
	sleep 0.1;
}
# restarted without the window (ALTER SYSTEM's setting gone)
unlink($node->data_dir . '/postgresql.auto.conf');
$node->start;
$node->poll_query_until('postgres', q{SELECT count(*) = 500 FROM candystore.event_log})
  or diag('not every event of runs 1 and 2 was stored after the restart');
is(stored_run($node, 1), '250', 'after the loss: every event acked before is there');
is(stored_run($node, 2), '250', 'after the loss: the committed but unacked batch is redelivered, the rest stored');
is(stored_twice($node), '0', 'no event is stored twice');
queue_is('0\s+0', 'after the loss: everything acked');
$node->stop;

stop_broker();
done_testing();
