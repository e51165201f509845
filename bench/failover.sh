#!/usr/bin/env bash
# Failover benchmark (not part of `make test`): a primary with candystore
# and a streaming hot standby (pg_basebackup), a private RabbitMQ, fsync = on.
# Measures in one run:
#   ingest     the worker drains N preloaded messages, once with the standby
#              asynchronous and once synchronous (synchronous_standby_names,
#              candystore.require_sync_standby = on): events/s
#   latency    publish → committed (bench/latency.c) at RATE/s for SECONDS,
#              asynchronous vs synchronous standby: p50/p95/p99/max
#   failover   the primary lost (every process SIGSTOPped then SIGKILLed),
#              1,000 events published, the standby promoted at once
#              (pg_ctl promote): time from the kill to the promotion, to the
#              first event stored on the new primary, and to all 1,000.
#              Failure detection (a failover manager's health checks) is
#              not included: add its timeouts.
# Usage: bash bench/failover.sh [N] [SECONDS] [RATE]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"

N=${1:-20000}
SECONDS_=${2:-20}
RATE=${3:-500}
cs_ensure_packages

bench_broker_setup bench-failover
SB=$RUN/standby
trap 'cs_pg_stop "$SB" "$BIN"; bench_broker_cleanup' EXIT
bench_amqp_tool cs_publish
cc -O2 -I"$("$(cs_pg_config)" --includedir)" -o "$RUN/latency" "$CS_ROOT/bench/latency.c" -lrabbitmq -lpq
bench_worker_cluster "candystore.outbox_publisher = off" "min_wal_size = '1GB'" "max_wal_size = '4GB'"
psql_() { "$BIN/psql" -X -q -At -h 127.0.0.1 -p "${2:-$PP}" -U postgres -d postgres -c "$1"; }
ingest_state() { psql_ "SELECT state FROM candystore.worker_status() WHERE kind = 'ingest'" "${1:-$PP}"; }
await_state() {   # await_state STATE [PORT]
    for _ in $(seq 1 300); do [ "$(ingest_state "${2:-}")" = "$1" ] && return 0; sleep 0.1; done
    cs_die "the ingest worker never reached state '$1' (now: $(ingest_state "${2:-}"))"
}
settings() {      # settings 'name = value'...: ALTER SYSTEM each, then reload
    local s
    for s in "$@"; do psql_ "ALTER SYSTEM SET ${s%% = *} = ${s#* = }"; done
    psql_ "SELECT pg_reload_conf()" >/dev/null
}
run_prefix() { printf "%08x-" "$1"; }
stored_run() { psql_ "SELECT count(*) FROM candystore.event_log WHERE event_id::text LIKE '$(run_prefix "$1")%'" "${2:-$PP}"; }
# until_stored RUN COUNT PORT: waits (one psql polling every 10 ms) until
# COUNT events of RUN are stored on the server at PORT
until_stored() {
    printf '%s\n' "SELECT count(*) FROM candystore.event_log WHERE event_id::text LIKE '$(run_prefix "$1")%'" '\watch 0.01' |
        "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$3" -U postgres -d postgres 2>/dev/null |
        while read -r v; do [ -n "$v" ] && [ "$v" -ge "$2" ] && break; done || true
}
await_state consuming

cs_log "standby: pg_basebackup, streaming"
mkdir -p "$SB"; [ "$(id -u)" -ne 0 ] || chown "$(cs_pg_user)" "$SB"
cs_as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PP" -U postgres -D "$SB/data" -R -X stream >/dev/null
SP=$(cs_free_port)
cs_as_pg "$BIN/pg_ctl" -D "$SB/data" -o "-p $SP -c cluster_name=standby -c unix_socket_directories=$SB" \
    -l "$SB/server.log" -w -t 60 start >/dev/null
for _ in $(seq 1 100); do [ "$(psql_ "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ] && break; sleep 0.1; done

# 1. ingest rate: N messages held in the queue (require_sync_standby with
# no synchronous standby named), then released asynchronously or synchronously
declare -A rate
run=300
for mode in async sync; do
    run=$((run + 1))
    settings "candystore.require_sync_standby = on" "synchronous_standby_names = ''"
    cs_log "$mode: preloading $N messages"
    "$RUN/cs_publish" 127.0.0.1 "$RP" bloodbank.events.v1 bench.failover "$run" "$N" 0 1 600 >/dev/null
    await_state "waiting: synchronous_standby_names is empty"
    psql_ "CHECKPOINT"
    t0=$(date +%s.%N)
    if [ "$mode" = async ]; then
        settings "candystore.require_sync_standby = off"
    else
        settings "synchronous_standby_names = 'standby'"
    fi
    until_stored "$run" "$N" "$PP"
    t1=$(date +%s.%N)
    rate[$mode]=$(awk "BEGIN { printf \"%.0f\", $N / ($t1 - $t0) }")
    cs_log "$mode: ${rate[$mode]} events/s"
done

# 2. latency at a steady rate
declare -A lat
for mode in async sync; do
    if [ "$mode" = async ]; then
        settings "candystore.require_sync_standby = off" "synchronous_standby_names = ''"
    else
        settings "candystore.require_sync_standby = on" "synchronous_standby_names = 'standby'"
    fi
    sleep 1
    cs_log "$mode: publishing $RATE/s for ${SECONDS_}s"
    lat[$mode]=$("$RUN/latency" 127.0.0.1 "$RP" bloodbank.events.v1 bench.latency "$RATE" "$SECONDS_" \
        "host=127.0.0.1 port=$PP user=postgres dbname=postgres") || cs_log "not every event arrived: ${lat[$mode]}"
done
sync_state=$(psql_ "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'")

# 3. failover: the primary lost as in a power cut, the standby promoted
cs_log "failover: losing the primary"
pm=$(head -1 "$RUN/pgd/data/postmaster.pid")
kill -STOP "$pm"
children=$(ps -o pid= --ppid "$pm" | tr '\n' ' ')
# shellcheck disable=SC2086
kill -STOP $children
t0=$(date +%s.%N)
# shellcheck disable=SC2086
kill -KILL "$pm" $children
"$RUN/cs_publish" 127.0.0.1 "$RP" bloodbank.events.v1 bench.failover 399 1000 0 1 600 >/dev/null
cs_as_pg "$BIN/pg_ctl" -D "$SB/data" -w -t 60 promote >/dev/null
t_promoted=$(date +%s.%N)
until_stored 399 1 "$SP"
t_first=$(date +%s.%N)
until_stored 399 1000 "$SP"
t_all=$(date +%s.%N)
rm -f "$RUN/pgd/data/postmaster.pid"   # nothing left to stop there
lost=$(( N * 2 - $(stored_run 301 "$SP") - $(stored_run 302 "$SP") ))

echo
printf '%-34s %12s %12s\n' "" "asynchronous" "synchronous"
printf '%-34s %12s %12s\n' "ingest, $N preloaded (events/s)" "${rate[async]}" "${rate[sync]}"
read -r ar as a50 a95 a99 amax <<<"${lat[async]}"
read -r sr ss s50 s95 s99 smax <<<"${lat[sync]}"
printf '%-34s %12s %12s\n' "latency at $RATE/s: received/sent" "$ar/$as" "$sr/$ss"
printf '%-34s %12s %12s\n' "  p50 ms" "$a50" "$s50"
printf '%-34s %12s %12s\n' "  p95 ms" "$a95" "$s95"
printf '%-34s %12s %12s\n' "  p99 ms" "$a99" "$s99"
printf '%-34s %12s %12s\n' "  max ms" "$amax" "$smax"
echo "(the standby's sync_state during the synchronous runs: $sync_state)"
echo
awk -v p="$t_promoted" -v f="$t_first" -v a="$t_all" -v t="$t0" 'BEGIN {
    printf "failover (synchronous standby, kill -9 of every primary process, then pg_ctl promote):\n"
    printf "  kill -> promoted                  %8.0f ms\n", (p - t) * 1000
    printf "  kill -> first event stored        %8.0f ms\n", (f - t) * 1000
    printf "  kill -> all 1,000 events stored   %8.0f ms\n", (a - t) * 1000 }'
echo "  events of the ingest runs missing on the promoted standby: $lost"
echo "load average at the end (2 cores shared with other work): $(cut -d' ' -f1-3 /proc/loadavg)"
