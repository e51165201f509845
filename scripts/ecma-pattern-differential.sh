#!/usr/bin/env bash
# Differential test of JSON Schema "pattern" against node's RegExp with the
# "u" flag: scripts/ecma-pattern-cases.js builds pattern/string pairs from a
# seed with node's verdicts (match, nomatch, or error for a syntax error);
# candystore's come from one psql session over the same pairs.  Any
# disagreement fails, listed.
#   usage: scripts/ecma-pattern-differential.sh [BINDIR]   (BINDIR: an installed copy)
# Environment: ECMA_SEED (default 18), ECMA_PATTERNS (default 700),
# ECMA_STRINGS (strings per pattern, default 6).
source "$(dirname "$0")/lib.sh"

SEED=${ECMA_SEED:-18}
NPATTERNS=${ECMA_PATTERNS:-700}
NSTRINGS=${ECMA_STRINGS:-6}
RUN=$CS_RUN/ecma-differential
BIN=${1:-}
if [ -z "$BIN" ]; then
    cs_ensure_packages
    BIN=$(cs_private_install "$RUN/pg")
fi
command -v node >/dev/null || cs_die "node is missing (package nodejs)"
PGDIR=$RUN/cluster
rm -rf "$PGDIR"
mkdir -p "$RUN"
trap 'cs_pg_stop "$PGDIR" "$BIN"' EXIT
node "$CS_ROOT/scripts/ecma-pattern-cases.js" "$SEED" "$NPATTERNS" "$NSTRINGS" > "$RUN/cases.csv"
chmod a+r "$RUN/cases.csv"
cs_pg_start "$PGDIR" "$BIN"
port=$(cat "$PGDIR/port")

# each verdict in its own subtransaction: a syntax error is a verdict too
"$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -o "$RUN/disagreements.txt" <<SQL
CREATE EXTENSION candystore;
CREATE TEMP TABLE cases (n serial, pattern jsonb, subject jsonb, node text);
\copy cases (pattern, subject, node) FROM '$RUN/cases.csv' WITH (FORMAT csv)
CREATE FUNCTION pg_temp.verdict(pattern jsonb, subject jsonb) RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
    RETURN CASE WHEN candystore.jsonb_matches_schema(jsonb_build_object('pattern', pattern), subject)
                THEN 'match' ELSE 'nomatch' END;
EXCEPTION WHEN invalid_regular_expression THEN
    RETURN 'error';
END
\$\$;
\pset format unaligned
\pset tuples_only on
SELECT format('%s pairs, %s patterns: %s match, %s nomatch, %s error (node)', count(*),
              count(DISTINCT pattern), count(*) FILTER (WHERE node = 'match'),
              count(*) FILTER (WHERE node = 'nomatch'), count(*) FILTER (WHERE node = 'error'))
FROM cases;
SELECT format('pattern %s on %s: node %s, candystore %s', pattern, subject, node, mine)
FROM (SELECT n, pattern, subject, node, pg_temp.verdict(pattern, subject) AS mine FROM cases) c
WHERE node <> mine ORDER BY n;
SQL
head -1 "$RUN/disagreements.txt"
bad=$(($(wc -l < "$RUN/disagreements.txt") - 1))
if [ "$bad" -ne 0 ]; then
    tail -n +2 "$RUN/disagreements.txt" | head -100
    echo "$bad disagreements with node (seed $SEED; all in $RUN/disagreements.txt)"
    echo "test ecma_pattern_differential ... FAILED"
    exit 1
fi
echo "test ecma_pattern_differential ... ok"
