#!/usr/bin/env bash
# The live stream's fan-out (issue 14's stream benchmark; not part of
# `make test`): CLIENTS concurrent SSE clients of candystore-http's
# GET /v1/stream (bench/sse_clients.c, one process, 4 threads) while RATE
# events per second are stored with append() (fsync = on,
# synchronous_commit = on) for SECONDS.  The load (bench/http_stream_load.c)
# stores at a steady pace, PER_COMMIT events per commit (default 10: a
# commit every 10 ms at 1,000/s), and writes each event's commit time (the
# wall clock when its COMMIT returned) where the clients read it;
# LOADER=pgbench stores with `pgbench -c 8 -R RATE` instead, one event per
# commit, as the benchmark did before (no commit times: the latency is then
# append → client).  The server runs with CANDYSTORE_HTTP_STREAM_TIMING=1,
# so that the clients can split the latency into stages.
# Prints, side by side: commit → client latency (p50/p95/p99/max over every
# event every client received), events delivered against events stored
# times clients, the server's peak RSS, the database connections of the
# stream's reader (application_name "candystore-http stream") and of the
# pool mid-run, the reader's reads, the server's CPU time per delivered
# event; then each run's latency by stage and the CPU time of each party
# (server, PostgreSQL, loader, clients) over the run.  Three runs: 1 client
# at RATE, CLIENTS at RATE / 10, CLIENTS at RATE; STREAM_PROFILE=1 adds a
# fourth, CLIENTS at RATE under perf, and prints where server and clients
# spend their CPU and the server's system calls.
#   bash bench/http_stream.sh [CLIENTS] [RATE] [SECONDS] [PER_COMMIT]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"

CLIENTS=${1:-1000}
RATE=${2:-1000}
SECONDS_=${3:-20}
PER_COMMIT=${4:-10}
LOADER=${LOADER:-commits}
cs_ensure_packages

bench_cluster http_stream
RUN=$BENCH_DIR
INC=$("$(cs_pg_config)" --includedir)
cc -O2 -pthread -I"$CS_ROOT/bench" -o "$RUN/sse_clients" "$CS_ROOT/bench/sse_clients.c"
cc -O2 -I"$CS_ROOT/bench" -I"$INC" -o "$RUN/http_stream_load" "$CS_ROOT/bench/http_stream_load.c" \
    -L"$("$(cs_pg_config)" --libdir)" -lpq
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
    CANDYSTORE_HTTP_STREAM_TIMING=1 exec "$BENCH_BIN/candystore-http" --listen="127.0.0.1:$HTTP_PORT" --log-level=warn \
        --db="host=127.0.0.1 port=$BENCH_PORT dbname=postgres user=candystore_authenticator"
) 2> "$RUN/http.log" &
SERVER_PID=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$HTTP_PORT/health/live" >/dev/null && break; sleep 0.1; done

connections() {
    bench_psql -At -c "SELECT count(*) FILTER (WHERE application_name = 'candystore-http stream'),
                              count(*) FILTER (WHERE application_name = 'candystore-http')
                         FROM pg_stat_activity" | tr '|' ' '
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# PostgreSQL's CPU ticks: the postmaster with its children that ended, and every live child
pg_ticks() {
    local pm t
    pm=$(head -1 "$BENCH_DIR/data/postmaster.pid")
    t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
    for c in $(cat "/proc/$pm/task/$pm/children"); do
        t=$(( t + $(cpu_ticks "$c" 2>/dev/null || echo 0) ))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)
# a counter of the server's /metrics
metric() { curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_PORT/metrics" | sed -n "s/^$1 //p"; }
rows=()
stages=()
cpus=()
runs=("1 $RATE" "$CLIENTS $((RATE / 10))" "$CLIENTS $RATE")
# STREAM_PROFILE=1: one more run of CLIENTS at RATE, with perf (not in the tables: perf slows what it watches)
[ -n "${STREAM_PROFILE:-}" ] && runs+=("$CLIENTS $RATE profile")
for run in "${runs[@]}"; do
    read -r n rate profile <<<"$run"
    cs_log "$n stream client(s), $rate events/s for ${SECONDS_}s"
    rm -f "$RUN/ready" "$RUN/commits"
    # room for every event's commit time (the loader only ever grows it)
    truncate -s $(( (rate * SECONDS_ + 50 * PER_COMMIT + 2) * 8 )) "$RUN/commits"
    load0=$(cut -d' ' -f1 /proc/loadavg)
    "$RUN/sse_clients" 127.0.0.1 "$HTTP_PORT" "$TOKEN" "$n" "$SECONDS_" "$RUN/ready" \
        $([ "$LOADER" = pgbench ] || echo "$RUN/commits") > "$RUN/clients.out" &
    cpid=$!
    for _ in $(seq 1 600); do [ -f "$RUN/ready" ] && break; sleep 0.1; done
    [ -f "$RUN/ready" ] || cs_die "the clients did not connect"
    before=$(bench_psql -At -c "SELECT count(*) FROM candystore.events")
    t0=$(cpu_ticks "$SERVER_PID")
    pg0=$(pg_ticks)
    r0=$(metric candystore_http_stream_reads_total)
    # stop appending a second before the clients stop reading
    if [ "$LOADER" = pgbench ]; then
        "$BENCH_BIN/pgbench" -n -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -c 8 -j 2 -R "$rate" \
            -T "$((SECONDS_ - 1))" -f "$RUN/append.sql" postgres > "$RUN/load.out" 2>&1 &
    else
        "$RUN/http_stream_load" "host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=postgres" \
            "$rate" "$((SECONDS_ - 1))" "$PER_COMMIT" "$RUN/commits" > "$RUN/load.out" &
    fi
    ppid=$!
    # the server's resident memory, sampled every 0.2 s while the clients read
    ( peak=0; while kill -0 "$cpid" 2>/dev/null; do
          r=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"); [ "$r" -gt "$peak" ] && peak=$r
          echo "$peak" > "$RUN/rss"; sleep 0.2; done ) &
    spid=$!
    sleep "$((SECONDS_ / 2))"
    read -r readers pool < <(connections)
    if [ -n "$profile" ]; then
        # where the server's and the clients' CPU goes, 3 s mid-run (STREAM_PROFILE=1)
        perf record -q -F 499 -g -o "$RUN/perf.server" -p "$SERVER_PID" -- sleep 3 2>/dev/null &
        perf record -q -F 499 -g -o "$RUN/perf.clients" -p "$cpid" -- sleep 3 2>/dev/null
        wait $!
        perf trace -s -p "$SERVER_PID" -o "$RUN/syscalls.server" -- sleep 2 2>/dev/null || true
    fi
    wait "$ppid"
    wait "$cpid"
    cpu=$(( $(cpu_ticks "$SERVER_PID") - t0 ))
    pgcpu=$(( $(pg_ticks) - pg0 ))
    reads=$(( $(metric candystore_http_stream_reads_total) - r0 ))
    wait "$spid"
    rss=$(( $(cat "$RUN/rss") / 1024 ))
    stored=$(( $(bench_psql -At -c "SELECT count(*) FROM candystore.events") - before ))
    read -r _ _ _ ok _ events _ _ _ _ _ ccpu _ unresolved _ < <(head -1 "$RUN/clients.out")
    lat=commit; [ "$LOADER" = pgbench ] && lat=append
    read -r _ _ p50 p95 p99 max _ < <(grep "^$lat " "$RUN/clients.out")
    us=$(awk -v c="$cpu" -v e="$events" -v hz="$HZ" 'BEGIN { printf "%.1f", e ? c / hz * 1e6 / e : 0 }')
    [ -n "$profile" ] && continue
    rows+=("$n $rate $ok $stored $events $((stored * n)) $p50 $p95 $p99 $max $rss $readers $pool $us $reads")
    while read -r name samples s50 s95 s99 smax sneg; do
        stages+=("$n $rate $name $samples $s50 $s95 $s99 $smax $sneg")
    done < <(tail -n +2 "$RUN/clients.out")
    lcpu=$(sed -n 's/.*cpu_s \([0-9.]*\).*/\1/p' "$RUN/load.out")
    cpus+=("$n $rate $(awk -v s="$cpu" -v p="$pgcpu" -v hz="$HZ" -v l="${lcpu:--}" -v c="$ccpu" -v t="$SECONDS_" \
        'BEGIN { printf "%.0f%% %.0f%% %s %.0f%%", s / hz / t * 100, p / hz / t * 100, l == "-" ? "-" : sprintf("%.0f%%", l / t * 100), c / t * 100 }') \
        $load0 $(cut -d' ' -f1 /proc/loadavg) $unresolved")
    cs_log "load: $(cat "$RUN/load.out" | tail -1)"
    # the clients have gone: one more event makes the server notice, before the next run
    bench_psql -c "$(cat "$RUN/append.sql")" >/dev/null
    for _ in $(seq 1 100); do
        [ "$(metric candystore_http_stream_clients)" = 0 ] && break
        sleep 0.2
    done
done
stop_server

echo
if [ "$LOADER" = pgbench ]; then
    echo "GET /v1/stream: events appended for ${SECONDS_}s (pgbench -c 8 -R rate, one event per commit, fsync = on), every client reading every event"
else
    echo "GET /v1/stream: events appended for ${SECONDS_}s ($PER_COMMIT per commit at a steady pace, fsync = on), every client reading every event"
fi
printf '%8s %6s %6s %8s %11s %11s %8s %8s %8s %8s %9s %8s %6s %7s %10s\n' \
    clients rate/s ok stored delivered "expected" "p50 ms" "p95 ms" "p99 ms" "max ms" "peak RSS" readers pool reads "CPU µs/ev"
for r in "${rows[@]}"; do
    read -r n rate ok stored events expect p50 p95 p99 max rss readers pool us reads <<<"$r"
    printf '%8s %6s %6s %8s %11s %11s %8s %8s %8s %8s %6s MB %8s %6s %7s %10s\n' \
        "$n" "$rate" "$ok" "$stored" "$events" "$expect" "$p50" "$p95" "$p99" "$max" "$rss" "$readers" "$pool" "$reads" "$us"
done
echo "(latency: $([ "$LOADER" = pgbench ] && echo "append()" || echo "COMMIT returned") → the client read the event, over every delivery;"
echo " peak RSS: the server's, sampled during the run;"
echo " readers: database connections of the stream's reader, pool: the request pool's, mid-run;"
echo " reads: read_all() calls of the stream's reader during the run (each wakes the clients once);"
echo " CPU µs/ev: the server's CPU time (user + system) over the run per event delivered to a client;"
echo " targets: p99 < 50 ms, RSS < 100 MB, one reader)"
echo
echo "Latency by stage, ms, over every delivery:"
printf '%8s %6s  %-8s %11s %8s %8s %8s %8s %9s\n' clients rate/s stage samples p50 p95 p99 max "below 0"
for r in "${stages[@]}"; do
    read -r n rate name samples s50 s95 s99 smax sneg <<<"$r"
    printf '%8s %6s  %-8s %11s %8s %8s %8s %8s %9s\n' "$n" "$rate" "$name" "$samples" "$s50" "$s95" "$s99" "$smax" "$sneg"
done
echo "(commit: COMMIT returned → client read; append: append() → client read; flush: append() → COMMIT returned;"
echo " fetch: COMMIT returned → the stream's reader had the rows; queue: → in the ring; write: → handed to the"
echo " client's connection; read: → the client read it; below 0: samples counted as 0, e.g. the reader had the rows"
echo " before the loader saw its COMMIT return)"
echo
echo "CPU over each run, in % of one core (2 cores shared by all), and the load average at its start and end:"
printf '%8s %6s %8s %10s %8s %8s %11s %9s %10s\n' clients rate/s server PostgreSQL loader clients "load start" "load end" unresolved
for r in "${cpus[@]}"; do
    read -r n rate s p l c l0 l1 unres <<<"$r"
    printf '%8s %6s %8s %10s %8s %8s %11s %9s %10s\n' "$n" "$rate" "$s" "$p" "$l" "$c" "$l0" "$l1" "$unres"
done
echo "(unresolved: deliveries whose commit time never came)"
if [ -n "${STREAM_PROFILE:-}" ]; then
    for who in server clients; do
        echo; echo "perf, $who, 3 s of the profiled run (self %, top 30):"
        perf report -q --no-children -i "$RUN/perf.$who" --sort dso,sym 2>/dev/null | grep -v '^$' | grep '%' | head -30
    done
    echo; echo "the server's system calls, 2 s of the profiled run:"
    sed -n '/syscall/,$p' "$RUN/syscalls.server" | head -30
fi
