#!/usr/bin/env bash
# Bulk append: the same 6,000 ~1 KB envelopes (600 flows of 10, each event the
# child of the one before it) stored in one statement each way, side by side
# in one run:
#   append()       SELECT count(candystore.append(doc)) FROM staging
#   append_many()  SELECT count(*) FROM candystore.append_many(ARRAY(SELECT doc FROM staging ...))
#   plain INSERT   INSERT INTO plain(event_id, doc) SELECT (doc->>'event_id')::uuid, doc FROM staging
# into a (event_id uuid PRIMARY KEY, doc jsonb) table, and append_many() of
# the same batch again (every envelope a duplicate).  Each round gets new
# event ids; the methods are interleaved.  Reported: wall time and the
# backend's own CPU time (/proc/self/schedstat, nanoseconds on a CPU, so
# other processes on shared cores count less), medians of the rounds.
# With INSTRUCTIONS=1 (needs valgrind), then also the instructions each
# statement takes, counted by callgrind in a single-user backend (minus an
# empty session's), which no other load on the machine changes.
# And import_legacy() of as many rows of the old table, CPU time.
# Usage: [INSTRUCTIONS=1] bash bench/append_many.sh [rounds, default 5] [envelopes, default 6000]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-5}
N=${2:-6000}

cs_ensure_packages
bench_cluster append_many
bench_envelope_functions
bench_psql -v rounds="$ROUNDS" -v n="$N" <<'SQL'
CREATE EXTENSION candystore;
CREATE TABLE plain (event_id uuid PRIMARY KEY, doc jsonb);
CREATE FUNCTION cpu_ns() RETURNS bigint LANGUAGE sql AS $$
    SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint
$$;
CREATE TABLE timing (round int, method text, wall_ms numeric, cpu_ms numeric, stored bigint);
CREATE FUNCTION bench_one(r int, method text, tab text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; c0 bigint; stored bigint; sql text;
BEGIN
    sql := CASE regexp_replace(method, ' again$', '')
        WHEN 'append()' THEN format('SELECT count(candystore.append(doc)) FROM %I', tab)
        WHEN 'append_many()' THEN format('SELECT count(*) FILTER (WHERE outcome = ''stored'') FROM candystore.append_many(ARRAY(SELECT doc FROM %I ORDER BY n))', tab)
        WHEN 'plain INSERT' THEN format('INSERT INTO plain (event_id, doc) SELECT (doc->>''event_id'')::uuid, doc FROM %I', tab)
    END;
    t0 := clock_timestamp(); c0 := cpu_ns();
    IF method = 'plain INSERT' THEN
        EXECUTE sql;
        GET DIAGNOSTICS stored = ROW_COUNT;
    ELSE
        EXECUTE sql INTO stored;
    END IF;
    INSERT INTO timing VALUES (r, method, extract(epoch FROM clock_timestamp() - t0) * 1000,
                               (cpu_ns() - c0) / 1e6, stored);
END $$;
SQL

# warm-up: plans, caches, the catalog
bench_psql -o /dev/null -v n="$N" <<'SQL'
SELECT bench_staging('warm', 200);
SELECT count(candystore.append(doc)) FROM warm WHERE n <= 100;
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT doc FROM warm WHERE n > 100 ORDER BY n));
SQL
for round in $(seq 1 "$ROUNDS"); do
    bench_psql -o /dev/null -v n="$N" -v r="$round" <<'SQL'
SELECT bench_staging('s_' || :r || '_one', :n), bench_staging('s_' || :r || '_many', :n);
CHECKPOINT;
SELECT bench_one(:r, 'append()', 's_' || :r || '_one');
CHECKPOINT;
SELECT bench_one(:r, 'append_many()', 's_' || :r || '_many');
CHECKPOINT;
SELECT bench_one(:r, 'plain INSERT', 's_' || :r || '_one');
CHECKPOINT;
SELECT bench_one(:r, 'append_many() again', 's_' || :r || '_many');
SQL
    cs_log "round $round done"
done

bench_psql -v rounds="$ROUNDS" -v n="$N" <<'SQL'
\echo
\echo :n envelopes in one statement, median of :rounds rounds (one run, 1 client)
WITH m AS (
    SELECT method, percentile_cont(0.5) WITHIN GROUP (ORDER BY wall_ms) AS wall,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_ms) AS cpu, min(stored) AS stored
      FROM timing GROUP BY method),
p AS (SELECT wall, cpu FROM m WHERE method = 'plain INSERT')
SELECT method, round(m.wall::numeric, 1) AS wall_ms, round(m.cpu::numeric, 1) AS cpu_ms,
       round((:n / m.wall * 1000)::numeric) AS events_per_s,
       round((p.wall / m.wall)::numeric, 2) AS "rate vs plain (wall)",
       round((p.cpu / m.cpu)::numeric, 2) AS "rate vs plain (cpu)", m.stored
  FROM m, p ORDER BY array_position(ARRAY['append()', 'append_many()', 'append_many() again', 'plain INSERT'], method);
SELECT 'every round: ' || string_agg(format('%s %s/%s ms', method, round(wall_ms), round(cpu_ms)), ', ' ORDER BY round, method) FROM timing;
SQL

# import_legacy(): the same number of rows of the old Candystore model
# (bench/append_many.sh's payloads' size, ids that are not UUIDs, nine rows
# in ten naming the row before as their correlation_id), imported, then
# imported again (all duplicates); the backend's CPU time.
bench_psql -v n="$N" <<'SQL'
CREATE TABLE legacy_events (id varchar PRIMARY KEY, event_type varchar NOT NULL, source varchar NOT NULL,
    target varchar, routing_key varchar NOT NULL, "timestamp" timestamp NOT NULL, payload json NOT NULL,
    session_id varchar, correlation_id varchar);
INSERT INTO legacy_events
SELECT 'evt-' || i, 'artifact.legacy_' || (i % 5), 'host-' || (i % 7), NULL, 'artifact.legacy',
       '2026-01-01'::timestamp + i * interval '1 second',
       (bench_envelope(gen_random_uuid(), NULL)->'payload')::json, NULL,
       CASE WHEN i % 10 <> 0 THEN 'evt-' || (i - 1) END
  FROM generate_series(1, :n) i;
ANALYZE legacy_events;
CHECKPOINT;
CREATE TEMP TABLE import_timing (run text, cpu_ms numeric, wall_ms numeric, imported bigint, duplicates bigint);
CREATE FUNCTION pg_temp.timed_import(run text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); c0 bigint := cpu_ns(); r record;
BEGIN
    SELECT * INTO r FROM candystore.import_legacy('legacy_events');
    INSERT INTO import_timing VALUES (run, (cpu_ns() - c0) / 1e6, extract(epoch FROM clock_timestamp() - t0) * 1000,
                                      r.imported, r.duplicates);
END $$;
SELECT pg_temp.timed_import('first') \g /dev/null
SELECT pg_temp.timed_import('again') \g /dev/null
\echo
\echo import_legacy() of :n old rows
SELECT run, round(cpu_ms) AS cpu_ms, round(wall_ms) AS wall_ms, round(:n / cpu_ms * 1000) AS rows_per_cpu_s,
       imported, duplicates FROM import_timing;
SQL

[ "${INSTRUCTIONS:-0}" = 1 ] || exit 0
# Instructions: each statement alone in a single-user backend under
# callgrind, on staging tables made beforehand, minus a backend that runs
# SELECT 1.
bench_psql -o /dev/null -v n="$N" <<'SQL'
SELECT bench_staging('i_one', :n), bench_staging('i_many', :n);
CHECKPOINT;
SQL
cs_pg_stop "$BENCH_DIR" "$BENCH_BIN"
count_instructions() {
    echo "$1" | cs_as_pg valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$BENCH_BIN/postgres" --single -D "$BENCH_DIR/data" postgres 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
base=$(count_instructions "SELECT 1;")
declare -A ir
ir[plain]=$(count_instructions "SELECT bench_one(0, 'plain INSERT', 'i_one');")
ir[one]=$(count_instructions "SELECT bench_one(0, 'append()', 'i_one');")
ir[many]=$(count_instructions "SELECT bench_one(0, 'append_many()', 'i_many');")
ir[again]=$(count_instructions "SELECT bench_one(0, 'append_many() again', 'i_many');")
printf '\n%-22s %18s %22s\n' "instructions per event" "(callgrind)" "rate vs plain INSERT"
for m in one many again plain; do
    per=$(( (ir[$m] - base) / N ))
    label=$m; case $m in one) label='append()';; many) label='append_many()';; again) label='append_many() again';; plain) label='plain INSERT';; esac
    printf '%-22s %18d %21.2fx\n' "$label" "$per" "$(awk -v p=$(( (ir[plain] - base) / N )) -v m="$per" 'BEGIN {print p / m}')"
done
