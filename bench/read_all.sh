#!/usr/bin/env bash
# bench/read_all.sh [EVENTS] [APPENDS]: what reading the store as a stream
# costs, side by side.
#  1. Catch-up read of EVENTS stored events (default 1,000,000) in batches of
#     1,000: through candystore.read_all() (cursor, read horizon) against the
#     plain "WHERE position > $1 ORDER BY position LIMIT 1000" scan of the
#     same table, in the same run; best of 3 each, alternating.  Twice: loops
#     in the server (plpgsql), turning every envelope into text as sending it
#     would, the next cursor being the batch's greatest, compared as bytes; and
#     a libpq client (bench/catch_up.c) receiving every row, the next cursor
#     being the last row's.  The events are
#     inserted directly (append() would take far longer), 10,000 a transaction.
#  2. What the bookkeeping (event_log.xid and its index) costs an append, in
#     instructions (callgrind, as bench/trace_append_cost.sh counts them):
#     this tree without the stream's SQL (sql/install/45-47 left out: no xid
#     column, no index), with the column and no index, and as it is; and, for
#     reference, the tree before the stream was written ($BASE), which also
#     lacks every other change made since.
# READ_ONLY=1 skips part 2.  Run by hand; not part of `make test`.
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"
EVENTS=${1:-1000000}
APPENDS=${2:-2000}
BASE=${BASE:-1723aa6}

# 1. Catch-up reads -----------------------------------------------------------
bench_cluster read_all
bench_psql <<SQL
CREATE EXTENSION candystore;
CREATE PROCEDURE bench_fill(n bigint) LANGUAGE plpgsql AS \$\$
BEGIN
    FOR chunk IN 0 .. (n - 1) / 10000 LOOP
        INSERT INTO candystore.event_log (event_id, event_type, occurred_at, routing_key, correlation_ids,
                                          envelope, causation_group)
        SELECT id, 'fireflies.transcript.ready', now(), 'fireflies.transcript.ready', '{}', jsonb_build_object(
                   'event_id', id, 'event_type', 'fireflies.transcript.ready', 'timestamp', '2026-01-27T10:15:00.123456Z',
                   'version', '1.0.0', 'source', jsonb_build_object('host', 'bigchungus', 'type', 'webhook', 'app', 'fireflies', 'meta', NULL),
                   'correlation_ids', '[]'::jsonb, 'agent_context', NULL,
                   'payload', jsonb_build_object('id', 'ff_' || i, 'meeting_id', 'm' || i / 4, 'title', 'Team Standup')), id
          FROM generate_series(chunk * 10000 + 1, least(n, chunk * 10000 + 10000)) i,
               LATERAL (SELECT md5('bench' || i)::uuid AS id) x;
        COMMIT;
    END LOOP;
END
\$\$;
CALL bench_fill($EVENTS);
VACUUM ANALYZE candystore.event_log;
CREATE FUNCTION bench_read_all() RETURNS double precision LANGUAGE plpgsql AS \$\$
DECLARE
    c text; next text; k bigint; n bigint := 0; bytes bigint := 0; b bigint;
    t0 timestamptz := clock_timestamp();
BEGIN
    LOOP
        SELECT count(*), max(r.cursor COLLATE "C"), sum(length(r.envelope::text)) INTO k, next, b
          FROM candystore.read_all(c, 1000) r;
        EXIT WHEN k = 0;
        c := next; n := n + k; bytes := bytes + b;
    END LOOP;
    RETURN n / extract(epoch FROM clock_timestamp() - t0);
END
\$\$;
CREATE FUNCTION bench_read_position() RETURNS double precision LANGUAGE plpgsql AS \$\$
DECLARE
    p bigint := 0; next bigint; k bigint; n bigint := 0; bytes bigint := 0; b bigint;
    t0 timestamptz := clock_timestamp();
BEGIN
    LOOP
        SELECT count(*), max(s.position), sum(length(s.envelope::text)) INTO k, next, b
          FROM (SELECT e.position, e.event_id, e.event_type, e.occurred_at, e.recorded_at, e.envelope
                  FROM candystore.event_log e WHERE e.position > p ORDER BY e.position LIMIT 1000) s;
        EXIT WHEN k = 0;
        p := next; n := n + k; bytes := bytes + b;
    END LOOP;
    RETURN n / extract(epoch FROM clock_timestamp() - t0);
END
\$\$;
SQL
declare -a ra rp ca cp
cc -O2 -I"$("$(cs_pg_config)" --includedir)" -o "$BENCH_DIR/catch_up" "$CS_ROOT/bench/catch_up.c" -lpq
CONN="host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=postgres"
for round in 1 2 3; do
    rp+=("$(bench_psql -At -c 'SELECT round(bench_read_position())')")
    ra+=("$(bench_psql -At -c 'SELECT round(bench_read_all())')")
    cp+=("$("$BENCH_DIR/catch_up" "$CONN" position | cut -d' ' -f2)")
    ca+=("$("$BENCH_DIR/catch_up" "$CONN" read_all | cut -d' ' -f2)")
done
best() { printf '%s\n' "$@" | sort -n | tail -1; }
RP=$(best "${rp[@]}"); RA=$(best "${ra[@]}"); CP=$(best "${cp[@]}"); CA=$(best "${ca[@]}")
PLAN=$(bench_psql -At -c "EXPLAIN SELECT * FROM candystore.read_all('0000000000000005-0000000000000003', 1000)" |
       sed -n 's/^ *\(-> *\)\?\([^(]*[^ (]\) *(cost.*/\2/p' | paste -sd'>' | sed 's/>/ > /g')
cs_pg_stop "$BENCH_DIR" "$BENCH_BIN"
echo
echo "Catch-up read of $EVENTS events in batches of 1000 (events/s, best of 3)"
printf '%-44s %14s %14s\n' "" "in the server" "libpq client"
printf '%-44s %14s %14s\n' "plain: position > \$1 ORDER BY position" "$RP" "$CP"
printf '%-44s %14s %14s\n' "candystore.read_all(cursor, 1000)" "$RA" "$CA"
printf '%-44s %14s %14s\n' "ratio read_all / plain (target >= 0.70)" \
    "$(awk -v a="$RA" -v b="$RP" 'BEGIN { printf "%.2f", a / b }')" "$(awk -v a="$CA" -v b="$CP" 'BEGIN { printf "%.2f", a / b }')"
echo "read_all's plan (inlined into the caller's query): $PLAN"

# 2. Instructions per append ---------------------------------------------------
[ "${READ_ONLY:-0}" = 1 ] && exit 0
cs_ensure_packages valgrind
RUN=$CS_RUN/bench-read-all-cost
mkdir -p "$RUN"
if [ "$(cat "$RUN/base-src/.base" 2>/dev/null)" != "$BASE" ]; then
    rm -rf "$RUN/base-src" && mkdir -p "$RUN/base-src"
    git -C "$CS_ROOT" archive "$BASE" | tar -x -C "$RUN/base-src"
    echo "$BASE" > "$RUN/base-src/.base"
fi
BASE_BIN=$(CS_ROOT=$RUN/base-src cs_private_install "$RUN/base-pg")
rm -rf "$RUN/nostream-src" && mkdir -p "$RUN/nostream-src"
(cd "$CS_ROOT" && git ls-files -z | xargs -0 tar -c 2>/dev/null) | tar -x -C "$RUN/nostream-src"
rm "$RUN/nostream-src"/sql/install/4[5-7]_*.sql
NOSTREAM_BIN=$(CS_ROOT=$RUN/nostream-src cs_private_install "$RUN/nostream-pg")
appends() {     # $1 = first i, $2 = count: one statement of appends, a child of the previous event in 3 of 4
    echo "SELECT count(candystore.append(jsonb_build_object('event_id', md5('e' || i)::uuid, 'event_type', 'fireflies.transcript.ready', 'timestamp', '2026-01-27T10:15:00.123456Z', 'version', '1.0.0', 'source', jsonb_build_object('host','b','type','webhook','app','fireflies','meta',null), 'correlation_ids', CASE WHEN i % 4 = 0 THEN '[]'::jsonb ELSE jsonb_build_array(md5('e' || (i - 1))::uuid) END, 'agent_context', null, 'payload', jsonb_build_object('id', 'ff_' || i, 'meeting_id', 'm' || (i / 4))))) FROM generate_series($1, $1 + $2 - 1) i;"
}
variant() {     # NAME BINDIR SETUP_SQL: prints instructions per append
    local name=$1 bin=$2 dir=$RUN/$1
    rm -rf "$dir" && mkdir -p "$dir" && chown "$(cs_pg_user)" "$dir"
    cs_as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    { echo "shared_preload_libraries = 'candystore'"; echo "candystore.validation = off"; } >> "$dir/data/postgresql.conf"
    { echo "CREATE EXTENSION candystore;"; echo "$3"; } |
        cs_as_pg "$bin/postgres" --single -j -D "$dir/data" postgres >/dev/null 2>&1
    local mark="SELECT candystore.check_envelope('{\"event_id\":\"0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1\",\"event_type\":\"a.b\",\"timestamp\":\"2026-01-27T10:15:00Z\",\"version\":\"1.0.0\",\"source\":{\"host\":\"h\",\"type\":\"webhook\",\"app\":\"a\",\"meta\":null},\"correlation_ids\":[],\"agent_context\":null,\"payload\":{}}');"
    { appends 1000000 400; echo "$mark"; appends 0 "$APPENDS"; } > "$dir/appends.sql"
    (cd "$dir" && cs_as_pg valgrind -q --tool=callgrind \
        --dump-before=candystore_check_envelope --callgrind-out-file="$dir/cg.out" \
        "$bin/postgres" --single -j -D "$dir/data" postgres < "$dir/appends.sql" >/dev/null 2>&1)
    local total
    total=$(sed -n 's/^totals: //p;s/^summary: //p' "$dir/cg.out" | head -1)
    echo $((total / APPENDS))
}
IR_BASE=$(variant base "$BASE_BIN" "")
IR_NOSTREAM=$(variant no_stream "$NOSTREAM_BIN" "")
IR_NOIDX=$(variant now_no_index "$BENCH_BIN" "DROP INDEX IF EXISTS candystore.event_log_xid_idx; DROP INDEX IF EXISTS candystore.event_log_default_xid_idx;")
IR_NOW=$(variant now "$BENCH_BIN" "")

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (a - b) * 100 / b }'; }
echo
echo "Instructions per append (callgrind, one statement of $APPENDS appends after 400 warm-up; validation off)"
printf '%-48s %12s %14s %14s\n' "" "" "vs no stream" "vs $BASE"
printf '%-48s %12s %14s %14s\n' "$BASE (before the stream and later changes)" "$IR_BASE" "" ""
printf '%-48s %12s %14s %14s\n' "this tree without the stream's SQL" "$IR_NOSTREAM" "" "$(pct "$IR_NOSTREAM" "$IR_BASE")"
printf '%-48s %12s %14s %14s\n' "this tree, xid column, no xid index" "$IR_NOIDX" "$(pct "$IR_NOIDX" "$IR_NOSTREAM")" "$(pct "$IR_NOIDX" "$IR_BASE")"
printf '%-48s %12s %14s %14s\n' "this tree (xid column and index; target <= 5%)" "$IR_NOW" "$(pct "$IR_NOW" "$IR_NOSTREAM")" "$(pct "$IR_NOW" "$IR_BASE")"
