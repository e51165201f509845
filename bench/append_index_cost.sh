#!/usr/bin/env bash
# bench/append_index_cost.sh [APPENDS]: what each index on event_log's
# partitions and on event_ids costs an append, in instructions counted by
# valgrind (callgrind): the store as installed (partitions of 1,000
# positions, made ahead), then the same store with one index dropped before
# the partitions are made (they copy the default partition's indexes), the
# two hash indexes as the btrees they were, every row in the default
# partition (no range partitions: what routing a row among the partitions
# costs), event_ids' group index on its key alone (without the columns the
# walks read from it), and some of these again in a partition of 1,000,000
# holding 50,000 events (large_*).  append() one by one and append_many()
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
names=(as_installed no_pkey no_event_type_idx no_occurred_at_idx no_event_id_idx no_session_idx no_xid_idx
       btree_event_id_idx btree_session_idx btrees_fillfactor_100_no_dedup default_partition_only
       group_index_key_only large_as_installed large_no_event_id_idx large_btree_event_id_idx
       large_no_session_idx large_btree_session_idx)
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
ALTER INDEX candystore.event_ids_pkey SET (deduplicate_items = off);
$PARTITIONS"
# the two equality-only indexes as btrees, as they were before 0.2.0's hash
# indexes (a btree entry: a descent with a key comparison per step)
BTREE_EVENT_ID="DROP INDEX candystore.event_log_default_event_id_idx;
CREATE INDEX event_log_default_event_id_idx ON candystore.event_log_default (event_id);"
BTREE_SESSION="DROP INDEX candystore.event_log_default_session_idx;
CREATE INDEX event_log_default_session_idx ON candystore.event_log_default (session_key)
    WHERE session_key IS NOT NULL;"
# large_*: one partition of 1,000,000 positions (the default size) holding
# 50,000 events before the count: a random-key btree a level deeper than in
# a partition of 1,000
LARGE="SELECT count(*) FROM candystore.make_partitions(ahead => 1, size => 1000000);
$(batches 10000000 50048)"
while read -r name s b; do ir[$name.single]=$s; ir[$name.batch]=$b; done < <(
    want as_installed && variant as_installed "$PARTITIONS"
    want no_pkey && variant no_pkey "ALTER TABLE candystore.event_log_default DROP CONSTRAINT event_log_default_pkey; $PARTITIONS"
    want no_event_type_idx && variant no_event_type_idx "$(drop event_log_default_event_type_idx)"
    want no_occurred_at_idx && variant no_occurred_at_idx "$(drop event_log_default_occurred_at_idx)"
    want no_event_id_idx && variant no_event_id_idx "$(drop event_log_default_event_id_idx)"
    want no_session_idx && variant no_session_idx "$(drop event_log_default_session_idx)"
    want no_xid_idx && variant no_xid_idx "$(drop event_log_default_xid_idx)"
    want btree_event_id_idx && variant btree_event_id_idx "$BTREE_EVENT_ID $PARTITIONS"
    want btree_session_idx && variant btree_session_idx "$BTREE_SESSION $PARTITIONS"
    want btrees_fillfactor_100_no_dedup && variant btrees_fillfactor_100_no_dedup "$LEAN"
    want default_partition_only && variant default_partition_only ""
    want group_index_key_only && variant group_index_key_only "$KEY_ONLY"
    want large_as_installed && variant large_as_installed "$LARGE"
    want large_no_event_id_idx && variant large_no_event_id_idx "DROP INDEX candystore.event_log_default_event_id_idx; $LARGE"
    want large_btree_event_id_idx && variant large_btree_event_id_idx "$BTREE_EVENT_ID $LARGE"
    want large_no_session_idx && variant large_no_session_idx "DROP INDEX candystore.event_log_default_session_idx; $LARGE"
    want large_btree_session_idx && variant large_btree_session_idx "$BTREE_SESSION $LARGE")
echo
echo "Instructions per append ($APPENDS appends each, callgrind; partitions of 1,000 positions, large_*: 1,000,000)"
echo "(saved: against as_installed, large_* against large_as_installed; negative: costs more)"
printf '%-30s %12s %10s %16s %10s\n' "" "append()" "saved" "append_many(64)" "saved"
saved() { awk -v a="$1" -v x="$2" 'BEGIN { if (a == "" || x == "") print "-"; else printf "%.1f", (a - x) * 100 / a }'; }
for v in "${names[@]}"; do
    base=as_installed; [[ $v == large_* ]] && base=large_as_installed
    printf '%-30s %12s %9s%% %16s %9s%%\n' "$v" "${ir[$v.single]}" \
        "$(saved "${ir[$base.single]:-}" "${ir[$v.single]}")" "${ir[$v.batch]}" \
        "$(saved "${ir[$base.batch]:-}" "${ir[$v.batch]}")"
done
