#!/usr/bin/env bash
# bench/trace.sh [FLOWS] [RUNS]: causation queries on a generated store, side
# by side with naive recursive CTEs over a jsonb correlation_ids column (the
# seeds' migration target as written, and the same plus a GIN index), then
# the append rate with and without the trace bookkeeping.  FLOWS short flows
# of 4 events (default 35000, which with the chains, wide trees and mixed
# graphs, contiguous and interleaved with the flows, makes ~300,000 events;
# 235000 makes ~1,000,000).  Run by hand; not part of `make test`.
#
# Environment: APPENDS (appends per append-rate run, default 20000),
# PLAIN_RUNS / PLAIN_TIMEOUT (runs of the unindexed naive queries and their
# per-statement timeout, default 3 and 20s), APPEND_ROUNDS (default 5), BASE (the commit without the
# causation-group bookkeeping to compare append() with; default 62a6d9f),
# APPEND_ONLY=1 (skip the queries, measure the append rate only),
# QUERIES_ONLY=1 (measure the queries only).
source "$(dirname "$0")/../scripts/lib.sh"
FLOWS=${1:-35000}
RUNS=${2:-7}
APPENDS=${APPENDS:-20000}
PLAIN_RUNS=${PLAIN_RUNS:-3}
PLAIN_TIMEOUT=${PLAIN_TIMEOUT:-20s}
BASE=${BASE:-62a6d9f}
APPEND_ROUNDS=${APPEND_ROUNDS:-5}
cs_ensure_packages
RUN=$CS_RUN/bench-trace
BIN=$(cs_private_install "$RUN/pg")
DIR=$RUN/cluster
BASE_DIR=$RUN/base-cluster
rm -rf "$DIR" "$BASE_DIR"
CONF=("shared_preload_libraries = 'candystore'" "shared_buffers = '512MB'" "max_wal_size = '4GB'"
      "synchronous_commit = off"
      "jit = off"     # JIT compile time would dominate the naive CTEs' timings
      # the script vacuums every table itself, at known moments (trace.sql
      # prints how much of event_ids the visibility map then covers: the
      # walks read the group index alone only on all-visible pages)
      "autovacuum = off")
trap 'cs_pg_stop "$DIR" "$BIN"; [ -n "${BASE_BIN:-}" ] && cs_pg_stop "$BASE_DIR" "$BASE_BIN"' EXIT
# payload validation off: the generated payloads follow no schema, and it is not what is measured
cs_pg_start "$DIR" "$BIN" "${CONF[@]}" "candystore.validation = off"
PORT=$(cat "$DIR/port")
psql_at() { local port=$1; shift; "$BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -X -q "$@"; }
psql() { psql_at "$PORT" "$@"; }

if [ -z "${APPEND_ONLY:-}" ]; then
    psql -c "CREATE DATABASE bench" && psql -d bench -c "CREATE EXTENSION candystore"
    psql -d bench -v flows="$FLOWS" -v runs="$RUNS" -v plain_runs="$PLAIN_RUNS" \
         -v plain_timeout="$PLAIN_TIMEOUT" -f "$CS_ROOT/bench/trace.sql"
fi

[ -n "${QUERIES_ONLY:-}" ] && exit 0

# Append rate.  The baseline is append() as built from $BASE (no causation
# groups) in a second cluster, with and without the session index; this
# tree's append() is measured with and without the session index too.  Two
# workloads, each event with a meeting_id (the session index is updated each
# time: its worst case): "parent stored", flows of 4 events each naming the
# previous one; "parent not stored", each naming a random id never stored
# (the causation groups' costliest path).
cs_log "building $BASE for the append baseline"
if [ "$(cat "$RUN/base-src/.base" 2>/dev/null)" != "$BASE" ]; then    # else: already built
    rm -rf "$RUN/base-src" && mkdir -p "$RUN/base-src"
    git -C "$CS_ROOT" archive "$BASE" | tar -x -C "$RUN/base-src"
    echo "$BASE" > "$RUN/base-src/.base"
fi
BASE_BIN=$(CS_ROOT=$RUN/base-src cs_private_install "$RUN/base-pg")
cs_pg_start "$BASE_DIR" "$BASE_BIN" "${CONF[@]}"
BASE_PORT=$(cat "$BASE_DIR/port")

append_sql() {     # $1 = first i, $2 = count, $3 = parent kind (stored | missing)
    local parent
    if [ "$3" = stored ]; then
        parent="CASE WHEN i % 4 = 0 THEN '[]'::jsonb ELSE jsonb_build_array(md5('e' || (i - 1))::uuid) END"
    else
        parent="jsonb_build_array(gen_random_uuid())"
    fi
    echo "SELECT count(candystore.append(jsonb_build_object(
        'event_id', md5('e' || i)::uuid, 'event_type', 'fireflies.transcript.ready',
        'timestamp', '2026-01-27T10:15:00.123456Z', 'version', '1.0.0',
        'source', jsonb_build_object('host','b','type','webhook','app','fireflies','meta',null),
        'correlation_ids', $parent, 'agent_context', null,
        'payload', jsonb_build_object('id', 'ff_' || i, 'meeting_id', 'm' || (i / 4)))))
      FROM generate_series($1, $1 + $2 - 1) i;"
}
# Rates are appends per second of the backend's own CPU time (from
# /proc/<pid>/schedstat, so other work on the machine matters less than to
# wall-clock time), and per wall-clock second.
append_rate() {     # $1 = port, $2 = database, $3 = parent kind; prints "cpu_rate wall_rate"
    psql_at "$1" -d "$2" -At -c "$(append_sql 1000000000 400 "$3")" \
        -c "CREATE TEMP TABLE t AS SELECT clock_timestamp() AS s,
                   split_part(pg_read_file('/proc/' || pg_backend_pid() || '/schedstat'), ' ', 1)::numeric AS cpu" \
        -c "$(append_sql 0 "$APPENDS" "$3")" \
        -c "SELECT round($APPENDS / ((split_part(pg_read_file('/proc/' || pg_backend_pid() || '/schedstat'), ' ', 1)::numeric - cpu) / 1e9))
                   || ' ' || round($APPENDS / extract(epoch FROM clock_timestamp() - s)) FROM t" | tail -1
}
fresh_db() {        # $1 = port, $2 = database, $3 = keep the session index (yes | no)
    psql_at "$1" -c "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2"
    psql_at "$1" -d "$2" -c "CREATE EXTENSION candystore"
    [ "$3" = yes ] || psql_at "$1" -d "$2" -c "DROP INDEX IF EXISTS candystore.event_log_session_idx" -c "DROP INDEX IF EXISTS candystore.event_log_default_session_idx"
}
declare -A cpu wall
VARIANTS=(base_plain base_session now_plain now_all)
for round in $(seq 1 "$APPEND_ROUNDS"); do
    for kind in stored missing; do
        for v in "${VARIANTS[@]}"; do
            case $v in
                base_plain) port=$BASE_PORT; keep=no ;;
                base_session) port=$BASE_PORT; keep=yes ;;
                now_plain) port=$PORT; keep=no ;;
                now_all) port=$PORT; keep=yes ;;
            esac
            fresh_db "$port" ap "$keep" >/dev/null 2>&1
            read -r c w < <(append_rate "$port" ap "$kind")
            cpu[$kind.$v]+="$c "; wall[$kind.$v]+="$w "
        done
    done
    cs_log "append round $round done"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
best() { printf '%s\n' "$@" | sort -n | tail -1; }
# rate_table STAT: the rates of all variants by STAT (median | best) of the runs
rate_table() {
    local stat=$1 kind v b a g bw aw row
    printf '%-10s %18s %18s %18s %18s %12s %12s %12s\n' "parent" "$BASE bare" "$BASE +session" "now -session" "now (all on)" "groups only" "all vs bare" "wall: same"
    for kind in stored missing; do
        row=()
        for v in "${VARIANTS[@]}"; do
            # shellcheck disable=SC2086
            row+=("$($stat ${cpu[$kind.$v]}) [$($stat ${wall[$kind.$v]})]")
        done
        # shellcheck disable=SC2086
        b=$($stat ${cpu[$kind.base_plain]}); a=$($stat ${cpu[$kind.now_all]}); g=$($stat ${cpu[$kind.now_plain]})
        # shellcheck disable=SC2086
        bw=$($stat ${wall[$kind.base_plain]}); aw=$($stat ${wall[$kind.now_all]})
        printf '%-10s %18s %18s %18s %18s %11.1f%% %11.1f%% %11.1f%%\n' "$kind" "${row[@]}" \
            "$(awk -v a="$g" -v b="$b" 'BEGIN { print (a - b) * 100 / b }')" \
            "$(awk -v a="$a" -v b="$b" 'BEGIN { print (a - b) * 100 / b }')" \
            "$(awk -v a="$aw" -v b="$bw" 'BEGIN { print (a - b) * 100 / b }')"
    done
}
echo
echo "Append rate: $APPENDS appends per run in one statement, $APPEND_ROUNDS runs, each variant in a fresh database;"
echo "appends per second of backend CPU time (per wall-clock second in brackets)"
echo "Median of the runs:"
rate_table median
echo "Best run (noise on this machine only ever slows a run down):"
rate_table best
echo "($BASE bare: append() before causation groups, session index dropped; +session: with it;"
echo " now -session: this tree without the session index (causation groups only); now (all on): this tree as installed;"
echo " groups only: now -session vs bare, what the causation bookkeeping costs; all vs bare: the session index too.)"
echo "(stored: flows of 4 events, each naming the previous one; missing: each names a random id never stored.)"
echo "Every run, appends per CPU second:"
for kind in stored missing; do
    for v in "${VARIANTS[@]}"; do
        echo "  $kind $v: ${cpu[$kind.$v]}"
    done
done
