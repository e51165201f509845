#!/usr/bin/env bash
# bench/append_profile.sh [APPENDS]: where an append's instructions go,
# function by function (callgrind, inclusive counts, per event), for
# append() one by one ($APPENDS of them, in one statement), append_many() in
# batches of 64, and one append_many() of 6,000 envelopes (~1.1 KB, as
# bench/append_many.sh's), beside the plain INSERT of the same 6,000 rows
# into a (event_id uuid PRIMARY KEY, doc jsonb) table.  Same cluster set-up
# as bench/partition_append_cost.sh (partitions of 1,000 positions, payload
# validation off, events whose parent is stored).  Inclusive counts overlap
# (index inserts are inside the event_ids and event_log inserts); the rows
# are the items to cut, not a sum.  Run by hand; not part of `make test`.
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/append_cost_lib.sh"
APPENDS=${1:-512}
MANY=6000
cs_ensure_packages valgrind
RUN=$CS_RUN/bench-append-profile
mkdir -p "$RUN"
BIN=$(cs_private_install "$RUN/pg")
dir=$RUN/cluster
rm -rf "$dir" && mkdir -p "$dir" && chown "$(cs_pg_user)" "$dir"
cs_as_pg "$BIN/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
{ echo "shared_preload_libraries = 'candystore'"; echo "candystore.validation = off"; } >> "$dir/data/postgresql.conf"
{
    echo "CREATE EXTENSION candystore;"
    echo "SELECT count(*) FROM candystore.make_partitions(ahead => 20, size => 1000);"
    echo "CREATE TABLE staging AS SELECT i AS n, $(envelope) AS doc FROM generate_series(5000000, 5000000 + $MANY - 1) i;"
    echo "CREATE TABLE plain (event_id uuid PRIMARY KEY, doc jsonb);"
} | cs_as_pg "$BIN/postgres" --single -j -D "$dir/data" postgres >/dev/null 2>&1
# the parts, separated by COST_MARK (callgrind dumps its counts there):
# warm-up, append() one by one, append_many() in 64s, append_many() of
# $MANY, the plain INSERT, and the mark alone (subtracted from each part)
{
    singles 1000000 256; batches 2000000 256
    echo "$COST_MARK"; singles 0 "$APPENDS"
    echo "$COST_MARK"; batches 3000000 "$APPENDS"
    echo "$COST_MARK"; echo "SELECT count(*) FROM candystore.append_many(ARRAY(SELECT doc FROM staging ORDER BY n));"
    echo "$COST_MARK"; echo "INSERT INTO plain (event_id, doc) SELECT (doc->>'event_id')::uuid, doc FROM staging;"
    echo "$COST_MARK"; echo "$COST_MARK"
} > "$dir/appends.sql"
(cd "$dir" && cs_as_pg valgrind -q --tool=callgrind --dump-before=candystore_check_envelope \
    --callgrind-out-file="$dir/cg.out" \
    "$BIN/postgres" --single -j -D "$dir/data" postgres < "$dir/appends.sql" >/dev/null 2>&1)

# inclusive instructions of function $2 in dump $1 (the largest entry of
# that name: inlined copies are listed under header files too)
inclusive() {
    callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$1" 2>/dev/null |
        sed -n "s/^ *\([0-9,]*\) ([ 0-9.%]*)  [^ ]*:$2\( \[.*\)\{0,1\}$/\1/p" | tr -d , | sort -n | tail -1
}
total() { sed -n 's/^summary: //p' "$1"; }
per() { local v=${1:-0}; echo $(( v / $2 )); }
mark=$(total "$dir/cg.out.6")

rows=(
    "the whole append (the C function)|candystore_append|candystore_append_many|candystore_append_many"
    "envelope checks (envelope_parse)|envelope_parse"
    "payload schema (validation off here)|registry_payload_acceptable"
    "signature check|signing_acceptable"
    "event type grants|event_type_check_writable"
    "causation groups, before the insert|trace_links_before_insert"
    "causation links, after the insert|trace_links_after_insert"
    "session key|session_key"
    "the inserts (event_ids + event_log rows)|store_insert_row"
    "  btree entries, all 8 (ExecInsertIndexTuples)|ExecInsertIndexTuples"
    "  heap tuples, both tables (heap_insert)|heap_insert"
    "  WAL, heap and btree (XLogInsert)|XLogInsert"
    "  position (nextval_internal)|nextval_internal"
    "  routing (ExecFindPartition)|ExecFindPartition"
    "  unique check for ON CONFLICT|ExecCheckIndexConstraints"
    "tables opened per statement (store_insert_begin)|store_insert_begin"
    "SPI statements (lookups, links; the old INSERT)|SPI_execute_plan"
    "NOTIFY bookkeeping per row|notify_note_position"
)
printf '\nInstructions per event, inclusive (callgrind; %d appends one by one and in 64s, %d in one append_many)\n' "$APPENDS" "$MANY"
printf '%-52s %12s %12s %14s\n' "" "append()" "many(64)" "many($MANY)"
for row in "${rows[@]}"; do
    IFS='|' read -r label f1 f2 f3 <<< "$row"
    printf '%-52s %12s %12s %14s\n' "$label" \
        "$(per "$(inclusive "$dir/cg.out.2" "$f1")" "$APPENDS")" \
        "$(per "$(inclusive "$dir/cg.out.3" "${f2:-$f1}")" "$APPENDS")" \
        "$(per "$(inclusive "$dir/cg.out.4" "${f3:-$f1}")" "$MANY")"
done
printf '%-52s %12s %12s %14s\n' "everything the backend did (statement, minus the mark)" \
    "$(per $(( $(total "$dir/cg.out.2") - mark )) "$APPENDS")" \
    "$(per $(( $(total "$dir/cg.out.3") - mark )) "$APPENDS")" \
    "$(per $(( $(total "$dir/cg.out.4") - mark )) "$MANY")"
plain=$(( $(total "$dir/cg.out.5") - mark ))
printf '%-52s %12s %12s %14s\n' "plain INSERT of the same rows (same run)" "" "" "$(per "$plain" "$MANY")"
awk -v p="$plain" -v m=$(( $(total "$dir/cg.out.4") - mark )) \
    'BEGIN { printf "append_many(%s) against the plain INSERT: %.2fx\n", '"$MANY"', p / m }'
rm -rf "$dir/data"
