# The release's files agree with candystore.control: META.json (PGXN meta
# spec 1.0.0), debian/changelog, CHANGELOG.md; and src/pg_compat.h lets a
# build go ahead on PostgreSQL 15 only, naming the reason on any other.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = $ENV{CANDYSTORE_ROOT};
my ($version) = slurp_file("$root/candystore.control") =~ /^default_version = '([^']+)'/m;
ok(defined $version, "candystore.control names the version ($version)");

# META.json: valid JSON with the fields PGXN's meta spec 1.0.0 requires.
my $meta = eval { decode_json(slurp_file("$root/META.json")) };
ok($meta, 'META.json is valid JSON') or diag($@);
$meta //= {};
is($meta->{'meta-spec'}{version}, '1.0.0', 'META.json follows meta spec 1.0.0');
is_deeply(
	[ grep { !defined $meta->{$_} } qw(name abstract version maintainer license provides meta-spec) ],
	[], 'META.json has every required field');
like($meta->{version} // '', qr/^\d+\.\d+\.\d+$/, 'its version is a semantic version');
is($meta->{version}, $version, 'META.json version = candystore.control default_version');
is($meta->{provides}{candystore}{version}, $version, 'provides candystore at that version');
ok(-f "$root/$meta->{provides}{candystore}{$_}", "provides.candystore.$_ names a file of the tree")
  for qw(file docfile);
is($meta->{license}, 'postgresql', 'license: postgresql');
like(slurp_file("$root/LICENSE"), qr/^PostgreSQL License/, 'LICENSE holds the PostgreSQL License');

# The PostgreSQL versions said in one voice: META.json, debian/pgversions.
is($meta->{prereqs}{runtime}{requires}{PostgreSQL}, '15.0.0', 'META.json requires PostgreSQL 15');
is_deeply([ grep { !/^#/ && /\S/ } split /\n/, slurp_file("$root/debian/pgversions") ],
	['15'], 'debian/pgversions: 15');

# The Debian package and the changelog are at the same version.
my ($deb) = slurp_file("$root/debian/changelog") =~ /^candystore \(([^)]+)\)/;
like($deb, qr/^\Q$version\E-\d+$/, "debian/changelog: $version-N");
like(slurp_file("$root/CHANGELOG.md"), qr/^## \Q$version\E\b/m, "CHANGELOG.md has a section for $version");

# src/pg_compat.h, included as a build against each major version includes it.
sub compile_as
{
	my ($version_num) = @_;
	my $src = "#define PG_VERSION_NUM $version_num\n#include \"pg_compat.h\"\n";
	my $out = `printf '%s' '$src' | cc -fsyntax-only -I '$root/src' -x c - 2>&1`;
	return ($? == 0, $out);
}
my ($built, $out) = compile_as(150020);
ok($built, 'PostgreSQL 15 builds') or diag($out);
for my $v ([ 140012, '14 and older' ], [ 160008, '16' ], [ 170004, '17 and later' ], [ 180000, '17 and later' ])
{
	($built, $out) = compile_as($v->[0]);
	ok(!$built && $out =~ /candystore supports PostgreSQL 15; \Q$v->[1]\E (?:is|are) not supported \(.+\)/,
		"PostgreSQL $v->[0] stops the build, saying why")
	  or diag($out);
}

done_testing();
