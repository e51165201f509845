#!/usr/bin/env bash
# bench/partition_append_cost.sh [APPENDS]: what the partitioned layout
# (event_log partitioned by position, event_ids beside it) costs an append,
# in instructions counted by valgrind (callgrind), side by side with the
# unpartitioned store of $BASE (the main line before partitions).  Counts
# everything the backend does per append (building the envelope in SQL, the
# checks, the inserts with all their index entries, the causation
# bookkeeping), after a warm-up, for append() one by one and for
# append_many() in batches of 64 (the ingest worker's path); events whose
# parent is stored.  This tree runs with partitions of 1,000 positions, so
# the appends cross partitions.  Payload validation is off.  Run by hand;
# not part of `make test`.
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/append_cost_lib.sh"
APPENDS=${1:-2048}
BASE=${BASE:-164f16b}
cs_ensure_packages valgrind
RUN=$CS_RUN/bench-partition-cost
mkdir -p "$RUN"
BIN=$(cs_private_install "$RUN/pg")
if [ "$(cat "$RUN/base-src/.base" 2>/dev/null)" != "$BASE" ]; then
    rm -rf "$RUN/base-src" && mkdir -p "$RUN/base-src"
    git -C "$CS_ROOT" archive "$BASE" | tar -x -C "$RUN/base-src"
    echo "$BASE" > "$RUN/base-src/.base"
fi
BASE_BIN=$(CS_ROOT=$RUN/base-src cs_private_install "$RUN/base-pg")


# variant NAME BINDIR SETUP: prints "NAME single_Ir batch_Ir" per append
variant() {
    local name=$1 bin=$2 setup=$3 dir=$RUN/$1
    rm -rf "$dir" && mkdir -p "$dir" && chown "$(cs_pg_user)" "$dir"
    cs_as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    { echo "shared_preload_libraries = 'candystore'"; echo "candystore.validation = off"; } >> "$dir/data/postgresql.conf"
    { echo "CREATE EXTENSION candystore;"; echo "$setup"; } |
        cs_as_pg "$bin/postgres" --single -j -D "$dir/data" postgres >/dev/null 2>&1
    {
        singles 1000000 256; batches 2000000 256     # warm-up
        echo "$COST_MARK"
        singles 0 "$APPENDS"
        echo "$COST_MARK"
        batches 3000000 "$APPENDS"
    } > "$dir/appends.sql"
    (cd "$dir" && cs_as_pg valgrind -q --tool=callgrind \
        --dump-before=candystore_check_envelope --callgrind-out-file="$dir/cg.out" \
        "$bin/postgres" --single -j -D "$dir/data" postgres < "$dir/appends.sql" >/dev/null 2>&1)
    local s b
    s=$(sed -n 's/^summary: //p' "$dir/cg.out.2"); b=$(sed -n 's/^totals: //p;s/^summary: //p' "$dir/cg.out" | head -1)
    echo "$name $((s / APPENDS)) $((b / APPENDS))"
}

declare -A ir
while read -r name s b; do ir[$name.single]=$s; ir[$name.batch]=$b; done < <(
    variant unpartitioned "$BASE_BIN" ""
    variant partitioned "$BIN" "SELECT count(*) FROM candystore.make_partitions(ahead => 20, size => 1000);")
echo
echo "Instructions per append ($APPENDS appends each, callgrind; base $BASE unpartitioned, this tree in partitions of 1,000)"
printf '%-16s %14s %14s\n' "" "append()" "append_many(64)"
for v in unpartitioned partitioned; do
    printf '%-16s %14s %14s\n' "$v" "${ir[$v.single]}" "${ir[$v.batch]}"
done
printf '%-16s %13s%% %13s%%\n' "partitioned/base" \
    "$(( (ir[partitioned.single] * 100 / ir[unpartitioned.single]) - 100 ))" \
    "$(( (ir[partitioned.batch] * 100 / ir[unpartitioned.batch]) - 100 ))"
