#!/usr/bin/env bash
# High availability and cells benchmark (not part of `make test`), one run
# against a 3-node RabbitMQ cluster on this machine (distinct node names,
# ports and data directories, one cookie), PostgreSQL with fsync = on:
#   quorum       the ingest worker storing N preloaded messages from a quorum
#                queue (replicated on the 3 nodes)
#   classic      the same worker, same settings, from a classic queue (one
#                node, not replicated)
#   raw drain    a no-op consumer with manual acks (bench/drain.c) of the
#                same quorum queue and of the classic one: the broker's limit
#   one cell     an installation behind the consistent-hash exchange, alone
#   two cells    two installations behind it, the stream split by flow key
#                (1000 flows): aggregate events/s (same machine, so they share
#                its 2 cores with the broker)
#   failover     kill -9 of the node the worker is connected to (it also
#                leads the quorum queue) while a client publishes through
#                another node: time to the worker's reconnection and to the
#                first event stored through another node
# Usage: bash bench/cluster.sh [N]   (default 20000)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"

N=${1:-20000}
NODES=3
RUN=$CS_RUN/bench-cluster
BIN=""
PGS=()        # PostgreSQL directories under RUN started here

cleanup() {
    local d i
    [ -z "${pub:-}" ] || { touch "$RUN/stop_publishing"; kill "$pub" 2>/dev/null || true; }
    for d in "${PGS[@]}"; do [ -z "$BIN" ] || cs_pg_stop "$d" "$BIN"; done
    for i in $(seq 1 "$NODES"); do [ ! -d "$RUN/rmq$i" ] || cs_rabbit_stop "$RUN/rmq$i"; done
    [ ! -d "$RUN/rmq1" ] || cs_rabbit_epmd_stop "$RUN/rmq1"
}
trap cleanup EXIT
rm -rf "$RUN"; mkdir -p "$RUN"
BIN=$(cs_private_install "$RUN/pg")
bench_amqp_tool cs_publish
cc -O2 -I"$("$(cs_pg_config)" --includedir)" -o "$RUN/drain" "$CS_ROOT/bench/drain.c" -lrabbitmq -lpq

# The cluster: nodes with one cookie and one epmd (as t/CandystoreBroker.pm
# start_cluster), started together, nodes 2.. joined to node 1.
cs_log "starting a $NODES-node RabbitMQ cluster"
epmd=$(cs_free_port)
cookie=$(printf 'CSBENCH%s' "$(date +%s%N)" | tr 0-9 A-J)
for i in $(seq 1 "$NODES"); do
    d=$RUN/rmq$i
    mkdir -p "$d"
    echo "csbench$$-$i@localhost" > "$d/node"
    echo "$epmd" > "$d/epmd_port"
    : > "$d/shared_epmd"
    printf '%s' "$cookie" > "$d/.erlang.cookie"; chmod 0400 "$d/.erlang.cookie"
    echo rabbitmq_consistent_hash_exchange > "$d/plugins"
done
for i in $(seq 1 "$NODES"); do cs_rabbit_start "$RUN/rmq$i" & done
wait
for i in $(seq 2 "$NODES"); do
    cs_rabbitmqctl "$RUN/rmq$i" stop_app >/dev/null
    cs_rabbitmqctl "$RUN/rmq$i" join_cluster "$(cat "$RUN/rmq1/node")" >/dev/null
    cs_rabbitmqctl "$RUN/rmq$i" start_app >/dev/null
done
port() { cat "$RUN/rmq$1/port"; }
URLS=$(for i in $(seq 1 "$NODES"); do printf 'amqp://guest:guest@127.0.0.1:%s/,' "$(port "$i")"; done)
URLS=${URLS%,}

# start_pg NAME CONF...: a cluster under RUN/NAME with its workers on the broker cluster
start_pg() {
    local name=$1; shift
    cs_pg_start "$RUN/$name" "$BIN" "shared_preload_libraries = 'candystore'" "fsync = on" \
        "candystore.database = 'postgres'" "candystore.amqp_url = '$URLS'" "candystore.amqp_heartbeat = 2" \
        "candystore.outbox_publisher = off" "candystore.reconnect_max_ms = 500" \
        "candystore.dead_letter_queue_type = quorum" "$@"
    PGS+=("$RUN/$name")
}
psql_at() { "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$(cat "$RUN/$1/port")" -U postgres -d postgres -c "$2"; }
consuming_since() { psql_at "$1" "SELECT max(connected_since) FROM candystore.worker_status() WHERE kind = 'ingest' AND state = 'consuming'"; }
# await_consuming NAME [OLD]: until its worker consumes on a connection newer than OLD
await_consuming() {
    for _ in $(seq 1 600); do
        local now; now=$(consuming_since "$1")
        [ -n "$now" ] && [ "$now" != "${2:-}" ] && return 0
        sleep 0.1
    done
    cs_die "the worker of $1 does not consume"
}
# switch NAME SETTING=VALUE...: ALTER SYSTEM, reload, and wait for the reconnection
switch() {
    local name=$1 kv since; shift
    since=$(consuming_since "$name")
    for kv in "$@"; do psql_at "$name" "ALTER SYSTEM SET candystore.${kv%%=*} = '${kv#*=}'"; done
    psql_at "$name" "SELECT pg_reload_conf()" >/dev/null
    await_consuming "$name" "$since"
}
stored() { psql_at "$1" "SELECT stored + duplicates + dead_lettered FROM candystore.stats"; }
# until_stored NAME COUNT: waits until the worker of NAME has handled COUNT in all
until_stored() {
    for _ in $(seq 1 6000); do [ "$(stored "$1")" -ge "$2" ] && return 0; sleep 0.05; done
    cs_die "$1 stored $(stored "$1") of $2"
}
publish() { "$RUN/cs_publish" 127.0.0.1 "$(port 1)" bloodbank.events.v1 "$@" >/dev/null; }
now() { date +%s.%N; }
secs() { awk "BEGIN { printf \"%.2f\", $2 - $1 }"; }

# --- quorum vs classic vs raw drain -----------------------------------------
cs_log "the worker against a quorum and a classic queue"
start_pg main "candystore.queue = 'bench_quorum'" "candystore.queue_type = quorum" \
    "candystore.binding_keys = 'bench.quorum'" "min_wal_size = '1GB'" "max_wal_size = '4GB'"
psql_at main "CREATE EXTENSION candystore"
await_consuming main
idle=(queue=bench_idle queue_type=classic binding_keys=bench.idle)
switch main queue=bench_classic queue_type=classic binding_keys=bench.classic
switch main "${idle[@]}"
cs_log "preloading: $N for each raw drain and each worker run"
publish bench.quorum 301 "$N" 0 1 600
raw_q=$("$RUN/drain" 127.0.0.1 "$(port 1)" bench_quorum "$N" noop)
publish bench.classic 302 "$N" 0 1 600
raw_c=$("$RUN/drain" 127.0.0.1 "$(port 1)" bench_classic "$N" noop)
publish bench.quorum 303 "$N" 0 1 600
publish bench.classic 304 "$N" 0 1 600
psql_at main "CHECKPOINT"
base=$(stored main); t0=$(now)
switch main queue=bench_quorum queue_type=quorum binding_keys=bench.quorum
until_stored main $((base + N)); w_q=$(secs "$t0" "$(now)")
switch main "${idle[@]}"
psql_at main "CHECKPOINT"
base=$(stored main); t0=$(now)
switch main queue=bench_classic queue_type=classic binding_keys=bench.classic
until_stored main $((base + N)); w_c=$(secs "$t0" "$(now)")
switch main "${idle[@]}"

# --- one cell vs two cells ---------------------------------------------------
# Each installation declares its queue and binding, is stopped while the
# stream is preloaded, then started.  Timed from the first batch to the last
# (recorded_at: each batch's start, one clock), so that the servers' start
# counts in neither.
# span NAME...: seconds from the first event stored in these cells to the last
span() {
    local c lo=9e18 hi=0 row
    for c in "$@"; do
        row=$(psql_at "$c" "SELECT extract(epoch FROM min(recorded_at)), extract(epoch FROM max(recorded_at)) FROM candystore.event_log")
        lo=$(awk "BEGIN { printf \"%.6f\", (${row%|*} < $lo) ? ${row%|*} : $lo }")
        hi=$(awk "BEGIN { printf \"%.6f\", (${row#*|} > $hi) ? ${row#*|} : $hi }")
    done
    secs "$lo" "$hi"
}
cs_log "one cell vs two cells"
start_pg solo "candystore.cell_id = 'solo'" "candystore.cell_exchange = 'one_cell'" "candystore.queue = 'cell_solo'" \
    "candystore.queue_type = quorum" "candystore.binding_keys = 'bench.one'"
start_pg cell_a "candystore.cell_id = 'a'" "candystore.cell_exchange = 'two_cells'" "candystore.queue = 'cell_a'" \
    "candystore.queue_type = quorum" "candystore.binding_keys = 'bench.two'"
start_pg cell_b "candystore.cell_id = 'b'" "candystore.cell_exchange = 'two_cells'" "candystore.queue = 'cell_b'" \
    "candystore.queue_type = quorum" "candystore.binding_keys = 'bench.two'"
for c in solo cell_a cell_b; do psql_at "$c" "CREATE EXTENSION candystore"; await_consuming "$c"; cs_pg_stop "$RUN/$c" "$BIN"; done
publish bench.one 305 "$N" 0 1 600 500 1000
publish bench.two 306 "$N" 0 1 600 500 1000
pg_start_again() { cs_as_pg "$BIN/pg_ctl" -D "$RUN/$1/data" -o "-p $(cat "$RUN/$1/port")" -l "$RUN/$1/server.log" -w -t 60 start >/dev/null; }
pg_start_again solo
until_stored solo "$N"; one_s=$(span solo)
cs_pg_stop "$RUN/solo" "$BIN"
pg_start_again cell_a & pg_start_again cell_b & wait
for _ in $(seq 1 6000); do
    [ $(( $(stored cell_a) + $(stored cell_b) )) -ge "$N" ] && break
    sleep 0.05
done
two_s=$(span cell_a cell_b)
split="$(stored cell_a) + $(stored cell_b)"
cs_pg_stop "$RUN/cell_a" "$BIN"; cs_pg_stop "$RUN/cell_b" "$BIN"

# --- kill -9 of the connected node ------------------------------------------
# The worker is on node 1 (first URL) and the quorum queue was declared
# there (its leader).  A client publishes through node 2 meanwhile.
cs_log "kill -9 of the node the worker is connected to"
switch main queue=bench_quorum queue_type=quorum binding_keys=bench.quorum
case "$(psql_at main "SELECT broker FROM candystore.worker_status() WHERE kind = 'ingest'")" in
    *":$(port 1)/") ;; *) cs_die "the worker is not on node 1" ;;
esac
leader=$(cs_rabbitmqctl "$RUN/rmq2" list_queues name leader --no-table-headers 2>/dev/null | awk '$1 == "bench_quorum" { print $2 }' || true)
# publishing through node 2 until told to stop, new events each round
(k=0; while [ ! -e "$RUN/stop_publishing" ]; do
    "$RUN/cs_publish" 127.0.0.1 "$(port 2)" bloodbank.events.v1 bench.quorum $((1000 + k)) 1000 0 1 600 >/dev/null 2>&1 || sleep 0.2
    k=$((k + 1))
done) &
pub=$!
until_stored main $(( $(stored main) + 1000 ))
kill_epoch=$(now)
kill -KILL "$(cat "$RUN/rmq1/pid")"
while kill -0 "$(cat "$RUN/rmq1/pid")" 2>/dev/null; do sleep 0.01; done
rm -f "$RUN/rmq1/pid"
for _ in $(seq 1 1200); do
    row=$(psql_at main "SELECT extract(epoch FROM s.connected_since),
                               (SELECT extract(epoch FROM min(e.recorded_at)) FROM candystore.event_log e
                                 WHERE e.recorded_at >= s.connected_since)
                          FROM candystore.worker_status() s
                         WHERE s.kind = 'ingest' AND s.state = 'consuming' AND s.broker NOT LIKE '%:$(port 1)/'")
    [ -n "${row#*|}" ] && [ -n "$row" ] && break
    sleep 0.05
done
[ -n "${row#*|}" ] || cs_die "no event stored through another node"
reconnect_s=$(secs "$kill_epoch" "${row%|*}")
first_s=$(secs "$kill_epoch" "${row#*|}")
touch "$RUN/stop_publishing"; wait "$pub" || true

rate() { awk "BEGIN { printf \"%.0f\", $1 / $2 }"; }
echo
printf '%-58s %9s %9s %9s\n' "run ($NODES-node RabbitMQ cluster, fsync = on)" "messages" "seconds" "msg/s"
printf '%-58s %9s %9s %9s\n' "raw drain of the quorum queue (no-op, manual acks)" "$N" "$raw_q" "$(rate "$N" "$raw_q")"
printf '%-58s %9s %9s %9s\n' "raw drain of the classic queue" "$N" "$raw_c" "$(rate "$N" "$raw_c")"
printf '%-58s %9s %9s %9s\n' "worker, quorum queue" "$N" "$w_q" "$(rate "$N" "$w_q")"
printf '%-58s %9s %9s %9s\n' "worker, classic queue" "$N" "$w_c" "$(rate "$N" "$w_c")"
printf '%-58s %9s %9s %9s\n' "one cell (hash exchange, quorum queue)" "$N" "$one_s" "$(rate "$N" "$one_s")"
printf '%-58s %9s %9s %9s\n' "two cells, aggregate ($split)" "$N" "$two_s" "$(rate "$N" "$two_s")"
echo
printf 'worker quorum / classic: %.0f%%   worker quorum / raw drain of it: %.0f%%   two cells / one: %.2fx\n' \
    "$(awk "BEGIN { print 100 * $w_c / $w_q }")" "$(awk "BEGIN { print 100 * $raw_q / $w_q }")" \
    "$(awk "BEGIN { print $one_s / $two_s }")"
echo "kill -9 of the connected node (leader of the queue: ${leader:-?}): worker consuming through another node after ${reconnect_s} s, first event stored through it after ${first_s} s (heartbeat 2 s)"
echo "(worker times include the settings reload and reconnection; cell times run from the first batch to the start of the last)"
echo "load average at the end (2 cores shared with other work): $(cut -d' ' -f1-3 /proc/loadavg)"
