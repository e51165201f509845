# A misspelt candystore.* line in postgresql.conf is not silently ignored:
# the server warns at start and the setting does not exist.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('misspelt');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'candystore'
candystore.amqp_ulr = 'amqp://guest:guest@127.0.0.1:1/'
});
$node->start;

like(slurp_file($node->logfile),
	qr/WARNING:  invalid configuration parameter name "candystore\.amqp_ulr", removing it/,
	'the server warns about the misspelt setting at start');
my ($rc, $out, $err) = $node->psql('postgres', 'SHOW candystore.amqp_ulr');
like($err, qr/unrecognized configuration parameter "candystore\.amqp_ulr"/,
	'the misspelt setting does not exist');
is($node->safe_psql('postgres', 'SHOW candystore.amqp_url'), 'amqp://guest:guest@localhost:5672/',
	'the real setting keeps its default');

$node->stop;
done_testing();
