#!/usr/bin/env bash
# Installs the contract tests' npm packages (package.json, pinned, and
# package-lock.json) into http/contract/node_modules with `npm ci`, unless
# they are installed already from this very lock file.  scripts/test.sh runs
# it before the TAP suite; t/http_contract.pl only reads node_modules.
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "npm is missing (scripts/lib.sh's cs_ensure_packages installs it)" >&2; exit 1; }
stamp=node_modules/.installed-from-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0
echo "==> http/contract: npm ci (swagger-parser, redocly, openapi-typescript, typescript, ajv, eventsource)" >&2
npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" > "$stamp"
