#!/usr/bin/env bash
# bench/ingest_instructions.sh [N]: the ingest worker's instructions per
# message, counted by valgrind (callgrind), which other work on a shared
# machine does not disturb the way it disturbs timings.  A cluster runs under
# callgrind with its own RabbitMQ; N preloaded seed-like envelopes (default
# 5000) are consumed, and the count covers what the worker does inside
# outcome_record_batch(): checking, parsing, storing, committing each batch
# (not reading the socket or acking).  Run by hand; not part of `make test`.
# Batch sizes follow the wall clock (candystore.batch_timeout_ms) and the
# count per message follows the batch sizes: to compare two builds on a busy
# machine, fix them with CS_BENCH_BATCH_TIMEOUT_MS=60000 (full batches of 500).
# CS_BENCH_COLLECT=candystore_ingest_main counts the whole worker instead
# (taking deliveries from the socket, copying them, acking); the inclusive
# profile then still shows outcome_record_batch's share.
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"
N=${1:-5000}
COLLECT=${CS_BENCH_COLLECT:-outcome_record_batch}
cs_ensure_packages valgrind

bench_broker_setup bench-ingest-instructions
bench_amqp_tool cs_publish
D=$RUN/cg
mkdir -p "$D"
[ "$(id -u)" -ne 0 ] || chown "$(cs_pg_user)" "$D"
cs_as_pg "$BIN/initdb" -D "$D/data" -A trust -U postgres >/dev/null
PORT=$(cs_free_port)
cat >> "$D/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$D'
shared_preload_libraries = 'candystore'
candystore.database = 'postgres'
candystore.amqp_url = 'amqp://guest:guest@127.0.0.1:$RP/'
candystore.outbox_publisher = off
CONF
[ -z "${CS_BENCH_BATCH_TIMEOUT_MS:-}" ] ||
    echo "candystore.batch_timeout_ms = $CS_BENCH_BATCH_TIMEOUT_MS" >> "$D/data/postgresql.conf"
# every process of the cluster runs under callgrind; only the ingest worker
# calls $COLLECT, so only its file counts anything
(cd "$D" && cs_as_pg valgrind -q --tool=callgrind --trace-children=yes \
    --toggle-collect="$COLLECT" --callgrind-out-file="$D/callgrind.%p" \
    "$BIN/postgres" -D "$D/data" > "$D/server.log" 2>&1) &
trap 'cs_as_pg "$BIN/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null 2>&1 || true; wait; bench_broker_cleanup' EXIT
psql_() { "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "$1"; }
for _ in $(seq 1 180); do psql_ "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
psql_ "CREATE EXTENSION candystore"
# the worker first waits on an idle queue while its own fills up
psql_ "ALTER SYSTEM SET candystore.queue = 'bench_idle'"
psql_ "ALTER SYSTEM SET candystore.binding_keys = 'bench.idle'"
psql_ "SELECT pg_reload_conf()" >/dev/null
sleep 10
cs_log "preloading $N messages, then the worker (under callgrind) consumes them"
"$RUN/cs_publish" 127.0.0.1 "$RP" bloodbank.events.v1 bench.ingest 256 "$N" 0 1 600 >/dev/null
wpid=$(psql_ "SELECT pid FROM candystore.worker_status()")
psql_ "ALTER SYSTEM RESET candystore.queue"
psql_ "ALTER SYSTEM RESET candystore.binding_keys"
psql_ "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 600); do
    [ "$(psql_ "SELECT stored + duplicates + dead_lettered FROM candystore.stats")" -ge "$N" ] && break
    sleep 2
done
outcome=$(psql_ "SELECT format('stored %s, duplicates %s, dead-lettered %s, batches %s', stored, duplicates, dead_lettered, batches) FROM candystore.stats")
cs_as_pg "$BIN/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null
wait
total=$(sed -n 's/^totals: //p' "$D/callgrind.$wpid" | head -1)
echo "worker: $outcome"
echo "instructions in $COLLECT: $total, per message: $((total / N))"
echo "(callgrind_annotate --inclusive=yes $D/callgrind.$wpid shows where they go)"
