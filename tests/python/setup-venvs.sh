#!/usr/bin/env bash
# Creates the virtual environments the SDK tests drive the emulator with:
#   .venv-sdk15  azure-batch 15.1.0 (azure-core, api-version 2025-06-01)
#   .venv-sdk14  azure-batch 14.2.0 (msrest, api-version 2024-02-01.19.0)
# They cannot share one venv: both are the distribution `azure-batch`.
# Idempotent: an existing venv with the right version is left alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
make_venv() {
  local dir=$1 version=$2
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('azure-batch') != '$version')" 2>/dev/null; then
    return 0
  fi
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "azure-batch==$version"
}
make_venv .venv-sdk15 15.1.0
make_venv .venv-sdk14 14.2.0
echo "SDK venvs ready: .venv-sdk15 (azure-batch 15.1.0), .venv-sdk14 (azure-batch 14.2.0)"
