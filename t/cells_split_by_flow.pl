# Cells: two independent candystore installations behind one RabbitMQ
# consistent-hash exchange (candystore.cell_exchange), one quorum queue per
# cell.  The exchange splits the stream by the flow key (the correlation_id
# property): each flow lands whole in one cell, the copies of a message land
# in the cell its first copy did (stored once there, never in the other),
# the topic exchange in front still routes by routing key, and a reader that
# merges the cells with one cells cursor (read_cell, cells_cursor_advance)
# gets every event exactly once, and after a resume only what is new.
# Messages without the flow key all land in one cell (documented).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use CandystoreBroker;

my $flows = 50;
my $count = 2000;
my $copies = 2;

my $port = start_broker(undef, 'rabbitmq_consistent_hash_exchange');
my $publisher = build_amqp_tool('cs_publish');

my %cell;
for my $id ('a', 'b')
{
	$cell{$id} = node_with_worker(
		"cell_$id", qq{
candystore.cell_id = '$id'
candystore.cell_exchange = 'cells'
candystore.queue = 'cell_$id'
candystore.queue_type = quorum
candystore.binding_keys = 'flows.#'
candystore.outbox_publisher = off
});
	$cell{$id}->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM candystore.worker_status() WHERE kind = 'ingest' AND state = 'consuming'")
	  or die "the ingest worker of cell $id never consumed";
}
is($cell{b}->safe_psql('postgres', 'SELECT candystore.cell_id()'), 'b', 'cell_id() reports candystore.cell_id');
like(rabbitmqctl('list_exchanges name type --no-table-headers'),
	qr/^cells\s+x-consistent-hash$/m, 'the workers declare the consistent-hash exchange');
like(rabbitmqctl('list_bindings source_name destination_name routing_key --no-table-headers'),
	qr/^bloodbank\.events\.v1\s+cells\s+flows\.#$/m,
	'the hash exchange is bound to the topic exchange with the binding keys');
like(rabbitmqctl('list_queues name type --no-table-headers'),
	qr/^cell_a\s+quorum$/m, 'each cell has its own quorum queue');

# the routing key still selects: nothing bound takes 'other.x'
my $sent = `$publisher 127.0.0.1 $port bloodbank.events.v1 other.x 6 10 0 1 0 500 $flows`;
die "cs_publish failed" if $?;
$sent = `$publisher 127.0.0.1 $port bloodbank.events.v1 flows.test 7 $count 0 $copies 0 500 $flows`;
die "cs_publish failed" if $?;
chomp $sent;
is($sent, $count * $copies, 'every copy published with confirms');

my $stored = sub {
	my $n = 0;
	$n += $cell{$_}->safe_psql('postgres', 'SELECT count(*) FROM candystore.event_log') for keys %cell;
	return $n;
};
for (1 .. 600)
{
	last
	  if $stored->() >= $count
	  && queues_until(qr/^cell_a\s+0\n.*^cell_b\s+0$/ms, 1) =~ /^cell_a\s+0\n.*^cell_b\s+0$/ms;
	sleep 0.2;
}
is($stored->(), $count, "the cells store $count events between them, each once (of $count x $copies copies)");

# per cell: its events' flows (message number n % flows) and ids
my (%flows_of, %ids_of);
for my $id (keys %cell)
{
	my $n = $cell{$id}->safe_psql('postgres', 'SELECT count(*) FROM candystore.dead_letters');
	is($n, 0, "cell $id dead-lettered nothing");
	for (split /\n/,
		$cell{$id}->safe_psql('postgres',
			"SELECT event_id, (envelope->'payload'->>'n')::int % $flows FROM candystore.event_log"))
	{
		my ($event, $flow) = split /\|/;
		$ids_of{$id}{$event} = 1;
		$flows_of{$id}{$flow} = 1;
	}
	ok(keys %{ $ids_of{$id} } > 0, "cell $id stores a share of the stream");
}
my @split = grep { $flows_of{b}{$_} } keys %{ $flows_of{a} };
is(scalar(@split), 0, 'each flow lands whole in one cell');
is(scalar(keys %{ $flows_of{a} }) + scalar(keys %{ $flows_of{b} }), $flows, 'every flow is in a cell');
my @twice = grep { $ids_of{b}{$_} } keys %{ $ids_of{a} };
is(scalar(@twice), 0, "no event is in both cells: a message's copies land in one cell");

# A merged read: the cells in turn, small pages, one cells cursor.  Returns
# the cells cursor and the event ids read, by cell.
sub merged_read
{
	my ($cells_cursor) = @_;
	my %read;
	my $progress = 1;
	while ($progress)
	{
		$progress = 0;
		for my $id (sort keys %cell)
		{
			my $after = defined $cells_cursor ? "'$cells_cursor'" : 'NULL';
			my @rows = split /\n/,
			  $cell{$id}->safe_psql('postgres',
				"SELECT cell_id, cursor, event_id FROM candystore.read_cell($after, 300)");
			next unless @rows;
			$progress = 1;
			my $last;
			for (@rows)
			{
				my ($cell_id, $cursor, $event) = split /\|/;
				die "cell $id returned a row of cell $cell_id" if $cell_id ne $id;
				push @{ $read{$id} }, $event;
				$last = $cursor;
			}
			$cells_cursor = $cell{a}->safe_psql('postgres',
				"SELECT candystore.cells_cursor_advance($after, '$last')");
		}
	}
	return ($cells_cursor, \%read);
}

my ($cells_cursor, $read) = merged_read(undef);
my @all = map { @{ $read->{$_} } } keys %$read;
my %once;
$once{$_}++ for @all;
is(scalar(@all), $count, "a merged read across the cells returns $count events");
is(scalar(grep { $once{$_} > 1 } keys %once), 0, '... each once');
is_deeply([ sort keys %once ], [ sort(keys %{ $ids_of{a} }, keys %{ $ids_of{b} }) ],
	'... and every event stored');
like($cells_cursor, qr/^a:[0-9a-f]{16}-[0-9a-f]{16},b:[0-9a-f]{16}-[0-9a-f]{16}$/,
	'the cells cursor has one entry per cell');
like($cell{a}->safe_psql('postgres', 'SELECT cursor FROM candystore.read_all(NULL, 1)'),
	qr/^[0-9a-f]{16}-[0-9a-f]{16}$/, "read_all()'s cursor of a cell keeps the single-installation form");

# resumed from the cells cursor: only what arrived since
$sent = `$publisher 127.0.0.1 $port bloodbank.events.v1 flows.test 8 200 0 1 0 500 $flows`;
die "cs_publish failed" if $?;
for (1 .. 600) { last if $stored->() >= $count + 200; sleep 0.2; }
my ($resumed_cursor, $new) = merged_read($cells_cursor);
my @new = map { @{ $new->{$_} } } keys %$new;
is(scalar(@new), 200, 'a merged read resumed from the cells cursor returns the 200 new events');
is(scalar(grep { /^00000008-/ } @new), 200, '... and only those');

# messages without the flow key: hashed alike, so all in one cell
for my $n (1 .. 3)
{
	amqp_publish('flows.nokey',
		    qq({"event_id":"00000009-0000-4000-8000-00000000000$n","event_type":"test.nokey",)
		  . qq("timestamp":"2026-01-27T10:15:00Z","version":"1.0.0",)
		  . qq("source":{"host":"h","type":"webhook","app":"t"},"correlation_ids":[],"payload":{}}));
}
for (1 .. 600) { last if $stored->() >= $count + 203; sleep 0.2; }
my @nokey = map { $cell{$_}->safe_psql('postgres', "SELECT count(*) FROM candystore.event_log WHERE event_type = 'test.nokey'") } sort keys %cell;
is(join(' ', sort @nokey), '0 3', 'messages without the flow key all land in one cell');

# a cell refuses a cells cursor that is not one
my ($ret, $out, $err) = $cell{a}->psql('postgres', "SELECT * FROM candystore.read_cell('a:1,b:2')");
like($err, qr/invalid cells cursor/, 'a malformed cells cursor is refused');

$_->stop for values %cell;
done_testing();
