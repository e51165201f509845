#!/usr/bin/env bash
# The Debian package, as an operator installs it: builds
# postgresql-15-candystore from a copy of the tree (debian/, pg_buildext,
# dpkg-buildpackage), installs the .deb into the system with apt, creates the
# extension in a throwaway cluster of the system's PostgreSQL, and removes
# the package again, so the system is left as it was.  Needs root: CI runs as
# root on a throwaway machine.  Prints TAP (make test-long runs it with prove).
source "$(dirname "$0")/lib.sh"

PKG=postgresql-$PG_MAJOR-candystore
RUN=$CS_RUN/package
BIN=/usr/lib/postgresql/$PG_MAJOR/bin
LIBDIR=/usr/lib/postgresql/$PG_MAJOR/lib
EXTDIR=/usr/share/postgresql/$PG_MAJOR/extension
VERSION=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$CS_ROOT/candystore.control")

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
check() {  # check DESCRIPTION COMMAND...: one test, passed when COMMAND succeeds
    local what=$1; shift
    if "$@" >>"$RUN/checks.log" 2>&1; then ok "$what"; else not_ok "$what"; fi
}
bail() { echo "Bail out! $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || bail "installs a package into the system: run as root (CI does)"
# What is there before the test is left as it was: refuse to replace an
# installation that is not this test's own.
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'install ok installed'; then
    bail "$PKG is already installed; remove it first (apt-get remove $PKG)"
fi
[ ! -e "$LIBDIR/candystore.so" ] && [ ! -e "$EXTDIR/candystore.control" ] ||
    bail "candystore is installed into the system PostgreSQL by hand ($LIBDIR/candystore.so); remove it first"

cs_ensure_packages "${CS_PACKAGE_BUILD_PACKAGES[@]}" >&2
rm -rf "$RUN"
mkdir -p "$RUN/src"
chmod o+x "$RUN"

installed=""
cleanup() {
    cs_pg_stop "$RUN/pg" "$BIN"
    if [ -n "$installed" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$PKG" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

# The tree as committed plus what is new and not ignored: no build products.
git -C "$CS_ROOT" ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$CS_ROOT/$f" ] && printf '%s\0' "$f"; done |
    tar -C "$CS_ROOT" --null -T - -cf - | tar -C "$RUN/src" -xf -

echo "# building $PKG (log: $RUN/build.log)"
check "debian/control is up to date with control.in and pgversions" \
    bash -c "cd '$RUN/src' && pg_buildext checkcontrol"
if (cd "$RUN/src" && dpkg-buildpackage -us -uc -b) >"$RUN/build.log" 2>&1; then
    ok "dpkg-buildpackage builds the binary package"
else
    not_ok "dpkg-buildpackage builds the binary package"
    tail -30 "$RUN/build.log" | sed 's/^/# /'
    bail "no package to test"
fi
deb=$(ls "$RUN/${PKG}_${VERSION}"-*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -1)
[ -n "$deb" ] && ok "the package is ${deb##*/}" || { not_ok "a ${PKG}_${VERSION}-* package"; bail "no package"; }

depends=$(dpkg-deb -f "$deb" Depends)
echo "# Depends: $depends"
for dep in librabbitmq4 libidn2-0 libmicrohttpd12 "postgresql-$PG_MAJOR"; do
    check "it depends on $dep" grep -qE "(^|, )$dep( |,|$)" <<<"$depends"
done
# no JIT bitcode (Makefile: with_llvm), so no dependency on the JIT package
check "it does not depend on postgresql-$PG_MAJOR-jit-llvm" bash -c "! grep -q jit-llvm <<<'$depends'"
contents=$(dpkg-deb -c "$deb")
for f in "$LIBDIR/candystore.so" "$EXTDIR/candystore.control" \
         "$EXTDIR/candystore--$VERSION.sql" "$EXTDIR/candystore--0.1.0.sql" \
         "$EXTDIR/candystore--0.1.0--$VERSION.sql" \
         "/usr/share/doc/$PKG/examples/postgres-exporter-queries.yaml" \
         "$BIN/candystore-http" "/usr/share/doc/$PKG/examples/candystore-http.service"; do
    check "it ships $f" grep -qF ".$f" <<<"$contents"
done

if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$RUN/install.log" 2>&1; then
    installed=1
    ok "apt-get installs it"
else
    not_ok "apt-get installs it"; sed 's/^/# /' "$RUN/install.log"; bail "not installed"
fi

# A cluster of the system's PostgreSQL, which finds candystore where the
# package put it.
cs_pg_start "$RUN/pg" "$BIN" "shared_preload_libraries = 'candystore'"
port=$(cat "$RUN/pg/port")
sql() { cs_as_pg "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "$1"; }

check "candystore-http runs (--help)" "$BIN/candystore-http" --help
check "CREATE EXTENSION candystore" sql "CREATE EXTENSION candystore"
got=$(sql "SELECT extversion FROM pg_extension WHERE extname = 'candystore'" 2>&1 || true)
[ "$got" = "$VERSION" ] && ok "extversion is $VERSION" || not_ok "extversion is $VERSION (got '$got')"
event=$(head -1 "$CS_ROOT/demo/sample-flow.jsonl")
event_id=$(sed -n 's/^{"event_id": "\([0-9a-f-]*\)".*/\1/p' <<<"$event")
check "an event appends" sql "SELECT candystore.append(\$e\$$event\$e\$::jsonb)"
got=$(sql "SELECT candystore.get_event('$event_id') = \$e\$$event\$e\$::jsonb" 2>&1 || true)
[ "$got" = "t" ] && ok "it reads back as sent" || not_ok "it reads back as sent (got '$got')"
cs_pg_stop "$RUN/pg" "$BIN"

if DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$PKG" >>"$RUN/install.log" 2>&1; then
    installed=""
    ok "apt-get removes it"
else
    not_ok "apt-get removes it"
fi
check "the system is as before: no candystore files left" \
    test ! -e "$LIBDIR/candystore.so" -a ! -e "$EXTDIR/candystore.control"

echo "1..$n"
[ "$fails" -eq 0 ]
