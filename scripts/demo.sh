#!/usr/bin/env bash
# `make demo`: install what is missing, build, install candystore into a
# private PostgreSQL under .run/demo, start a private RabbitMQ and a
# throwaway cluster with candystore preloaded and its ingest worker pointed
# at that broker, publish the seeds' sample flow (and one malformed message)
# through RabbitMQ, wait until the worker has stored it, and show it: the
# events, the worker's counters, the dead letter and the causation tree.
# Then candystore-http serves it: a few curl calls (a page of events, one
# event, an append, the trace as Mermaid and as a picture in
# .run/demo/trace.svg, a second of the live stream).
# The servers are stopped at the end unless KEEP=1 (then `make stop`).
source "$(dirname "$0")/lib.sh"

cs_ensure_packages
DIR=$CS_RUN/demo
RMQ=$DIR/rabbitmq
BIN=$DIR/pg$("$(cs_pg_config)" --bindir)
EXCHANGE=bloodbank.events.v1
# what a previous `make demo KEEP=1` left running
[ -x "$BIN/pg_ctl" ] && cs_pg_stop "$DIR/cluster" "$BIN"
[ -d "$RMQ" ] && cs_rabbit_stop "$RMQ"
[ -s "$DIR/http.pid" ] && kill "$(cat "$DIR/http.pid")" 2>/dev/null
rm -rf "$DIR/cluster" "$RMQ" "$DIR/http.pid"

cs_log "building and installing into $DIR/pg"
BIN=$(cs_private_install "$DIR/pg")

# Stop both servers on the way out, unless asked to keep a demo that worked.
stop_servers() {
    local rc=$?
    if [ "${KEEP:-0}" != 1 ] || [ "$rc" -ne 0 ]; then
        if [ -s "$DIR/http.pid" ]; then
            kill "$(cat "$DIR/http.pid")" 2>/dev/null
            rm -f "$DIR/http.pid"
        fi
        cs_pg_stop "$DIR/cluster" "$BIN"
        cs_rabbit_stop "$RMQ"
    fi
}
trap stop_servers EXIT

cs_log "starting a private RabbitMQ"
cs_rabbit_start "$RMQ"
# (amqp-publish reads a trailing "/" as the empty vhost, not the default one)
AMQP_URL="amqp://guest:guest@127.0.0.1:$(cat "$RMQ/port")"

cs_log "starting PostgreSQL with the ingest worker consuming from $AMQP_URL"
cs_pg_start "$DIR/cluster" "$BIN" "shared_preload_libraries = 'candystore'" \
    "candystore.database = 'postgres'" "candystore.amqp_url = '$AMQP_URL'" \
    "candystore.batch_timeout_ms = 20"
PORT=$(cat "$DIR/cluster/port")

psql_demo() { psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"; }
# psql_until SQL: waits (up to 60 s) until the query returns t
psql_until() {
    for _ in $(seq 1 120); do
        [ "$(psql_demo -At -c "$1")" = t ] && return 0
        sleep 0.5
    done
    return 1
}
psql_demo -c 'CREATE EXTENSION candystore'
# a consumer subscribes before anything arrives; it catches up below
psql_demo -c "SELECT candystore.subscribe('demo-projection', 'beginning')" >/dev/null
# the worker declares the exchange and its queue once connected
psql_until "SELECT bool_and(state = 'consuming') FROM candystore.worker_status() WHERE kind = 'ingest'" ||
    cs_die "the ingest worker did not connect to RabbitMQ (see $DIR/cluster/server.log)"

# Published as a producer would: routing key = event type, persistent, JSON.
publish() {
    amqp-publish --url="$AMQP_URL" -e "$EXCHANGE" -r "$1" -p -C application/json -b "$2"
}
published=0
while IFS= read -r line; do
    [ -n "$line" ] || continue
    publish "$(sed -n 's/.*"event_type": *"\([^"]*\)".*/\1/p' <<<"$line")" "$line"
    published=$((published + 1))
done < "$CS_ROOT/demo/sample-flow.jsonl"
# and one a producer got wrong: it ends in candystore.dead_letters
publish fireflies.transcript.ready '{"event_id": "not-a-uuid", "event_type": "fireflies.transcript.ready"}'
cs_log "published $published events and 1 malformed message to $EXCHANGE"

psql_until "SELECT stored + dead_lettered >= $((published + 1)) FROM candystore.stats" ||
    cs_die "the flow did not arrive within 60 s (see $DIR/cluster/server.log)"
psql_demo -f "$CS_ROOT/demo/show-flow.sql"
psql_demo -f "$CS_ROOT/demo/show-subscription.sql"

# ---- the HTTP API ----------------------------------------------------------
# The server logs in as a NOINHERIT authenticator that may become the roles
# tokens map to; each token is shown once.
psql_demo -c "CREATE ROLE candystore_authenticator LOGIN NOINHERIT" \
          -c "GRANT candystore_http, candystore_reader, candystore_writer TO candystore_authenticator"
READER=$(psql_demo -At -c "SELECT candystore.create_api_token('candystore_reader', now() + interval '1 day', 'demo')")
WRITER=$(psql_demo -At -c "SELECT candystore.create_api_token('candystore_writer', now() + interval '1 day', 'demo')")
HTTP_PORT=$(cs_free_port)
API=http://127.0.0.1:$HTTP_PORT
"$BIN/candystore-http" --listen="127.0.0.1:$HTTP_PORT" \
    --db="host=127.0.0.1 port=$PORT dbname=postgres user=candystore_authenticator" \
    2>"$DIR/http.log" &
echo $! > "$DIR/http.pid"
for _ in $(seq 1 50); do curl -s -o /dev/null "$API/health/live" && break; sleep 0.1; done
cs_log "candystore-http listens on $API (log: $DIR/http.log)"

show() { printf '\n$ %s\n' "$*" | sed "s/$READER/\$READER/g; s/$WRITER/\$WRITER/g"; "$@"; echo; }
AUTH=(-H "Authorization: Bearer $READER")
FIRST=$(sed -n '1s/^{"event_id": "\([0-9a-f-]*\)".*/\1/p' "$CS_ROOT/demo/sample-flow.jsonl")
LAST=$(sed -n '$s/^{"event_id": "\([0-9a-f-]*\)".*/\1/p' "$CS_ROOT/demo/sample-flow.jsonl")
show curl -s "$API/health/live"
show curl -s "$API/v1/events?limit=1"
show curl -s -i "${AUTH[@]}" "$API/v1/events?limit=2&type=fireflies.transcript.ready"
show curl -s "${AUTH[@]}" "$API/v1/events/$FIRST"
show curl -s -H "Authorization: Bearer $WRITER" -H 'Content-Type: application/json' \
    --data-binary "{\"event_id\": \"5d0f6a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6\", \"event_type\": \"artifact.updated\", \"timestamp\": \"2026-01-27T11:00:00Z\", \"version\": \"1.0.0\", \"source\": {\"host\": \"demo\", \"type\": \"manual\"}, \"correlation_ids\": [\"$LAST\"], \"payload\": {\"action\": \"updated\", \"kind\": \"transcript\", \"title\": \"Standup notes\", \"session_id\": \"standup-2026-01-27\"}}" \
    "$API/v1/events"
show curl -s "${AUTH[@]}" "$API/v1/events/$LAST/trace?format=mermaid"
curl -s "${AUTH[@]}" -o "$DIR/trace.svg" "$API/v1/events/$LAST/trace.svg"
cs_log "the causation graph as a picture: $DIR/trace.svg ($(wc -c < "$DIR/trace.svg") bytes)"
# the stream from its beginning, for a second (curl then gives up: status 28)
show curl -s -N --max-time 1 "${AUTH[@]}" \
    "$API/v1/stream?after=0000000000000000-0000000000000000&type=artifact.created" || true

if [ "${KEEP:-0}" = 1 ]; then
    cs_log "the demo is running: psql -h 127.0.0.1 -p $PORT -U postgres; RabbitMQ at $AMQP_URL"
    cs_log "the HTTP API at $API: curl -H 'Authorization: Bearer $READER' $API/v1/events"
    cs_log "stop both with: make stop"
else
    cs_log "demo done; candystore-http, PostgreSQL and RabbitMQ are stopped (make demo KEEP=1 keeps them running)"
fi
