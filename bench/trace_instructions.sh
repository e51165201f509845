#!/usr/bin/env bash
# bench/trace_instructions.sh: instructions (callgrind) of the wide-tree and
# deep-chain walks of bench/trace.sh beside the GIN-indexed recursive CTEs
# over the same links, which other work on the machine does not change as
# it changes timings.  Run after bench/trace.sh, on the store it left (its
# cluster stopped): each statement three times in a single-user backend,
# counting inside PortalRun only (the first run's cache loading included).
# Needs valgrind, which it installs.
source "$(dirname "$0")/../scripts/lib.sh"
cs_ensure_packages valgrind
RUN=$CS_RUN/bench-trace
BIN=$(cs_private_install "$RUN/pg")
DATA=$RUN/cluster/data
[ -f "$DATA/PG_VERSION" ] || cs_die "no store: run bench/trace.sh first"
cs_pg_stop "$RUN/cluster" "$BIN"

count() {           # $1 = statement: instructions of three runs of it
    printf '%s;\n%s;\n%s;\n' "$1" "$1" "$1" |
        cs_as_pg valgrind --tool=callgrind --toggle-collect=PortalRun --callgrind-out-file=/dev/null \
            "$BIN/postgres" --single -D "$DATA" bench 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
gin_descendants() {
    echo "SET jit = off; WITH RECURSIVE d(event_id, depth) AS (
        SELECT event_id, 0 FROM naive_gin WHERE event_id = md5('$1')::uuid
        UNION
        SELECT n.event_id, d.depth + 1 FROM d JOIN naive_gin n
            ON n.correlation_ids @> jsonb_build_array(d.event_id::text))
    SELECT count(*) FROM (SELECT event_id, min(depth) FROM d GROUP BY event_id) x" | tr '\n' ' '
}
gin_ancestors() {
    echo "SET jit = off; WITH RECURSIVE a(event_id, parents, depth) AS (
        SELECT event_id, correlation_ids, 0 FROM naive_gin WHERE event_id = md5('$1')::uuid
        UNION
        SELECT n.event_id, n.correlation_ids, a.depth + 1
          FROM a CROSS JOIN LATERAL jsonb_array_elements_text(a.parents) p(id)
          JOIN naive_gin n ON n.event_id = p.id::uuid)
    SELECT count(*) FROM (SELECT event_id, min(depth) FROM a GROUP BY event_id) x" | tr '\n' ' '
}

printf '%-38s %16s %16s %12s\n' "query (3 runs)" "candystore" "naive+GIN" "x vs GIN"
while read -r label fn start; do
    c=$(count "SELECT count(*) FROM candystore.$fn(md5('$start')::uuid)")
    g=$(count "$(gin_$fn "$start")")
    printf '%-38s %16d %16d %11.1fx\n' "${label//_/ }" "$c" "$g" "$(awk -v c="$c" -v g="$g" 'BEGIN { print g / c }')"
done <<'EOF'
descendants(wide_root) descendants w3
ancestors(deep_leaf) ancestors c3.1000
descendants(wide_root,interleaved) descendants W3
ancestors(deep_leaf,interleaved) ancestors C3.1000
EOF
