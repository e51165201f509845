# JSON Schema validation throughput, side by side in one run: candystore
# (inside PostgreSQL: one SQL statement validating every document stored as
# jsonb in a table), ajv 8 (compiled validator, documents already parsed) and
# python-jsonschema (Debian), on the same schemas and documents.  Two
# schemas, each with its own documents:
#   transcript  schema.json, gen_docs.py: a seed-like envelope with the
#               fireflies.transcript.ready payload (~1.8 KB documents; UUIDs
#               checked by format, two patterns)
#   envelope    envelope_schema.json, gen_envelope_docs.py: an envelope
#               whose strings carry format uuid/date-time and anchored
#               patterns (UUIDs, the dotted event type, semver, SHAs,
#               logins), uniqueItems on the parent ids, and the payload of
#               github.pull_request.opened (~1.1 KB documents)
# Prints documents/second (median of RUNS passes), microseconds per
# document and ratios, per schema.
#
# candystore runs, per schema, over two tables holding the same documents:
#   <schema>_plain  STORAGE PLAIN: each document lies uncompressed in its
#               heap tuple, in jsonb (PostgreSQL's parsed binary form), and
#               is validated where it lies: "documents already parsed", as
#               the comparison with ajv is defined.  (With default storage
#               documents under ~2 KB are stored the same way: a row is
#               compressed only above toast_tuple_target.)
#   <schema>_pglz   (transcript only) every document pglz-compressed inline (STORAGE MAIN,
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
# slower, runs afterwards on its own (BENCH_PYTHON=0 skips it).
#   usage: bench/jsonschema/run.sh [N=20000] [RUNS=5]
source "$(dirname "$0")/../../scripts/lib.sh"
N=${1:-20000}; RUNS=${2:-5}
HERE=$CS_ROOT/bench/jsonschema
RUN=$CS_RUN/bench-jsonschema
CASES=(transcript envelope)
declare -A SCHEMA=([transcript]=$HERE/schema.json [envelope]=$HERE/envelope_schema.json)
declare -A GEN=([transcript]=$HERE/gen_docs.py [envelope]=$HERE/gen_envelope_docs.py)
# the uncompressed column that takes each row of <schema>_pglz over ~2 KB;
# the envelope's ~1 KB documents are measured as the issue did, in default
# storage (uncompressed at that size), and get no compressed table
declare -A PAD=([transcript]=600 [envelope]=)
mkdir -p "$RUN"; chmod 755 "$RUN"
command -v node >/dev/null && command -v npm >/dev/null || cs_die "the benchmark needs node and npm (for ajv)"
for c in "${CASES[@]}"; do
    python3 "${GEN[$c]}" "$N" > "$RUN/$c.jsonl"; chmod 644 "$RUN/$c.jsonl"
done
if [ ! -d "$RUN/node/node_modules/ajv-formats" ]; then
    mkdir -p "$RUN/node" && (cd "$RUN/node" && npm install --silent --no-audit --no-fund ajv@8 ajv-formats@3 >/dev/null)
fi

BIN=$(cs_private_install "$RUN/pg")
PGDIR=$RUN/cluster
rm -rf "$PGDIR"
NODE_PIDS=(); PSQL_PID=""
declare -A NODE_FD_IN=() NODE_FD_OUT=()
cleanup() {
    exec 3>&- 4<&- 2>/dev/null
    for c in "${!NODE_FD_IN[@]}"; do eval "exec ${NODE_FD_IN[$c]}>&- ${NODE_FD_OUT[$c]}<&-" 2>/dev/null; done
    for p in "${NODE_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$PSQL_PID" ] && wait "$PSQL_PID" 2>/dev/null
    cs_pg_stop "$PGDIR" "$BIN"
}
trap cleanup EXIT
# shared_buffers large enough that every table (~40 + ~30 MB per schema at
# N=20000) stays in PostgreSQL's buffer cache: a sequential scan of a table
# bigger than a quarter of shared_buffers reads it again through a small
# ring each pass.
cs_pg_start "$PGDIR" "$BIN" "shared_preload_libraries = 'candystore'" "shared_buffers = '512MB'"
psql=("$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(cat "$PGDIR/port")" -U postgres -d postgres)
"${psql[@]}" -c "CREATE EXTENSION candystore" -c "CREATE EXTENSION pg_prewarm" >/dev/null
declare -A PLAIN_BYTES PGLZ_BYTES
for c in "${CASES[@]}"; do
    "${psql[@]}" \
        -c "CREATE TABLE ${c}_plain (d jsonb)" -c "ALTER TABLE ${c}_plain ALTER COLUMN d SET STORAGE PLAIN" \
        -c "\\copy ${c}_plain FROM '$RUN/$c.jsonl' WITH (FORMAT text)" \
        -c "VACUUM ANALYZE ${c}_plain" -c "SELECT pg_prewarm('${c}_plain')" >/dev/null
    PLAIN_BYTES[$c]=$("${psql[@]}" -c "SELECT round(avg(pg_column_size(d))) FROM ${c}_plain")
    [ "$("${psql[@]}" -c "SELECT count(*) FROM ${c}_plain WHERE pg_column_compression(d) IS NOT NULL")" = 0 ] ||
        cs_die "${c}_plain holds compressed documents"
    [ -n "${PAD[$c]}" ] || continue
    "${psql[@]}" \
        -c "CREATE TABLE ${c}_pglz (d jsonb, pad text DEFAULT repeat('x', ${PAD[$c]})) WITH (toast_tuple_target = 128)" \
        -c "ALTER TABLE ${c}_pglz ALTER COLUMN d SET STORAGE MAIN, ALTER COLUMN d SET COMPRESSION pglz,
                                  ALTER COLUMN pad SET STORAGE PLAIN" \
        -c "\\copy ${c}_pglz (d) FROM '$RUN/$c.jsonl' WITH (FORMAT text)" \
        -c "VACUUM ANALYZE ${c}_pglz" -c "SELECT pg_prewarm('${c}_pglz')" >/dev/null
    # each table must hold what its label says
    stored=$("${psql[@]}" -c "SELECT concat_ws(' ',
        (SELECT count(*) FILTER (WHERE pg_column_compression(d) = 'pglz') FROM ${c}_pglz),
        (SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = '${c}_pglz'::regclass),
        (SELECT round(avg(pg_column_size(d))) FROM ${c}_pglz))")
    read -r pglz_compressed pglz_toast cb <<<"$stored"
    PGLZ_BYTES[$c]=$cb
    [ "$pglz_compressed" = "$N" ] || cs_die "${c}_pglz holds only $pglz_compressed compressed documents"
    [ "$pglz_toast" = 0 ] || cs_die "${c}_pglz moved documents out of line"
done

# One psql session, and one node process per schema, each answering one
# line per pass.
rm -f "$RUN"/*.in "$RUN"/*.out
mkfifo "$RUN/psql.in" "$RUN/psql.out"
"${psql[@]}" < "$RUN/psql.in" > "$RUN/psql.out" & PSQL_PID=$!
exec 3>"$RUN/psql.in" 4<"$RUN/psql.out"
fd=5
for c in "${CASES[@]}"; do
    mkfifo "$RUN/node-$c.in" "$RUN/node-$c.out"
    NODE_PATH="$RUN/node/node_modules" node "$HERE/bench_ajv.js" "${SCHEMA[$c]}" "$RUN/$c.jsonl" serve \
        < "$RUN/node-$c.in" > "$RUN/node-$c.out" & NODE_PIDS+=($!)
    NODE_FD_IN[$c]=$fd; NODE_FD_OUT[$c]=$((fd + 1))
    eval "exec $fd>\"\$RUN/node-$c.in\" $((fd + 1))<\"\$RUN/node-$c.out\""
    fd=$((fd + 2))
done
ask_pg() { echo "$1;" >&3; read -r -t "${BENCH_TIMEOUT:-600}" reply <&4 || cs_die "candystore pass failed"; echo "$reply"; }
ask_ajv() {
    echo run >&"${NODE_FD_IN[$1]}"
    read -r -t "${BENCH_TIMEOUT:-600}" reply <&"${NODE_FD_OUT[$1]}" || cs_die "ajv pass failed ($1)"
    echo "$reply"
}

# A pass: one statement over the whole table, timed inside the server.
cat >&3 <<SQL
CREATE FUNCTION pg_temp.candystore_pass(tab regclass, s jsonb) RETURNS float8 LANGUAGE plpgsql AS \$f\$
DECLARE t0 timestamptz; n bigint;
BEGIN
  t0 := clock_timestamp();
  EXECUTE format('SELECT count(*) FILTER (WHERE candystore.jsonb_matches_schema(\$1, d)) FROM %s', tab)
    INTO n USING s;
  IF n <> $N THEN RAISE EXCEPTION 'candystore rejected % documents of %', $N - n, tab; END IF;
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
CREATE TABLE pg_temp.bench_schema (name text PRIMARY KEY, s jsonb);
SQL
for c in "${CASES[@]}"; do
    echo "INSERT INTO pg_temp.bench_schema VALUES ('$c', \$s\$$(cat "${SCHEMA[$c]}")\$s\$);" >&3
done
pass() { echo "SELECT round(pg_temp.candystore_pass('$2', (SELECT s FROM pg_temp.bench_schema WHERE name = '$1')))"; }

for _ in 1 2 3; do
    for c in "${CASES[@]}"; do
        ask_pg "$(pass "$c" "${c}_plain")" >/dev/null
        [ -z "${PAD[$c]}" ] || ask_pg "$(pass "$c" "${c}_pglz")" >/dev/null
        ask_ajv "$c" >/dev/null
    done
done
declare -A plain cand scan_plain scan ajv py
for ((r = 0; r < RUNS; r++)); do
    for c in "${CASES[@]}"; do
        plain[$c]+=" $(ask_pg "$(pass "$c" "${c}_plain")")"
        ajv[$c]+=" $(ask_ajv "$c")"
        scan_plain[$c]+=" $(ask_pg "SELECT round(pg_temp.scan_pass('${c}_plain'))")"
        [ -n "${PAD[$c]}" ] || continue
        cand[$c]+=" $(ask_pg "$(pass "$c" "${c}_pglz")")"
        scan[$c]+=" $(ask_pg "SELECT round(pg_temp.scan_pass('${c}_pglz'))")"
    done
done
for c in "${CASES[@]}"; do
    if [ "${BENCH_PYTHON:-1}" = 1 ]; then
        py[$c]=$(python3 "$HERE/bench_python.py" "${SCHEMA[$c]}" "$RUN/$c.jsonl" "$RUNS")
    else
        py[$c]=0
    fi
done

for c in "${CASES[@]}"; do
python3 - "$c" "$N" "$RUNS" "${plain[$c]}" "${cand[$c]:-0}" "${ajv[$c]}" "${py[$c]}" "${scan_plain[$c]}" \
    "${scan[$c]:-0}" "${PLAIN_BYTES[$c]}" "${PGLZ_BYTES[$c]:--}" <<'PY'
import statistics, sys
case, n, runs = sys.argv[1], sys.argv[2], sys.argv[3]
med = lambda s: statistics.median(float(x) for x in s.split())
plain, cand, ajv = med(sys.argv[4]), med(sys.argv[5]), med(sys.argv[6])
py = float(sys.argv[7])
scan_plain, scan = med(sys.argv[8]), med(sys.argv[9])
bytes_p, bytes_c = sys.argv[10], sys.argv[11]
us = lambda r: 1e6 / r
row = '%-57s %12s %9s %9s'
print('== schema: %s ==' % case)
print(row % ('validator', 'docs/second', 'us/doc', 'vs ajv'))
print(row % ('candystore, parsed jsonb in the heap (STORAGE PLAIN)', '%.0f' % plain, '%.2f' % us(plain), '%.2fx' % (plain / ajv)))
if cand > 0:
    print(row % ('candystore, pglz-compressed jsonb (decompressed per row)', '%.0f' % cand, '%.2f' % us(cand), '%.2fx' % (cand / ajv)))
print(row % ('ajv 8 (node), parsed objects in memory', '%.0f' % ajv, '%.2f' % us(ajv), '1.00x'))
if py > 0:
    print(row % ('python-jsonschema, parsed objects in memory', '%.0f' % py, '%.2f' % us(py), '%.4fx' % (py / ajv)))
print(row % ('(scan only, STORAGE PLAIN table)', '%.0f' % scan_plain, '%.2f' % us(scan_plain), ''))
if cand > 0:
    print(row % ('(scan only, pglz-compressed table, decompressing)', '%.0f' % scan, '%.2f' % us(scan), ''))
if py > 0:
    print('candystore vs python-jsonschema: %.0fx (STORAGE PLAIN)' % (plain / py))
print('(%s documents; medians of %s passes, candystore and ajv passes alternating;' % (n, runs))
print(' stored jsonb: %s bytes/doc plain, %s bytes/doc compressed;' % (bytes_p, bytes_c))
print(' the candystore figures include their table scan; validation alone, the difference:')
print(' %.2f us/doc (STORAGE PLAIN)%s)' % (us(plain) - us(scan_plain),
      ', %.2f us/doc (compressed)' % (us(cand) - us(scan)) if cand > 0 else ''))
PY
done
