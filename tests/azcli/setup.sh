#!/usr/bin/env bash
# Creates .venv-azcli with azure-cli 2.91.0 (whose `az batch` uses azure-batch 15.0.0b1), for
# tests/azcli/flow.sh. Idempotent: an existing venv with that version is left alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=2.91.0
if [ -x .venv-azcli/bin/python ] && .venv-azcli/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('azure-cli') != '$VERSION')" 2>/dev/null; then
  exit 0
fi
rm -rf .venv-azcli
python3 -m venv .venv-azcli
.venv-azcli/bin/pip install --quiet --disable-pip-version-check "azure-cli==$VERSION"
echo "azure-cli $VERSION ready in .venv-azcli"
