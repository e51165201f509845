#!/usr/bin/env bash
# Erasure of one subject's events, and what it does to a concurrent writer,
# side by side in one run:
#   erase_subject()   N events of one subject (their payloads name it at a
#                     registered path) among N events of another, ~1 KB each
#   writer            one pgbench client appending one event per transaction
#                     (fsync on), alone for WRITER_S seconds, then again while
#                     the erasure runs: appends/s, and its worst second
# The erasure takes row locks on the rows it rewrites only, so the writer's
# inserts should not wait for it; the table shows whether they do.  One run;
# the machine's other load counts (compare within the table only).
# Usage: bash bench/erasure.sh [events of the subject, default 100000]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"
N=${1:-100000}
WRITER_S=${WRITER_S:-15}

cs_ensure_packages
bench_cluster erasure
WORK=$BENCH_DIR/work
mkdir -p "$WORK"

bench_psql -v n="$N" <<'SQL'
CREATE EXTENSION candystore;
SELECT FROM candystore.register_subject_path('meeting.transcribed', '$.participants[*]') \gset
CREATE FUNCTION bench_envelope(who text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'event_id', gen_random_uuid(), 'event_type', 'meeting.transcribed',
        'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'version', '1.0.0',
        'source', jsonb_build_object('host', 'bigchungus', 'type', 'webhook', 'app', 'fireflies'),
        'agent_context', jsonb_build_object('system_prompt', 'You summarise meetings for ' || who),
        'payload', jsonb_build_object(
            'title', 'Team Standup', 'duration', 60.5,
            'summary', repeat('Release on Friday; ' || who || ' owns the migration. ', 12),
            'participants', jsonb_build_array(who, 'ops@example.com'),
            'session_id', 'standup-' || (random() * 1000)::int))
$$;
-- the subject's events and as many of someone else's, interleaved, in batches
SELECT count(*) FROM generate_series(0, :n * 2 - 1, 10000) b,
       LATERAL candystore.append_many(ARRAY(
           SELECT bench_envelope(CASE WHEN i % 2 = 0 THEN 'ada@example.com' ELSE 'bob@example.com' END)
             FROM generate_series(b, least(b + 9999, :n * 2 - 1)) i), NULL) a \gset
VACUUM ANALYZE;
SQL

cat > "$WORK/writer.sql" <<'SQL'
SELECT candystore.append(jsonb_build_object(
    'event_id', gen_random_uuid(), 'event_type', 'meeting.joined',
    'timestamp', '2026-03-01T10:00:00Z', 'version', '1.0.0',
    'source', jsonb_build_object('host', 'h', 'type', 'webhook'),
    'payload', jsonb_build_object('participant', 'carol@example.com', 'note', repeat('x', 800))));
SQL

# writer WHAT SECONDS: one pgbench client; its progress, one line a second
# with an epoch timestamp, in WORK/WHAT.progress
writer() {
    exec "$BENCH_BIN/pgbench" -n -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -c 1 -T "$2" \
        -P 1 --progress-timestamp -f "$WORK/writer.sql" postgres >/dev/null 2>"$WORK/$1.progress"
}
# rate FROM TO: the writer's appends per second between epochs FROM and TO
# (recorded_at is the appending transaction's start)
rate() {
    bench_psql -At -c "SELECT round(count(*) / ($2 - $1)) FROM candystore.event_log
                        WHERE event_type = 'meeting.joined'
                          AND recorded_at BETWEEN to_timestamp($1) AND to_timestamp($2)"
}
# worst WHAT FROM TO: the fewest appends in one second of the writer's
# progress between FROM and TO (0: a second in which it was blocked)
worst() {
    awk -v a="$2" -v b="$3" '$1 == "progress:" && $2 >= a + 1 && $2 <= b { if (m == "" || $4 < m) m = $4 }
                             END { if (m == "") print "n/a"; else printf "%.0f", m }' "$WORK/$1.progress"
}
now() { date +%s.%N; }

# alone
t0=$(now); (writer alone "$WRITER_S"); t1=$(now)
alone_rate=$(rate "$t0" "$t1"); alone_worst=$(worst alone "$t0" "$t1")

# during the erasure: the writer starts first and outlasts it
writer during 3600 &
wpid=$!     # pgbench itself (exec): stopped below, or on exit
trap 'kill "$wpid" 2>/dev/null || true; cs_pg_stop "$BENCH_DIR" "$BENCH_BIN"' EXIT
sleep 3
e0=$(now)
erased=$(bench_psql -At -c "SELECT events FROM candystore.erase_subject('ada@example.com', 'benchmark')")
e1=$(now)
kill "$wpid" 2>/dev/null || true; wait "$wpid" 2>/dev/null || true
during_rate=$(rate "$e0" "$e1"); during_worst=$(worst during "$e0" "$e1")

left=$(bench_psql -At -c "SELECT count(*) FROM candystore.events WHERE payload->'participants' ? 'ada@example.com'")
awk -v n="$erased" -v e0="$e0" -v e1="$e1" -v ar="$alone_rate" -v am="$alone_worst" \
    -v dr="$during_rate" -v dm="$during_worst" -v left="$left" 'BEGIN {
    s = e1 - e0
    printf "erase_subject(): %d events in %.1f s = %.0f events/s (%d of the subject left)\n\n", n, s, n / s, left
    printf "%-34s %12s %20s\n", "writer (1 client, fsync on)", "appends/s", "worst second (tps)"
    printf "%-34s %12d %20s\n", "alone", ar, am
    printf "%-34s %12d %20s\n", "during the erasure", dr, dm
    printf "%-34s %12.2f\n", "ratio during / alone", (ar > 0 ? dr / ar : 0)
}'
