#!/usr/bin/env bash
# Ingest latency benchmark (not part of `make test`): publishes seed-like
# envelopes through RabbitMQ at a steady RATE per second for SECONDS, and
# measures for each event the time from publish to committed in PostgreSQL
# (bench/latency.c: the publisher stamps its send time into the payload and
# LISTENs for the store's post-commit notification).  PostgreSQL runs with
# fsync = on and the worker's defaults; with TIMEOUTS (a list of
# candystore.batch_timeout_ms values, default "20", the default setting) it
# runs once per value, reloading the setting in between.
#   bash bench/ingest_latency.sh [SECONDS] [RATE]
#   TIMEOUTS="5 20 50" bash bench/ingest_latency.sh 30 1000
# EXTRA_CONF adds one postgresql.conf line (diagnosis, e.g. "fsync = off").
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"

SECONDS_=${1:-30}
RATE=${2:-1000}
TIMEOUTS=${TIMEOUTS:-20}
cs_ensure_packages

bench_broker_setup bench-ingest-latency
cc -O2 -I"$("$(cs_pg_config)" --includedir)" -o "$RUN/latency" "$CS_ROOT/bench/latency.c" -lrabbitmq -lpq
bench_worker_cluster ${EXTRA_CONF:+"$EXTRA_CONF"}
psql_() { "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PP" -U postgres -d postgres -c "$1"; }
for _ in $(seq 1 100); do [ "$(psql_ "SELECT state FROM candystore.worker_status() WHERE kind = 'ingest'")" = consuming ] && break; sleep 0.2; done

wpid=$(psql_ "SELECT pid FROM candystore.worker_status() WHERE kind = 'ingest'")
rss() { awk '/^RssAnon:/ { print $2 }' "/proc/$wpid/status"; }
rss_start=$(rss)
rows=()
for t in $TIMEOUTS; do
    psql_ "ALTER SYSTEM SET candystore.batch_timeout_ms = $t"
    psql_ "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    b0=$(psql_ "SELECT batches FROM candystore.stats")
    cs_log "batch_timeout_ms = $t: publishing $RATE/s for ${SECONDS_}s"
    out=$("$RUN/latency" 127.0.0.1 "$RP" bloodbank.events.v1 bench.latency "$RATE" "$SECONDS_" \
        "host=127.0.0.1 port=$PP user=postgres dbname=postgres") || cs_log "not every event arrived: $out"
    b1=$(psql_ "SELECT batches FROM candystore.stats")
    rows+=("$t $out $((b1 - b0)) $(rss)")
done

echo
printf '%-18s %9s %12s %9s %8s %8s %8s %8s %14s\n' "batch_timeout_ms" "events/s" "events" "batches" "p50 ms" "p95 ms" "p99 ms" "max ms" "worker RssAnon"
for r in "${rows[@]}"; do
    read -r t recv sent p50 p95 p99 max batches rss_kb <<<"$r"
    printf '%-18s %9s %12s %9s %8s %8s %8s %8s %11s kB\n' "$t" "$RATE" "$recv/$sent" "$batches" "$p50" "$p95" "$p99" "$max" "$rss_kb"
done
echo "worker private memory (RssAnon) before the first run: $rss_start kB"
echo "load average at the end (2 cores shared with other work): $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(publish → committed, read after the store's post-commit NOTIFY; PostgreSQL fsync = on, other settings default${EXTRA_CONF:+, then: $EXTRA_CONF})"
