#!/usr/bin/env bash
# bench/trace_append_cost.sh [APPENDS]: what the trace bookkeeping costs an
# append, in instructions counted by valgrind (callgrind), which the other
# work on a shared machine does not disturb the way it disturbs timings.
# Counts everything the backend does for a statement of appends (building the
# envelopes in SQL, the envelope check, the insert with all its index
# entries, the causation bookkeeping, the commit), per append, after a
# warm-up; for $BASE (before causation groups) and this tree, each with and
# without the session index, for events whose parent is stored and events
# whose parent is never stored; and for $PREV (the main line just before
# the causation groups were merged into it: payload validation, batched
# inserts) as installed.  Payload validation is off (candystore.validation)
# wherever it exists: it is not the bookkeeping's cost, and $BASE has none.
# Run by hand; not part of `make test`.
source "$(dirname "$0")/../scripts/lib.sh"
APPENDS=${1:-2000}
BASE=${BASE:-62a6d9f}
PREV=${PREV:-a1e6bbb}
cs_ensure_packages valgrind
RUN=$CS_RUN/bench-trace-cost
mkdir -p "$RUN"
BIN=$(cs_private_install "$RUN/pg")
build_commit() {    # $1 = name, $2 = commit: prints the bindir of its private install
    if [ "$(cat "$RUN/$1-src/.base" 2>/dev/null)" != "$2" ]; then    # else: already built
        rm -rf "$RUN/$1-src" && mkdir -p "$RUN/$1-src"
        git -C "$CS_ROOT" archive "$2" | tar -x -C "$RUN/$1-src"
        echo "$2" > "$RUN/$1-src/.base"
    fi
    CS_ROOT=$RUN/$1-src cs_private_install "$RUN/$1-pg"
}
BASE_BIN=$(build_commit base "$BASE")
PREV_BIN=$(build_commit prev "$PREV")

appends() {     # $1 = first i, $2 = count, $3 = stored | missing: one line of SQL
    local parent
    if [ "$3" = stored ]; then
        parent="CASE WHEN i % 4 = 0 THEN '[]'::jsonb ELSE jsonb_build_array(md5('e' || (i - 1))::uuid) END"
    else
        parent="jsonb_build_array(md5('never' || i)::uuid)"
    fi
    echo "SELECT count(candystore.append(jsonb_build_object('event_id', md5('e' || i)::uuid, 'event_type', 'fireflies.transcript.ready', 'timestamp', '2026-01-27T10:15:00.123456Z', 'version', '1.0.0', 'source', jsonb_build_object('host','b','type','webhook','app','fireflies','meta',null), 'correlation_ids', $parent, 'agent_context', null, 'payload', jsonb_build_object('id', 'ff_' || i, 'meeting_id', 'm' || (i / 4))))) FROM generate_series($1, $1 + $2 - 1) i;"
}

# variant NAME BINDIR KEEP_SESSION_INDEX [CONF]: prints "NAME stored_Ir missing_Ir" per append
variant() {
    local name=$1 bin=$2 keep=$3 dir=$RUN/$1
    rm -rf "$dir" && mkdir -p "$dir" && chown "$(cs_pg_user)" "$dir"
    cs_as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    echo "shared_preload_libraries = 'candystore'" >> "$dir/data/postgresql.conf"
    [ -z "${4:-}" ] || echo "$4" >> "$dir/data/postgresql.conf"
    {
        echo "CREATE EXTENSION candystore;"
        [ "$keep" = yes ] || echo "DROP INDEX IF EXISTS candystore.event_log_session_idx; DROP INDEX IF EXISTS candystore.event_log_default_session_idx;"
    } | cs_as_pg "$bin/postgres" --single -j -D "$dir/data" postgres >/dev/null 2>&1
    # check_envelope() between the parts makes callgrind dump the counts so far
    local mark="SELECT candystore.check_envelope('{\"event_id\":\"0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1\",\"event_type\":\"a.b\",\"timestamp\":\"2026-01-27T10:15:00Z\",\"version\":\"1.0.0\",\"source\":{\"host\":\"h\",\"type\":\"webhook\",\"app\":\"a\",\"meta\":null},\"correlation_ids\":[],\"agent_context\":null,\"payload\":{}}');"
    {
        appends 1000000 200 stored; appends 2000000 200 missing     # warm-up
        echo "$mark"
        appends 0 "$APPENDS" stored
        echo "$mark"
        appends 3000000 "$APPENDS" missing
    } > "$dir/appends.sql"
    (cd "$dir" && cs_as_pg valgrind -q --tool=callgrind \
        --dump-before=candystore_check_envelope --callgrind-out-file="$dir/cg.out" \
        "$bin/postgres" --single -j -D "$dir/data" postgres < "$dir/appends.sql" >/dev/null 2>&1)
    # dumps: .1 = warm-up, .2 = stored, the last (no suffix) = missing
    local s m
    s=$(sed -n 's/^summary: //p' "$dir/cg.out.2"); m=$(sed -n 's/^totals: //p;s/^summary: //p' "$dir/cg.out" | head -1)
    echo "$name $((s / APPENDS)) $((m / APPENDS))"
}

declare -A ir
while read -r name s m; do ir[$name.stored]=$s; ir[$name.missing]=$m; done < <(
    variant base_bare "$BASE_BIN" no
    variant base_session "$BASE_BIN" yes
    variant prev "$PREV_BIN" yes "candystore.validation = off"
    variant now_no_session "$BIN" no "candystore.validation = off"
    variant now_all "$BIN" yes "candystore.validation = off")
echo
echo "Instructions per append (callgrind: the whole statement of $APPENDS appends, after 400 warm-up appends)"
printf '%-10s %14s %14s %14s %14s %14s %12s %12s %12s\n' parent "$BASE bare" "$BASE +session" "$PREV" "now -session" "now (all on)" "groups only" "all vs bare" "vs $PREV"
for kind in stored missing; do
    b=${ir[base_bare.$kind]}; bs=${ir[base_session.$kind]}; p=${ir[prev.$kind]}; np=${ir[now_no_session.$kind]}; na=${ir[now_all.$kind]}
    printf '%-10s %14s %14s %14s %14s %14s %+11.1f%% %+11.1f%% %+11.1f%%\n' "$kind" "$b" "$bs" "$p" "$np" "$na" \
        "$(awk -v a="$np" -v b="$b" 'BEGIN { print (a - b) * 100 / b }')" \
        "$(awk -v a="$na" -v b="$b" 'BEGIN { print (a - b) * 100 / b }')" \
        "$(awk -v a="$na" -v b="$p" 'BEGIN { print (a - b) * 100 / b }')"
done
echo "(bare: session index dropped; +session: as installed by $BASE; $PREV: as installed (its session index),"
echo " without causation groups; now: this tree; groups only: now -session vs bare; validation off where it exists)"
