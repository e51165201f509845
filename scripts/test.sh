#!/usr/bin/env bash
# `make test`: install what is missing, build, install candystore into a
# private PostgreSQL under .run/test, and run every suite against clusters
# this script starts and stops itself.  Exit status is non-zero on any failure.
source "$(dirname "$0")/lib.sh"

cs_ensure_packages
RUN=$CS_RUN/test
BIN=""
PGDIR=$RUN/regress

SMALL_FS=$RUN/small_fs
cleanup() {
    [ -n "$BIN" ] && cs_pg_stop "$PGDIR" "$BIN"
    small_fs_unmount
}

# A small tmpfs for the fault suite's disk-full test (a tablespace that
# really returns ENOSPC).  Mounting needs root; without it the test skips
# that fault and says so.
small_fs_unmount() {
    mountpoint -q "$SMALL_FS" 2>/dev/null && umount "$SMALL_FS"
    return 0
}
small_fs_mount() {
    small_fs_unmount
    [ "$(id -u)" -eq 0 ] || return 0
    mkdir -p "$SMALL_FS" && mount -t tmpfs -o size=8m,mode=0700 tmpfs "$SMALL_FS" &&
        chown "$(cs_pg_user)" "$SMALL_FS" && echo "$SMALL_FS"
}
trap cleanup EXIT

cs_log "building with -Wall -Wextra -Werror"
make -s -C "$CS_ROOT" clean >/dev/null
BIN=$(cs_private_install "$RUN/pg")
rm -rf "$PGDIR"

LOG=$RUN/suite.log

# pg_regress: SQL behaviour, against one cluster with candystore preloaded.
regress() {
    cs_pg_start "$PGDIR" "$BIN" "shared_preload_libraries = 'candystore'"
    local port; port=$(cat "$PGDIR/port")
    (cd "$CS_ROOT" && rm -rf results regression.diffs regression.out &&
        make -s installcheck PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres) ||
        { [ -f "$CS_ROOT/regression.diffs" ] && head -c 20000 "$CS_ROOT/regression.diffs"; return 1; }
    cs_pg_stop "$PGDIR" "$BIN"
}

# TAP: behaviour across sessions, restarts and workers, each test with its
# own cluster (PostgreSQL::Test::Cluster).
tap() {
    local tmp="$RUN/tap"
    rm -rf "$tmp"; mkdir -p "$tmp"
    [ "$(id -u)" -ne 0 ] || chown -R "$(cs_pg_user)" "$tmp"
    local pgxs; pgxs=$(dirname "$("$(cs_pg_config)" --pgxs)")/..
    local small_fs; small_fs=$(small_fs_mount || true)
    # the npm tooling of t/http_contract.pl (installed as this user; the test only reads it)
    bash "$CS_ROOT/http/contract/install.sh" ||
        cs_log "http/contract/install.sh failed: t/http_contract.pl will bail out"
    local rc=0
    cs_as_pg env PATH="$BIN:$PATH" PG_REGRESS="$pgxs/test/regress/pg_regress" \
        TESTDIR="$tmp" TESTDATADIR="$tmp" CANDYSTORE_ROOT="$CS_ROOT" CANDYSTORE_SMALL_FS="$small_fs" \
        prove -I "$pgxs/test/perl" -I "$CS_ROOT/t" ${PROVE_FLAGS:-} ${CS_TAP_TESTS:-"$CS_ROOT"/t/*.pl} \
        2>&1 | tee "$tmp/prove.out" || rc=1
    [ "$rc" -eq 0 ] && return 0
    # the end of each failed file's own log (why it failed, or where it died)
    local f
    for f in $(sed -n '/^Test Summary Report/,$s/^\(\S*\.pl\) .*Wstat.*/\1/p' "$tmp/prove.out"); do
        echo "==> the end of $(basename "$f")'s log:"
        tail -n 25 "$tmp/tmp_check/log/regress_log_$(basename "$f" .pl)" 2>/dev/null
    done >>"$CS_FAILURE_NOTES"
    return 1
}

# SUITES picks some of them while working on one part (e.g. SUITES=tap
# CS_TAP_TESTS=$PWD/t/upgrade_from_0_1_0.pl); CI runs them all.  (Not
# TAP_TESTS: PGXS's installcheck would take that as its own.)
SUITES=${SUITES:-doc-links regress tap ecma-differential jsonschema-conformance fuzz}
want() { [[ " $SUITES " == *" $1 "* ]]; }
# README.md and docs/: every relative link and path resolves (one test).
want doc-links && run_suite doc-links bash "$CS_ROOT/scripts/check-doc-links.sh"
want regress && run_suite regress regress
want tap && run_suite tap tap
# JSON Schema patterns against node's RegExp ("u" flag), seeded random pairs.
want ecma-differential && run_suite ecma-differential bash "$CS_ROOT/scripts/ecma-pattern-differential.sh" "$BIN"
# JSON-Schema-Test-Suite conformance (skips when ../shared is absent).
want jsonschema-conformance && run_suite jsonschema-conformance bash "$CS_ROOT/scripts/jsonschema-suite.sh" "$BIN"
# libFuzzer, bounded: FUZZ_SECONDS per target (docs/testing.md, "Fuzzing").
want fuzz && run_suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash "$CS_ROOT/scripts/fuzz.sh"

suites_report
