# Signed events between candystore and real clients: envelopes signed in
# Python (hmac, PyNaCl) and in Node (node:crypto), each with its own small
# RFC 8785 canonicalizer (t/signing_clients/), are stored by append() under
# candystore.require_signatures, and the same envelopes changed after signing
# are refused with 22V08; envelopes candystore signs verify in Python and
# Node, and do not once changed.  All three canonical forms agree, byte for
# byte, on keys that sort differently by UTF-16 and by code point, numbers
# ECMAScript writes its own way, and escapes.
use strict;
use warnings;
use IPC::Run qw(run);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = $ENV{CANDYSTORE_ROOT} or die "CANDYSTORE_ROOT is not set";
# Debian's python3, which python3-nacl is installed for
my @python = ('/usr/bin/python3', "$root/t/signing_clients/jcs_sign.py");
my @node = ('node', "$root/t/signing_clients/jcs_sign.js");
my %client = (Python => \@python, Node => \@node);

sub client
{
	my ($cmd, $input, @args) = @_;
	my ($out, $err) = ('', '');
	run([ @$cmd, @args ], '<', \$input, '>', \$out, '2>', \$err)
	  or die "@$cmd @args failed: $err";
	chomp $out;
	return $out;
}

my $node = PostgreSQL::Test::Cluster->new('signing');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'candystore'");
$node->start;
$node->safe_psql('postgres',
	"CREATE DATABASE interop ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
$node->safe_psql('interop', 'CREATE EXTENSION candystore');
$node->safe_psql('interop', "ALTER DATABASE interop SET candystore.require_signatures = 'interop.*'");

sub sql_q { my ($s) = @_; return "\$e\$$s\$e\$"; }

sub sql
{
	my ($q) = @_;
	return $node->safe_psql('interop', $q);
}

# psql's error for a statement expected to fail
sub sql_error
{
	my ($q) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql('interop', $q, stdout => \$out, stderr => \$err,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return $rc == 0 ? 'ok' : $err;
}

my $hmac_secret = 'a1' x 32;
my %seed = (Python => '11' x 32, Node => '22' x 32);
my $candystore_seed = '33' x 32;

# keys: the shared HMAC secret, each client's Ed25519 public key (its seed
# never leaves it), candystore's own Ed25519 seed
sql("SELECT candystore.register_signing_key('shared-hmac', 'hmac-sha256', secret => '\\x$hmac_secret')");
for my $who (sort keys %client)
{
	my $public = client($client{$who}, '', 'pubkey', $seed{$who});
	like($public, qr/^[0-9a-f]{64}$/, "$who: Ed25519 public key of its seed");
	sql("SELECT candystore.register_signing_key('\L$who\E-ed', 'ed25519', public_key => '\\x$public')");
}
sql("SELECT candystore.register_signing_key('candystore-ed', 'ed25519', secret => '\\x$candystore_seed')");
my $candystore_public = sql("SELECT encode(public_key, 'hex') FROM candystore.signing_keys WHERE key_id = 'candystore-ed'");
is(client(\@python, '', 'pubkey', $candystore_seed), $candystore_public,
	'candystore derives the public key of a seed as PyNaCl does');

# Keys €, 😀 (a surrogate pair in UTF-16) and דּ (U+FB33) sort differently
# by UTF-16 code units and by code points; numbers as written differ from
# ECMAScript's form; escapes of every kind.
sub envelope
{
	my ($n) = @_;
	my $id = sprintf('5160e000-0000-4000-8000-%012d', $n);
	return qq({"event_id": "$id", "event_type": "interop.signed.event", "timestamp": "2026-01-27T10:15:00Z", )
	  . qq("version": "1.0.0", "source": {"host": "interop", "type": "agent"}, "correlation_ids": [], )
	  . qq("payload": {"amount": 4.50, "big": 1E30, "tiny": 1e-7, "count": 100, "neg": -0.5, "wide": 1e21, )
	  . qq("text": "caf\\u00e9 \\ud83d\\ude00 \\u2028 tab\\t quote\\" back\\\\ ctl\\u001f del\\u007f", )
	  . qq("\\u20ac": 1, "\\ud83d\\ude00": 2, "\\ufb33": 3, "\\r": 4, "nested": {"b": [true, null, {"z": 1, "a": 2.0}]}}});
}

# the canonical forms agree
my $canonical = sql('SELECT candystore.jcs_canonicalize(' . sql_q(envelope(0)) . '::jsonb)');
like($canonical, qr/"payload":\{"\\r":4,"amount":4\.5,"big":1e\+30,/, 'candystore: keys sorted, numbers as ECMAScript writes them');
for my $who (sort keys %client)
{
	is(client($client{$who}, envelope(0), 'canon'), $canonical, "$who canonicalizes as candystore does");
}

# signatures made by the clients are stored; changed after signing, refused
my $n = 0;
for my $who (sort keys %client)
{
	for my $alg ('hmac-sha256', 'ed25519')
	{
		my ($key_id, $key) = $alg eq 'hmac-sha256' ? ('shared-hmac', $hmac_secret) : ("\L$who\E-ed", $seed{$who});
		my $signed = client($client{$who}, envelope(++$n), 'sign', $alg, $key_id, $key);
		like(sql('SELECT candystore.append(' . sql_q($signed) . ')'), qr/^\d+$/, "$who $alg: stored");
		is(sql('SELECT candystore.verify_event_signature(envelope) FROM candystore.events WHERE event_id = '
			  . sprintf("'5160e000-0000-4000-8000-%012d'", $n)), 'valid', "$who $alg: verifies again as stored");
		my $tampered = client($client{$who}, envelope(++$n), 'sign', $alg, $key_id, $key);
		like(sql_error('SELECT candystore.append(jsonb_set(' . sql_q($tampered) . q[, '{payload,amount}', '4.51'))]),
			qr/22V08: event of type "interop\.signed\.event" refused: signature bad_signature/, "$who $alg: changed after signing, refused");
	}
}
like(sql_error('SELECT candystore.append(' . sql_q(envelope(++$n)) . ')'),
	qr/22V08: .* refused: signature unsigned/, 'unsigned: refused');
is(sql("SELECT count(*) FROM candystore.events"), 4, 'only the four validly signed events are stored');

# candystore's signatures verify in both clients, and fail once changed
for my $alg ('hmac-sha256', 'ed25519')
{
	my ($key_id, $verify_key) = $alg eq 'hmac-sha256' ? ('shared-hmac', $hmac_secret) : ('candystore-ed', $candystore_public);
	my $signed = sql('SELECT candystore.sign_envelope(' . sql_q(envelope(100)) . "::jsonb, '$key_id')");
	my $changed = sql('SELECT jsonb_set(' . sql_q($signed) . q[::jsonb, '{payload,count}', '101')]);
	for my $who (sort keys %client)
	{
		is(client($client{$who}, "$signed\n$changed\n", 'verify', $alg, $verify_key), "valid\ninvalid",
			"candystore's $alg signature verifies in $who; changed, it does not");
	}
}

$node->stop;
done_testing();
