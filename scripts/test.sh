#!/usr/bin/env bash
# README's test command: set-up (apt packages, models), the whole test suite, the NativeAOT check of the sample and the
# linux-arm64 check (NativeAOT cross-publish run under qemu against x64), and the JIT inlining check of the kernels.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh || exit 1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log="$(mktemp)"
dotnet test ModelGen.sln -c Release 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# totals over the per-assembly summary lines ("Passed!  - Failed: 0, Passed: 95, ...")
passed=$(grep -E '^(Passed|Failed)!' "$log" | grep -Eo 'Passed: +[0-9]+' | awk '{s+=$2} END {print s+0}')
failed=$(grep -E '^(Passed|Failed)!' "$log" | grep -Eo 'Failed: +[0-9]+' | awk '{s+=$2} END {print s+0}')
for check in scripts/check-aot.sh scripts/check-arm64.sh scripts/check-inlining.sh; do
  if bash "$check"; then passed=$((passed + 1)); else failed=$((failed + 1)); rc=1; fi
done
echo "${passed:-0} passed, ${failed:-0} failed"
[ "${passed:-0}" -gt 0 ] || rc=1
exit $rc
