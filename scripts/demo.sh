#!/usr/bin/env bash
# `make demo`: install what is missing, build, install candystore into a
# private PostgreSQL under .run/demo, start a throwaway cluster with
# candystore preloaded, append the seeds' sample flow and print it back.
# The cluster is stopped at the end unless KEEP=1 (then `make stop`).
source "$(dirname "$0")/lib.sh"

cs_ensure_packages
DIR=$CS_RUN/demo
BIN=$DIR/pg$("$(cs_pg_config)" --bindir)
[ -x "$BIN/pg_ctl" ] && cs_pg_stop "$DIR/cluster" "$BIN"
rm -rf "$DIR/cluster"

cs_log "building and installing into $DIR/pg"
BIN=$(cs_private_install "$DIR/pg")
cs_pg_start "$DIR/cluster" "$BIN" "shared_preload_libraries = 'candystore'"
[ "${KEEP:-0}" = 1 ] || trap 'cs_pg_stop "$DIR/cluster" "$BIN"' EXIT
PORT=$(cat "$DIR/cluster/port")

psql_demo() { psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"; }
psql_demo -c 'CREATE EXTENSION candystore' 
psql_demo -v flow="$(cat "$CS_ROOT/demo/sample-flow.jsonl")" -f "$CS_ROOT/demo/show-flow.sql"

if [ "${KEEP:-0}" = 1 ]; then
    cs_log "the demo cluster is running: psql -h 127.0.0.1 -p $PORT -U postgres"
    cs_log "stop it with: make stop"
else
    cs_log "demo done; the cluster is stopped (make demo KEEP=1 keeps it running)"
fi
