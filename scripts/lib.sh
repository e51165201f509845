# Shared helpers for the project's scripts: dependencies, a private copy of
# PostgreSQL with candystore installed into it, and throwaway clusters.
# Source it; it defines functions and never starts anything by itself.

set -euo pipefail

CS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CS_RUN=${CANDYSTORE_RUN_DIR:-$CS_ROOT/.run}
PG_MAJOR=${PG_MAJOR:-15}

# Debian packages the build, the tests and the demo need.
CS_PACKAGES=(make gcc clang "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
             "postgresql-$PG_MAJOR-cron" "postgresql-$PG_MAJOR-pgtap"
             libipc-run-perl librabbitmq-dev rabbitmq-server amqp-tools
             python3 python3-jsonschema libidn2-dev
             libssl-dev openssl   # amqps:// verification (worker/amqp_tls.c), test certificates
             libpcre2-dev nodejs  # JSON Schema patterns; node: their differential test, signature interop
             libsodium-dev python3-nacl  # signed events (src/signing.c); python: signature interop
             zlib1g-dev   # archives (src/archive.c)
             libclang-rt-dev llvm   # libFuzzer + sanitizer runtimes, llvm-symbolizer (fuzz/)
             prometheus-postgres-exporter prometheus curl  # monitoring/: the exporter, promtool
             libmicrohttpd-dev libgnutls28-dev libpq-dev libgraphviz-dev   # http/: candystore-http (GnuTLS: certificates reloaded on SIGHUP)
             chromium wrk   # t/http_contract.pl: trace.svg to PNG; bench/http.sh: wrk
             jq   # t/archives_restore_byte_exact.pl: an archive reads with zcat | jq
             "postgresql-$PG_MAJOR-auto-failover")   # make test-ha: scripts/auto-failover-demo.sh
# npm (t/http_contract.pl's tooling): Debian's, unless node came with its own
# (NodeSource's nodejs provides npm and conflicts with Debian's package)
command -v npm >/dev/null 2>&1 || CS_PACKAGES+=(npm)
# What building the Debian package needs besides (scripts/test-package.sh).
CS_PACKAGE_BUILD_PACKAGES=(debhelper dpkg-dev fakeroot postgresql-server-dev-all)

cs_log() { printf '==> %s\n' "$*" >&2; }
cs_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install whatever is missing, with apt.  Root installs directly; anyone
# else goes through sudo.
cs_ensure_packages() {
    local missing=() p
    for p in "${CS_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    cs_log "installing with apt: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

cs_pg_config() { command -v "pg_config" >/dev/null && echo pg_config || echo "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"; }

# The OS user that runs PostgreSQL: PostgreSQL refuses to run as root.
cs_pg_user() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }

# Run a command as the PostgreSQL user.
cs_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Build candystore (quietly) and install it into a private, relocated copy of
# the system's PostgreSQL under $1, so tests never touch the system install.
cs_private_install() {
    local dest=$1 pgc bindir sharedir
    pgc=$(cs_pg_config)
    bindir=$("$pgc" --bindir)
    sharedir=$("$pgc" --sharedir)
    rm -rf "$dest"
    mkdir -p "$dest$(dirname "$bindir")" "$dest$(dirname "$sharedir")"
    cp -a "$(dirname "$bindir")/." "$dest$(dirname "$bindir")/"
    cp -a "$sharedir" "$dest$(dirname "$sharedir")/"
    make -s -C "$CS_ROOT" PG_CONFIG="$pgc" >/dev/null
    make -s -C "$CS_ROOT" PG_CONFIG="$pgc" install DESTDIR="$dest" >/dev/null
    chmod -R a+rX "$dest"
    echo "$dest$bindir"
}

# Test runners (scripts/test.sh, scripts/test-long.sh): run_suite NAME CMD...
# runs one suite, logging to $LOG, and tallies the tests its output reports
# in $passed and $failed; a failing suite's name goes to $failures.
failures=()
passed=0
failed=0
run_suite() {
    local name=$1; shift
    CS_FAILURE_NOTES=${CS_FAILURE_NOTES:-$(mktemp)}
    cs_log "suite: $name"
    if "$@" 2>&1 | tee "$LOG"; then
        cs_log "suite $name: ok"
    else
        failures+=("$name")
        cs_log "suite $name: FAILED"
        { echo "==> what failed in suite $name:"; failure_lines "$LOG"; } >>"$CS_FAILURE_NOTES"
    fi
    count_tests "$LOG"
}

# What failed is repeated at the very end of the output (CI keeps only its
# tail): each failing suite's summary lines, and what a suite's runner adds
# to $CS_FAILURE_NOTES itself (scripts/test.sh: a died TAP file's log).
CS_FAILURE_NOTES=""
failure_lines() {
    sed -n '/^Test Summary Report/,/^Files=/p' "$1"
    grep -E '^not ok|\.\.\. FAILED|^# +Failed test|Dubious|No plan found|No subtests run|Bail out' "$1" | tail -40
}

# Tallies the tests a suite's output reports (pg_regress and prove lines).
count_tests() {
    local ok bad total tapfail died
    ok=$(grep -cE '^(test| ) *[a-z0-9_]+ +\.\.\. ok' "$1" || true)
    bad=$(grep -cE '^(test| ) *[a-z0-9_]+ +\.\.\. FAILED' "$1" || true)
    total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$1" | tail -1)
    tapfail=$( (grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$1" || true) | awk -F'[ /]' '{s+=$2} END {print s+0}')
    # a TAP file that died with no failed subtest (its remaining tests never
    # ran) counts as one failure
    died=$(sed -n '/^Test Summary Report/,$p' "$1" | grep -cE 'Wstat: [1-9].* Failed: 0\)' || true)
    passed=$((passed + ok + ${total:-0} - tapfail))
    failed=$((failed + bad + tapfail + died))
}

# The tally line, and the exit status: non-zero when a suite failed.
suites_report() {
    echo "tests: $passed passed, $failed failed"
    if [ ${#failures[@]} -ne 0 ]; then
        cat "$CS_FAILURE_NOTES"
        rm -f "$CS_FAILURE_NOTES"
        cs_log "FAILED suites: ${failures[*]}"
        return 1
    fi
    [ -z "$CS_FAILURE_NOTES" ] || rm -f "$CS_FAILURE_NOTES"
    cs_log "all suites passed"
}

# A free TCP port on loopback, below Linux's ephemeral range (32768-60999):
# a port there can be taken at any moment as the local end of an outgoing
# connection, and RabbitMQ's distribution port then fails to bind.
cs_free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$(( (RANDOM % 12000) + 20000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    cs_die "no free port found"
}

# cs_pg_start DIR BINDIR [postgresql.conf lines...]: initdb DIR/data and
# start it on a free loopback port; writes DIR/port.  Sockets live in DIR.
cs_pg_start() {
    local dir=$1 bindir=$2; shift 2
    local port
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown "$(cs_pg_user)" "$dir"
    cs_ensure_traversable "$dir"
    cs_as_pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$dir'"
        echo "fsync = off"
        echo "log_line_prefix = '%m [%p] %q%a '"
        for line in "$@"; do echo "$line"; done
    } | cs_as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    for _ in 1 2 3 4 5; do
        port=$(cs_free_port)
        if cs_as_pg "$bindir/pg_ctl" -D "$dir/data" -o "-p $port" -l "$dir/server.log" -w -t 60 start >/dev/null; then
            echo "$port" > "$dir/port"
            return 0
        fi
    done
    cat "$dir/server.log" >&2 || true
    cs_die "could not start PostgreSQL in $dir"
}

# cs_pg_stop DIR BINDIR: fast shutdown of the cluster in DIR, if running.
cs_pg_stop() {
    local dir=$1 bindir=$2
    if [ -f "$dir/data/postmaster.pid" ]; then
        cs_as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            cs_as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
}

# PostgreSQL runs as another user: every directory above its data must let
# that user through.
cs_ensure_traversable() {
    [ "$(id -u)" -eq 0 ] || return 0
    if ! runuser -u postgres -- test -x "$1"; then
        cs_die "the postgres user cannot reach $1; make its parent directories world-executable (chmod o+x)"
    fi
}

# RabbitMQ, private to one run: cs_rabbit_start DIR starts a node with its
# own name, ports, epmd, cookie and data under DIR (owned by the rabbitmq
# user), waits until it is ready, and writes DIR/port (AMQP) and DIR/pid.
# DIR/extra.conf, when there, is appended to the node's rabbitmq.conf;
# DIR/plugins, when there, lists the plugins to enable.
# cs_rabbit_stop DIR stops that node and its epmd, by pid and port.
cs_rabbit_env() {
    local dir=$1
    echo HOME="$dir" ERL_EPMD_PORT="$(cat "$dir/epmd_port")" \
        RABBITMQ_NODENAME="$(cat "$dir/node")" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$(cat "$dir/port")" RABBITMQ_DIST_PORT="$(cat "$dir/dist_port")" \
        RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_PID_FILE="$dir/pid" RABBITMQ_CONFIG_FILE="$dir/rabbitmq" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
        RABBITMQ_FEATURE_FLAGS_FILE="$dir/feature_flags" \
        RABBITMQ_CTL_DIST_PORT_MIN="$(cat "$dir/ctl_port")" RABBITMQ_CTL_DIST_PORT_MAX="$(( $(cat "$dir/ctl_port") + 10 ))"
}

cs_as_rabbit() {
    local dir=$1; shift
    # shellcheck disable=SC2046
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u rabbitmq -- env $(cs_rabbit_env "$dir") "$@"
    else
        env $(cs_rabbit_env "$dir") "$@"
    fi
}

cs_rabbitmqctl() {
    local dir=$1; shift
    cs_as_rabbit "$dir" /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$(cat "$dir/node")" "$@"
}

cs_rabbit_start() {
    local dir=$1 fresh=0
    mkdir -p "$dir/log" "$dir/mnesia"
    [ -f "$dir/node" ] || echo "cs$$x$RANDOM@localhost" > "$dir/node"
    [ -f "$dir/port" ] || fresh=1
    cs_rabbit_try_start "$dir" && return 0
    # A port picked free a moment ago can be taken before the node binds it
    # (other tests, outgoing connections): a first start tries once more on
    # fresh ports.  A restart keeps its ports (tests restart nodes).
    [ "$fresh" -eq 1 ] || cs_die "RabbitMQ in $dir did not start"
    cs_log "RabbitMQ in $dir did not start; once more on other ports"
    cs_rabbit_stop "$dir"
    rm -rf "$dir/node" "$dir/port" "$dir/dist_port" "$dir/epmd_port" "$dir/ctl_port" "$dir/mnesia"
    mkdir -p "$dir/mnesia"
    echo "cs$$x$RANDOM@localhost" > "$dir/node"
    cs_rabbit_try_start "$dir" || cs_die "RabbitMQ in $dir did not start"
}

# One start of the node in DIR, ready for clients; non-zero (the startup
# log on stderr, the node stopped) when it does not come up.
cs_rabbit_try_start() {
    local dir=$1
    # ports are kept across restarts of the same node (tests restart it)
    [ -f "$dir/port" ] || cs_free_port > "$dir/port"
    [ -f "$dir/dist_port" ] || cs_free_port > "$dir/dist_port"
    [ -f "$dir/epmd_port" ] || cs_free_port > "$dir/epmd_port"
    [ -f "$dir/ctl_port" ] || cs_free_port > "$dir/ctl_port"
    printf 'loopback_users = none\ndisk_free_limit.absolute = 10MB\nvm_memory_high_watermark.relative = 0.6\n' > "$dir/rabbitmq.conf"
    # a test's own settings (a TLS listener, ...), kept across restarts
    [ ! -f "$dir/extra.conf" ] || cat "$dir/extra.conf" >> "$dir/rabbitmq.conf"
    # DIR/plugins, when there: the plugins to enable (comma-separated)
    echo "[$(cat "$dir/plugins" 2>/dev/null)]." > "$dir/enabled_plugins"
    [ "$(id -u)" -ne 0 ] || chown -R rabbitmq:rabbitmq "$dir"
    chmod o+x "$dir"
    rm -f "$dir/pid"
    (cd "$dir" && cs_as_rabbit "$dir" setsid /usr/lib/rabbitmq/bin/rabbitmq-server \
        >"$dir/log/startup.log" 2>&1 &) </dev/null >/dev/null 2>&1   # holds no caller's pipe open
    for _ in $(seq 1 120); do
        [ -s "$dir/pid" ] && break
        sleep 0.5
    done
    if ! [ -s "$dir/pid" ] || ! cs_rabbitmqctl "$dir" await_startup --timeout 90 >/dev/null 2>&1; then
        tail -n 40 "$dir/log/startup.log" >&2
        # no pid file: the node never came up, but its epmd may have
        [ -s "$dir/pid" ] || [ -f "$dir/shared_epmd" ] || cs_as_rabbit "$dir" epmd -port "$(cat "$dir/epmd_port")" -kill >/dev/null 2>&1 || true
        cs_rabbit_stop "$dir"
        return 1
    fi
}

cs_rabbit_stop() {
    local dir=$1 pid
    [ -s "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pid"
    # a cluster's nodes share one epmd: its helper stops it after the last
    [ ! -f "$dir/shared_epmd" ] || return 0
    # the node's private epmd, found by the port only this run uses
    cs_as_rabbit "$dir" epmd -port "$(cat "$dir/epmd_port")" -kill >/dev/null 2>&1 || true
}

# cs_rabbit_epmd_stop DIR: stops the epmd of the node in DIR (the last of a
# cluster's nodes stopped).
cs_rabbit_epmd_stop() {
    cs_as_rabbit "$1" epmd -port "$(cat "$1/epmd_port")" -kill >/dev/null 2>&1 || true
}
