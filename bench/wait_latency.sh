#!/usr/bin/env bash
# Tail latency of a reader waiting with wait_for_events() (not part of
# `make test`): while the ingest worker stores RATE events per second for
# SECONDS (published through RabbitMQ by bench/latency.c, as
# bench/ingest_latency.sh does), a reader (bench/wait_latency.c) loops on
# wait_for_events(cursor) and read_all(cursor), and takes for every
# transaction it reads the time from its commit (track_commit_timestamp) to
# wait_for_events() returning to the reader; and, for comparison, the time
# from the same commits to their NOTIFY reaching a listening client (how soon
# any wake-up gets through on the machine then).  Printed with the publish →
# committed latency of the same run.  PostgreSQL runs with fsync = on and the
# worker's defaults; a second round runs with fsync = off (see below).
#   bash bench/wait_latency.sh [SECONDS] [RATE]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"

SECONDS_=${1:-30}
RATE=${2:-1000}
cs_ensure_packages

bench_broker_setup bench-wait-latency
INC=$("$(cs_pg_config)" --includedir)
cc -O2 -I"$INC" -o "$RUN/latency" "$CS_ROOT/bench/latency.c" -lrabbitmq -lpq
cc -O2 -I"$INC" -o "$RUN/wait_latency" "$CS_ROOT/bench/wait_latency.c" -lpq
bench_worker_cluster "track_commit_timestamp = on"
psql_() { "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PP" -U postgres -d postgres -c "$1"; }
for _ in $(seq 1 100); do [ "$(psql_ "SELECT state FROM candystore.worker_status() WHERE kind = 'ingest'")" = consuming ] && break; sleep 0.2; done
CONN="host=127.0.0.1 port=$PP user=postgres dbname=postgres"

# Twice: fsync = on, as a server runs, and fsync = off, where the commit
# timestamp is (nearly) when the commit becomes visible, so the figure is
# wait_for_events()'s own latency rather than the commit's flush.
rows=()
for fs in on off; do
    psql_ "ALTER SYSTEM SET fsync = $fs" && psql_ "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    cs_log "fsync = $fs: publishing $RATE/s for ${SECONDS_}s while a reader waits with wait_for_events()"
    b0=$(psql_ "SELECT batches FROM candystore.stats")
    "$RUN/wait_latency" "$CONN" "$((SECONDS_ + 2))" > "$RUN/wait.out" &
    reader=$!
    pub=$("$RUN/latency" 127.0.0.1 "$RP" bloodbank.events.v1 bench.latency "$RATE" "$SECONDS_" "$CONN") ||
        cs_log "not every event arrived: $pub"
    wait "$reader"
    b1=$(psql_ "SELECT batches FROM candystore.stats")
    rows+=("$fs $((b1 - b0)) $pub $(sed -n 's/^wait //p' "$RUN/wait.out") $(sed -n 's/^listen //p' "$RUN/wait.out")")
done

echo
echo "$RATE events/s for ${SECONDS_}s each through the ingest worker (batch_timeout_ms default)"
printf '%-6s %9s %14s %-40s %8s %8s %8s %8s\n' "fsync" "batches" "samples" "latency" "p50 ms" "p95 ms" "p99 ms" "max ms"
for r in "${rows[@]}"; do
    read -r fs batches recv sent pp50 pp95 pp99 pmax txs events wp50 wp95 wp99 wmax nn np50 np95 np99 nmax <<<"$r"
    printf '%-6s %9s %14s %-40s %8s %8s %8s %8s\n' "$fs" "$batches" "$recv/$sent ev" "publish -> committed (NOTIFY)" "$pp50" "$pp95" "$pp99" "$pmax"
    printf '%-6s %9s %14s %-40s %8s %8s %8s %8s\n' "" "" "$txs tx" "commit -> wait_for_events() returns" "$wp50" "$wp95" "$wp99" "$wmax"
    printf '%-6s %9s %14s %-40s %8s %8s %8s %8s\n' "" "" "$nn notify" "commit -> NOTIFY received (comparison)" "$np50" "$np95" "$np99" "$nmax"
done
echo "(target: commit -> return p99 < 20 ms; commit times from track_commit_timestamp, taken before the commit's flush)"
echo "load average at the end (2 cores shared with other work): $(cut -d' ' -f1-3 /proc/loadavg)"
