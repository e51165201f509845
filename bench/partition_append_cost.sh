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
variant() { count_append_cost "$1" "$2" "$3" 256; }

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
