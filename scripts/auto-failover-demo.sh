#!/usr/bin/env bash
# pg_auto_failover with candystore, on loopback, as user postgres, under a
# temporary directory (or DIR): a monitor, a primary and a secondary, both
# with candystore preloaded and the same settings (the secondary is cloned
# from the primary, postgresql.conf included), a private RabbitMQ.  Events
# flow, `pg_autoctl perform failover` swaps the two, the ingest worker goes
# on on the new primary, and readers using the formation's multi-host URI
# (target_session_attrs=read-write) find it.  Prints TAP (make test-ha runs
# it through prove); every process it started is stopped on exit.
#   bash scripts/auto-failover-demo.sh [DIR]
source "$(dirname "$0")/lib.sh"

cs_ensure_packages
DIR=${1:-}
KEEP=${DIR:+yes}          # a directory given is kept for inspection
DIR=${DIR:-$(mktemp -d /tmp/candystore-auto-failover.XXXXXX)}
mkdir -p "$DIR"; chmod 755 "$DIR"
[ "$(id -u)" -ne 0 ] || chown "$(cs_pg_user)" "$DIR"
cs_ensure_traversable "$DIR"
BIN=$(cs_private_install "$DIR/pg")
MONITOR_DATA=$DIR/monitor

n=0
ok() { n=$((n + 1)); if [ "$1" = "$2" ]; then echo "ok $n - $3"; else echo "not ok $n - $3"; echo "#   got '$1', expected '$2'"; fi; }

# pg_autoctl keeps its state under XDG directories: private to this run
autoctl() {
    cs_as_pg env PATH="$BIN:$PATH" XDG_CONFIG_HOME="$DIR/xdg/config" XDG_DATA_HOME="$DIR/xdg/data" \
        XDG_RUNTIME_DIR="$DIR/xdg/run" pg_autoctl "$@"
}
run_pids=()
cleanup() {
    local d p
    for d in "$DIR/node2" "$DIR/node1" "$MONITOR_DATA"; do
        [ -d "$d" ] && autoctl stop --pgdata "$d" >/dev/null 2>&1
    done
    for p in "${run_pids[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill "$p" 2>/dev/null || true
    done
    for d in "$DIR/node2" "$DIR/node1" "$MONITOR_DATA"; do cs_pg_stop_dir "$d"; done
    cs_rabbit_stop "$DIR/rmq"
    [ -n "$KEEP" ] || rm -rf "$DIR"
}
cs_pg_stop_dir() {
    [ -f "$1/postmaster.pid" ] && cs_as_pg "$BIN/pg_ctl" -D "$1" -m immediate -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
# run_keeper DATA: pg_autoctl run in the background, logging to DATA.log
run_keeper() {
    autoctl run --pgdata "$1" >"$1.log" 2>&1 &
    run_pids+=($!)
}

cs_rabbit_start "$DIR/rmq"
RP=$(cat "$DIR/rmq/port")
mkdir -p "$DIR/xdg/run"; [ "$(id -u)" -ne 0 ] || chown -R "$(cs_pg_user)" "$DIR/xdg"
chmod 700 "$DIR/xdg/run"

MP=$(cs_free_port)
cs_log "monitor on port $MP"
autoctl create monitor --pgdata "$MONITOR_DATA" --pgport "$MP" --hostname 127.0.0.1 --auth trust --no-ssl \
    --pgctl "$BIN/pg_ctl" >"$DIR/create-monitor.log" 2>&1 || { cat "$DIR/create-monitor.log"; cs_die "pg_autoctl create monitor failed"; }
run_keeper "$MONITOR_DATA"
MONITOR="postgres://autoctl_node@127.0.0.1:$MP/pg_auto_failover?sslmode=disable"
monitor_sql() { "$BIN/psql" -X -At -h 127.0.0.1 -p "$MP" -U autoctl_node -d pg_auto_failover -c "$1" 2>/dev/null; }
for _ in $(seq 1 150); do monitor_sql "SELECT 1" >/dev/null && break; sleep 0.2; done

# node_state NAME: what the monitor says node NAME is (reported state)
node_state() { monitor_sql "SELECT reportedstate FROM pgautofailover.node WHERE nodename = '$1'"; }
await_states() {   # await_states NODE1_STATE NODE2_STATE
    for _ in $(seq 1 600); do
        [ "$(node_state node1)" = "$1" ] && [ "$(node_state node2)" = "$2" ] && return 0
        sleep 0.5
    done
    cs_log "node1: $(node_state node1), node2: $(node_state node2)"
    return 1
}

# The primary's cluster is made here, with candystore's settings; the
# secondary is cloned from it and so has the same postgresql.conf.
P1=$(cs_free_port)
cs_as_pg "$BIN/initdb" -D "$DIR/node1" -A trust -U postgres --no-sync >/dev/null
cat <<CONF | cs_as_pg tee -a "$DIR/node1/postgresql.conf" >/dev/null
shared_preload_libraries = 'candystore'
candystore.database = 'postgres'
candystore.amqp_url = 'amqp://guest:guest@127.0.0.1:$RP/'
candystore.batch_timeout_ms = 20
candystore.reconnect_max_ms = 1000
candystore.outbox_publisher = off
# acks wait for the secondary; pg_auto_failover names it in
# synchronous_standby_names while it is healthy
candystore.require_sync_standby = on
CONF
cs_log "node1 (primary) on port $P1"
autoctl create postgres --pgdata "$DIR/node1" --pgport "$P1" --hostname 127.0.0.1 --name node1 --auth trust --no-ssl \
    --monitor "$MONITOR" --pgctl "$BIN/pg_ctl" >"$DIR/create-node1.log" 2>&1 ||
    { cat "$DIR/create-node1.log"; cs_die "pg_autoctl create postgres (node1) failed"; }
run_keeper "$DIR/node1"
await_states single "" || true
ok "$(node_state node1)" single "node1 is the primary (single) in the monitor"

psql_() { "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"; }
for _ in $(seq 1 100); do psql_ "$P1" "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
psql_ "$P1" "CREATE EXTENSION candystore"

P2=$(cs_free_port)
cs_log "node2 (secondary) on port $P2"
autoctl create postgres --pgdata "$DIR/node2" --pgport "$P2" --hostname 127.0.0.1 --name node2 --auth trust --no-ssl \
    --monitor "$MONITOR" --pgctl "$BIN/pg_ctl" >"$DIR/create-node2.log" 2>&1 ||
    { cat "$DIR/create-node2.log"; cs_die "pg_autoctl create postgres (node2) failed"; }
run_keeper "$DIR/node2"
await_states primary secondary || true
ok "$(node_state node1) $(node_state node2)" "primary secondary" "node2 joins as the secondary"
ok "$(psql_ "$P2" "SHOW candystore.require_sync_standby")" on "the secondary has the primary's candystore settings"
ok "$(psql_ "$P1" "SELECT sync_state FROM pg_stat_replication")" quorum \
    "pg_auto_failover makes the secondary synchronous (synchronous_standby_names = $(psql_ "$P1" "SHOW synchronous_standby_names"))"

cc -O2 -o "$DIR/cs_publish" "$CS_ROOT/t/cs_publish.c" "$CS_ROOT/t/cs_amqp.c" -lrabbitmq
publish() { "$DIR/cs_publish" 127.0.0.1 "$RP" bloodbank.events.v1 fireflies.transcript.ready "$1" "$2" 0 1 >/dev/null; }
# readers: the formation's URI lists both nodes; read-write finds the primary
URI=$(autoctl show uri --pgdata "$MONITOR_DATA" --formation default | sed 's/.*\(postgres:[^ ]*\).*/\1/')
URI_ANY=${URI/target_session_attrs=read-write/target_session_attrs=any}
reader() { "$BIN/psql" -X -q -At -U postgres -d "${2:-$URI}" -c "$1" 2>/dev/null; }
stored() { reader "SELECT count(*) FROM candystore.event_log WHERE event_id::text LIKE '$(printf '%08x' "$1")-%'" "${2:-$URI}"; }
await_stored() { for _ in $(seq 1 300); do [ "$(stored "$1")" = "$2" ] && return 0; sleep 0.2; done; return 1; }
echo "# readers' URI: $URI"

publish 1 500
await_stored 1 500 || true
ok "$(stored 1)" 500 "events flow: stored on the primary, read through the read-write URI"
ok "$(reader "SELECT inet_server_port()")" "$P1" "the read-write URI reaches node1, the primary"

cs_log "pg_autoctl perform failover"
autoctl perform failover --pgdata "$MONITOR_DATA" --formation default >"$DIR/failover.log" 2>&1 ||
    { cat "$DIR/failover.log"; echo "not ok - pg_autoctl perform failover failed"; }
await_states secondary primary || true
ok "$(node_state node1) $(node_state node2)" "secondary primary" "after the failover node2 is the primary, node1 its secondary"
publish 2 300
await_stored 2 300 || true
ok "$(stored 2)" 300 "the worker goes on on the new primary: events published after the failover are stored"
ok "$(reader "SELECT inet_server_port()")" "$P2" "the read-write URI now reaches node2"
ok "$(stored 1)" 500 "every event stored before the failover is on the new primary"
ok "$(reader "SELECT count(*) FROM (SELECT event_id FROM candystore.event_log GROUP BY 1 HAVING count(*) > 1) d")" 0 \
    "no event stored twice"
ok "$(psql_ "$P2" "SELECT state FROM candystore.worker_status() WHERE kind = 'ingest'")" consuming \
    "worker_status() on the new primary: consuming"
ok "$(psql_ "$P1" "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'candystore%'")" 0 \
    "no candystore worker runs on node1, now a standby"
for _ in $(seq 1 100); do [ "$(stored 2 "host=127.0.0.1 port=$P1 dbname=postgres")" = 300 ] && break; sleep 0.2; done
ok "$(reader "SELECT count(*) FROM candystore.event_log" "host=127.0.0.1 port=$P1 dbname=postgres")" 800 \
    "reads on the secondary see every event"
ok "$(reader "SELECT count(*) > 0 FROM candystore.event_log" "$URI_ANY")" t "a reader with target_session_attrs=any reads too"
echo "1..$n"
