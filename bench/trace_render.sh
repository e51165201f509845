#!/usr/bin/env bash
# bench/trace_render.sh [RUNS] [OLD_RUNS]: trace() and trace_render (tree,
# dot, mermaid) on causation graphs of 1,000 and 2,000 events (a chain, each
# event the parent of the next, and a fan-out, one root with every other
# event its child), side by side with 0.1.0's PL/pgSQL trace_render (taken
# from sql/released/candystore--0.1.0.sql, installed next to the current one
# as public.trace_render_0_1_0).  Milliseconds per call, median of RUNS
# calls (default 9) after one warm-up, OLD_RUNS (default 3, no warm-up: a
# call takes seconds) for 0.1.0's; timed inside the server (clock_timestamp),
# so the 4 MB of a 2,000-event chain's tree never travel to the client.  Run
# by hand; not part of `make test` (sql/trace_render_reads_the_graph_once.sql
# checks the work is linear by counting pages instead).
source "$(dirname "$0")/../scripts/lib.sh"
RUNS=${1:-9}
OLD_RUNS=${2:-3}
cs_ensure_packages
RUN=$CS_RUN/bench-trace-render
BIN=$(cs_private_install "$RUN/pg")
DIR=$RUN/cluster
rm -rf "$DIR"
trap 'cs_pg_stop "$DIR" "$BIN"' EXIT
cs_pg_start "$DIR" "$BIN" "shared_preload_libraries = 'candystore'" "jit = off"
PORT=$(cat "$DIR/port")
psql() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -c "CREATE DATABASE bench" && psql -d bench -c "CREATE EXTENSION candystore"
# 0.1.0's trace_render, renamed: the body names its parameter by function name
sed -n '/^CREATE FUNCTION @extschema@.trace_render(/,/^\$\$;/p' \
    "$CS_ROOT/sql/released/candystore--0.1.0.sql" |
    sed -e 's/@extschema@\.trace_render(/public.trace_render_0_1_0(/' \
        -e 's/trace_render\.event_id/trace_render_0_1_0.event_id/g' -e 's/@extschema@/candystore/g' |
    psql -d bench

psql -d bench -At <<'SQL'
SET client_min_messages = warning;
CREATE FUNCTION gid(g int, n int) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT (lpad(n::text, 8, '0') || '-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid $$;
CREATE TABLE graphs(g int, shape text, size int);
INSERT INTO graphs VALUES (1, 'chain', 1000), (2, 'chain', 2000), (3, 'fan-out', 1000), (4, 'fan-out', 2000);
SELECT count(candystore.append(jsonb_build_object(
        'event_id', gid(g, n), 'event_type', 'agent.step.done',
        'timestamp', to_char(timestamptz '2026-01-27 10:00:00Z' + n * interval '1 second',
                             'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'version', '1.0.0',
        'source', jsonb_build_object('host', 'bench', 'type', 'webhook', 'app', 'bench', 'meta', null),
        'correlation_ids', CASE WHEN n = 0 THEN '[]'::jsonb
                                ELSE jsonb_build_array(gid(g, CASE WHEN shape = 'chain' THEN n - 1 ELSE 0 END)) END,
        'agent_context', null, 'payload', '{}'::jsonb)))
  FROM graphs, generate_series(0, size - 1) n;
-- Median milliseconds of RUNS executions of a statement.
CREATE FUNCTION ms(query text, runs int, warm boolean) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz;
    times numeric[] := '{}';
BEGIN
    IF warm THEN
        EXECUTE query;
    END IF;
    FOR i IN 1..runs LOOP
        t := clock_timestamp();
        EXECUTE query;
        times := times || (extract(epoch FROM clock_timestamp() - t) * 1000)::numeric;
    END LOOP;
    RETURN (SELECT round(percentile_disc(0.5) WITHIN GROUP (ORDER BY x), 1) FROM unnest(times) x);
END
$$;
SQL

cs_log "timing (0.1.0's tree rendering of 2,000 events takes seconds a call)"
echo
echo "trace_render on graphs of N events: ms per call inside the server, median of $RUNS (0.1.0: of $OLD_RUNS)"
printf '%-8s %6s %9s | %9s %9s %9s | %11s %11s %11s\n' shape N 'trace()' tree dot mermaid '0.1.0 tree' '0.1.0 dot' '0.1.0 merm'
psql -d bench -At -F ' ' -v runs="$RUNS" -v old_runs="$OLD_RUNS" <<'SQL' |
SELECT shape, size,
       ms(format('SELECT count(*) FROM candystore.trace(%L)', gid(g, size / 2)), :runs, true),
       ms(format('SELECT candystore.trace_render(%L) IS NULL', gid(g, size / 2)), :runs, true),
       ms(format('SELECT candystore.trace_render(%L, ''dot'') IS NULL', gid(g, size / 2)), :runs, true),
       ms(format('SELECT candystore.trace_render(%L, ''mermaid'') IS NULL', gid(g, size / 2)), :runs, true),
       ms(format('SELECT trace_render_0_1_0(%L) IS NULL', gid(g, size / 2)), :old_runs, false),
       ms(format('SELECT trace_render_0_1_0(%L, ''dot'') IS NULL', gid(g, size / 2)), :old_runs, false),
       ms(format('SELECT trace_render_0_1_0(%L, ''mermaid'') IS NULL', gid(g, size / 2)), :old_runs, false)
  FROM graphs ORDER BY shape, size;
SQL
    while read -r shape n t tree dot mermaid otree odot omermaid; do
        printf '%-8s %6s %9s | %9s %9s %9s | %11s %11s %11s\n' "$shape" "$n" "$t" "$tree" "$dot" "$mermaid" "$otree" "$odot" "$omermaid"
    done
echo
echo "(the tree of a chain is mostly indentation: 2,000 events make 4 MB of text)"
