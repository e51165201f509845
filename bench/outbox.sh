#!/usr/bin/env bash
# Outbox benchmark (not part of `make test`), one run on one broker and
# machine, PostgreSQL with fsync = on:
#   raw        a rabbitmq-c publisher with confirms (t/cs_publish.c, 500 in
#              flight) sends N ~1 KB envelopes; rate = N / (start -> the
#              consumer has all N)
#   pipelined  the same publisher sending all N before it waits for the
#              confirms at the end (cs_publish WINDOW 0), same bodies
#   outbox     N envelopes go through candystore.publish() in one statement
#              and transaction; rate = N / (COMMIT -> the consumer has all
#              N), and N / (start of the statement -> the consumer has all
#              N), the enqueue included; the publisher at
#              candystore.outbox_batch_size = 500; the publisher's and the
#              broker's CPU time over it, when the first message arrived,
#              and when every row was marked published (the publisher marks
#              a burst once all of it is confirmed, after its delivery)
#   publish    publish() against append() in instructions (callgrind), in
#              bulk and one per statement: bench/publish_instructions.sh,
#              run here (PUBLISH_BULK, PUBLISH_SINGLE)
# The outbox statement publishes envelopes read from a staging table built
# (and vacuumed) before any timing, as bench/append_many.sh does: the raw
# publisher is handed ready-made bodies, so building the envelopes in SQL
# inside the timed statement (a third of its instructions) would charge the
# outbox with work the baseline does not do.
#   latency    LAT_N single-event transactions at LAT_RATE/s (pgbench -R,
#              Poisson arrivals): consumer receipt minus the time pgbench saw
#              the commit
# Usage: bash bench/outbox.sh [N, default 100000]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"

N=${1:-100000}
LAT_N=${LAT_N:-1000}
LAT_RATE=${LAT_RATE:-20}
PUBLISH_BULK=${PUBLISH_BULK:-5000}
PUBLISH_SINGLE=${PUBLISH_SINGLE:-1000}
cs_ensure_packages

cs_log "publish() against append(): bench/publish_instructions.sh $PUBLISH_BULK $PUBLISH_SINGLE"
append_out=$(bash "$CS_ROOT/bench/publish_instructions.sh" "$PUBLISH_BULK" "$PUBLISH_SINGLE" | tee /dev/stderr)

bench_broker_setup bench-outbox
chmod o+rwx "$RUN"
bench_amqp_tool cs_publish
bench_amqp_tool cs_consume
bench_worker_cluster "synchronous_commit = on" "shared_buffers = '512MB'" "max_wal_size = '4GB'" \
    "candystore.ingest_workers = 0" "candystore.outbox_batch_size = 500"
psql_() { "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PP" -U postgres -d postgres "$@"; }
bench_envelope_sql | psql_
# the envelopes the outbox statement publishes, made and vacuumed (hint bits
# set, the visibility map written) before anything is timed
psql_ <<SQL
CREATE TABLE staging AS SELECT n, bench_envelope(n) AS doc FROM generate_series(1, $N) n;
VACUUM (FREEZE, ANALYZE) staging;
SQL
for q in raw pipelined outbox latency; do
    "$RUN/cs_consume" 127.0.0.1 "$RP" declare "bench_$q" bloodbank.events.v1 "bench.$q"
done
now_us() { date +%s%6N; }
last_receipt() { tail -1 "$1" | cut -d' ' -f1; }
count() { wc -l < "$1"; }

cs_log "raw rabbitmq-c publisher with confirms: $N messages"
"$RUN/cs_consume" 127.0.0.1 "$RP" consume bench_raw "$N" 20000 > "$RUN/raw.txt" &
consumer=$!
sleep 0.5
t0=$(now_us)
"$RUN/cs_publish" 127.0.0.1 "$RP" bloodbank.events.v1 bench.raw 900 "$N" 0 1 600 >/dev/null
wait $consumer
raw_n=$(count "$RUN/raw.txt"); raw_s=$(awk "BEGIN { print ($(last_receipt "$RUN/raw.txt") - $t0) / 1e6 }")

# CPU time (user + system clock ticks) of a process, and ticks as seconds
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_s() { awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }'; }
broker_pid=$(cat "$RUN/rmq/pid")

cs_log "raw rabbitmq-c publisher, pipelined confirms (all sent, then the confirms awaited): $N messages"
"$RUN/cs_consume" 127.0.0.1 "$RP" consume bench_pipelined "$N" 20000 > "$RUN/pipelined.txt" &
consumer=$!
sleep 0.5
broker_cpu0=$(cpu_ticks "$broker_pid")
t0=$(now_us)
"$RUN/cs_publish" 127.0.0.1 "$RP" bloodbank.events.v1 bench.pipelined 901 "$N" 0 1 600 0 >/dev/null
wait $consumer
pipe_broker_cpu_s=$(cpu_s "$broker_cpu0" "$(cpu_ticks "$broker_pid")")
pipe_n=$(count "$RUN/pipelined.txt"); pipe_s=$(awk "BEGIN { print ($(last_receipt "$RUN/pipelined.txt") - $t0) / 1e6 }")

cs_log "outbox: $N publish() in one transaction, then the publisher"
# the publisher's and the broker's CPU time over the delivery
pub_pid=$(psql_ -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'candystore outbox publisher'")
pub_cpu0=$(cpu_ticks "$pub_pid")
broker_cpu0=$(cpu_ticks "$broker_pid")
"$RUN/cs_consume" 127.0.0.1 "$RP" consume bench_outbox "$N" 20000 > "$RUN/outbox.txt" &
consumer=$!
psql_ <<SQL
BEGIN;
\! date +%s%6N > $RUN/start_us
SELECT count(candystore.publish(doc, 'bench.outbox')) FROM staging \g /dev/null
\! date +%s%6N > $RUN/commit_us
COMMIT;
SQL
wait $consumer
pub_cpu_s=$(cpu_s "$pub_cpu0" "$(cpu_ticks "$pub_pid")")
outbox_broker_cpu_s=$(cpu_s "$broker_cpu0" "$(cpu_ticks "$broker_pid")")
t0=$(cat "$RUN/commit_us")
outbox_n=$(count "$RUN/outbox.txt"); outbox_s=$(awk "BEGIN { print ($(last_receipt "$RUN/outbox.txt") - $t0) / 1e6 }")
first_s=$(awk "BEGIN { print ($(head -1 "$RUN/outbox.txt" | cut -d' ' -f1) - $t0) / 1e6 }")
enqueue_s=$(awk "BEGIN { print ($t0 - $(cat "$RUN/start_us")) / 1e6 }")
outbox_all_s=$(awk "BEGIN { print $outbox_s + $enqueue_s }")
# the publisher marks a burst once all of it is confirmed, after the last
# arrival: wait for the marks, and count their time and CPU apart
for _ in $(seq 1 6000); do
    [ "$(psql_ -c "SELECT count(*) FROM candystore.outbox WHERE published_at IS NULL")" = 0 ] && break
    sleep 0.01
done
marked_s=$(awk "BEGIN { print ($(now_us) - $t0) / 1e6 }")
pub_cpu_marked_s=$(cpu_s "$pub_cpu0" "$(cpu_ticks "$pub_pid")")
stats=$(psql_ -c "SELECT format('published %s, confirms %s, nacks %s, batches %s', outbox_published, outbox_confirms, outbox_nacks, outbox_batches) FROM candystore.stats")

cs_log "idle latency: $LAT_N single-event transactions at $LAT_RATE/s"
"$RUN/cs_consume" 127.0.0.1 "$RP" consume bench_latency "$LAT_N" 20000 > "$RUN/latency.txt" &
consumer=$!
echo "SELECT candystore.publish(bench_envelope(1), 'bench.latency');" > "$RUN/one.sql"
(cd "$RUN" && "$BIN/pgbench" -n -h 127.0.0.1 -p "$PP" -U postgres -c 1 -R "$LAT_RATE" -t "$LAT_N" \
    -f one.sql -l --log-prefix=lat postgres >/dev/null 2>&1)
wait $consumer
# one client, one transaction at a time: the k-th commit is the k-th message
sort -n -k2 "$RUN"/lat.* | awk '{ printf "%.0f\n", $5 * 1000000 + $6 }' > "$RUN/commit_times"
lat=$(paste -d' ' "$RUN/commit_times" <(cut -d' ' -f1 "$RUN/latency.txt") |
      awk '{ print ($2 - $1) / 1000 }' | sort -n |
      awk '{ a[NR] = $1 } END { printf "%d %.2f %.2f %.2f", NR, a[int((NR + 1) / 2)], a[int(NR * 0.99 + 0.5)], a[NR] }')
read -r lat_n lat_p50 lat_p99 lat_max <<< "$lat"

rate() { awk "BEGIN { printf \"%.0f\", $1 / $2 }"; }
raw_r=$(rate "$raw_n" "$raw_s"); pipe_r=$(rate "$pipe_n" "$pipe_s")
outbox_r=$(rate "$outbox_n" "$outbox_s"); outbox_all_r=$(rate "$outbox_n" "$outbox_all_s")
# publish/append in instructions, the envelopes' construction included
pub1=$(awk '/^1 per statement/ { print $(NF - 1) }' <<< "$append_out")
pubbulk=$(awk -v b="$PUBLISH_BULK" '$1 == b && $2 == "per" { print $(NF - 1) }' <<< "$append_out")
pct() { awk "BEGIN { printf \"%.0f\", 100 * $1 / $2 }"; }
echo
printf '%-52s %10s %10s %10s\n' "delivery to a consumer" "messages" "seconds" "msg/s"
printf '%-52s %10s %10.2f %10s\n' "raw rabbitmq-c publisher, confirms (500 in flight)" "$raw_n" "$raw_s" "$raw_r"
printf '%-52s %10s %10.2f %10s\n' "raw rabbitmq-c publisher, pipelined confirms" "$pipe_n" "$pipe_s" "$pipe_r"
printf '%-52s %10s %10.2f %10s\n' "outbox publisher (batch 500), from COMMIT" "$outbox_n" "$outbox_s" "$outbox_r"
printf '%-52s %10s %10.2f %10s\n' "outbox, from the start of the publish() statement" "$outbox_n" "$outbox_all_s" "$outbox_all_r"
echo "(the statement of $N publish() calls took $enqueue_s s before its COMMIT; the first message"
echo " arrived $first_s s after it; the publisher used $pub_cpu_s s of CPU from the statement's start to the last arrival;"
echo " the broker used $pipe_broker_cpu_s s of CPU over the pipelined raw run, $outbox_broker_cpu_s s over the outbox's,"
echo " on $(nproc) CPUs; every row was marked published $marked_s s after the COMMIT (polled),"
echo " the publisher's CPU by then $pub_cpu_marked_s s)"
echo
printf '%-52s %12s %12s\n' "measure" "result" "target"
printf '%-52s %11s%% %12s\n' "outbox from COMMIT / raw, 500 in flight" "$(pct "$outbox_r" "$raw_r")" ""
printf '%-52s %11s%% %12s\n' "outbox from COMMIT / raw, pipelined confirms" "$(pct "$outbox_r" "$pipe_r")" "≥ 60%"
printf '%-52s %11s%% %12s\n' "outbox from the statement / raw, pipelined" "$(pct "$outbox_all_r" "$pipe_r")" "≥ 60%"
printf '%-52s %12s %12s\n' "publish() / append() instructions, 1 per statement" "$pub1" "≤ 1.5x"
printf '%-52s %12s %12s\n' "publish() / append() instructions, $PUBLISH_BULK per stmt" "$pubbulk" "≤ 1.5x"
printf '%-52s %9s ms %12s\n' "idle commit-to-consumer latency p50" "$lat_p50" ""
printf '%-52s %9s ms %12s\n' "idle commit-to-consumer latency p99" "$lat_p99" "< 20 ms"
printf '%-52s %9s ms %12s\n' "idle commit-to-consumer latency max" "$lat_max" ""
echo "latency: $lat_n of $LAT_N single-event transactions at $LAT_RATE/s (Poisson); outbox: $stats"
