#!/usr/bin/env bash
# The live stream's fan-out (issue 14's stream benchmark; not part of
# `make test`): CLIENTS concurrent SSE clients of candystore-http's
# GET /v1/stream (bench/sse_clients.c, one process, 4 threads) while pgbench stores
# RATE events per second with append() (fsync = on, synchronous_commit = on)
# for SECONDS.  Prints, side by side: append → client latency (p50/p95/p99/
# max over every event every client received; each event carries the wall
# clock of its append, taken just before its commit, so the figure includes
# the commit and its flush), events delivered against events stored times
# clients, the server's peak RSS, and the database connections the stream
# holds (its reader: application_name "candystore-http stream") and the
# pool's, sampled during the run, and the server's CPU time per delivered
# event (less dependent on the machine's load than the latency).  Three
# runs: 1 client at RATE, CLIENTS at RATE / 10, CLIENTS at RATE.
#   bash bench/http_stream.sh [CLIENTS] [RATE] [SECONDS]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"

CLIENTS=${1:-1000}
RATE=${2:-1000}
SECONDS_=${3:-20}
cs_ensure_packages

bench_cluster http_stream
RUN=$BENCH_DIR
INC=$("$(cs_pg_config)" --includedir)
cc -O2 -pthread -I"$CS_ROOT/bench" -o "$RUN/sse_clients" "$CS_ROOT/bench/sse_clients.c"
bench_psql <<'SQL'
CREATE EXTENSION candystore;
CREATE ROLE candystore_authenticator LOGIN NOINHERIT;
CREATE ROLE bench_reader NOLOGIN IN ROLE candystore_reader;
GRANT candystore_http, candystore_reader, bench_reader TO candystore_authenticator;
SQL
TOKEN=$(bench_psql -At -c "SELECT candystore.create_api_token('bench_reader', now() + interval '1 day')")
cat > "$RUN/append.sql" <<'SQL'
SELECT candystore.append(jsonb_build_object(
    'event_id', gen_random_uuid(), 'event_type', 'bench.stream', 'timestamp', '2026-01-27T10:15:00Z',
    'version', '1.0.0', 'source', jsonb_build_object('host', 'bench', 'type', 'webhook', 'app', 'bench', 'meta', NULL),
    'correlation_ids', '[]'::jsonb, 'agent_context', NULL,
    'payload', jsonb_build_object('sent_us', (extract(epoch FROM clock_timestamp()) * 1e6)::bigint,
                                  'title', 'Team Standup', 'meeting_id', 'ff_meeting_456')));
SQL

HTTP_PORT=$(cs_free_port)
SERVER_PID=""
stop_server() { [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""; }
trap 'stop_server; cs_pg_stop "$BENCH_DIR" "$BENCH_BIN"' EXIT
(
    ulimit -n 8192
    exec "$BENCH_BIN/candystore-http" --listen="127.0.0.1:$HTTP_PORT" --log-level=warn \
        --db="host=127.0.0.1 port=$BENCH_PORT dbname=postgres user=candystore_authenticator"
) 2> "$RUN/http.log" &
SERVER_PID=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$HTTP_PORT/health/live" >/dev/null && break; sleep 0.1; done

connections() {
    bench_psql -At -c "SELECT count(*) FILTER (WHERE application_name = 'candystore-http stream'),
                              count(*) FILTER (WHERE application_name = 'candystore-http')
                         FROM pg_stat_activity" | tr '|' ' '
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
# a counter of the server's /metrics
metric() { curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_PORT/metrics" | sed -n "s/^$1 //p"; }
rows=()
for run in "1 $RATE" "$CLIENTS $((RATE / 10))" "$CLIENTS $RATE"; do
    read -r n rate <<<"$run"
    cs_log "$n stream client(s), $rate events/s for ${SECONDS_}s"
    rm -f "$RUN/ready"
    "$RUN/sse_clients" 127.0.0.1 "$HTTP_PORT" "$TOKEN" "$n" "$SECONDS_" "$RUN/ready" > "$RUN/clients.out" &
    cpid=$!
    for _ in $(seq 1 600); do [ -f "$RUN/ready" ] && break; sleep 0.1; done
    [ -f "$RUN/ready" ] || cs_die "the clients did not connect"
    before=$(bench_psql -At -c "SELECT count(*) FROM candystore.events")
    # stop appending a second before the clients stop reading
    "$BENCH_BIN/pgbench" -n -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -c 8 -j 2 -R "$rate" \
        -T "$((SECONDS_ - 1))" -f "$RUN/append.sql" postgres > "$RUN/pgbench.out" 2>&1 &
    ppid=$!
    t0=$(cpu_ticks)
    r0=$(metric candystore_http_stream_reads_total)
    # the server's resident memory, sampled every 0.2 s while the clients read
    ( peak=0; while kill -0 "$cpid" 2>/dev/null; do
          r=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"); [ "$r" -gt "$peak" ] && peak=$r
          echo "$peak" > "$RUN/rss"; sleep 0.2; done ) &
    spid=$!
    sleep "$((SECONDS_ / 2))"
    read -r readers pool < <(connections)
    wait "$ppid"
    wait "$cpid"
    cpu=$(( $(cpu_ticks) - t0 ))
    reads=$(( $(metric candystore_http_stream_reads_total) - r0 ))
    wait "$spid"
    rss=$(( $(cat "$RUN/rss") / 1024 ))
    stored=$(( $(bench_psql -At -c "SELECT count(*) FROM candystore.events") - before ))
    read -r _ _ _ ok _ events _ _ _ _ p50 p95 p99 max < "$RUN/clients.out"
    us=$(awk -v c="$cpu" -v e="$events" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", e ? c / hz * 1e6 / e : 0 }')
    rows+=("$n $rate $ok $stored $events $((stored * n)) $p50 $p95 $p99 $max $rss $readers $pool $us $reads")
    # the clients have gone: one more event makes the server notice, before the next run
    bench_psql -c "$(cat "$RUN/append.sql")" >/dev/null
    for _ in $(seq 1 100); do
        [ "$(metric candystore_http_stream_clients)" = 0 ] && break
        sleep 0.2
    done
done
stop_server

echo
echo "GET /v1/stream: events appended for ${SECONDS_}s (pgbench -c 8 -R rate, fsync = on), every client reading every event"
printf '%8s %6s %6s %8s %11s %11s %8s %8s %8s %8s %9s %8s %6s %7s %10s\n' \
    clients rate/s ok stored delivered "expected" "p50 ms" "p95 ms" "p99 ms" "max ms" "peak RSS" readers pool reads "CPU µs/ev"
for r in "${rows[@]}"; do
    read -r n rate ok stored events expect p50 p95 p99 max rss readers pool us reads <<<"$r"
    printf '%8s %6s %6s %8s %11s %11s %8s %8s %8s %8s %6s MB %8s %6s %7s %10s\n' \
        "$n" "$rate" "$ok" "$stored" "$events" "$expect" "$p50" "$p95" "$p99" "$max" "$rss" "$readers" "$pool" "$reads" "$us"
done
echo "(latency: append() → the client read the event, over every delivery; peak RSS: the server's, sampled during the run;"
echo " readers: database connections of the stream's reader, pool: the request pool's, mid-run;"
echo " reads: read_all() calls of the stream's reader during the run (each wakes the clients once);"
echo " CPU µs/ev: the server's CPU time (user + system) over the run per event delivered to a client;"
echo " targets: p99 < 50 ms, RSS < 100 MB, one reader)"
echo "load average at the end (2 cores shared with other work): $(cut -d' ' -f1-3 /proc/loadavg)"
