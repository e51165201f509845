#!/usr/bin/env bash
# `make bench`: every benchmark, one after another.
set -euo pipefail
cd "$(dirname "$0")"
for b in append.sh; do bash "$b"; done
