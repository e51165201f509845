#!/usr/bin/env bash
# Issue 15 at scale, side by side in one run on one cluster: N events (the
# causation shapes of bench/trace.sh: short flows of 4 plus the chains, wide
# trees and mixed graphs, contiguous and interleaved) in
#   partitioned   this tree's store, partitions of N/10 positions, loaded
#                 with append_many() in statements of BATCH envelopes
#   0.1.0         CREATE EXTENSION candystore VERSION '0.1.0' in a second
#                 database (one heap), holding the same rows: event_log and
#                 causation_links copied over with COPY (0.1.0 has no bulk
#                 append; the rows and groups are those append() makes),
#                 as one loads a table: its indexes dropped first and built
#                 after the rows are in.  The copy runs beside the load,
#                 each committed range as soon as it is committed.
# Reported: bench/trace.sh's causation queries in both (median of RUNS after
# a warm-up) and their ratio; bytes per stored event with and without
# indexes; purge_events() of the oldest 10 % (the first partition's events,
# dated 1990) in both; archive_partition() and restore_archive() of that
# partition against COPY TO/FROM of the same rows; the seconds each phase
# took.  One run; the machine's other load counts (compare within the
# tables only).
# Usage: bash bench/large_store.sh [events, default 2000000]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"
# bench/lib.sh's, with -v bench: \ir's directory, whatever the caller's
bench_psql() { psql -X -q -v ON_ERROR_STOP=1 -v bench="$CS_ROOT/bench" -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -d postgres "$@"; }
N=${1:-2000000}
RUNS=${RUNS:-7}
BATCH=${BATCH:-10000}
P=$((N / 10))
# the shapes other than the short flows make 160,520 events
FLOWS=$(( (N - 160520) / 4 ))
[ "$FLOWS" -ge 2000 ] || cs_die "N must be at least 168520"

cs_ensure_packages
bench_cluster large_store
FILES=$BENCH_DIR/files
mkdir -p "$FILES"
chmod 0777 "$FILES"   # written by the server's own user
T0=$(date +%s)
# phase NAME [END]: the phase that ended at END (epoch seconds, default now)
# took the seconds since the previous one ended; for the table at the end
PHASES=""
PHASE_T=$T0
phase() {
    local end=${2:-$(date +%s)}
    PHASES+="$1|$((end - PHASE_T))"$'\n'
    PHASE_T=$end
    cs_log "$1 ($((end - T0)) s)"
}
COLS="position, event_id, event_type, occurred_at, recorded_at, routing_key, correlation_ids, envelope, causation_group, session_key"

# The load is not measured: while it runs, checkpoints are spaced further
# apart (each one makes the next write of every page a full-page image in
# the WAL, and the ids' indexes are written all over), and bench_cluster's
# max_wal_size is back before anything measured runs.
bench_psql -c "ALTER SYSTEM SET max_wal_size = '${LOAD_MAX_WAL_SIZE:-16GB}'" -c "SELECT pg_reload_conf()" >/dev/null
bench_psql -c "CREATE DATABASE part" -c "CREATE DATABASE old"
bench_psql -d old -c "CREATE EXTENSION candystore VERSION '0.1.0'"
bench_psql -d part -o /dev/null -c "CREATE EXTENSION candystore" \
    -c "SELECT candystore.make_partitions(ahead => 11, size => $P)"
# 0.1.0's tables loaded as one loads a table: the indexes (and the
# constraints they back) dropped now, built again once the rows are in
bench_psql -d old -At >"$FILES/old_indexes.sql" <<'SQL'
SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s;', conrelid::regclass, conname, pg_get_constraintdef(oid))
  FROM pg_constraint
 WHERE conrelid IN ('candystore.event_log'::regclass, 'candystore.causation_links'::regclass)
   AND contype IN ('p', 'u')
UNION ALL
SELECT pg_get_indexdef(i.indexrelid) || ';'
  FROM pg_index i
 WHERE i.indrelid IN ('candystore.event_log'::regclass, 'candystore.causation_links'::regclass)
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);
SQL
bench_psql -d old -At <<'SQL' | bench_psql -d old
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I;', conrelid::regclass, conname)
  FROM pg_constraint
 WHERE conrelid IN ('candystore.event_log'::regclass, 'candystore.causation_links'::regclass)
   AND contype IN ('p', 'u')
UNION ALL
SELECT format('DROP INDEX %s;', i.indexrelid::regclass)
  FROM pg_index i
 WHERE i.indrelid IN ('candystore.event_log'::regclass, 'candystore.causation_links'::regclass)
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);
SQL
[ "$(bench_psql -d old -At -c "SELECT count(*) FROM pg_index WHERE indrelid IN ('candystore.event_log'::regclass, 'candystore.causation_links'::regclass)")" = 0 ] ||
    cs_die "0.1.0's indexes were not all dropped"

# copy_to_old: copies the partitioned store's committed rows into 0.1.0's
# event_log, range by range, while the load runs (one loading session: once
# a position is committed, every lower one is); the last pass after
# $FILES/loaded appears
copy_to_old() {
    local done=0 upto final=""
    while :; do
        [ -e "$FILES/loaded" ] && final=1
        upto=$(bench_psql -d part -At -c "SELECT coalesce(max(position), 0) FROM candystore.event_log")
        if [ "$upto" -gt "$done" ]; then
            bench_psql -d part -c "COPY (SELECT $COLS FROM candystore.event_log WHERE position > $done AND position <= $upto ORDER BY position) TO STDOUT" |
                bench_psql -d old -c "COPY candystore.event_log ($COLS) FROM STDIN"
            done=$upto
        fi
        [ -n "$final" ] && break
        sleep 5
    done
}

rm -f "$FILES/loaded"
copy_to_old &
COPIER=$!
export FILES
bench_psql -d part -v flows="$FLOWS" -v p="$P" -v batch="$BATCH" <<'SQL'
\set ON_ERROR_STOP on
SET jit = off;
SET synchronous_commit = off;   -- the load is not measured
SET temp_buffers = '512MB';
SET candystore.validation = off;   -- the generated payloads follow no schema
\cd :bench
\ir trace_data.sql
-- gen's rows numbered in the order they are stored, their parents' ids as
-- the envelope lists them
CREATE TEMP TABLE staging AS
SELECT row_number() OVER (ORDER BY ord) AS n, name, type, parents, payload,
       CASE cardinality(parents) WHEN 0 THEN '[]'::jsonb
            WHEN 1 THEN jsonb_build_array(pg_temp.id(parents[1]))
            ELSE (SELECT jsonb_agg(pg_temp.id(p)) FROM unnest(parents) p) END AS parent_ids
  FROM gen;
CREATE INDEX ON staging (n);
ANALYZE staging;
DROP TABLE gen;
-- The envelope of row n as trace_data.sql's pg_temp.env() makes it (dated
-- 1990 when old), in a function the planner inlines (no sub-select, STABLE
-- as to_char is): env() is an SQL function called row by row, which cost
-- as much CPU as append_many() itself.  Checked against env() on the
-- multi-parent rows and every thousandth.
CREATE FUNCTION pg_temp.envelope(n bigint, name text, type text, parent_ids jsonb, payload jsonb, old boolean)
    RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'event_id', md5(name)::uuid, 'event_type', type,
        'timestamp', CASE WHEN old THEN '1990-01-01T00:00:00Z'
                          ELSE to_char(timestamptz '2026-01-01 00:00:00Z' + n * interval '10 ms',
                                       'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END,
        'version', '1.0.0',
        'source', '{"host": "bench", "type": "webhook", "app": "fireflies", "meta": null}'::jsonb,
        'correlation_ids', parent_ids, 'agent_context', null, 'payload', payload)
$$;
DO $$
BEGIN
    IF EXISTS (SELECT FROM staging
                WHERE (cardinality(parents) > 1 OR n % 1000 = 0)
                  AND pg_temp.envelope(n, name, type, parent_ids, payload, false)
                      IS DISTINCT FROM pg_temp.env(name, type, parents, n, payload)) THEN
        RAISE EXCEPTION 'pg_temp.envelope() differs from trace_data.sql''s pg_temp.env()';
    END IF;
END $$;
ALTER TABLE staging DROP COLUMN parents;
\! date +%s > "$FILES/generated_at"
-- the envelopes built batch by batch, the oldest 10 % (the first partition)
-- dated 1990, for purge_events('1 year')
\o /dev/null
SELECT format($q$SELECT count(*) FROM candystore.append_many(ARRAY(
                   SELECT pg_temp.envelope(n, name, type, parent_ids, payload, n <= %s)
                     FROM staging WHERE n BETWEEN %s AND %s ORDER BY n))$q$,
              :p, b, b + :batch - 1)
  FROM generate_series(1, (SELECT max(n) FROM staging), :batch) b \gexec
\o
SQL
touch "$FILES/loaded"
phase "generated (bench/trace_data.sql's shapes)" "$(cat "$FILES/generated_at")"
phase "stored with append_many() (the copy into 0.1.0 beside it)"
wait "$COPIER"
bench_psql -d part -c "COPY candystore.causation_links TO STDOUT" |
    bench_psql -d old -c "COPY candystore.causation_links FROM STDIN"
phase "copy into 0.1.0 finished"
bench_psql -c "ALTER SYSTEM RESET max_wal_size" -c "SELECT pg_reload_conf()" >/dev/null
bench_psql -d part -c "VACUUM ANALYZE" &
VACUUMER=$!
bench_psql -d old -c "SET maintenance_work_mem = '1GB'" -f "$FILES/old_indexes.sql" -c "VACUUM ANALYZE"
wait "$VACUUMER"
phase "0.1.0's indexes built, both vacuumed"

# queries DB: "ord|query|rows|ms" of each causation query
queries() {
    bench_psql -d "$1" -At -v runs="$RUNS" <<'SQL'
\cd :bench
\ir trace_queries.sql
SELECT q.ord, q.query, c.n, round(c.ms, 2)
  FROM queries q,
       LATERAL pg_temp.median_ms(format('SELECT count(*) FROM %s(%L)', q.candystore, q.start), :runs) c
 ORDER BY q.ord;
SQL
}
# sizes DB TABLES...: "events|bytes without indexes|with indexes" of the
# named tables of candystore and every partition of event_log
sizes() {
    local db=$1; shift
    bench_psql -d "$db" -At <<SQL
SELECT (SELECT count(*) FROM candystore.event_log),
       sum(pg_table_size(r)), sum(pg_total_relation_size(r))
  FROM (SELECT inhrelid AS r FROM pg_inherits WHERE inhparent = 'candystore.event_log'::regclass
        UNION ALL
        SELECT c.oid FROM pg_class c
         WHERE c.relnamespace = 'candystore'::regnamespace AND c.relname IN ($(printf "'%s'," "$@" | sed 's/,$//'))) t;
SQL
}
QP=$(queries part)
QO=$(queries old)
phase "causation queries in both"
SP=$(sizes part event_ids causation_links)
cs_log "sizes, partitioned: $SP"
SO=$(sizes old event_log causation_links)
cs_log "sizes, 0.1.0: $SO"

# purge_events('1 year') in a fresh session of each, then (partitioned) the
# deferred drop_purged_partitions(): "ms|drop ms|ms + drop ms|purged|dead tuples
# left in event_log (its partitions), event_ids"; purge_events()'s own
# account of its steps (DEBUG1) in $FILES/purge_steps
purge() {
    bench_psql -d "$1" -At -v timed_purge="$(cd "$(dirname "$0")" && pwd)/timed_purge.sql" 2>>"$FILES/purge_steps" <<'SQL'
\o /dev/null
\i :timed_purge
\o
SELECT :ms || '|' || :drop_ms || '|' || :ms + :drop_ms || '|' || :purged || '|'
       || (SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables
            WHERE schemaname = 'candystore' AND relname LIKE 'event_%');
SQL
}
# Archives, on the partitioned store: the first partition archived and
# copied out, detached by purge_events() and dropped, then restored and copied back in.
bench_psql -d part -v files="$FILES" -v p="$P" <<'SQL'
CREATE TABLE plain (LIKE candystore.event_log);
CREATE TABLE timing (step int, method text, wall_ms numeric);
CREATE PROCEDURE bench_one(step int, method text, sql text) LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
    t0 := clock_timestamp();
    EXECUTE sql;
    INSERT INTO timing VALUES (step, method, extract(epoch FROM clock_timestamp() - t0) * 1000);
    COMMIT;
END $$;
SELECT partition AS first_partition FROM candystore.event_log_partitions ORDER BY first_position LIMIT 1 \gset
CALL bench_one(1, 'archive_partition()', format('SELECT candystore.archive_partition(%L, %L)', :'first_partition', :'files' || '/a.jsonl.gz'));
CALL bench_one(2, 'COPY TO file', format('COPY (SELECT * FROM %s) TO %L', :'first_partition', :'files' || '/c.txt'));
CALL bench_one(3, 'COPY TO PROGRAM gzip', format('COPY (SELECT * FROM %s) TO PROGRAM %L', :'first_partition', 'gzip > ' || :'files' || '/c.txt.gz'));
SQL
PURGE_P=$(purge part) || { cat "$FILES/purge_steps" >&2; exit 1; }
PURGE_O=$(purge old) || { cat "$FILES/purge_steps" >&2; exit 1; }
phase "archived and copied out, purged in both"
bench_psql -d part -v files="$FILES" <<'SQL'
SET candystore.validation = off;
CALL bench_one(4, 'restore_archive()', format('SELECT candystore.restore_archive(%L)', :'files' || '/a.jsonl.gz'));
CALL bench_one(5, 'COPY FROM file', format('COPY plain FROM %L', :'files' || '/c.txt'));
SQL
phase "restored and copied in"

IFS='|' read -r EP NP IP <<<"$SP"
IFS='|' read -r EO NO IO <<<"$SO"
echo
echo "Large store: $EP events (partitioned: $(bench_psql -d part -At -c "SELECT count(*) FROM candystore.event_log_partitions") partitions of $P positions; 0.1.0: the same rows in one heap)"
echo "Stored with append_many(), $BATCH envelopes a statement"
echo "Causation queries, median ms of $RUNS runs after a warm-up"
echo "query | rows partitioned | rows 0.1.0 | partitioned ms | 0.1.0 ms | partitioned / 0.1.0"
join -t '|' <(echo "$QP" | sort -t '|' -k1,1) <(echo "$QO" | sort -t '|' -k1,1) | sort -t '|' -k1,1n |
    awk -F '|' '{ printf "%s | %s | %s | %s | %s | %.2f\n", $2, $3, $6, $4, $7, $4 / $7 }'
echo
echo "Bytes per stored event (event_log and its partitions, event_ids, causation_links; heap and TOAST, then with indexes)"
echo "layout | without indexes | with indexes"
awk -v n="$NP" -v i="$IP" -v e="$EP" 'BEGIN { printf "partitioned | %.0f | %.0f\n", n / e, i / e }'
awk -v n="$NO" -v i="$IO" -v e="$EO" 'BEGIN { printf "0.1.0 | %.0f | %.0f\n", n / e, i / e }'
echo "(envelope: $(bench_psql -d old -At -c "SELECT round(avg(octet_length(envelope::text))) FROM candystore.event_log") bytes of JSON text on average)"
echo
echo "purge_events('1 year') of the oldest 10 % ($P events), fresh session"
echo "layout | purge_events() ms (commit included) | deferred drop ms | purge + drop ms | purged | dead tuples left"
echo "partitioned (partition detached, dropped later) | ${PURGE_P//|/ | }"
echo "0.1.0 (row DELETE) | ${PURGE_O//|/ | }"
awk -F '|' -v a="$PURGE_O" -v b="$PURGE_P" 'BEGIN { split(a, x, "|"); split(b, y, "|");
    printf "ratio (0.1.0 / partitioned) | purge_events() %.1fx | purge + drop %.1fx\n", x[1] / y[1], x[1] / y[3] }'
echo "inside purge_events(), partitioned then 0.1.0:"
sed -n 's/.*purge_events: //p' "$FILES/purge_steps"
echo
echo "Archives: the first partition ($P events) against COPY of the same rows"
bench_psql -d part -v p="$P" -F ' | ' -A <<'SQL'
\pset footer off
SELECT method, round(wall_ms) AS wall_ms, round(:p / (wall_ms / 1000)) AS events_per_s
  FROM timing ORDER BY step;
SELECT (SELECT count(*) FROM candystore.event_log) AS events_after_restore,
       (SELECT count(*) FROM plain) AS copied_rows;
SQL
phase "reported"
echo
echo "Phases, seconds (wall, $(( $(date +%s) - T0 )) s in all)"
echo "phase | s"
printf '%s' "$PHASES" | sed 's/|/ | /'
