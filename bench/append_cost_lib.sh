# Sourced by bench/partition_append_cost.sh and bench/append_index_cost.sh:
# the appends they count, as SQL, the mark between counted parts, and the
# callgrind run that counts them.
envelope() {    # the envelope of event i, its parent i - 1 (every 4th a root)
    echo "jsonb_build_object('event_id', md5('e' || i)::uuid, 'event_type', 'fireflies.transcript.ready', 'timestamp', '2026-01-27T10:15:00.123456Z', 'version', '1.0.0', 'source', jsonb_build_object('host','b','type','webhook','app','fireflies','meta',null), 'correlation_ids', CASE WHEN i % 4 = 0 THEN '[]'::jsonb ELSE jsonb_build_array(md5('e' || (i - 1))::uuid) END, 'agent_context', null, 'payload', jsonb_build_object('id', 'ff_' || i, 'meeting_id', 'm' || (i / 4)))"
}
singles() { echo "SELECT count(candystore.append($(envelope))) FROM generate_series($1, $1 + $2 - 1) i;"; }
batches() {     # $2 appends in batches of 64
    echo "SELECT sum((SELECT count(*) FROM candystore.append_many(ARRAY(SELECT $(envelope) FROM generate_series(b, b + 63) i)))) FROM generate_series($1, $1 + $2 - 1, 64) b;"
}
# check_envelope() between the parts makes callgrind dump the counts so far
# (--dump-before=candystore_check_envelope)
COST_MARK="SELECT candystore.check_envelope('{\"event_id\":\"0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1\",\"event_type\":\"a.b\",\"timestamp\":\"2026-01-27T10:15:00Z\",\"version\":\"1.0.0\",\"source\":{\"host\":\"h\",\"type\":\"webhook\",\"app\":\"a\",\"meta\":null},\"correlation_ids\":[],\"agent_context\":null,\"payload\":{}}');"

# count_append_cost NAME BINDIR SETUP WARMUP: a fresh cluster of BINDIR under
# $RUN/NAME, SETUP run after CREATE EXTENSION, WARMUP appends of each kind,
# then $APPENDS append() and $APPENDS append_many() (in 64s) counted by
# callgrind; prints "NAME single_Ir batch_Ir" per append.
count_append_cost() {
    local name=$1 bin=$2 setup=$3 warmup=$4 dir=$RUN/$1
    rm -rf "$dir" && mkdir -p "$dir" && chown "$(cs_pg_user)" "$dir"
    cs_as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    { echo "shared_preload_libraries = 'candystore'"; echo "candystore.validation = off"; } >> "$dir/data/postgresql.conf"
    { echo "CREATE EXTENSION candystore;"; echo "$setup"; } |
        cs_as_pg "$bin/postgres" --single -j -D "$dir/data" postgres >/dev/null 2>&1
    {
        singles 1000000 "$warmup"; batches 2000000 "$warmup"
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
    rm -rf "$dir/data"
}
