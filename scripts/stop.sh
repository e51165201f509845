#!/usr/bin/env bash
# `make stop`: stop the demo's candystore-http, cluster and broker that `make demo KEEP=1` left running.
source "$(dirname "$0")/lib.sh"
BIN=$CS_RUN/demo/pg$("$(cs_pg_config)" --bindir)
if [ -s "$CS_RUN/demo/http.pid" ]; then
    kill "$(cat "$CS_RUN/demo/http.pid")" 2>/dev/null && cs_log "demo candystore-http stopped"
    rm -f "$CS_RUN/demo/http.pid"
fi
if [ -f "$CS_RUN/demo/cluster/data/postmaster.pid" ]; then
    cs_pg_stop "$CS_RUN/demo/cluster" "$BIN"
    cs_log "demo cluster stopped"
else
    cs_log "no demo cluster running"
fi
if [ -s "$CS_RUN/demo/rabbitmq/pid" ]; then
    cs_rabbit_stop "$CS_RUN/demo/rabbitmq"
    cs_log "demo RabbitMQ stopped"
else
    cs_log "no demo RabbitMQ running"
fi
