#!/usr/bin/env bash
# `make test-ha`: the high-availability suites that need more than the TAP
# framework gives (a failover manager and its own processes): the
# pg_auto_failover demo (scripts/auto-failover-demo.sh), run as TAP.  Same
# tally line as make test; exit status non-zero on any failure.
source "$(dirname "$0")/lib.sh"

cs_ensure_packages
RUN=$CS_RUN/test-ha
mkdir -p "$RUN"
LOG=$RUN/suite.log

SUITES=${SUITES:-auto-failover}
want() { [[ " $SUITES " == *" $1 "* ]]; }
want auto-failover && run_suite auto-failover prove --exec bash "$CS_ROOT/scripts/auto-failover-demo.sh"

suites_report
