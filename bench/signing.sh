#!/usr/bin/env bash
# Append with signature verification required against without: the backend's
# own CPU time per candystore.append() (from /proc/self/stat, so other
# processes on shared cores do not count), of the same ~1 KB envelopes
# (bench/append.sh's), unsigned with nothing required, and signed with
# HMAC-SHA256 or Ed25519 under candystore.require_signatures; the modes
# interleaved, one run, side by side.  The envelopes are signed beforehand
# (sign_envelope), so only verification is measured.
# Targets (issue 19): Ed25519 >= 0.7x, HMAC >= 0.9x the events/s of unsigned.
# Usage: bash bench/signing.sh [events per mode and round, default 5000] [rounds, default 3]
# Then one Ed25519 verification alone, libsodium (which signing.c uses)
# against OpenSSL on this CPU (bench/ed25519_verify.c).
# Then, as timings on a shared machine are noisy, the same appends counted in
# instructions: valgrind (callgrind) on a single-user backend, counting only
# inside candystore.append() (SIGNING_CALLGRIND_N events per mode, default
# 1000; SIGNING_CALLGRIND_N=0 skips it).
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/lib.sh"
N=${1:-5000}
ROUNDS=${2:-3}

cs_ensure_packages valgrind
bench_cluster signing
bench_envelope_functions
bench_psql -v n="$N" -v rounds="$ROUNDS" <<'SQL'
CREATE EXTENSION candystore;
SELECT candystore.register_signing_key('bench-hmac', 'hmac-sha256', secret => gen_random_uuid()::text::bytea);
SELECT candystore.register_signing_key('bench-ed', 'ed25519', secret => sha256(gen_random_uuid()::text::bytea));
CREATE FUNCTION cpu_us() RETURNS bigint LANGUAGE sql AS $$
    SELECT 10000 * ((string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' '))[12]::bigint
                  + (string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' '))[13]::bigint)
$$;  -- utime + stime, in clock ticks of 10 ms
-- the envelopes of each mode and round, signed beforehand
CREATE TABLE envs (mode text, round int, e jsonb);
INSERT INTO envs
SELECT m, r, bench_envelope(gen_random_uuid(), gen_random_uuid())
  FROM unnest(ARRAY['unsigned', 'hmac', 'ed']) m, generate_series(0, :rounds) r, generate_series(1, :n) i
 WHERE i <= CASE r WHEN 0 THEN 200 ELSE :n END;
UPDATE envs SET e = candystore.sign_envelope(e, 'bench-' || mode) WHERE mode <> 'unsigned';
CREATE FUNCTION cpu_per_event(m text, r int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t0 bigint; n bigint;
BEGIN
    PERFORM set_config('candystore.require_signatures', CASE m WHEN 'unsigned' THEN '' ELSE 'fireflies.*' END, true);
    t0 := cpu_us();
    SELECT count(candystore.append(e, 'fireflies.transcript.ready')) INTO n FROM envs WHERE mode = m AND round = r;
    RETURN (cpu_us() - t0)::numeric / n;
END
$$;
CREATE TEMP TABLE cpu (round int, mode text, us numeric);
SET client_min_messages = warning;
SELECT cpu_per_event(m, 0) IS NOT NULL AS warmed_up FROM unnest(ARRAY['unsigned', 'hmac', 'ed']) m;
INSERT INTO cpu SELECT r, m, cpu_per_event(m, r)
  FROM generate_series(1, :rounds) r, unnest(ARRAY['unsigned', 'hmac', 'ed']) WITH ORDINALITY AS u(m, o)
 ORDER BY r, o;
\echo
\echo backend CPU µs per append (median of :rounds rounds x :n events, interleaved; 1 KB envelopes)
SELECT CASE mode WHEN 'unsigned' THEN 'unsigned, nothing required'
                 WHEN 'hmac' THEN 'HMAC-SHA256 required' ELSE 'Ed25519 required' END AS mode,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 1) AS cpu_us_per_event,
       round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY us) FROM cpu WHERE mode = 'unsigned')::numeric
             / percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 2) AS events_per_s_vs_unsigned,
       CASE mode WHEN 'hmac' THEN '>= 0.9' WHEN 'ed' THEN '>= 0.7' END AS target
  FROM cpu GROUP BY mode ORDER BY min(array_position(ARRAY['unsigned', 'hmac', 'ed'], mode));
SELECT count(*) FILTER (WHERE envelope ? 'signature') AS stored_signed, count(*) AS stored FROM candystore.events;
SQL

cc -O2 -o "$BENCH_DIR/ed25519_verify" "$CS_ROOT/bench/ed25519_verify.c" -lsodium -lcrypto
echo
"$BENCH_DIR/ed25519_verify" 2000 5

# Instructions per append, by mode: the cluster stopped, a single-user backend
# under callgrind per mode, collecting inside candystore_append only.
CG_N=${SIGNING_CALLGRIND_N:-1000}
[ "$CG_N" -gt 0 ] || exit 0
bench_psql -v n="$CG_N" <<'SQL'
CREATE TABLE cg_envs (mode text, e jsonb);
INSERT INTO cg_envs SELECT m, bench_envelope(gen_random_uuid(), gen_random_uuid())
  FROM unnest(ARRAY['unsigned', 'hmac', 'ed']) m, generate_series(1, :n + 50);
UPDATE cg_envs SET e = candystore.sign_envelope(e, 'bench-' || mode) WHERE mode <> 'unsigned';
SQL
cs_pg_stop "$BENCH_DIR" "$BENCH_BIN"
trap - EXIT
CG=$BENCH_DIR/callgrind
mkdir -p "$CG"; [ "$(id -u)" -ne 0 ] || chown "$(cs_pg_user)" "$CG"
declare -A ir
for m in unsigned hmac ed; do
    req=''; [ "$m" = unsigned ] || req='fireflies.*'
    # 50 appends warm the caches (plans, keys) before the counted ones
    printf '%s\n' "SET candystore.require_signatures = '$req'" \
        "SELECT count(candystore.append(e, 'fireflies.transcript.ready')) FROM (SELECT e FROM cg_envs WHERE mode = '$m' LIMIT 50) w" \
        "SELECT count(candystore.append(e, 'fireflies.transcript.ready')) FROM (SELECT e FROM cg_envs WHERE mode = '$m' OFFSET 50) c" |
        cs_as_pg valgrind -q --tool=callgrind --toggle-collect=candystore_append --collect-atstart=no \
            --callgrind-out-file="$CG/$m.out" "$BENCH_BIN/postgres" --single -D "$BENCH_DIR/data" \
            -c shared_preload_libraries=candystore postgres > "$CG/$m.log" 2>&1
    total=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$CG/$m.out")
    # the 50 warm-up appends are counted too: per append over all of them
    ir[$m]=$((total / (CG_N + 50)))
done
printf '\ninstructions per append (callgrind, inside candystore.append(), %d events)\n' "$((CG_N + 50))"
printf '%-28s %14s %18s %8s\n' mode instructions events/s_vs_unsigned target
printf '%-28s %14d %18s %8s\n' "unsigned, nothing required" "${ir[unsigned]}" "1.00" ""
printf '%-28s %14d %18.2f %8s\n' "HMAC-SHA256 required" "${ir[hmac]}" "$(awk -v a="${ir[unsigned]}" -v b="${ir[hmac]}" 'BEGIN {print a / b}')" ">= 0.9"
printf '%-28s %14d %18.2f %8s\n' "Ed25519 required" "${ir[ed]}" "$(awk -v a="${ir[unsigned]}" -v b="${ir[ed]}" 'BEGIN {print a / b}')" ">= 0.7"
