#!/usr/bin/env bash
# Ingest benchmark (not part of `make test`): preloads a queue with N
# seed-like ~1 KB envelopes, then measures in one run, on the same broker and
# machine:
#   raw drain  a no-op consumer with manual acks (the physical limit), before
#              and again after the worker: the faster of the two counts
#   worker     the candystore ingest worker (validated, stored, acked), after
#              a warm-up of WARMUP messages (default N) and a checkpoint: the
#              cluster in service; the warm-up's rate (fresh cluster) too.
#              Timed from its basic.consume, as the raw drains are (the
#              reload that points it at its queue, and its reconnection,
#              are printed apart)
#   seeds      one candystore.append() + commit + ack per message (the seeds'
#              design, in C: the strictest baseline), on N/10 messages
#   seeds'     the seeds' consumer as the seeds built it (bench/seeds_consumer.py:
#   consumer   Python, aio-pika, one SQLAlchemy insert + commit + ack per
#              message, prefetch 10), on N/10 messages
#   cold       catch-up after an outage: a freshly created cluster (default
#   catch-up   shared_buffers, no warm-up), a backlog of COLD_N messages
#              (default N/2) published while PostgreSQL is down, timed from
#              its restart until all are stored; and a raw drain of as many,
#              just before (COLD_N=0 skips it)
# PostgreSQL runs with fsync = on.
# Usage: [WORKERS=n] [WARMUP=m] [COLD_N=c] [EXTRA_CONF='a postgresql.conf line'] bash bench/ingest.sh [N]
# (WORKERS: candystore.ingest_workers, default 1; CPU and wall-time figures
# are then summed over the workers)
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"

N=${1:-100000}
WORKERS=${WORKERS:-1}     # candystore.ingest_workers
WARMUP=${WARMUP:-$N}      # messages stored before the timed run (0: none)
SEEDS_N=$(( N / 10 ))
COLD_N=${COLD_N:-$(( N / 2 ))}
cs_ensure_packages python3-aio-pika python3-sqlalchemy python3-asyncpg

bench_broker_setup bench-ingest
bench_amqp_tool cs_publish
cc -O2 -I"$("$(cs_pg_config)" --includedir)" -o "$RUN/drain" "$CS_ROOT/bench/drain.c" -lrabbitmq -lpq
bench_worker_cluster "candystore.outbox_publisher = off" "candystore.ingest_workers = $WORKERS" \
    "min_wal_size = '1GB'" "max_wal_size = '4GB'" ${EXTRA_CONF:+"$EXTRA_CONF"}
psql_() { "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PP" -U postgres -d postgres -c "$1"; }
consuming_since() { psql_ "SELECT max(connected_since) FROM candystore.worker_status() WHERE state = 'consuming' HAVING count(*) = $WORKERS"; }
# await_reconnect OLD: waits until the worker consumes on a connection newer than OLD
await_reconnect() {
    for _ in $(seq 1 200); do
        local now; now=$(consuming_since)
        [ -n "$now" ] && [ "$now" != "$1" ] && return 0
        sleep 0.1
    done
    cs_die "the worker did not reconnect"
}
# to_idle / to_main: point the worker at an idle queue bound to nothing (so
# its own queue fills up while PostgreSQL and the worker stay up), and back
to_idle() {
    local since; since=$(consuming_since)
    psql_ "ALTER SYSTEM SET candystore.queue = 'bench_idle'"
    psql_ "ALTER SYSTEM SET candystore.binding_keys = 'bench.idle'"
    psql_ "SELECT pg_reload_conf()" >/dev/null
    await_reconnect "$since"
}
to_main() {
    psql_ "ALTER SYSTEM RESET candystore.queue"
    psql_ "ALTER SYSTEM RESET candystore.binding_keys"
    psql_ "SELECT pg_reload_conf()" >/dev/null
}
await_reconnect ""
to_idle

# Warm-up: the worker stores WARMUP preloaded messages, then a checkpoint.
# The timed run then sees the cluster as it is in service rather than freshly
# initialised: the shared buffers already faulted in, WAL segments recycled
# by the checkpoint (min_wal_size) instead of created and zero-filled inside
# the worker's commits.  The warm-up's rate is printed as well.
warm_s=""
if [ "$WARMUP" -gt 0 ]; then
    cs_log "warm-up: $WARMUP messages on a fresh cluster, then CHECKPOINT"
    "$RUN/cs_publish" 127.0.0.1 "$RP" bloodbank.events.v1 bench.warmup 262 "$WARMUP" 0 1 600 >/dev/null
    tw=$(date +%s.%N)
    to_main
    # one \watch session, as below; the pipe closes when the count is reached
    printf '%s\n' "SELECT stored FROM candystore.stats" '\watch 0.02' |
        "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PP" -U postgres -d postgres |
        while read -r v; do [ -n "$v" ] && [ "$v" -ge "$WARMUP" ] && break; done || true
    warm_s=$(awk "BEGIN { print $(date +%s.%N) - $tw }")
    to_idle
    psql_ "CHECKPOINT"
fi
done_before=$(psql_ "SELECT stored + duplicates + dead_lettered FROM candystore.stats")

amqp-declare-queue -u "amqp://127.0.0.1:$RP" -q bench_raw -d >/dev/null
amqp-declare-queue -u "amqp://127.0.0.1:$RP" -q bench_raw_after -d >/dev/null
amqp-declare-queue -u "amqp://127.0.0.1:$RP" -q bench_seeds -d >/dev/null
amqp-declare-queue -u "amqp://127.0.0.1:$RP" -q bench_python -d >/dev/null
cs_log "preloading $N messages for the worker, 2 × $N for the raw drains, 2 × $SEEDS_N for the seeds' designs"
"$RUN/cs_publish" 127.0.0.1 "$RP" bloodbank.events.v1 bench.ingest 256 "$N" 0 1 600 >/dev/null
"$RUN/cs_publish" 127.0.0.1 "$RP" "" bench_raw 257 "$N" 0 1 600 >/dev/null
"$RUN/cs_publish" 127.0.0.1 "$RP" "" bench_raw_after 261 "$N" 0 1 600 >/dev/null
"$RUN/cs_publish" 127.0.0.1 "$RP" "" bench_seeds 258 "$SEEDS_N" 0 1 600 >/dev/null
"$RUN/cs_publish" 127.0.0.1 "$RP" "" bench_python 260 "$SEEDS_N" 0 1 600 >/dev/null

cs_log "raw drain"
raw_s=$("$RUN/drain" 127.0.0.1 "$RP" bench_raw "$N" noop)

cs_log "worker"
# back to its queue (a reload and a reconnect, both inside the timing)
wpids=$(psql_ "SELECT string_agg(pid::text, ' ') FROM candystore.worker_status()")
# workers_sum FILE EXPR: EXPR over the fields of /proc/<pid>/FILE, summed over the workers
workers_sum() { local p; for p in $wpids; do cat "/proc/$p/$1"; done | awk "{ t += $2 } END { printf \"%.0f\\n\", t }"; }
cpu_ticks() { workers_sum stat '$14 + $15'; }
runq_ns() { workers_sum schedstat '$2'; }
# minor page faults: each costs microseconds in a virtual machine
minflt() { workers_sum stat '$10'; }
cpu0=$(cpu_ticks); runq0=$(runq_ns); flt0=$(minflt)
t0=$(date +%s.%N)
to_main
rss_series=()     # messages:kB
# Progress comes from one psql session running the query every 20 ms
# (\watch): a psql process and a backend per poll would take a good part of
# a core from the two the worker and the broker share.
mkfifo "$RUN/progress"
printf '%s\n' "SELECT stored + duplicates + dead_lettered - $done_before, (SELECT min(pid) FROM candystore.worker_status()) FROM candystore.stats" '\watch 0.02' |
    "$BIN/psql" -X -q -At -F ' ' -h 127.0.0.1 -p "$PP" -U postgres -d postgres > "$RUN/progress" &
watch_pid=$!
exec {progress}<"$RUN/progress"
polls=0
while read -r -u "$progress" stored pid; do
    [ -n "$stored" ] || continue
    polls=$((polls + 1))
    if [ -n "$pid" ] && [ "$stored" -gt 0 ] && { [ ${#rss_series[@]} -eq 0 ] || [ $((polls % 10)) -eq 0 ] || [ "$stored" -ge "$N" ]; }; then
        # private memory only: RSS also counts the shared buffers it touches
        rss=""
        while read -r key value _; do [ "$key" = RssAnon: ] && rss=$value; done < "/proc/$pid/status"
        # the worker's own accounting of palloc'd memory, in the server log
        [ ${#rss_series[@]} -gt 0 ] || psql_ "SELECT pg_log_backend_memory_contexts($pid)" >/dev/null
        [ -z "$rss" ] || rss_series+=("$stored:$rss")
    fi
    [ "$stored" -ge "$N" ] && break
done
t1=$(date +%s.%N)
kill "$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true
exec {progress}<&-
[ "${stored:-0}" -ge "$N" ] || cs_die "progress polling ended after ${stored:-0} of $N messages"
psql_ "SELECT pg_log_backend_memory_contexts($pid)" >/dev/null
cpu1=$(cpu_ticks); runq1=$(runq_ns); flt1=$(minflt)
# Timed, like the raw drain, from the moment it consumes (its basic.consume
# answered: worker_status().connected_since, on this machine's clock), so
# that the settings reload and its reconnection to the broker, which the
# drain does not pay, are left out; they are printed apart.
consumed_from=$(psql_ "SELECT extract(epoch FROM max(connected_since)) FROM candystore.worker_status()")
awk -v a="$consumed_from" -v b="$t0" -v c="$t1" 'BEGIN { exit !(a > b && a < c) }' ||
    cs_die "the worker's connection time ($consumed_from) is not inside its timing ($t0 .. $t1)"
worker_s=$(awk "BEGIN { print $t1 - $consumed_from }")
reconnect_s=$(awk "BEGIN { print $consumed_from - $t0 }")
# the worker's own CPU time (user + system) per message: less noisy than the rate
cpu_us=$(awk -v d="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN { printf "%.0f", d / hz * 1e6 / n }')
stats=$(psql_ "SELECT format('stored %s, duplicates %s, dead-lettered %s, batches %s', stored, duplicates, dead_lettered, batches) FROM candystore.stats")

# The broker drains at two very different speeds, even from one drain to the
# next in a run (about 14,000-18,000 and 35,000-55,000 messages/s here), so the
# raw drain runs again after the worker and the faster of the two is the limit.
cs_log "raw drain, again"
raw2_s=$("$RUN/drain" 127.0.0.1 "$RP" bench_raw_after "$N" noop)

cs_log "seeds' design (one append and commit per message)"
seeds_s=$("$RUN/drain" 127.0.0.1 "$RP" bench_seeds "$SEEDS_N" append \
    "host=127.0.0.1 port=$PP user=postgres dbname=postgres")

cs_log "the seeds' consumer as built (Python, aio-pika, SQLAlchemy)"
python_s=$(/usr/bin/python3 "$CS_ROOT/bench/seeds_consumer.py" "amqp://guest:guest@127.0.0.1:$RP/" bench_python \
    "$SEEDS_N" "postgresql+asyncpg://postgres@127.0.0.1:$PP/postgres")

# Cold catch-up: the in-service cluster stops; a fresh one starts with its
# worker on its own queue (declared and bound on its first connection), stops,
# the backlog is published, and the timing runs from the restart.
cold_s=""; rawc_s=""
if [ "$COLD_N" -gt 0 ]; then
    cs_log "cold catch-up: fresh cluster, $COLD_N messages published while PostgreSQL is down"
    cs_pg_stop "$RUN/pgd" "$BIN"
    COLD=$RUN/cold
    trap 'cs_pg_stop "$COLD" "$BIN"; bench_broker_cleanup' EXIT
    cs_pg_start "$COLD" "$BIN" "shared_preload_libraries = 'candystore'" "fsync = on" \
        "candystore.database = 'postgres'" "candystore.amqp_url = 'amqp://guest:guest@127.0.0.1:$RP/'" \
        "candystore.outbox_publisher = off" "candystore.ingest_workers = $WORKERS" \
        "candystore.queue = 'bench_cold'" "candystore.binding_keys = 'bench.cold'" ${EXTRA_CONF:+"$EXTRA_CONF"}
    CP=$(cat "$COLD/port")
    cold_psql() { "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$CP" -U postgres -d postgres "$@"; }
    cold_psql -c "CREATE EXTENSION candystore"
    for _ in $(seq 1 200); do
        [ "$(cold_psql -c "SELECT count(*) FROM candystore.worker_status() WHERE state = 'consuming'")" = "$WORKERS" ] && break
        sleep 0.1
    done
    cs_pg_stop "$COLD" "$BIN"
    amqp-declare-queue -u "amqp://127.0.0.1:$RP" -q bench_raw_cold -d >/dev/null
    "$RUN/cs_publish" 127.0.0.1 "$RP" bloodbank.events.v1 bench.cold 263 "$COLD_N" 0 1 600 >/dev/null
    "$RUN/cs_publish" 127.0.0.1 "$RP" "" bench_raw_cold 264 "$COLD_N" 0 1 600 >/dev/null
    cs_log "raw drain of $COLD_N, then PostgreSQL restarted"
    rawc_s=$("$RUN/drain" 127.0.0.1 "$RP" bench_raw_cold "$COLD_N" noop)
    tc=$(date +%s.%N)
    cs_as_pg "$BIN/pg_ctl" -D "$COLD/data" -o "-p $CP" -l "$COLD/server.log" -w -t 60 start >/dev/null
    printf '%s\n' "SELECT stored + duplicates + dead_lettered FROM candystore.stats" '\watch 0.02' |
        cold_psql | while read -r v; do [ -n "$v" ] && [ "$v" -ge "$COLD_N" ] && break; done || true
    cold_s=$(awk "BEGIN { print $(date +%s.%N) - $tc }")
    cold_stats=$(cold_psql -c "SELECT format('stored %s, duplicates %s, dead-lettered %s, batches %s', stored, duplicates, dead_lettered, batches) FROM candystore.stats")
    cs_pg_stop "$COLD" "$BIN"
fi

rate() { awk "BEGIN { printf \"%.0f\", $1 / $2 }"; }
raw1_r=$(rate "$N" "$raw_s"); raw2_r=$(rate "$N" "$raw2_s")
raw_r=$(( raw1_r > raw2_r ? raw1_r : raw2_r )); worker_r=$(rate "$N" "$worker_s"); seeds_r=$(rate "$SEEDS_N" "$seeds_s"); python_r=$(rate "$SEEDS_N" "$python_s")
echo
printf '%-44s %10s %12s %10s\n' "consumer" "messages" "seconds" "msg/s"
printf '%-44s %10s %12.2f %10s\n' "raw drain (no-op, manual acks)" "$N" "$raw_s" "$raw1_r"
printf '%-44s %10s %12.2f %10s\n' "raw drain again, after the worker" "$N" "$raw2_s" "$raw2_r"
[ -z "$warm_s" ] || printf '%-44s %10s %12.2f %10s\n' "worker warm-up, fresh cluster" "$WARMUP" "$warm_s" "$(rate "$WARMUP" "$warm_s")"
printf '%-44s %10s %12.2f %10s\n' "candystore worker (validate, store, ack)" "$N" "$worker_s" "$worker_r"
printf '%-44s %10s %12.2f %10s\n' "  the same with its reload and reconnection" "$N" "$(awk "BEGIN { print $worker_s + $reconnect_s }")" \
    "$(rate "$N" "$(awk "BEGIN { print $worker_s + $reconnect_s }")")"
if [ -n "$cold_s" ]; then
    printf '%-44s %10s %12.2f %10s\n' "raw drain before the cold catch-up" "$COLD_N" "$rawc_s" "$(rate "$COLD_N" "$rawc_s")"
    printf '%-44s %10s %12.2f %10s\n' "worker, cold catch-up (from the restart)" "$COLD_N" "$cold_s" "$(rate "$COLD_N" "$cold_s")"
fi
printf '%-44s %10s %12.2f %10s\n' "seeds' design (append + commit per message)" "$SEEDS_N" "$seeds_s" "$seeds_r"
printf '%-44s %10s %12.2f %10s\n' "seeds' consumer as built (Python)" "$SEEDS_N" "$python_s" "$python_r"
echo
printf 'worker / raw drain (the faster of the two): %.0f%%   worker / seeds design (C): %.1fx   worker / seeds consumer as built (Python): %.1fx\n' \
    "$(awk "BEGIN { print 100 * $worker_r / $raw_r }")" "$(awk "BEGIN { print $worker_r / $seeds_r }")" \
    "$(awk "BEGIN { print $worker_r / $python_r }")"
if [ -n "$cold_s" ]; then
    rawc_r=$(rate "$COLD_N" "$rawc_s"); cold_r=$(rate "$COLD_N" "$cold_s")
    fastest=$(( raw_r > rawc_r ? raw_r : rawc_r ))
    printf 'cold catch-up / its raw drain: %.0f%%   / the fastest drain of the run (%s): %.0f%%   (%s)\n' \
        "$(awk "BEGIN { print 100 * $cold_r / $rawc_r }")" "$fastest" "$(awk "BEGIN { print 100 * $cold_r / $fastest }")" "$cold_stats"
fi
rss_first=? rss_last=?
[ ${#rss_series[@]} -eq 0 ] || { rss_first=${rss_series[0]#*:}; rss_last=${rss_series[-1]#*:}; }
echo "worker: $stats; private memory (RssAnon) first sample $rss_first kB, last $rss_last kB"
# RssAnon at about every fifth of the run, as messages:kB
printf '%s\n' "${rss_series[@]}" | awk -F: -v n="$N" '{ q = int($1 * 5 / n); if (!(q in seen)) { seen[q] = 1; out = out sprintf(" %s:%s", $1, $2) } }
    END { print "worker RssAnon (messages:kB) over the run:" out }'
sleep 0.5   # the second memory-context dump is written when the worker next checks for interrupts
grep -E "\\[$pid\\] .*Grand total" "$RUN/pgd/server.log" | sed -E 's/.*Grand total: ([0-9]+) bytes in ([0-9]+) blocks.*/\1/' |
    awk '{ t[NR] = $1 } END { if (NR >= 2) printf "worker memory contexts (palloc), grand total: %d bytes near the start, %d bytes at the end\n", t[1], t[NR] }'
echo "worker CPU time (user + system): $cpu_us µs per message; minor page faults: $(awk -v f="$((flt1 - flt0))" -v n="$N" 'BEGIN { printf "%.2f", f / n }') per message"
awk -v c="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" -v q="$((runq1 - runq0))" -v w="$worker_s" 'BEGIN {
    printf "worker wall time %.2f s: running %.2f s, runnable but waiting for a CPU %.2f s, asleep (broker, disk) %.2f s\n",
        w, c / hz, q / 1e9, w - c / hz - q / 1e9 }'
printf 'raw drain / seeds design: %.1fx (C), %.1fx (Python): the most any consumer could reach over them here\n' \
    "$(awk "BEGIN { print $raw_r / $seeds_r }")" "$(awk "BEGIN { print $raw_r / $python_r }")"
echo "(the worker is timed from its basic.consume, as the raw drains are; its settings reload and reconnection took ${reconnect_s} s before that)"
echo "load average at the end (2 cores shared with other work): $(cut -d' ' -f1-3 /proc/loadavg)"
