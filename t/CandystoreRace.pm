# What the TAP tests of concurrent transactions share: a statement run while
# another session's transaction holds what it needs.
package CandystoreRace;

use strict;
use warnings;
use Exporter 'import';

our @EXPORT = qw(race);

# Runs $second in a session of its own while another session's open
# transaction has run $first; once $second waits for a lock (its query
# LIKE $waits_as), ends that transaction with $end.  Returns what $second
# returned, or its error.
sub race
{
	my ($node, $first, $second, $end, $waits_as) = @_;
	my $a = $node->background_psql('postgres', on_error_stop => 0);
	my $b = $node->background_psql('postgres', on_error_stop => 0);
	$a->query_safe('BEGIN');
	$a->query_safe($first);
	$b->query_until(qr/started/, "\\echo started\n$second;\n");
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '$waits_as'")
	  or die "\"$second\" never waited";
	$a->query_safe($end);
	my ($out, $failed) = $b->query('');
	my $err = $b->{stderr};
	$a->quit;
	$b->quit;
	return $failed ? $err : $out;
}

1;
