#!/usr/bin/env bash
# Instructions per document validated, counted by valgrind (callgrind),
# which other work on a shared machine does not disturb the way it disturbs
# timings.  For each schema of run.sh (transcript, envelope) and each build
# (BASE, by default the commit before the keyword table, and the working
# tree), counts what candystore.jsonb_matches_schema executes over N stored
# documents: a statement of one pass and one of three passes are counted,
# and their difference over 2N documents is the cost per document (the
# schema's compilation, in both, cancels out).
#   usage: bench/jsonschema/instructions.sh [N=2000] [BASE=04224d0]
source "$(dirname "$0")/../../scripts/lib.sh"
N=${1:-2000}; BASE=${2:-04224d0}
HERE=$CS_ROOT/bench/jsonschema
cs_ensure_packages valgrind
RUN=$CS_RUN/bench-jsonschema-instructions
rm -rf "$RUN/docs"; mkdir -p "$RUN/docs"; chmod 755 "$RUN" "$RUN/docs"
CASES=(transcript envelope)
declare -A SCHEMA=([transcript]=$HERE/schema.json [envelope]=$HERE/envelope_schema.json)
declare -A GEN=([transcript]=$HERE/gen_docs.py [envelope]=$HERE/gen_envelope_docs.py)
for c in "${CASES[@]}"; do
    python3 "${GEN[$c]}" "$N" > "$RUN/docs/$c.jsonl"; chmod 644 "$RUN/docs/$c.jsonl"
done

BIN=$(cs_private_install "$RUN/now-pg")
if [ "$(cat "$RUN/base-src/.base" 2>/dev/null)" != "$BASE" ]; then    # else: already built
    rm -rf "$RUN/base-src" && mkdir -p "$RUN/base-src"
    git -C "$CS_ROOT" archive "$BASE" | tar -x -C "$RUN/base-src"
    echo "$BASE" > "$RUN/base-src/.base"
fi
BASE_BIN=$(CS_ROOT=$RUN/base-src cs_private_install "$RUN/base-pg")

# count NAME BINDIR CASE PASSES: prints the instructions under jsonb_matches_schema
count() {
    local dir=$RUN/$1-$3-$4 bin=$2 c=$3 passes=$4
    rm -rf "$dir" && mkdir -p "$dir" && chown "$(cs_pg_user)" "$dir"
    cs_as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    echo "shared_preload_libraries = 'candystore'" >> "$dir/data/postgresql.conf"
    printf '%s\n' "CREATE EXTENSION candystore;" "CREATE TABLE d (d jsonb);" \
        "COPY d FROM '$RUN/docs/$c.jsonl';" |
        cs_as_pg "$bin/postgres" --single -j -D "$dir/data" postgres >/dev/null 2>&1
    {
        echo "CREATE TABLE s AS SELECT \$s\$$(cat "${SCHEMA[$c]}")\$s\$::jsonb AS s;"
        for ((p = 0; p < passes; p++)); do
            echo "SELECT count(*) FILTER (WHERE candystore.jsonb_matches_schema(s.s, d.d)) FROM d, s;"
        done
    } > "$dir/q.sql"
    chmod 644 "$dir/q.sql"
    (cd "$dir" && cs_as_pg valgrind -q --tool=callgrind --toggle-collect=jsonb_matches_schema \
        --callgrind-out-file="$dir/cg.out" \
        "$bin/postgres" --single -j -D "$dir/data" postgres < "$dir/q.sql" > "$dir/out" 2>&1)
    [ "$(grep -c "count = \"$N\"" "$dir/out" || true)" = "$passes" ] || cs_die "$1 $c: not every document was valid (see $dir/out)"
    awk '/^summary:/ {print $2}' "$dir/cg.out"
}

printf '%-12s %16s %16s %9s\n' schema "base $BASE" "working tree" change
for c in "${CASES[@]}"; do
    # the base's counts are kept: the same commit and N count the same
    cached=$RUN/base-$BASE-$c-$N.ir
    if [ ! -s "$cached" ]; then
        echo "$(count base "$BASE_BIN" "$c" 1) $(count base "$BASE_BIN" "$c" 3)" > "$cached"
    fi
    read -r b1 b3 < "$cached"
    n1=$(count now "$BIN" "$c" 1); n3=$(count now "$BIN" "$c" 3)
    python3 -c "
b = ($b3 - $b1) / (2 * $N); n = ($n3 - $n1) / (2 * $N)
print('%-12s %16.0f %16.0f %8.1f%%' % ('$c', b, n, 100 * (n - b) / b))"
done
echo "(instructions per document under candystore.jsonb_matches_schema, callgrind; $N documents per pass)"
