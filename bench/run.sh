#!/usr/bin/env bash
# `make bench`: every benchmark, one after another.
set -euo pipefail
cd "$(dirname "$0")"
for b in append.sh jsonschema/run.sh trace.sh ingest.sh ingest_instructions.sh ingest_latency.sh outbox.sh; do bash "$b"; done
