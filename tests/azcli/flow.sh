#!/usr/bin/env bash
# Drives a running batch-emulator with `az batch` (azure-cli 2.91.0 in .venv-azcli, made by
# tests/azcli/setup.sh): pool → nodes → job → task → stdout → an error → delete.
# usage: flow.sh URL ACCOUNT KEY      prints "flow: OK" at the end; exits non-zero on a failure.
set -euo pipefail
url=$1 account=$2 key=$3
here=$(cd "$(dirname "$0")" && pwd)
az="$here/../../.venv-azcli/bin/az"
# A configuration of its own, and nothing sent anywhere but the emulator.
export AZURE_CONFIG_DIR=$(mktemp -d) AZURE_CORE_COLLECT_TELEMETRY=no AZURE_CORE_SURVEY_MESSAGE=no AZURE_CORE_NO_COLOR=1
trap 'rm -rf "$AZURE_CONFIG_DIR"' EXIT
b() { "$az" batch "$@" --account-endpoint "$url" --account-name "$account" --account-key "$key"; }
fail() { echo "flow: FAILED: $*" >&2; exit 1; }
wait_for() { # what, command producing a value, the value wanted
  local what=$1 want=$3 got=""
  for _ in $(seq 1 150); do
    got=$(eval "$2" 2>/dev/null || true)
    [ "$got" = "$want" ] && return 0
    sleep 0.2
  done
  fail "timed out waiting for $what (last: $got)"
}
run=$RANDOM$RANDOM
pool=az-pool-$run job=az-job-$run

b pool create --id "$pool" --vm-size standard_d2s_v3 --target-dedicated-nodes 2 \
  --image canonical:0001-com-ubuntu-server-jammy:22_04-lts --node-agent-sku-id "batch.node.ubuntu 22.04" >/dev/null
[ "$(b pool show --pool-id "$pool" --query vmSize -o tsv)" = standard_d2s_v3 ] || fail "pool show"
wait_for "two idle nodes" "b node list --pool-id $pool --query \"length([?state=='idle'])\" -o tsv" 2
b job create --id "$job" --pool-id "$pool" >/dev/null
b task create --job-id "$job" --task-id t1 --command-line "/bin/sh -c 'echo from az batch on \$AZ_BATCH_NODE_ID'" >/dev/null
b task create --job-id "$job" --task-id t2 --command-line "/bin/sh -c 'exit 3'" >/dev/null
wait_for "t1 completes" "b task show --job-id $job --task-id t1 --query state -o tsv" completed
wait_for "t2 completes" "b task show --job-id $job --task-id t2 --query state -o tsv" completed
[ "$(b task show --job-id "$job" --task-id t2 --query executionInfo.exitCode -o tsv)" = 3 ] || fail "t2's exit code"
out="$AZURE_CONFIG_DIR/stdout-t1.txt"
b task file download --job-id "$job" --task-id t1 --file-path stdout.txt --destination "$out" >/dev/null
grep -q "^from az batch on tvmps_" "$out" || fail "stdout: $(cat "$out")"
[ "$(b task list --job-id "$job" --query 'length(@)' -o tsv)" = 2 ] || fail "task list"
counts=$(b job task-counts show --job-id "$job" --query "[taskCounts.succeeded, taskCounts.failed]" -o tsv | tr '\t\n' '  ')
[ "$counts" = "1 1 " ] || fail "task counts: $counts"
# An error comes back as the service's: a non-zero exit naming the code.
if err=$(b pool show --pool-id "no-such-pool-$run" 2>&1); then fail "showing a missing pool succeeded"; fi
echo "$err" | grep -q "PoolNotFound\|The specified pool does not exist" || fail "the error: $err"
b job delete --job-id "$job" --yes >/dev/null
b pool delete --pool-id "$pool" --yes >/dev/null
wait_for "the pool goes" "b pool list --query \"length([?id=='$pool'])\" -o tsv" 0
echo "flow: OK"
