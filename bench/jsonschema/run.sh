#!/usr/bin/env bash
# JSON Schema validation throughput, side by side in one run: candystore
# (inside PostgreSQL: one SQL statement validating every document stored as
# jsonb in a table), ajv 8 (compiled validator, documents already parsed) and
# python-jsonschema (Debian), on the same schema (seed-like envelope +
# transcript payload, formats asserted) and documents.  Prints
# documents/second (median of RUNS passes), microseconds per document and
# ratios.
#
# candystore runs over two tables holding the same documents:
#   docs_plain  STORAGE PLAIN: each document lies uncompressed in its heap
#               tuple, in jsonb (PostgreSQL's parsed binary form), and is
#               validated where it lies: "documents already parsed", as the
#               issue defines the comparison with ajv.  (With default
#               storage these ~1.8 KB documents are stored the same way: a
#               row is compressed only above toast_tuple_target, ~2 KB.)
#   docs_pglz   every document pglz-compressed inline (STORAGE MAIN,
#               toast_tuple_target = 128, and an uncompressed 600-byte
#               second column that takes each row over the ~2 KB at which
#               PostgreSQL starts compressing), so each row is decompressed
#               before it is validated (what larger events cost).
# Both figures include the table scan; a scan of each table without
# validation is printed too.
#
# candystore and ajv passes alternate, round by round, after warm-up passes
# (ajv's JIT, candystore's compiled schema), so load from other processes on
# a shared machine falls on all alike.  python-jsonschema, a hundred times
# slower, runs afterwards on its own.
#   usage: bench/jsonschema/run.sh [N=20000] [RUNS=5]
source "$(dirname "$0")/../../scripts/lib.sh"
N=${1:-20000}; RUNS=${2:-5}
HERE=$CS_ROOT/bench/jsonschema
RUN=$CS_RUN/bench-jsonschema
mkdir -p "$RUN"; chmod 755 "$RUN"
command -v node >/dev/null && command -v npm >/dev/null || cs_die "the benchmark needs node and npm (for ajv)"
python3 "$HERE/gen_docs.py" "$N" > "$RUN/docs.jsonl"; chmod 644 "$RUN/docs.jsonl"
if [ ! -d "$RUN/node/node_modules/ajv-formats" ]; then
    mkdir -p "$RUN/node" && (cd "$RUN/node" && npm install --silent --no-audit --no-fund ajv@8 ajv-formats@3 >/dev/null)
fi

BIN=$(cs_private_install "$RUN/pg")
PGDIR=$RUN/cluster
rm -rf "$PGDIR"
NODE_PID=""; PSQL_PID=""
cleanup() {
    exec 3>&- 4<&- 5>&- 6<&- 2>/dev/null
    [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null
    [ -n "$PSQL_PID" ] && wait "$PSQL_PID" 2>/dev/null
    cs_pg_stop "$PGDIR" "$BIN"
}
trap cleanup EXIT
# shared_buffers large enough that both tables (~40 + ~30 MB at N=20000) stay
# in PostgreSQL's buffer cache: a sequential scan of a table bigger than a
# quarter of shared_buffers reads it again through a small ring each pass.
cs_pg_start "$PGDIR" "$BIN" "shared_preload_libraries = 'candystore'" "shared_buffers = '512MB'"
psql=("$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(cat "$PGDIR/port")" -U postgres -d postgres)
"${psql[@]}" -c "CREATE EXTENSION candystore" \
    -c "CREATE TABLE docs_plain (d jsonb)" -c "ALTER TABLE docs_plain ALTER COLUMN d SET STORAGE PLAIN" \
    -c "CREATE TABLE docs_pglz (d jsonb, pad text DEFAULT repeat('x', 600)) WITH (toast_tuple_target = 128)" \
    -c "ALTER TABLE docs_pglz ALTER COLUMN d SET STORAGE MAIN, ALTER COLUMN d SET COMPRESSION pglz,
                              ALTER COLUMN pad SET STORAGE PLAIN" \
    -c "\\copy docs_plain FROM '$RUN/docs.jsonl' WITH (FORMAT text)" \
    -c "\\copy docs_pglz (d) FROM '$RUN/docs.jsonl' WITH (FORMAT text)" \
    -c "VACUUM ANALYZE docs_plain" -c "VACUUM ANALYZE docs_pglz" \
    -c "CREATE EXTENSION pg_prewarm" -c "SELECT pg_prewarm('docs_plain'), pg_prewarm('docs_pglz')" >/dev/null
# each table must hold what its label says
stored=$("${psql[@]}" -c "SELECT concat_ws(' ',
    (SELECT count(*) FILTER (WHERE pg_column_compression(d) IS NOT NULL) FROM docs_plain),
    (SELECT count(*) FILTER (WHERE pg_column_compression(d) = 'pglz') FROM docs_pglz),
    (SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'docs_pglz'::regclass),
    (SELECT round(avg(pg_column_size(d))) FROM docs_plain),
    (SELECT round(avg(pg_column_size(d))) FROM docs_pglz))")
read -r plain_compressed pglz_compressed pglz_toast plain_bytes pglz_bytes <<<"$stored"
[ "$plain_compressed" = 0 ] || cs_die "docs_plain holds $plain_compressed compressed documents"
[ "$pglz_compressed" = "$N" ] || cs_die "docs_pglz holds only $pglz_compressed compressed documents"
[ "$pglz_toast" = 0 ] || cs_die "docs_pglz moved documents out of line"

# One psql session and one node process, each answering one line per pass.
rm -f "$RUN"/{psql,node}.{in,out}
mkfifo "$RUN/psql.in" "$RUN/psql.out" "$RUN/node.in" "$RUN/node.out"
"${psql[@]}" < "$RUN/psql.in" > "$RUN/psql.out" & PSQL_PID=$!
NODE_PATH="$RUN/node/node_modules" node "$HERE/bench_ajv.js" "$HERE/schema.json" "$RUN/docs.jsonl" serve \
    < "$RUN/node.in" > "$RUN/node.out" & NODE_PID=$!
exec 3>"$RUN/psql.in" 4<"$RUN/psql.out" 5>"$RUN/node.in" 6<"$RUN/node.out"
ask_pg() { echo "$1;" >&3; read -r -t ${BENCH_TIMEOUT:-600} reply <&4 || cs_die "candystore pass failed"; echo "$reply"; }
ask_ajv() { echo run >&5; read -r -t ${BENCH_TIMEOUT:-600} reply <&6 || cs_die "ajv pass failed"; echo "$reply"; }

# A pass: one statement over the whole table, timed inside the server.
cat >&3 <<SQL
CREATE FUNCTION pg_temp.candystore_pass(tab regclass) RETURNS float8 LANGUAGE plpgsql AS \$f\$
DECLARE t0 timestamptz; n bigint; s jsonb := \$s\$$(cat "$HERE/schema.json")\$s\$;
BEGIN
  t0 := clock_timestamp();
  EXECUTE format('SELECT count(*) FILTER (WHERE candystore.jsonb_matches_schema(\$1, d)) FROM %s', tab)
    INTO n USING s;
  IF n <> $N THEN RAISE EXCEPTION 'candystore rejected % documents', $N - n; END IF;
  RETURN $N / extract(epoch FROM clock_timestamp() - t0);
END \$f\$;
-- the same scan touching every document (detoasted) without validating it
CREATE FUNCTION pg_temp.scan_pass(tab regclass) RETURNS float8 LANGUAGE plpgsql AS \$f\$
DECLARE t0 timestamptz; n bigint;
BEGIN
  t0 := clock_timestamp();
  EXECUTE format('SELECT count(*) FILTER (WHERE jsonb_typeof(d) = %L) FROM %s', 'object', tab) INTO n;
  RETURN $N / extract(epoch FROM clock_timestamp() - t0);
END \$f\$;
SQL

for _ in 1 2 3; do
    ask_pg "SELECT pg_temp.candystore_pass('docs_plain')" >/dev/null
    ask_pg "SELECT pg_temp.candystore_pass('docs_pglz')" >/dev/null
    ask_ajv >/dev/null
done
ask_pg "SELECT pg_temp.scan_pass('docs_plain')" >/dev/null
ask_pg "SELECT pg_temp.scan_pass('docs_pglz')" >/dev/null
plain=(); cand=(); scan_plain=(); scan=(); ajv=()
for ((r = 0; r < RUNS; r++)); do
    plain+=("$(ask_pg "SELECT round(pg_temp.candystore_pass('docs_plain'))")")
    ajv+=("$(ask_ajv)")
    cand+=("$(ask_pg "SELECT round(pg_temp.candystore_pass('docs_pglz'))")")
    scan_plain+=("$(ask_pg "SELECT round(pg_temp.scan_pass('docs_plain'))")")
    scan+=("$(ask_pg "SELECT round(pg_temp.scan_pass('docs_pglz'))")")
done
py=$(python3 "$HERE/bench_python.py" "$HERE/schema.json" "$RUN/docs.jsonl" "$RUNS")

python3 - "$N" "$RUNS" "${plain[*]}" "${cand[*]}" "${ajv[*]}" "$py" "${scan_plain[*]}" "${scan[*]}" \
    "$plain_bytes" "$pglz_bytes" <<'PY'
import statistics, sys
n, runs = sys.argv[1], sys.argv[2]
med = lambda s: statistics.median(float(x) for x in s.split())
plain, cand, ajv = med(sys.argv[3]), med(sys.argv[4]), med(sys.argv[5])
py = float(sys.argv[6])
scan_plain, scan = med(sys.argv[7]), med(sys.argv[8])
bytes_p, bytes_c = sys.argv[9], sys.argv[10]
us = lambda r: 1e6 / r
row = '%-57s %12s %9s %9s'
print(row % ('validator', 'docs/second', 'us/doc', 'vs ajv'))
print(row % ('candystore, parsed jsonb in the heap (STORAGE PLAIN)', '%.0f' % plain, '%.2f' % us(plain), '%.2fx' % (plain / ajv)))
print(row % ('candystore, pglz-compressed jsonb (decompressed per row)', '%.0f' % cand, '%.2f' % us(cand), '%.2fx' % (cand / ajv)))
print(row % ('ajv 8 (node), parsed objects in memory', '%.0f' % ajv, '%.2f' % us(ajv), '1.00x'))
print(row % ('python-jsonschema, parsed objects in memory', '%.0f' % py, '%.2f' % us(py), '%.4fx' % (py / ajv)))
print(row % ('(scan only, STORAGE PLAIN table)', '%.0f' % scan_plain, '%.2f' % us(scan_plain), ''))
print(row % ('(scan only, pglz-compressed table, decompressing)', '%.0f' % scan, '%.2f' % us(scan), ''))
print('candystore vs python-jsonschema: %.0fx (STORAGE PLAIN), %.0fx (compressed)' % (plain / py, cand / py))
print('(%s documents; medians of %s passes, candystore and ajv passes alternating;' % (n, runs))
print(' stored jsonb: %s bytes/doc plain, %s bytes/doc compressed;' % (bytes_p, bytes_c))
print(' both candystore figures include their table scan; validation alone, the difference:')
print(' %.2f us/doc (STORAGE PLAIN), %.2f us/doc (compressed))' % (us(plain) - us(scan_plain), us(cand) - us(scan)))
PY
