#!/usr/bin/env bash
# Creates the virtual environments the SDK tests drive the emulator with:
#   .venv-sdk15  azure-batch 15.1.0 (azure-core, api-version 2025-06-01)
#   .venv-sdk14  azure-batch 14.2.0 (msrest, api-version 2024-02-01.19.0)
# each with azure-storage-blob 12.31.1 (the quickstart flows put inputs in Azurite and read
# outputs back), and pytest 9.2.0 in .venv-sdk15 (the tests of clients/python).
# They cannot share one venv: both are the distribution `azure-batch`.
# Idempotent: an existing venv with the right version is left alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
STORAGE=12.31.1
make_venv() {
  local dir=$1 version=$2
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('azure-batch') != '$version' or m.version('azure-storage-blob') != '$STORAGE')" 2>/dev/null; then
    return 0
  fi
  if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('azure-batch') != '$version')" 2>/dev/null; then
    rm -rf "$dir"
    python3 -m venv "$dir"
  fi
  "$dir/bin/pip" install --quiet --disable-pip-version-check "azure-batch==$version" "azure-storage-blob==$STORAGE"
}
make_venv .venv-sdk15 15.1.0
make_venv .venv-sdk14 14.2.0
# pytest, for the pytest fixtures of clients/python (run from the source tree).
PYTEST=9.2.0
if ! .venv-sdk15/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('pytest') != '$PYTEST')" 2>/dev/null; then
  .venv-sdk15/bin/pip install --quiet --disable-pip-version-check "pytest==$PYTEST"
fi
echo "SDK venvs ready: .venv-sdk15 (azure-batch 15.1.0), .venv-sdk14 (azure-batch 14.2.0), each with azure-storage-blob $STORAGE"
