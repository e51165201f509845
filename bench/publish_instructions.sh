#!/usr/bin/env bash
# bench/publish_instructions.sh [BULK] [SINGLE]: what publish() costs against
# append(), in instructions counted by valgrind (callgrind), which other work
# on a shared machine does not disturb the way it disturbs timings.  One
# single-user backend runs under callgrind, validation as installed ('full'),
# and counts, after a warm-up of both functions:
#   build    the envelopes alone (the same SQL, no append): what both share
#   bulk     BULK envelopes (default 5000) in one statement, one transaction,
#            through append(), then through publish()
#   single   SINGLE envelopes (default 1000), one statement and one commit
#            each, through append(), then through publish()
# and prints instructions per event and publish/append, with and without the
# envelopes' construction.  Run by hand; not part of `make test`.
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"
BULK=${1:-5000}
SINGLE=${2:-1000}
cs_ensure_packages valgrind
RUN=$CS_RUN/bench-publish-instructions
rm -rf "$RUN" && mkdir -p "$RUN"
BIN=$(cs_private_install "$RUN/pg")
[ "$(id -u)" -ne 0 ] || chown "$(cs_pg_user)" "$RUN"
cs_as_pg "$BIN/initdb" -D "$RUN/data" -A trust -U postgres >/dev/null
cat >> "$RUN/data/postgresql.conf" <<'CONF'
shared_preload_libraries = 'candystore'
candystore.outbox_publisher = off
candystore.ingest_workers = 0
CONF
{ echo "CREATE EXTENSION candystore;"; echo; bench_envelope_sql; } |
    cs_as_pg "$BIN/postgres" --single -j -D "$RUN/data" postgres >/dev/null 2>&1

# check_envelope() between the parts makes callgrind dump the counts so far
mark="SELECT candystore.check_envelope('{\"event_id\":\"0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1\",\"event_type\":\"a.b\",\"timestamp\":\"2026-01-27T10:15:00Z\",\"version\":\"1.0.0\",\"source\":{\"host\":\"h\",\"type\":\"webhook\",\"app\":\"a\",\"meta\":null},\"correlation_ids\":[],\"agent_context\":null,\"payload\":{}}');"
bulk() {    # $1 = function (or '' for the envelopes alone), $2 = first n, $3 = count
    local call="bench_envelope(n)"
    [ -z "$1" ] || call="candystore.$1(bench_envelope(n)${4:-})"
    printf 'BEGIN;\n\nSELECT count(%s) FROM generate_series(%d, %d) n;\n\nCOMMIT;\n\n' "$call" "$2" $(($2 + $3 - 1))
}
single() {  # $1 = function, $2 = first n, $3 = count: one statement (and commit) each
    for ((n = $2; n < $2 + $3; n++)); do
        printf 'SELECT candystore.%s(bench_envelope(%d)%s);\n\n' "$1" "$n" "${4:-}"
    done
}
{
    bulk append 1000000 500; bulk publish 2000000 500 ", 'bench.outbox'"     # warm-up
    single append 3000000 100; single publish 4000000 100 ", 'bench.outbox'"
    echo "$mark"; echo
    bulk "" 0 "$BULK"; echo "$mark"; echo                                  # .2
    bulk append 10000000 "$BULK"; echo "$mark"; echo                        # .3
    bulk publish 20000000 "$BULK" ", 'bench.outbox'"; echo "$mark"; echo    # .4
    single append 30000000 "$SINGLE"; echo "$mark"; echo                    # .5
    single publish 40000000 "$SINGLE" ", 'bench.outbox'"                     # last
} > "$RUN/statements.sql"
cs_log "callgrind: $BULK per statement, then $SINGLE one per statement, append() and publish()"
(cd "$RUN" && cs_as_pg valgrind -q --tool=callgrind \
    --dump-before=candystore_check_envelope --callgrind-out-file="$RUN/cg.out" \
    "$BIN/postgres" --single -j -D "$RUN/data" postgres < "$RUN/statements.sql" > "$RUN/out.txt" 2>&1)
count=$(cs_as_pg "$BIN/postgres" --single -j -D "$RUN/data" postgres <<< "SELECT 'outbox rows: ' || count(*) FROM candystore.outbox;" 2>/dev/null |
        sed -n 's/.*"outbox rows: \([0-9]*\)".*/\1/p')
ir() { sed -n 's/^totals: //p;s/^summary: //p' "$1" | head -1; }
build=$(( $(ir "$RUN/cg.out.2") / BULK ))
bulk_a=$(( $(ir "$RUN/cg.out.3") / BULK )); bulk_p=$(( $(ir "$RUN/cg.out.4") / BULK ))
one_a=$(( $(ir "$RUN/cg.out.5") / SINGLE )); one_p=$(( $(ir "$RUN/cg.out") / SINGLE ))
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
echo
echo "Instructions per event (callgrind, one single-user backend, validation 'full')"
printf '%-40s %12s %12s %14s %18s\n' "" "append()" "publish()" "publish/append" "without the build"
printf '%-40s %12s %12s %14s %18s\n' "$BULK per statement, one transaction" "$bulk_a" "$bulk_p" \
    "$(ratio "$bulk_p" "$bulk_a")" "$(ratio $((bulk_p - build)) $((bulk_a - build)))"
printf '%-40s %12s %12s %14s %18s\n' "1 per statement (one commit each)" "$one_a" "$one_p" \
    "$(ratio "$one_p" "$one_a")" "$(ratio $((one_p - build)) $((one_a - build)))"
echo "(building one envelope in SQL, counted in every figure: $build; 'without the build' subtracts it;"
echo " outbox rows enqueued: $count, expected $((500 + 100 + BULK + SINGLE)); target: publish/append <= 1.5x)"
