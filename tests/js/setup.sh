#!/usr/bin/env bash
# Installs the Node tools the tests run, pinned by package-lock.json, into tests/js/node_modules:
# the official JavaScript SDK (@azure/batch 10.2.0, the newest, and 8.0.0 under the alias
# @azure/batch-8), Azurite (3.37.0, whose `azurite-blob` the storage tests start) and
# playwright-core (1.65.1, which drives Debian's Chromium in the dashboard's browser test; it
# downloads no browser of its own). Idempotent: does nothing when that lock file is installed already.
set -euo pipefail
cd "$(dirname "$0")"
if [ node_modules/.package-lock.json -nt package-lock.json ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
