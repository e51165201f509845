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
bench_envelope_functions
bench_psql <<'SQL'
CREATE EXTENSION candystore;
CREATE TABLE plain_events (event_id uuid PRIMARY KEY, envelope jsonb NOT NULL);
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

declare -A rates
# APPEND_MODES="" skips these rates (for the validation figures alone).
MODES=${APPEND_MODES-plain1 append1 publish1 plain100 append100 publish100}
for round in $(seq 1 "$ROUNDS"); do
    for mode in $MODES; do
        rows=1; [[ $mode == *100 ]] && rows=100
        rates[$mode]+="$(bench_rate "$T/$mode.sql" "$SECONDS_EACH" "$rows") "
    done
    cs_log "round $round: ${rates[*]}"
done

if [ -n "$MODES" ]; then
printf '\n%-34s %13s %10s %10s %14s %16s\n' "events/s (median of $ROUNDS x ${SECONDS_EACH}s, 1 client)" \
    "plain INSERT" "append()" "publish()" "append/plain" "publish cost/append"
for batch in 1 100; do
    p=$(bench_median ${rates[plain$batch]})
    a=$(bench_median ${rates[append$batch]})
    u=$(bench_median ${rates[publish$batch]})
    printf '%-34s %13.0f %10.0f %10.0f %13.0f%% %15.2fx\n' "$batch per statement" "$p" "$a" "$u" \
        "$(awk -v a="$a" -v p="$p" 'BEGIN {print 100 * a / p}')" "$(awk -v a="$a" -v u="$u" 'BEGIN {print a / u}')"
done
bench_psql -Atc "SELECT format('bytes per event, indexes included: append %s, plain %s',
                        pg_total_relation_size('candystore.event_log') / (SELECT count(*) FROM candystore.event_log),
                        pg_total_relation_size('plain_events') / (SELECT count(*) FROM plain_events))"
fi

# Payload validation: the backend's own CPU time per append (from
# /proc/self/stat, so other processes on the shared cores do not count),
# appending the same envelopes with candystore.validation = off, envelope
# and full (the payload checked against fireflies.transcript.ready v1 from
# schemas/), interleaved; and jsonb_matches_schema on the payloads alone.
VALIDATION_N=${VALIDATION_N:-5000}
bench_psql -v n="$VALIDATION_N" -v rounds="$ROUNDS" <<'SQL'
CREATE FUNCTION cpu_us() RETURNS bigint LANGUAGE sql AS $$
    SELECT 10000 * ((string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' '))[12]::bigint
                  + (string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' '))[13]::bigint)
$$;  -- utime + stime, in clock ticks of 10 ms
CREATE FUNCTION cpu_per_event(mode text, n int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t0 bigint;
BEGIN
    IF mode = 'schema only' THEN
        CREATE TEMP TABLE IF NOT EXISTS payloads AS
            SELECT bench_envelope(gen_random_uuid(), gen_random_uuid())->'payload' AS p FROM generate_series(1, n);
        t0 := cpu_us();
        PERFORM count(*) FILTER (WHERE candystore.jsonb_matches_schema(s.schema, p))
           FROM payloads, candystore.schemas s WHERE s.event_type = 'fireflies.transcript.ready' AND s.version = 1;
        RETURN (cpu_us() - t0)::numeric / n;
    END IF;
    PERFORM set_config('candystore.validation', mode, true);
    t0 := cpu_us();
    PERFORM count(candystore.append(bench_envelope(gen_random_uuid(), gen_random_uuid()), 'fireflies.transcript.ready'))
       FROM generate_series(1, n);
    RETURN (cpu_us() - t0)::numeric / n;
END
$$;
CREATE TEMP TABLE cpu (round int, mode text, us numeric);
SET client_min_messages = warning;
DO $$ BEGIN PERFORM cpu_per_event('full', 200); END $$;  -- warm up: plans, compiled schema
INSERT INTO cpu SELECT r, m, cpu_per_event(m, :n)
  FROM generate_series(1, :rounds) r, unnest(ARRAY['off', 'envelope', 'full', 'schema only']) WITH ORDINALITY AS u(m, o)
 ORDER BY r, o;
\echo
\echo backend CPU µs per event (median of :rounds rounds x :n events, interleaved)
SELECT mode, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 1) AS cpu_us_per_event,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY us)
             / (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY us) FROM cpu WHERE mode = 'envelope'))::numeric, 2) AS vs_envelope_only
  FROM cpu GROUP BY mode ORDER BY min(array_position(ARRAY['off', 'envelope', 'full', 'schema only'], mode));
SQL
