#!/usr/bin/env bash
# candystore-http against libpq (issue 14's REST benchmark; not part of
# `make test`), one run, side by side:
#   - GET /v1/events/{id} under wrk (CONNS connections, bench/http_get.lua
#     picking among EVENTS stored ids) against the same query the server
#     runs (prepared, one statement a request on a connection already in the
#     token's role), issued by pgbench with a custom script (CONNS clients,
#     -M prepared);
#   - POST /v1/events under wrk (bench/http_post.lua, a new ~500-byte
#     envelope per request) against append() of the same envelope through
#     pgbench at the same concurrency.
# Also the lookup through pgbench unprepared (-M extended): what planning
# every request costs (the server prepares its statements once per pooled
# connection and role).
# Rates, p99 (wrk --latency; pgbench per-transaction logs), the ratio, and
# the CPU time PostgreSQL and candystore-http spend per request, which the
# load of a shared machine moves far less than the rates.
#   bash bench/http.sh [SECONDS per measurement, default 10] [CONNS, default 32] [EVENTS, default 10000]
# Environment: HTTP_THREADS, HTTP_POOL (the server's --threads and
# --pool-size; default the server's own defaults, 4 and 8); HTTP_ALT=
# "THREADS:POOL ..." (default "8:8 32:32", the last a thread a connection;
# "" for none): GET again against the server restarted with each of these,
# one more row each; HTTP_PROFILE=DIR records the whole
# machine with `perf record -a -g` during the wrk GET run into DIR/get.perf
# and writes DIR/get.txt (CPU by process and by symbol).
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"

SECONDS_EACH=${1:-10}
CONNS=${2:-32}
EVENTS=${3:-10000}
HTTP_THREADS=${HTTP_THREADS:-4}
HTTP_POOL=${HTTP_POOL:-8}
HTTP_ALT=${HTTP_ALT-8:8 32:32}
HERE=$(cd "$(dirname "$0")" && pwd)
cs_ensure_packages

bench_cluster http
RUN=$BENCH_DIR
# (max_connections 100: the server's pool, up to CONNS, and pgbench's CONNS fit)

bench_psql <<SQL
CREATE EXTENSION candystore;
CREATE ROLE candystore_authenticator LOGIN NOINHERIT;
CREATE ROLE bench_writer NOLOGIN IN ROLE candystore_writer;
GRANT candystore_http, bench_writer TO candystore_authenticator;
-- EVENTS stored events with ids b0000000-0000-4000-8000-<i, 12 digits>
SELECT count(candystore.append(jsonb_build_object(
    'event_id', ('b0000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'event_type', 'bench.http',
    'timestamp', '2026-01-27T10:15:00Z', 'version', '1.0.0',
    'source', jsonb_build_object('host', 'bench', 'type', 'webhook', 'app', 'bench', 'meta', NULL),
    'correlation_ids', '[]'::jsonb, 'agent_context', NULL,
    'payload', jsonb_build_object('title', 'Team Standup', 'n', i, 'pad', repeat('x', 300)))))
  FROM generate_series(1, $EVENTS) i;
VACUUM ANALYZE;
SQL
TOKEN=$(bench_psql -At -c "SELECT candystore.create_api_token('bench_writer', now() + interval '1 day', 'bench/http.sh')")

# pgbench: the server's lookup, the same lookup in the server's transaction,
# and append() of the envelope bench/http_post.lua sends
cat > "$RUN/get.sql" <<'SQL'
\set i random(1, :events)
SELECT position, envelope::text FROM candystore.events WHERE event_id = ('b0000000-0000-4000-8000-' || lpad(:i::text, 12, '0'))::uuid;
SQL
cat > "$RUN/append.sql" <<'SQL'
SELECT candystore.append(('{"event_id": "' || gen_random_uuid() || '", "event_type": "bench.http", "timestamp": "2026-01-27T10:15:00Z", "version": "1.0.0", "source": {"host": "bench", "type": "webhook", "app": "bench", "meta": null}, "correlation_ids": [], "agent_context": null, "payload": {"title": "Team Standup", "pad": "' || repeat('x', 300) || '"}}')::jsonb);
SQL

# CPU time, robust where rates are not (the machine is shared): clock ticks
# of PostgreSQL (the postmaster, the children it reaped, and its live
# children: the backends) and of candystore-http; per request, the client
# (wrk, pgbench) left out.
CLK_TCK=$(getconf CLK_TCK)
PM_PID=$(head -1 "$BENCH_DIR/data/postmaster.pid")
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
server_ticks() {
    local t c
    t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$PM_PID/stat")
    for c in $(pgrep -P "$PM_PID"); do t=$((t + $(proc_ticks "$c"))); done
    [ -n "${SERVER_PID:-}" ] && t=$((t + $(proc_ticks "$SERVER_PID")))
    echo "$t"
}
# cpu_per_request TICKS_BEFORE REQUESTS: µs of server CPU per request
cpu_per_request() {
    awk -v a="$1" -v b="$(server_ticks)" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.0f", (b - a) / hz * 1e6 / n; else print "-" }'
}

# pgbench NAME SCRIPT [MODE]: "rate p99_ms cpu_us" over CONNS clients for SECONDS_EACH
pgbench_run() {
    local name=$1 script=$2 mode=${3:-prepared} tps p99 before cpu
    rm -f "$RUN/$name".log*
    before=$(server_ticks)
    tps=$("$BENCH_BIN/pgbench" -n -h 127.0.0.1 -p "$BENCH_PORT" -U postgres \
              -c "$CONNS" -j 2 -M "$mode" -T "$SECONDS_EACH" -D events="$EVENTS" \
              --log --log-prefix="$RUN/$name.log" -f "$script" postgres 2>"$RUN/$name.err" |
          sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    # per-transaction log: column 3 is the latency in microseconds
    p99=$(cat "$RUN/$name".log* | awk '{print $3}' | sort -n |
          awk '{a[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.2f", a[i]/1000}')
    cpu=$(cpu_per_request "$before" "$(cat "$RUN/$name".log* | wc -l)")
    echo "${tps%.*} $p99 $cpu"
}

HTTP_PORT=$(cs_free_port)
SERVER_PID=""
stop_server() { [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""; }
trap 'stop_server; cs_pg_stop "$BENCH_DIR" "$BENCH_BIN"' EXIT
# start_server THREADS POOL
start_server() {
    "$BENCH_BIN/candystore-http" --listen="127.0.0.1:$HTTP_PORT" --log-level=warn \
        --threads="$1" --pool-size="$2" \
        --db="host=127.0.0.1 port=$BENCH_PORT dbname=postgres user=candystore_authenticator" 2>> "$RUN/http.log" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$HTTP_PORT/health/live" >/dev/null && break; sleep 0.1; done
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
          "http://127.0.0.1:$HTTP_PORT/v1/events/b0000000-0000-4000-8000-000000000001")" = 200 ] ||
        cs_die "candystore-http does not serve the stored events (see $RUN/http.log)"
}
start_server "$HTTP_THREADS" "$HTTP_POOL"

# wrk SCRIPT PATH [PROFILE NAME]: "rate p99_ms errors cpu_us"
wrk_run() {
    local out rate p99 errors before cpu perf_pid=""
    if [ -n "${3:-}" ] && [ -n "${HTTP_PROFILE:-}" ]; then
        mkdir -p "$HTTP_PROFILE"
        perf record -q -a -g -o "$HTTP_PROFILE/$3.perf" -- sleep "$SECONDS_EACH" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    before=$(server_ticks)
    out=$(BENCH_TOKEN=$TOKEN BENCH_EVENTS=$EVENTS wrk -t 2 -c "$CONNS" -d "${SECONDS_EACH}s" --latency \
              -s "$HERE/$1" "http://127.0.0.1:$HTTP_PORT$2")
    echo "$out" > "$RUN/wrk-$(basename "$1" .lua).out"
    rate=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
    # wrk prints 99% as e.g. 2.31ms, 512.00us or 1.02s
    p99=$(echo "$out" | awk '$1 == "99%" { v=$2; if (v ~ /us$/) { sub(/us/, "", v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v*=1000 }; printf "%.2f", v }')
    errors=$(echo "$out" | awk '/Non-2xx or 3xx responses/ {e+=$NF} /Socket errors/ {e+=1} END {print e+0}')
    cpu=$(cpu_per_request "$before" "$(echo "$out" | awk '/ requests in / {print $1}')")
    if [ -n "$perf_pid" ]; then
        # whole reports to files first (no reader closing a pipe on perf)
        wait "$perf_pid" || true
        perf report -i "$HTTP_PROFILE/$3.perf" --no-children --sort comm --stdio -g none \
            > "$HTTP_PROFILE/$3.comm.txt" 2>/dev/null || true
        perf report -i "$HTTP_PROFILE/$3.perf" --no-children --sort comm,dso,sym --stdio -g none \
            > "$HTTP_PROFILE/$3.sym.txt" 2>/dev/null || true
        { grep -v -e '^#' -e '^$' "$HTTP_PROFILE/$3.comm.txt" | sed -n 1,12p
          grep -v -e '^#' -e '^$' "$HTTP_PROFILE/$3.sym.txt" | sed -n 1,60p; } > "$HTTP_PROFILE/$3.txt" || true
    fi
    echo "${rate%.*} $p99 $errors $cpu"
}

cs_log "GET: pgbench, $CONNS clients, ${SECONDS_EACH}s"
read -r pg_get pg_get_p99 pg_get_cpu < <(pgbench_run get "$RUN/get.sql")
cs_log "GET: pgbench, the same lookup unprepared"
read -r pg_ext pg_ext_p99 pg_ext_cpu < <(pgbench_run get_extended "$RUN/get.sql" extended)
cs_log "GET: wrk, $CONNS connections"
read -r http_get http_get_p99 http_get_err http_get_cpu < <(wrk_run http_get.lua /v1/events get)
cs_log "POST: pgbench append()"
read -r pg_post pg_post_p99 pg_post_cpu < <(pgbench_run append "$RUN/append.sql")
cs_log "POST: wrk"
read -r http_post http_post_p99 http_post_err http_post_cpu < <(wrk_run http_post.lua /v1/events)
alt_rows=()
for alt in $HTTP_ALT; do
    stop_server
    start_server "${alt%%:*}" "${alt##*:}"
    cs_log "GET: wrk, $CONNS connections, --threads=${alt%%:*} --pool-size=${alt##*:}"
    read -r a_get a_p99 a_err a_cpu < <(wrk_run http_get.lua /v1/events)
    alt_rows+=("GET, server --threads=${alt%%:*} --pool-size=${alt##*:} ($a_err errors)" "$a_get" "$a_p99" "$(awk -v a="$a_get" -v b="$pg_get" 'BEGIN { printf "%.2f×", a / b }')" "$a_cpu")
done
stored=$(bench_psql -At -c "SELECT count(*) FROM candystore.events WHERE event_type = 'bench.http'")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }'; }
echo
echo "candystore-http vs libpq, $CONNS connections, ${SECONDS_EACH}s each, $(nproc) cores, $EVENTS events stored (server: --threads=$HTTP_THREADS --pool-size=$HTTP_POOL)"
printf '| %-58s | %8s | %8s | %9s | %13s |\n' "measurement" "req/s" "p99 ms" "vs libpq" "server CPU µs"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..60})" "----------" "----------" "-----------" "---------------"
printf '| %-58s | %8s | %8s | %9s | %13s |\n' \
    "GET /v1/events/{id}, wrk ($http_get_err errors)" "$http_get" "$http_get_p99" "$(ratio "$http_get" "$pg_get")" "$http_get_cpu" \
    "the same lookup, pgbench -M prepared" "$pg_get" "$pg_get_p99" "1" "$pg_get_cpu" \
    "the same lookup unprepared, pgbench -M extended" "$pg_ext" "$pg_ext_p99" "$(ratio "$pg_ext" "$pg_get")" "$pg_ext_cpu" \
    "POST /v1/events, wrk ($http_post_err errors)" "$http_post" "$http_post_p99" "$(ratio "$http_post" "$pg_post")" "$http_post_cpu" \
    "append() of the same envelope, pgbench -M prepared" "$pg_post" "$pg_post_p99" "1" "$pg_post_cpu"
[ ${#alt_rows[@]} -gt 0 ] && printf '| %-58s | %8s | %8s | %9s | %13s |\n' "${alt_rows[@]}"
echo "(server CPU: PostgreSQL's processes and, for HTTP, candystore-http, per request; the client's own CPU left out)"
echo "(events of type bench.http stored: $stored; the issue asks for GET and POST ≥ 0.70× and GET p99 < 10 ms)"
