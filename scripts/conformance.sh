#!/usr/bin/env bash
# Regenerates docs/conformance.md: runs ONNX's backend test data (Debian package libonnx-testdata) through ModelGen
# (generate, compile in memory, run, compare with ONNX's tolerance) and writes the report. Prints the summary and timing.
# Same as: MODELGEN_WRITE_CONFORMANCE=1 dotnet test tests/ModelGen.Tests -c Release --filter FullyQualifiedName~ConformanceTests
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dpkg -s libonnx-testdata >/dev/null 2>&1 || bash scripts/setup.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MODELGEN_WRITE_CONFORMANCE=1
dotnet test tests/ModelGen.Tests -c Release --filter "FullyQualifiedName~ConformanceTests" \
  --logger "console;verbosity=detailed" 2>&1 | grep -E "^ *(conformance:|wrote|note:|report:|[0-9]+ (cases|batches)|Passed|Failed|Error Message|Assert|.*error)" || true
test -s docs/conformance.md && grep -m1 -E "^\*\*[0-9]+ pass" docs/conformance.md
