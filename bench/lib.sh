# Shared by the benchmarks: a throwaway cluster tuned like a small server,
# and pgbench rates.  Source after scripts/lib.sh.

# bench_cluster NAME: private install + cluster under .run/bench/NAME; sets
# BENCH_DIR, BENCH_BIN, BENCH_PORT and stops the cluster on exit.
bench_cluster() {
    BENCH_DIR=$CS_RUN/bench/$1
    BENCH_BIN=$(cs_private_install "$CS_RUN/bench/pg")
    cs_pg_stop "$BENCH_DIR" "$BENCH_BIN"
    rm -rf "$BENCH_DIR"
    cs_pg_start "$BENCH_DIR" "$BENCH_BIN" "shared_preload_libraries = 'candystore'" \
        "fsync = on" "synchronous_commit = on" "shared_buffers = '1GB'" "max_wal_size = '4GB'" \
        "checkpoint_timeout = '30min'"
    BENCH_PORT=$(cat "$BENCH_DIR/port")
    trap 'cs_pg_stop "$BENCH_DIR" "$BENCH_BIN"' EXIT
}

bench_psql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -d postgres "$@"; }

# bench_rate SCRIPT SECONDS ROWS_PER_TX: rows per second of one pgbench client.
bench_rate() {
    local tps
    tps=$("$BENCH_BIN/pgbench" -n -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -c 1 -T "$2" -f "$1" postgres 2>/dev/null |
          sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    awk -v t="$tps" -v r="$3" 'BEGIN { printf "%.0f", t * r }'
}

# median of the arguments
bench_median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
