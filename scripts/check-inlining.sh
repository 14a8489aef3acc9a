#!/usr/bin/env bash
# Fails where the JIT's optimized code for a runtime kernel calls a SIMD helper (ISimd's Load/Fma/Max..., the int8
# helpers, the activation epilogues) instead of inlining it. A kernel whose body outgrows the JIT's inline budget stays
# correct but runs several times slower (MobileNetV3's squeeze-excite 1x1 convolutions took 70 us instead of 3), so no
# test notices: this runs `benchmarks -- experiment inlining` (every float kernel path at every vector width with every
# fused activation, and the int8 convolutions) under DOTNET_JitDisasm and reads the listings.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
dotnet build benchmarks/ModelGen.Benchmarks -c Release -v q -nologo > "$out/build.txt" 2>&1 || { cat "$out/build.txt"; echo "check-inlining: build failed"; exit 1; }
DOTNET_TieredCompilation=0 DOTNET_JitDisasm='*' DOTNET_JitStdOutFile="$out/jit.txt" \
  dotnet benchmarks/ModelGen.Benchmarks/bin/Release/net10.0/ModelGen.Benchmarks.dll experiment inlining > "$out/run.txt" 2>&1 \
  || { cat "$out/run.txt"; echo "check-inlining: the experiment failed"; exit 1; }
listings=$(grep -c '; Assembly listing for method ModelGen.Runtime' "$out/jit.txt")
# calls from optimized ModelGen.Runtime methods to the helper types (DotEmulated: the x64 stand-in for ARM's sdot,
# only run by the kernel tests)
awk '/; Assembly listing for method/ { m = $6; opt = ($0 !~ /Tier0|MinOpts/) && (m ~ /^ModelGen\.Runtime\./) }
     opt && /call .*\[ModelGen\.Runtime\.(V512|V256|V128|V0|Q512|Q256|Q128|Q1|E512|E256|E128|[A-Za-z]*Epilogue):/ { print m "  calls  " $2 }' \
  "$out/jit.txt" | sort | uniq -c > "$out/calls.txt"
if [ -s "$out/calls.txt" ]; then
  echo "check-inlining: FAILED, SIMD helpers called instead of inlined:"
  cat "$out/calls.txt"
  exit 1
fi
echo "check-inlining: passed ($listings optimized runtime methods, no SIMD helper calls)"
