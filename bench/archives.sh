#!/usr/bin/env bash
# Archive and restore throughput, side by side in one run, against COPY of
# the same rows as the reference:
#   archive_events()     N events to a gzip JSON Lines file with a manifest
#   COPY TO file         the same event_log rows, text format, uncompressed
#   COPY TO PROGRAM gzip the same rows through gzip
#   restore_archive()    the archive back after purge_events() emptied the store
#   restore again        the same archive over the restored events (all duplicates)
#   COPY FROM file       the COPY file into a plain table shaped like event_log
# The N envelopes are bench/append_many.sh's ~1 KB ones (flows of 10, each
# the child of the one before), stored with append_many().  Reported: wall
# time, events/s and the file's size.  One run; the machine's other load
# counts (compare within the table only).
# Usage: bash bench/archives.sh [events, default 50000]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"
N=${1:-50000}

cs_ensure_packages
bench_cluster archives
bench_envelope_functions
FILES=$BENCH_DIR/files
mkdir -p "$FILES"
chmod 0777 "$FILES"   # written by the server's own user

bench_psql -v n="$N" -v files="$FILES" <<'SQL'
CREATE EXTENSION candystore;
SELECT bench_staging('staging', :n);
SELECT count(*) FROM candystore.append_many(ARRAY(SELECT doc FROM staging ORDER BY n), NULL);
CREATE TABLE plain (LIKE candystore.event_log);
CREATE TABLE timing (step int, method text, wall_ms numeric, events bigint, file text);
CREATE PROCEDURE bench_one(step int, method text, sql text, file text) LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; n bigint;
BEGIN
    t0 := clock_timestamp();
    EXECUTE sql;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO timing VALUES (step, method, extract(epoch FROM clock_timestamp() - t0) * 1000, n, file);
    COMMIT;
END $$;
SQL

q() { bench_psql -c "$1"; }
q "CALL bench_one(1, 'archive_events()', format('SELECT candystore.archive_events(%L, 1, $N)', '$FILES/a.jsonl.gz'), '$FILES/a.jsonl.gz')"
q "CALL bench_one(2, 'COPY TO file', format('COPY (SELECT * FROM candystore.event_log WHERE position BETWEEN 1 AND $N) TO %L', '$FILES/c.txt'), '$FILES/c.txt')"
q "CALL bench_one(3, 'COPY TO PROGRAM gzip', format('COPY (SELECT * FROM candystore.event_log WHERE position BETWEEN 1 AND $N) TO PROGRAM %L', 'gzip > $FILES/c.txt.gz'), '$FILES/c.txt.gz')"
q "SELECT candystore.purge_events('0 seconds')" >/dev/null
q "CALL bench_one(4, 'restore_archive()', format('SELECT candystore.restore_archive(%L)', '$FILES/a.jsonl.gz'), NULL)"
q "CALL bench_one(5, 'restore again (duplicates)', format('SELECT candystore.restore_archive(%L)', '$FILES/a.jsonl.gz'), NULL)"
q "CALL bench_one(6, 'COPY FROM file', format('COPY plain FROM %L', '$FILES/c.txt'), NULL)"

# ROW_COUNT of a one-row SELECT is 1: the events are N for every step.
bench_psql -v n="$N" <<'SQL'
\pset footer off
SELECT method, round(wall_ms) AS wall_ms,
       round(:n / (wall_ms / 1000)) AS events_per_s,
       CASE WHEN file IS NOT NULL
            THEN pg_size_pretty((pg_stat_file(file)).size) END AS file_size
  FROM timing ORDER BY step;
SELECT (SELECT count(*) FROM candystore.event_log) AS restored_events,
       (SELECT count(*) FROM plain) AS copied_rows;
SQL
