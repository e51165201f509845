#!/usr/bin/env bash
# Issue 15 at scale, side by side in one run on one cluster: N events (the
# causation shapes of bench/trace.sh: short flows of 4 plus the chains, wide
# trees and mixed graphs, contiguous and interleaved) in
#   partitioned   this tree's store, partitions of N/10 positions, loaded
#                 with append_many() in statements of BATCH envelopes
#   0.1.0         CREATE EXTENSION candystore VERSION '0.1.0' in a second
#                 database (one heap), holding the same rows: event_log and
#                 causation_links copied over with COPY (0.1.0 has no bulk
#                 append; the rows and groups are those append() makes)
# Reported: bench/trace.sh's causation queries in both (median of RUNS after
# a warm-up) and their ratio; bytes per stored event with and without
# indexes; purge_events() of the oldest 10 % (the first partition's events,
# dated 1990) in both; archive_partition() and restore_archive() of that
# partition against COPY TO/FROM of the same rows.  One run; the machine's
# other load counts (compare within the tables only).
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
T0=$SECONDS
lap() { cs_log "$1 ($((SECONDS - T0)) s)"; }

bench_psql -c "CREATE DATABASE part" -c "CREATE DATABASE old"
bench_psql -d old -c "CREATE EXTENSION candystore VERSION '0.1.0'"
bench_psql -d part -v flows="$FLOWS" -v p="$P" -v batch="$BATCH" <<'SQL'
\set ON_ERROR_STOP on
SET jit = off;
SET candystore.validation = off;   -- the generated payloads follow no schema
CREATE EXTENSION candystore;
\o /dev/null
SELECT candystore.make_partitions(ahead => 11, size => :p);
\o
\cd :bench
\ir trace_data.sql
-- the oldest 10 % (the first partition) dated 1990, for purge_events('1 year')
CREATE UNLOGGED TABLE staging AS
SELECT n, CASE WHEN n <= :p THEN jsonb_set(doc, '{timestamp}', '"1990-01-01T00:00:00Z"') ELSE doc END AS doc
  FROM (SELECT n, pg_temp.env(name, type, parents, n, payload) AS doc
          FROM (SELECT *, row_number() OVER (ORDER BY ord) AS n FROM gen) g) s;
CREATE INDEX ON staging (n);
DROP TABLE gen;
\o /dev/null
SELECT format('SELECT count(*) FROM candystore.append_many(ARRAY(SELECT doc FROM staging WHERE n BETWEEN %s AND %s ORDER BY n))',
              b, b + :batch - 1)
  FROM generate_series(1, (SELECT max(n) FROM staging), :batch) b \gexec
\o
DROP TABLE staging;
SQL
LOAD_S=$((SECONDS - T0))
lap "partitioned store loaded"
COLS="position, event_id, event_type, occurred_at, recorded_at, routing_key, correlation_ids, envelope, causation_group, session_key"
bench_psql -d part -c "COPY (SELECT $COLS FROM candystore.event_log ORDER BY position) TO STDOUT" |
    bench_psql -d old -c "COPY candystore.event_log ($COLS) FROM STDIN"
bench_psql -d part -c "COPY candystore.causation_links TO STDOUT" |
    bench_psql -d old -c "COPY candystore.causation_links FROM STDIN"
for db in part old; do bench_psql -d "$db" -c "VACUUM ANALYZE"; done
COPY_S=$((SECONDS - T0 - LOAD_S))
lap "0.1.0 store copied, both vacuumed"

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
QP=$(queries part); lap "queries on the partitioned store"
QO=$(queries old); lap "queries on the 0.1.0 store"
SP=$(sizes part event_ids causation_links)
cs_log "sizes, partitioned: $SP"
SO=$(sizes old event_log causation_links)
cs_log "sizes, 0.1.0: $SO"

# purge_events('1 year') in a fresh session of each: "ms|purged"
purge() {
    bench_psql -d "$1" -At <<'SQL'
\o /dev/null
SELECT clock_timestamp() AS t0 \gset
SELECT candystore.purge_events('1 year') AS purged \gset
\o
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 1) || '|' || :purged;
SQL
}
# Archives, on the partitioned store: the first partition archived and
# copied out, dropped by purge_events(), then restored and copied back in.
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
PURGE_P=$(purge part)
PURGE_O=$(purge old)
lap "purged"
bench_psql -d part -v files="$FILES" <<'SQL'
SET candystore.validation = off;
CALL bench_one(4, 'restore_archive()', format('SELECT candystore.restore_archive(%L)', :'files' || '/a.jsonl.gz'));
CALL bench_one(5, 'restore again (duplicates)', format('SELECT candystore.restore_archive(%L)', :'files' || '/a.jsonl.gz'));
CALL bench_one(6, 'COPY FROM file', format('COPY plain FROM %L', :'files' || '/c.txt'));
SQL
lap "archives done"

IFS='|' read -r EP NP IP <<<"$SP"
IFS='|' read -r EO NO IO <<<"$SO"
echo
echo "Large store: $EP events (partitioned: $(bench_psql -d part -At -c "SELECT count(*) FROM candystore.event_log_partitions") partitions of $P positions; 0.1.0: the same rows in one heap)"
echo "Generated, stored with append_many() ($BATCH a statement) and vacuumed in $LOAD_S s; copied into 0.1.0 and both vacuumed in $COPY_S s"
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
echo "layout | ms | purged"
echo "partitioned (partition dropped) | ${PURGE_P/|/ | }"
echo "0.1.0 (row DELETE) | ${PURGE_O/|/ | }"
awk -F '|' -v a="$PURGE_O" -v b="$PURGE_P" 'BEGIN { split(a, x, "|"); split(b, y, "|"); printf "ratio | %.1fx |\n", x[1] / y[1] }'
echo
echo "Archives: the first partition ($P events) against COPY of the same rows"
bench_psql -d part -v p="$P" -F ' | ' -A <<'SQL'
\pset footer off
SELECT method, round(wall_ms) AS wall_ms, round(:p / (wall_ms / 1000)) AS events_per_s
  FROM timing ORDER BY step;
SELECT (SELECT count(*) FROM candystore.event_log) AS events_after_restore,
       (SELECT count(*) FROM plain) AS copied_rows;
SQL
lap "done"
