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

# bench_envelope_functions [PSQL ARGS]: creates, in the benchmark's database,
# bench_envelope(id, parent), a Bloodbank-shaped fireflies.transcript.ready
# envelope of about 1 KB (a NULL parent: a root), and bench_staging(tab, n),
# a table tab(n, doc) of n such envelopes in flows of 10, parents first.
bench_envelope_functions() {
    bench_psql "$@" <<'SQL'
CREATE FUNCTION bench_envelope(id uuid, parent uuid) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'event_id', id, 'event_type', 'fireflies.transcript.ready',
        'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'version', '1.0.0',
        'source', jsonb_build_object('host', 'bigchungus', 'type', 'webhook', 'app', 'fireflies', 'meta', NULL),
        'correlation_ids', CASE WHEN parent IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(parent) END,
        'agent_context', NULL,
        'payload', jsonb_build_object(
            'id', 'ff_' || left(id::text, 8), 'title', 'Team Standup', 'duration', 60.5,
            'summary', repeat('Release on Friday; Bob owns the migration. ', 12),
            'sentences', jsonb_build_array(
                jsonb_build_object('index', 0, 'speaker_name', 'Ada', 'text', 'Morning all, quick one today.', 'start_time', 0.4, 'end_time', 1.6),
                jsonb_build_object('index', 1, 'speaker_name', 'Bob', 'text', 'Migration is on track for Friday.', 'start_time', 1.9, 'end_time', 4.2)),
            'participants', jsonb_build_array('ada@example.com', 'bob@example.com'),
            'session_id', 'standup-' || left(id::text, 8)))
$$;
CREATE FUNCTION bench_staging(tab text, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %I (n int PRIMARY KEY, doc jsonb NOT NULL)', tab);
    EXECUTE format($q$
        WITH ids AS (SELECT i, gen_random_uuid() AS id FROM generate_series(1, %s) i)
        INSERT INTO %I SELECT c.i, bench_envelope(c.id, p.id)
          FROM ids c LEFT JOIN ids p ON p.i = c.i - 1 AND c.i %% 10 <> 1$q$, n, tab);
END $$;
SQL
}

# median of the arguments
bench_median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# The broker benchmarks (ingest.sh, ingest_latency.sh, outbox.sh).
# bench_broker_setup NAME: a fresh run directory RUN=$CS_RUN/NAME with a
# private install (bindir BIN) and a private RabbitMQ (AMQP port RP); the
# broker and the cluster bench_worker_cluster starts stop on exit.
bench_broker_setup() {
    RUN=$CS_RUN/$1
    BIN=""
    trap bench_broker_cleanup EXIT
    rm -rf "$RUN"; mkdir -p "$RUN"
    BIN=$(cs_private_install "$RUN/pg")
    cs_rabbit_start "$RUN/rmq"
    RP=$(cat "$RUN/rmq/port")
}

bench_broker_cleanup() {
    [ -n "$BIN" ] && cs_pg_stop "$RUN/pgd" "$BIN"
    cs_rabbit_stop "$RUN/rmq"
}

# bench_worker_cluster [CONF LINES]: starts a cluster under RUN/pgd (port PP)
# with fsync = on, its workers pointed at the broker, and creates candystore.
bench_worker_cluster() {
    cs_pg_start "$RUN/pgd" "$BIN" "shared_preload_libraries = 'candystore'" "fsync = on" \
        "candystore.database = 'postgres'" "candystore.amqp_url = 'amqp://guest:guest@127.0.0.1:$RP/'" "$@"
    PP=$(cat "$RUN/pgd/port")
    "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PP" -U postgres -d postgres -c "CREATE EXTENSION candystore"
}

# bench_amqp_tool NAME: builds t/NAME.c (cs_publish, cs_consume) into RUN.
bench_amqp_tool() {
    cc -O2 -o "$RUN/$1" "$CS_ROOT/t/$1.c" "$CS_ROOT/t/cs_amqp.c" -lrabbitmq
}

# bench_envelope_sql: prints the SQL that creates bench_envelope(n int), a
# ~1 KB envelope of the shape and size of cs_publish's (PAD 600), used by
# outbox.sh and publish_instructions.sh
bench_envelope_sql() {
    cat <<'SQL'
CREATE FUNCTION bench_envelope(n int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'event_id', gen_random_uuid(), 'event_type', 'fireflies.transcript.ready',
        'timestamp', '2026-01-27T10:15:00.123456Z', 'version', '1.0.0',
        'source', jsonb_build_object('host', 'bigchungus', 'type', 'webhook', 'app', 'fireflies', 'meta', NULL),
        'correlation_ids', '[]'::jsonb, 'agent_context', NULL,
        'payload', jsonb_build_object('id', 'ff_' || n, 'n', n, 'pad', repeat('x', 600)))
$$;
SQL
}
