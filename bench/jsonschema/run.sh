#!/usr/bin/env bash
# JSON Schema validation throughput, side by side in one run: candystore
# (inside PostgreSQL: one SQL statement validating every document stored as
# jsonb in a table, so the figure includes the table scan and detoasting),
# ajv 8 (compiled validator, documents already parsed) and python-jsonschema
# (Debian), on the same schema (seed-like envelope + transcript payload,
# formats asserted) and documents.  Prints documents/second (median of RUNS
# passes), microseconds per document and ratios.
#
# candystore and ajv passes alternate, round by round, after warm-up passes
# (ajv's JIT, candystore's compiled schema), so load from other processes on
# a shared machine falls on both alike.  python-jsonschema, a hundred times
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
cs_pg_start "$PGDIR" "$BIN" "shared_preload_libraries = 'candystore'"
psql=("$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(cat "$PGDIR/port")" -U postgres -d postgres)
"${psql[@]}" -c "CREATE EXTENSION candystore" -c "CREATE TABLE docs (d jsonb)" \
    -c "\\copy docs FROM '$RUN/docs.jsonl' WITH (FORMAT text)" -c "VACUUM ANALYZE docs" >/dev/null

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

for _ in 1 2 3; do ask_pg "SELECT pg_temp.candystore_pass('docs')" >/dev/null; ask_ajv >/dev/null; done
ask_pg "SELECT pg_temp.scan_pass('docs')" >/dev/null
cand=(); scan=(); ajv=()
for ((r = 0; r < RUNS; r++)); do
    cand+=("$(ask_pg "SELECT round(pg_temp.candystore_pass('docs'))")")
    ajv+=("$(ask_ajv)")
    scan+=("$(ask_pg "SELECT round(pg_temp.scan_pass('docs'))")")
done
py=$(python3 "$HERE/bench_python.py" "$HERE/schema.json" "$RUN/docs.jsonl" "$RUNS")

python3 - "$N" "$RUNS" "${cand[*]}" "${ajv[*]}" "$py" "${scan[*]}" <<'PY'
import statistics, sys
n, runs = sys.argv[1], sys.argv[2]
med = lambda s: statistics.median(float(x) for x in s.split()) if s.strip() else None
cand, ajv, py, scan = med(sys.argv[3]), med(sys.argv[4]), float(sys.argv[5]), med(sys.argv[6])
row = '%-34s %12s %9s %14s'
print(row % ('validator', 'docs/second', 'us/doc', 'candystore is'))
print(row % ('candystore (C, one SQL statement)', '%.0f' % cand, '%.2f' % (1e6 / cand), '1.00x'))
print(row % ('ajv 8 (node)', '%.0f' % ajv, '%.2f' % (1e6 / ajv), '%.2fx' % (cand / ajv)))
print(row % ('python-jsonschema', '%.0f' % py, '%.2f' % (1e6 / py), '%.1fx' % (cand / py)))
print(row % ('(same scan, no validation)', '%.0f' % scan, '%.2f' % (1e6 / scan), ''))
print('(%s documents; medians of %s passes, candystore and ajv passes alternating;'
      % (n, runs))
print(' the candystore figure includes the table scan and detoasting, %.2f us/doc of it;'
      % (1e6 / scan))
print(' validation alone, the difference: %.2f us/doc)' % (1e6 / cand - 1e6 / scan))
PY
