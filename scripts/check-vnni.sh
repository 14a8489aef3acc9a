#!/usr/bin/env bash
# The int8 kernels on a CPU with AVX-VNNI (vpdpbusd: Intel from Alder Lake and Sapphire Rapids, AMD from Zen 5), which
# some of this project's machines lack (.NET sees no AvxVnni on Zen 4). Two halves, so the second can run on a bare
# machine (or both here, where the CPU has it):
#   scripts/check-vnni.sh prepare DIR   here (SDK): the x64 JIT's outputs of tests/ModelGen.PlatformCheck, and that
#                                       project as a linux-x64 NativeAOT binary compiled for x86-64-v4 + avxvnni
#   scripts/check-vnni.sh run DIR       there (bash and awk only): the binary's kernel check (the automatic path must
#                                       report vnni and match the scalar kernels bit for bit), its model outputs on
#                                       the vpdpbusd and the pair kernels against the JIT's, then --time
# Exit status 0 when every check passes. Tests on every machine cover the same kernels through vpdpbusd's scalar
# emulation (DotKernelTests, QDot.Force = 4); this is the check that the instruction itself agrees.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${1:?usage: check-vnni.sh prepare|run DIR}"; dir="${2:?usage: check-vnni.sh prepare|run DIR}"
case "$mode" in
  prepare)
    mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"; cd "$root"
    dotnet build tests/ModelGen.PlatformCheck -c Release -v:quiet -clp:NoSummary >"$dir/build.log" 2>&1 || { cat "$dir/build.log"; exit 1; }
    dotnet tests/ModelGen.PlatformCheck/bin/Release/net10.0/ModelGen.PlatformCheck.dll >"$dir/x64-jit.txt"
    # %2C: a comma inside an msbuild property
    dotnet publish tests/ModelGen.PlatformCheck -c Release -r linux-x64 -p:PublishAot=true -p:ModelGenRuntimeFrameworks=net10.0 \
      '-p:IlcInstructionSet=x86-64-v4%2Cavxvnni' -o "$dir/aot" -clp:NoSummary -v:minimal >"$dir/publish.log" 2>&1 || { cat "$dir/publish.log"; exit 1; }
    rm -f "$dir/aot/"*.dbg "$dir/aot/"*.pdb "$dir/aot/"*.xml
    cp scripts/compare-outputs.awk "$dir/"
    echo "check-vnni: prepared $dir ($(du -sh "$dir" | cut -f1))" ;;
  run)
    cd "$dir"
    grep -m1 -qw avx_vnni /proc/cpuinfo || { echo "check-vnni: this CPU has no AVX-VNNI" >&2; exit 2; }
    bin=./aot/ModelGen.PlatformCheck
    for run in "vnni" "pairs --no-dot"; do
      set -- $run
      "$bin" "${@:2}" >"out-$1.txt" || { tail -2 "out-$1.txt"; echo "check-vnni: FAILED: the $1 run or its kernel check" >&2; exit 1; }
      grep -q "avxvnni True int8 $1\$" "out-$1.txt" || { grep '^platform' "out-$1.txt"; echo "check-vnni: FAILED: the binary did not report int8 $1" >&2; exit 1; }
      echo "check-vnni: int8 $1 kernels:"; grep '^kernelcheck' "out-$1.txt" | sed 's/^/  /'
      awk -f compare-outputs.awk x64-jit.txt "out-$1.txt" || { echo "check-vnni: FAILED: outputs differ from the x64 JIT's" >&2; exit 1; }
    done
    "$bin" --time
    echo "check-vnni: OK" ;;
  *) echo "usage: check-vnni.sh prepare|run DIR" >&2; exit 2 ;;
esac
