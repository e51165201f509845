#!/usr/bin/env bash
# bench/trace.sh [FLOWS] [RUNS]: causation queries on a generated store, side
# by side with the naive recursive CTE over a jsonb correlation_ids column,
# and the append rate with and without the trace bookkeeping (the session
# expression index).  FLOWS short flows of 4 events (default 235000, which
# with the chains, wide trees and mixed graphs makes ~1,000,000 events).
# Run by hand; not part of `make test`.
source "$(dirname "$0")/../scripts/lib.sh"
FLOWS=${1:-235000}
RUNS=${2:-7}
APPENDS=${APPENDS:-20000}
cs_ensure_packages
RUN=$CS_RUN/bench-trace
BIN=$(cs_private_install "$RUN/pg")
DIR=$RUN/cluster
rm -rf "$DIR"
trap 'cs_pg_stop "$DIR" "$BIN"' EXIT
cs_pg_start "$DIR" "$BIN" "shared_preload_libraries = 'candystore'" "shared_buffers = '512MB'" \
    "max_wal_size = '4GB'" "synchronous_commit = off" \
    "jit = off"     # JIT compile time would dominate the naive CTEs' timings
PORT=$(cat "$DIR/port")
psql() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -X -q "$@"; }

psql -c "CREATE DATABASE bench" && psql -d bench -c "CREATE EXTENSION candystore"
psql -d bench -v flows="$FLOWS" -v runs="$RUNS" -f "$CS_ROOT/bench/trace.sql"

# Append rate: APPENDS appends, every one carrying a meeting_id (so the
# partial session index is updated each time), with and without that index.
append_rate() {     # $1 = database; prints appends per second
    psql -d "$1" -At -c "
      DO \$\$ BEGIN PERFORM candystore.append(jsonb_build_object(
        'event_id', gen_random_uuid(), 'event_type', 'fireflies.transcript.ready',
        'timestamp', '2026-01-27T10:15:00.123456Z', 'version', '1.0.0',
        'source', jsonb_build_object('host','b','type','webhook','app','fireflies','meta',null),
        'correlation_ids', jsonb_build_array(gen_random_uuid()), 'agent_context', null,
        'payload', jsonb_build_object('id', 'ff_' || i, 'meeting_id', 'm' || i))) FROM generate_series(1, 1) i; END \$\$;" >/dev/null
    psql -d "$1" -At -c "
      CREATE TEMP TABLE t AS SELECT clock_timestamp() AS s;
      SELECT count(candystore.append(jsonb_build_object(
        'event_id', gen_random_uuid(), 'event_type', 'fireflies.transcript.ready',
        'timestamp', '2026-01-27T10:15:00.123456Z', 'version', '1.0.0',
        'source', jsonb_build_object('host','b','type','webhook','app','fireflies','meta',null),
        'correlation_ids', jsonb_build_array(gen_random_uuid()), 'agent_context', null,
        'payload', jsonb_build_object('id', 'ff_' || i, 'meeting_id', 'm' || i)))) FROM generate_series(1, $APPENDS) i;
      SELECT round($APPENDS / extract(epoch FROM clock_timestamp() - s)) FROM t;" | tail -1
}
with=(); without=()
for r in 1 2 3; do
    psql -c "DROP DATABASE IF EXISTS ap_with" -c "DROP DATABASE IF EXISTS ap_without" \
         -c "CREATE DATABASE ap_with" -c "CREATE DATABASE ap_without"
    psql -d ap_with -c "CREATE EXTENSION candystore"
    psql -d ap_without -c "CREATE EXTENSION candystore" -c "DROP INDEX candystore.event_log_session_idx"
    with+=("$(append_rate ap_with)"); without+=("$(append_rate ap_without)")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
mw=$(median "${with[@]}"); mo=$(median "${without[@]}")
echo
echo "Append rate, $APPENDS appends per run, median of 3 runs (appends/s)"
printf '%-28s %10s\n' "without session index" "$mo" "with session index" "$mw"
awk -v a="$mw" -v b="$mo" 'BEGIN { printf "%-28s %9.1f%%\n", "change", (a - b) * 100 / b }'
