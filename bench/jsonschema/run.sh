#!/usr/bin/env bash
# JSON Schema validation throughput, side by side in one run: candystore
# (inside PostgreSQL, documents already stored as jsonb), ajv 8 (compiled
# validator, documents already parsed) and python-jsonschema (Debian), on the
# same schema (seed-like envelope + transcript payload, formats asserted) and
# documents.  Prints documents/second (median of RUNS runs) and ratios.
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
trap 'cs_pg_stop "$PGDIR" "$BIN"' EXIT
cs_pg_start "$PGDIR" "$BIN" "shared_preload_libraries = 'candystore'"
psql=("$BIN/psql" -X -q -At -h 127.0.0.1 -p "$(cat "$PGDIR/port")" -U postgres -d postgres)
"${psql[@]}" -c "CREATE EXTENSION candystore" -c "CREATE TABLE docs (d jsonb)" \
    -c "\\copy docs FROM '$RUN/docs.jsonl' WITH (FORMAT text)" >/dev/null
cand=$("${psql[@]}" -v schema="$(cat "$HERE/schema.json")" <<SQL
CREATE TEMP TABLE rates (r float8);
CREATE TEMP TABLE scan_rates (r float8);
DO \$\$
DECLARE t0 timestamptz; n bigint; s jsonb := \$s\$$(cat "$HERE/schema.json")\$s\$;
BEGIN
  PERFORM count(*) FROM docs;                      -- warm the table
  FOR r IN 1..$RUNS LOOP
    t0 := clock_timestamp();
    SELECT count(*) FILTER (WHERE candystore.jsonb_matches_schema(s, d)) INTO n FROM docs;
    IF n <> $N THEN RAISE EXCEPTION 'candystore rejected % documents', $N - n; END IF;
    INSERT INTO rates VALUES ($N / extract(epoch FROM clock_timestamp() - t0));
    -- the same scan touching every document without validating it
    t0 := clock_timestamp();
    SELECT count(*) FILTER (WHERE jsonb_typeof(d) = 'object') INTO n FROM docs;
    INSERT INTO scan_rates VALUES ($N / extract(epoch FROM clock_timestamp() - t0));
  END LOOP;
END \$\$;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r)) FROM rates;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r)) FROM scan_rates;
SQL
)
scan=$(echo "$cand" | sed -n 2p); cand=$(echo "$cand" | sed -n 1p)
ajv=$(NODE_PATH="$RUN/node/node_modules" node "$HERE/bench_ajv.js" "$HERE/schema.json" "$RUN/docs.jsonl" "$RUNS")
py=$(python3 "$HERE/bench_python.py" "$HERE/schema.json" "$RUN/docs.jsonl" "$RUNS")
printf '%-22s %14s %16s\n' validator "docs/second" "candystore is"
printf '%-22s %14s %16s\n' "candystore (C, SQL)" "$cand" "1.00x"
printf '%-22s %14s %16s\n' "ajv 8 (node)" "$ajv" "$(python3 -c "print('%.2fx' % ($cand/$ajv))")"
printf '%-22s %14s %16s\n' "python-jsonschema" "$py" "$(python3 -c "print('%.1fx' % ($cand/$py))")"
printf '%-22s %14s\n' "(scan alone, no schema)" "$scan"
echo "($N documents, median of $RUNS runs; the candystore figure includes the table scan)"
