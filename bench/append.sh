#!/usr/bin/env bash
# Append throughput: candystore.append() against a plain INSERT of the same
# ~1 KB seed-like envelopes into a two-column (uuid PRIMARY KEY, jsonb) table,
# one row per statement and 100 rows per statement, side by side in one run;
# and candystore.publish() (append + outbox row) against append; and append
# with the payload validated against its registered schema or not.
# Usage: bash bench/append.sh [seconds per measurement, default 10] [rounds, default 3]
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"
SECONDS_EACH=${1:-10}
ROUNDS=${2:-3}

cs_ensure_packages
bench_cluster append
bench_psql <<'SQL'
CREATE EXTENSION candystore;
CREATE TABLE plain_events (event_id uuid PRIMARY KEY, envelope jsonb NOT NULL);
-- a Bloodbank-shaped fireflies.transcript.ready envelope of about 1 KB
CREATE FUNCTION bench_envelope(id uuid, parent uuid) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'event_id', id, 'event_type', 'fireflies.transcript.ready',
        'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'version', '1.0.0',
        'source', jsonb_build_object('host', 'bigchungus', 'type', 'webhook', 'app', 'fireflies', 'meta', NULL),
        'correlation_ids', jsonb_build_array(parent), 'agent_context', NULL,
        'payload', jsonb_build_object(
            'id', 'ff_' || left(id::text, 8), 'title', 'Team Standup', 'duration', 60.5,
            'summary', repeat('Release on Friday; Bob owns the migration. ', 12),
            'sentences', jsonb_build_array(
                jsonb_build_object('index', 0, 'speaker_name', 'Ada', 'text', 'Morning all, quick one today.', 'start_time', 0.4, 'end_time', 1.6),
                jsonb_build_object('index', 1, 'speaker_name', 'Bob', 'text', 'Migration is on track for Friday.', 'start_time', 1.9, 'end_time', 4.2)),
            'participants', jsonb_build_array('ada@example.com', 'bob@example.com'),
            'session_id', 'standup-' || left(parent::text, 8)))
$$;
SQL
bench_psql -Atc "SELECT 'envelope size: ' || octet_length(bench_envelope(gen_random_uuid(), gen_random_uuid())::text) || ' bytes'"

T=$CS_RUN/bench/append
cat > "$T/append1.sql" <<'SQL'
SELECT candystore.append(bench_envelope(gen_random_uuid(), gen_random_uuid()), 'fireflies.transcript.ready');
SQL
cat > "$T/plain1.sql" <<'SQL'
INSERT INTO plain_events VALUES (gen_random_uuid(), bench_envelope(gen_random_uuid(), gen_random_uuid()));
SQL
cat > "$T/append100.sql" <<'SQL'
SELECT count(candystore.append(bench_envelope(gen_random_uuid(), gen_random_uuid()), 'fireflies.transcript.ready')) FROM generate_series(1, 100);
SQL
cat > "$T/plain100.sql" <<'SQL'
INSERT INTO plain_events SELECT gen_random_uuid(), bench_envelope(gen_random_uuid(), gen_random_uuid()) FROM generate_series(1, 100);
SQL
sed 's/candystore.append(/candystore.publish(/' "$T/append1.sql" > "$T/publish1.sql"
sed 's/candystore.append(/candystore.publish(/' "$T/append100.sql" > "$T/publish100.sql"
# Payload validation: the same appends with candystore.validation = full
# (the payload checked against fireflies.transcript.ready v1 from schemas/)
# and = envelope (not checked); both set it, so both pay the same SET.
for b in 1 100; do
    { echo "SET candystore.validation = full;"; cat "$T/append$b.sql"; } > "$T/full$b.sql"
    { echo "SET candystore.validation = envelope;"; cat "$T/append$b.sql"; } > "$T/envonly$b.sql"
done

declare -A rates
for round in $(seq 1 "$ROUNDS"); do
    for mode in plain1 append1 publish1 envonly1 full1 plain100 append100 publish100 envonly100 full100; do
        rows=1; [[ $mode == *100 ]] && rows=100
        rates[$mode]+="$(bench_rate "$T/$mode.sql" "$SECONDS_EACH" "$rows") "
    done
    cs_log "round $round: ${rates[*]}"
done

printf '\n%-34s %13s %10s %10s %14s %16s\n' "events/s (median of $ROUNDS x ${SECONDS_EACH}s, 1 client)" \
    "plain INSERT" "append()" "publish()" "append/plain" "publish cost/append"
for batch in 1 100; do
    p=$(bench_median ${rates[plain$batch]})
    a=$(bench_median ${rates[append$batch]})
    u=$(bench_median ${rates[publish$batch]})
    printf '%-34s %13.0f %10.0f %10.0f %13.0f%% %15.2fx\n' "$batch per statement" "$p" "$a" "$u" \
        "$(awk -v a="$a" -v p="$p" 'BEGIN {print 100 * a / p}')" "$(awk -v a="$a" -v u="$u" 'BEGIN {print a / u}')"
done
printf '\n%-34s %16s %16s %18s\n' "payload validation (median)" "envelope only" "full (payload)" "cost of payload"
for batch in 1 100; do
    e=$(bench_median ${rates[envonly$batch]})
    f=$(bench_median ${rates[full$batch]})
    printf '%-34s %16.0f %16.0f %17.1f%%\n' "$batch per statement" "$e" "$f" \
        "$(awk -v e="$e" -v f="$f" 'BEGIN {print 100 * (e - f) / e}')"
done
bench_psql -Atc "SELECT format('bytes per event, indexes included: append %s, plain %s',
                        pg_total_relation_size('candystore.event_log') / (SELECT count(*) FROM candystore.event_log),
                        pg_total_relation_size('plain_events') / (SELECT count(*) FROM plain_events))"
