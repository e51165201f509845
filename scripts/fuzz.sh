#!/usr/bin/env bash
# `make fuzz`: libFuzzer over candystore's parsers and JSON Schema engine,
# inside a real PostgreSQL backend, for a bounded time (docs/testing.md, "Fuzzing").
#
#   scripts/fuzz.sh                     every target, FUZZ_SECONDS each
#   scripts/fuzz.sh jsonschema          one target
#   scripts/fuzz.sh jsonschema -- FILE  run FILE(s) once (reproduce a finding)
#
# Environment: FUZZ_SECONDS (default 30 per target), FUZZ_SEED (default
# random), FUZZ_CANCEL_MS (default 2000: inputs still running are cancelled,
# like statement_timeout), FUZZ_HANG_MS (default 15000: still running after
# that despite the cancel is a finding).
#
# Builds fuzz/ (clang, ASan, UBSan, coverage), copies PostgreSQL with the
# instrumented candystore.so into .run/fuzz, initdb's a cluster there, and
# runs each target in a single-user backend: libFuzzer exits the process it
# runs in, and a single-user backend is a whole backend (catalogs, SPI,
# timeouts) that nothing else depends on.  Exit status is non-zero on any
# finding; inputs are then under .run/fuzz/artifacts/<target>/.
source "$(dirname "$0")/lib.sh"

TARGETS=(jsonschema envelope patterns jsonb_text amqp_headers http_input signature archive_lines event_type_patterns)
declare -A MAX_LEN=([jsonschema]=4096 [envelope]=4096 [patterns]=1024 [jsonb_text]=4096 [amqp_headers]=4096 [http_input]=4096 [signature]=4096 [archive_lines]=4096 [event_type_patterns]=600)
SECONDS_EACH=${FUZZ_SECONDS:-30}
CANCEL_MS=${FUZZ_CANCEL_MS:-2000}
HANG_MS=${FUZZ_HANG_MS:-15000}
REPRODUCE=()
if [ $# -gt 0 ] && [ "$1" != "--" ]; then TARGETS=("$1"); shift; fi
if [ "${1:-}" = "--" ]; then shift; REPRODUCE=("$@"); fi

cs_ensure_packages
RUN=$CS_RUN/fuzz
FUZZ=$CS_ROOT/fuzz

cs_log "building the instrumented extension and the fuzz targets (fuzz/build)"
make -s -C "$FUZZ" PG_CONFIG="$(cs_pg_config)" >/dev/null
ASAN_RT=$(make -s -C "$FUZZ" print-asan-runtime)
[ -f "$ASAN_RT" ] || cs_die "no AddressSanitizer runtime at $ASAN_RT (package libclang-rt-dev)"

BIN=$(cs_private_install "$RUN/pg")
PKGLIB=$RUN/pg$("$(cs_pg_config)" --pkglibdir)
install -m 755 "$FUZZ/build/candystore.so" "$FUZZ/build/candystore_fuzz.so" "$PKGLIB/"

rm -rf "$RUN/data" "$RUN/corpus" "$RUN/artifacts"
mkdir -p "$RUN/corpus" "$RUN/artifacts"
[ "$(id -u)" -ne 0 ] || chown "$(cs_pg_user)" "$RUN" "$RUN/corpus" "$RUN/artifacts"
cs_ensure_traversable "$RUN"
cs_as_pg "$BIN/initdb" -D "$RUN/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null

# The backend runs uninstrumented postgres code: the sanitizer runtime has to
# be the first library loaded (fuzz/preload/asan_init_fix.c says why it
# needs a companion).  Leaks: libFuzzer checks each input that mallocs more
# than it frees (PostgreSQL's memory is reachable from its globals, so only
# real leaks are reported); the check at exit is off, since PostgreSQL
# leaves a few startup allocations to the OS.  Stack-use-after-return
# would move locals off the stack and break check_stack_depth().
backend() {
    cs_as_pg env LD_PRELOAD="$ASAN_RT $FUZZ/build/asan_init_fix.so" \
        ASAN_OPTIONS="detect_leaks=1:leak_check_at_exit=0:detect_stack_use_after_return=0:abort_on_error=0:symbolize=1" \
        LSAN_OPTIONS="suppressions=$FUZZ/lsan.supp:print_suppressions=0" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer || true)" \
        "$BIN/postgres" --single -D "$RUN/data" \
        -c shared_preload_libraries=candystore -c max_stack_depth=2MB postgres
}

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

cs_log "creating the extension in a single-user backend"
backend >"$RUN/setup.log" 2>&1 <<'SQL' || { cat "$RUN/setup.log" >&2; cs_die "setup failed"; }
CREATE EXTENSION candystore;
CREATE FUNCTION candystore_fuzz_run(target text, libfuzzer_args text[], cancel_after_ms int, hang_after_ms int, memory_growth_mb int, artifact_prefix text) RETURNS void LANGUAGE C STRICT AS '$libdir/candystore_fuzz';
SQL
if grep -q '^ERROR' "$RUN/setup.log"; then cat "$RUN/setup.log" >&2; cs_die "setup failed"; fi

failed=()
for t in "${TARGETS[@]}"; do
    [ "$t" = http_input ] && continue   # a program of its own, below
    [ -d "$FUZZ/corpus/$t" ] || cs_die "unknown target $t (no fuzz/corpus/$t)"
    mkdir -p "$RUN/corpus/$t" "$RUN/artifacts/$t"
    cp "$FUZZ/corpus/$t"/* "$RUN/corpus/$t/"
    [ "$(id -u)" -ne 0 ] || chown -R "$(cs_pg_user)" "$RUN/corpus/$t" "$RUN/artifacts/$t"
    args=("-max_len=${MAX_LEN[$t]}" "-timeout=0" "-rss_limit_mb=4096" "-print_final_stats=1")
    [ -f "$FUZZ/dict/$t.dict" ] && args+=("-dict=$FUZZ/dict/$t.dict")
    [ -n "${FUZZ_SEED:-}" ] && args+=("-seed=$FUZZ_SEED")
    if [ ${#REPRODUCE[@]} -gt 0 ]; then
        for f in "${REPRODUCE[@]}"; do args+=("$(realpath "$f")"); done
        cs_log "fuzz $t: running ${#REPRODUCE[@]} input(s) once"
    else
        args+=("-max_total_time=$SECONDS_EACH" "$RUN/corpus/$t")
        cs_log "fuzz $t: ${SECONDS_EACH}s, corpus fuzz/corpus/$t ($(ls "$FUZZ/corpus/$t" | wc -l) seeds)"
    fi
    list=""
    for a in "${args[@]}"; do list+="${list:+,}$(sql_quote "$a")"; done
    log=$RUN/$t.log
    if echo "SELECT candystore_fuzz_run('$t', ARRAY[$list], $CANCEL_MS, $HANG_MS, 64, $(sql_quote "$RUN/artifacts/$t/"))" |
        backend >"$log" 2>&1 && grep -q '^candystore_fuzz '"$t"': ' "$log"; then
        grep -E '^(#[0-9]+ +DONE|candystore_fuzz )' "$log" || true
        echo "test fuzz_$t ... ok"
    else
        grep -vE '^#[0-9]+ +(NEW|REDUCE|pulse|INITED)' "$log" | tail -60 >&2
        echo "test fuzz_$t ... FAILED (log $log, inputs in $RUN/artifacts/$t/)"
        failed+=("$t")
    fi
done

# candystore-http's parsers of client input: a standalone libFuzzer program
# (http/fuzz/http_input.c), no backend needed.
if [[ " ${TARGETS[*]} " == *" http_input "* ]]; then
    t=http_input
    make -s -C "$CS_ROOT/http" fuzz PG_CONFIG="$(cs_pg_config)" >/dev/null
    rm -rf "$RUN/corpus/$t" "$RUN/artifacts/$t"
    mkdir -p "$RUN/corpus/$t" "$RUN/artifacts/$t"
    cp "$CS_ROOT/http/fuzz/corpus"/* "$RUN/corpus/$t/"
    args=("-max_len=${MAX_LEN[$t]}" "-timeout=10" "-rss_limit_mb=2048" "-print_final_stats=1"
          "-artifact_prefix=$RUN/artifacts/$t/")
    [ -n "${FUZZ_SEED:-}" ] && args+=("-seed=$FUZZ_SEED")
    if [ ${#REPRODUCE[@]} -gt 0 ]; then
        args+=("${REPRODUCE[@]}")
    else
        args+=("-max_total_time=$SECONDS_EACH" "$RUN/corpus/$t")
        cs_log "fuzz $t: ${SECONDS_EACH}s, corpus http/fuzz/corpus ($(ls "$CS_ROOT/http/fuzz/corpus" | wc -l) seeds)"
    fi
    log=$RUN/$t.log
    if UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer || true)" \
        "$CS_ROOT/http/fuzz/build/http_input" "${args[@]}" >"$log" 2>&1; then
        grep -E '^#[0-9]+ +DONE|^Done' "$log" || true
        echo "test fuzz_$t ... ok"
    else
        tail -60 "$log" >&2
        echo "test fuzz_$t ... FAILED (log $log, inputs in $RUN/artifacts/$t/)"
        failed+=("$t")
    fi
fi

if [ ${#failed[@]} -ne 0 ]; then
    cs_log "fuzz findings in: ${failed[*]}"
    exit 1
fi
cs_log "fuzz: no findings"
