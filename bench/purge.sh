#!/usr/bin/env bash
# Retention side by side in one run: purge_events() removing the oldest 10 %
# of N events from
#   0.1.0 layout   CREATE EXTENSION candystore VERSION '0.1.0' (one heap,
#                  event ids unique in it): the row-by-row DELETE
#   partitioned    this tree's layout, partitions of N/10 positions: the
#                  oldest partition detached by purge_events(), no row
#                  touched, then dropped by drop_purged_partitions() (the
#                  maintenance job's deferred step), timed apart
# each in a database of its own on one cluster.  The events are the ~1 KB
# envelopes of bench/lib.sh's bench_envelope_functions (flows of 10), the oldest 10 %
# dated 1990.  Reported: purge wall time, events purged, dead tuples left in
# event_log/event_ids (after pg_stat_force_next_flush), and what the ledger
# of purged ids costs (event_ids' bytes per event).  One run; the machine's
# other load counts (compare within the table only).
# Usage: bash bench/purge.sh [events, default 200000]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"
N=${1:-200000}
TIMED_PURGE="$(cd "$(dirname "$0")" && pwd)/timed_purge.sql"

cs_ensure_packages
bench_cluster purge

# layout DB VERSION PARTITION_SQL LOAD_SQL: a database with N events, the oldest 10 % old
layout() {
    bench_psql -c "CREATE DATABASE $1"
    bench_envelope_functions -d "$1"
    bench_psql -d "$1" -o /dev/null -v n="$N" <<SQL
CREATE EXTENSION candystore VERSION '$2';
$3
SELECT bench_staging('staging', :n);
UPDATE staging SET doc = jsonb_set(doc, '{timestamp}', '"1990-01-01T00:00:00Z"') WHERE n <= :n / 10;
$4
DROP TABLE staging;
VACUUM ANALYZE;
SQL
}
# 0.1.0 has no append_many(): append() one by one (the same rows result);
# append_many() in statements of 100,000 (an array of all N would pass
# PostgreSQL's 1 GB limit past about 2 million ~1 KB envelopes)
layout old_layout 0.1.0 "" "SELECT count(candystore.append(doc)) FROM (SELECT doc FROM staging ORDER BY n) s;"
layout partitioned 0.2.0 "SELECT count(*) FROM candystore.make_partitions(ahead => 11, size => $N / 10);" \
    "SELECT format('SELECT count(*) FROM candystore.append_many(ARRAY(SELECT doc FROM staging WHERE n > %s AND n <= %s ORDER BY n), NULL)', lo, lo + 100000)
  FROM generate_series(0, :n - 1, 100000) lo ORDER BY lo \\gexec"

# measure DB LEDGER_SQL: one row of the table; purge_events()'s own account
# of its steps (DEBUG1) goes to $BENCH_DIR/purge_steps
measure() {
    bench_psql -d "$1" -At -F ' | ' -v timed_purge="$TIMED_PURGE" 2>>"$BENCH_DIR/purge_steps" <<SQL
\o /dev/null
\i :timed_purge
\o
SELECT current_database(), :ms, :drop_ms, :ms + :drop_ms, :purged,
       (SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables
         WHERE schemaname = 'candystore' AND relname LIKE 'event_%'),
       (SELECT count(*) FROM candystore.events),
       $2;
SQL
}
echo
echo "purge_events() of the oldest 10 % of $N events"
echo "layout | purge_events() ms (commit included) | deferred drop ms | purge + drop ms | purged | dead tuples left | events left | event_ids bytes/event"
: >"$BENCH_DIR/purge_steps"
OLD=$(measure old_layout NULL | grep .)
PART=$(measure partitioned "round(pg_total_relation_size('candystore.event_ids')::numeric / (SELECT count(*) FROM candystore.event_ids))" | grep .)
echo "$OLD"
echo "$PART"
awk -v a="$OLD" -v b="$PART" 'BEGIN { split(a, x, " [|] "); split(b, y, " [|] ");
    printf "row DELETE / partitioned: purge_events() %.1fx, purge + drop %.1fx\n", x[2] / y[2], x[2] / y[4] }'
echo "inside purge_events(), 0.1.0 layout then partitioned:"
sed -n 's/.*purge_events: //p' "$BENCH_DIR/purge_steps"
# the ledger trimmed by hand afterwards, as an operator would
bench_psql -d partitioned -At <<'SQL'
SELECT clock_timestamp() AS t0 \gset
SELECT sum(n) AS forgotten FROM (SELECT candystore.forget_purged_ids(1000000) n) f \gset
SELECT 'forget_purged_ids(): ' || :forgotten || ' ids in '
       || round(extract(epoch FROM clock_timestamp() - :'t0') * 1000) || ' ms';
SQL
