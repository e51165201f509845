#!/usr/bin/env bash
# Runs the official JSON-Schema-Test-Suite (../shared/JSON-Schema-Test-Suite,
# or $JSONSCHEMA_SUITE) through candystore's SQL functions against a cluster
# it starts itself.  Prints per-draft counts; non-zero exit when a required
# test fails or optional/format passes below 95%.  Skips when absent.
#   usage: scripts/jsonschema-suite.sh [BINDIR]   (BINDIR: an installed copy)
source "$(dirname "$0")/lib.sh"

SUITE=${JSONSCHEMA_SUITE:-$CS_ROOT/../shared/JSON-Schema-Test-Suite}
if [ ! -d "$SUITE/tests" ]; then
    cs_log "JSON-Schema-Test-Suite not found at $SUITE: skipping the conformance run"
    exit 0
fi
SUITE=$(cd "$SUITE" && pwd)

RUN=$CS_RUN/jsonschema-suite
BIN=${1:-}
if [ -z "$BIN" ]; then
    cs_ensure_packages
    BIN=$(cs_private_install "$RUN/pg")
fi
PGDIR=$RUN/cluster
rm -rf "$PGDIR"
trap 'cs_pg_stop "$PGDIR" "$BIN"' EXIT
cs_pg_start "$PGDIR" "$BIN"
port=$(cat "$PGDIR/port")
"$BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE EXTENSION candystore" >/dev/null
JSONSCHEMA_SUITE_LOG=$RUN/failures.txt python3 "$CS_ROOT/scripts/jsonschema-suite.py" "$SUITE" \
    "$BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres
