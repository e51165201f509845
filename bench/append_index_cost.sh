#!/usr/bin/env bash
# bench/append_index_cost.sh [APPENDS]: what each index on event_log's
# partitions and on event_ids costs an append, in instructions counted by
# valgrind (callgrind): the store as installed (partitions of 1,000
# positions, made ahead), then the same store with one index dropped before
# the partitions are made (they copy the default partition's indexes), then
# every row in the default partition (no range partitions: what routing a
# row among the partitions costs), then event_ids' group index on its key
# alone (without the columns the walks read from it).  append() one by one and append_many()
# in batches of 64, events whose parent is stored, payload validation off,
# as bench/partition_append_cost.sh.  The differences say what an index
# costs; whether a read path can do without it is docs/benchmarks.md's
# ("Append: what each index costs").  Run by hand; not part of `make test`.
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/append_cost_lib.sh"
APPENDS=${1:-1024}
cs_ensure_packages valgrind
RUN=$CS_RUN/bench-append-index-cost
mkdir -p "$RUN"
BIN=$(cs_private_install "$RUN/pg")

PARTITIONS="SELECT count(*) FROM candystore.make_partitions(ahead => 20, size => 1000);"

# variant NAME SETUP: prints "NAME single_Ir batch_Ir" per append
variant() { count_append_cost "$1" "$BIN" "$2" 128; }

drop() { echo "DROP INDEX candystore.$1; $PARTITIONS"; }
declare -A ir
names=(as_installed no_event_type_idx no_occurred_at_idx no_event_id_idx no_session_idx no_xid_idx
       btrees_fillfactor_100_no_dedup default_partition_only group_index_key_only)
# ONLY="as_installed group_index_key_only" counts those variants alone
[ -n "${ONLY:-}" ] && read -r -a names <<<"$ONLY"
want() { [[ " ${names[*]} " == *" $1 "* ]]; }
# (event_ids' two indexes cannot go: append() itself probes event_ids_pkey for
# duplicates and event_ids_causation_group_idx to file the event in its group.
# group_index_key_only: the group index on causation_group alone, without the
# columns the walks read from it, what it was before the index-only walks.)
KEY_ONLY="DROP INDEX candystore.event_ids_causation_group_idx;
CREATE INDEX event_ids_causation_group_idx ON candystore.event_ids (causation_group);
$PARTITIONS"
# Keys that are unique (every index here holds position or a unique id)
# gain nothing from deduplication; ascending keys split best with full pages.
LEAN="ALTER INDEX candystore.event_log_default_pkey SET (fillfactor = 100);
ALTER INDEX candystore.event_log_default_occurred_at_idx SET (fillfactor = 100, deduplicate_items = off);
ALTER INDEX candystore.event_log_default_event_type_idx SET (deduplicate_items = off);
ALTER INDEX candystore.event_log_default_event_id_idx SET (deduplicate_items = off);
ALTER INDEX candystore.event_ids_pkey SET (deduplicate_items = off);
$PARTITIONS"
while read -r name s b; do ir[$name.single]=$s; ir[$name.batch]=$b; done < <(
    want as_installed && variant as_installed "$PARTITIONS"
    want no_event_type_idx && variant no_event_type_idx "$(drop event_log_default_event_type_idx)"
    want no_occurred_at_idx && variant no_occurred_at_idx "$(drop event_log_default_occurred_at_idx)"
    want no_event_id_idx && variant no_event_id_idx "$(drop event_log_default_event_id_idx)"
    want no_session_idx && variant no_session_idx "$(drop event_log_default_session_idx)"
    want no_xid_idx && variant no_xid_idx "$(drop event_log_default_xid_idx)"
    want btrees_fillfactor_100_no_dedup && variant btrees_fillfactor_100_no_dedup "$LEAN"
    want default_partition_only && variant default_partition_only ""
    want group_index_key_only && variant group_index_key_only "$KEY_ONLY")
echo
echo "Instructions per append ($APPENDS appends each, callgrind; partitions of 1,000 positions unless said)"
printf '%-24s %12s %10s %16s %10s\n' "" "append()" "saved" "append_many(64)" "saved"
for v in "${names[@]}"; do
    printf '%-24s %12s %9s%% %16s %9s%%\n' "$v" "${ir[$v.single]}" \
        "$(awk -v a="${ir[as_installed.single]}" -v x="${ir[$v.single]}" 'BEGIN {printf "%.1f", (a - x) * 100 / a}')" \
        "${ir[$v.batch]}" \
        "$(awk -v a="${ir[as_installed.batch]}" -v x="${ir[$v.batch]}" 'BEGIN {printf "%.1f", (a - x) * 100 / a}')"
done
