#!/usr/bin/env bash
# `make test-long`: the suites that take longer or change the system, run
# apart from `make test`: the Debian package built, installed into the
# system and removed again (scripts/test-package.sh; needs root, as in CI).
# Same tally line as make test; exit status non-zero on any failure.
source "$(dirname "$0")/lib.sh"

cs_ensure_packages
RUN=$CS_RUN/test-long
mkdir -p "$RUN"
LOG=$RUN/suite.log

SUITES=${SUITES:-package}
want() { [[ " $SUITES " == *" $1 "* ]]; }
want package && run_suite package prove --exec bash "$CS_ROOT/scripts/test-package.sh"

suites_report
