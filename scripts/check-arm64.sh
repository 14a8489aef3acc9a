#!/usr/bin/env bash
# linux-arm64 check: NativeAOT cross-publishes tests/ModelGen.PlatformCheck (float, Weights, Int8 and QDQ models) and
# the WakeWord sample for arm64, runs them under qemu-aarch64 (the AdvSimd/NEON paths of the runtime, as on a
# Raspberry Pi class board), and compares with the x64 JIT: integer pipelines bit for bit, float outputs within 1e-4 of
# their scale, the sample's detections identical and its scores within 1e-5. PlatformCheck is built for armv8.2-a and
# run with the int8 sdot kernels and with the pair kernels, each time with its in-process kernel check.
# Installs what it needs (arm64 C runtime for the linker, lld, qemu-user) on Debian.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

bash scripts/setup.sh >/dev/null
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
gccver="$(ls /usr/lib/gcc/x86_64-linux-gnu 2>/dev/null | sort -n | tail -1 || true)"
if ! command -v qemu-aarch64 >/dev/null || ! command -v ld.lld >/dev/null || ! command -v clang >/dev/null \
    || [ ! -e /usr/lib/aarch64-linux-gnu/crt1.o ] || [ -z "$gccver" ] || [ ! -d "/usr/lib/gcc-cross/aarch64-linux-gnu/$gccver" -a ! -d "/usr/lib/gcc/aarch64-linux-gnu/$gccver" ]; then
  echo "check-arm64: installing the arm64 cross-linking packages and qemu-user"
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang lld qemu-user >/dev/null
  gccver="$(ls /usr/lib/gcc/x86_64-linux-gnu | sort -n | tail -1)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libc6-dev:arm64 "libgcc-$gccver-dev:arm64" zlib1g-dev:arm64 >/dev/null
fi

# arm64 publishes: one target framework for the runtime (the package feed lacks net8.0's arm64 AOT packs)
arm=(-c Release -r linux-arm64 -p:PublishAot=true -p:LinkerFlavor=lld -p:ModelGenRuntimeFrameworks=net10.0 -clp:NoSummary -v:minimal)
publish() {
  if ! dotnet publish "$1" "${arm[@]}" -o "$2" "${@:3}" >"$work/publish.log" 2>&1; then
    cat "$work/publish.log"; echo "check-arm64: FAILED: arm64 publish of $1" >&2; exit 1
  fi
}

echo "check-arm64: tests/ModelGen.PlatformCheck: x64 JIT vs linux-arm64 NativeAOT under qemu"
dotnet build tests/ModelGen.PlatformCheck -c Release -v:quiet -clp:NoSummary >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
dotnet tests/ModelGen.PlatformCheck/bin/Release/net10.0/ModelGen.PlatformCheck.dll >"$work/pc-x64.txt" || { tail -1 "$work/pc-x64.txt"; echo "check-arm64: FAILED: the x64 kernel check" >&2; exit 1; }
# one armv8.2-a build (NativeAOT's default armv8-a baseline compiles Dp.IsSupported as false: no sdot), run twice on
# qemu's default CPU (max, with the dot product): the int8 sdot kernels, then the pair kernels (--no-dot). Each run
# checks every int8 path against the scalar one in-process (KernelCheck) and matches x64's outputs. The sample below
# stays a default build, run as a Cortex-A72 (Raspberry Pi 4: no dot product).
publish tests/ModelGen.PlatformCheck "$work/pc-arm64" -p:IlcInstructionSet=armv8.2-a
for run in "sdot" "pairs --no-dot"; do
  set -- $run
  echo "check-arm64: int8 $1 kernels:"
  if ! qemu-aarch64 "$work/pc-arm64/ModelGen.PlatformCheck" "${@:2}" >"$work/pc-arm64.txt"; then
    tail -1 "$work/pc-arm64.txt"; echo "check-arm64: FAILED: the arm64 run or its kernel check" >&2; exit 1
  fi
  grep -q "^platform Arm64 dotprod True avxvnni False int8 $1\$" "$work/pc-arm64.txt" || { echo "check-arm64: FAILED: the arm64 binary did not report Arm64 with dotprod and int8 $1" >&2; exit 1; }
  grep '^kernelcheck' "$work/pc-arm64.txt" | sed 's/^/  /'
  if ! awk -f scripts/compare-outputs.awk "$work/pc-x64.txt" "$work/pc-arm64.txt"; then
    echo "check-arm64: FAILED: arm64 outputs differ from x64" >&2; exit 1
  fi
done

echo "check-arm64: samples/WakeWord: x64 JIT vs linux-arm64 NativeAOT under qemu"
publish samples/WakeWord "$work/ww-arm64"
dotnet build samples/WakeWord -c Release -v:quiet -clp:NoSummary >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
jit="samples/WakeWord/bin/Release/net10.0/WakeWord.dll"
dotnet "$jit" --speak "hey jarvis! what's the weather?" --save "$work/in.wav" --quiet >/dev/null
dotnet "$jit" "$work/in.wav" >"$work/ww-x64.txt"
QEMU_CPU=cortex-a72 qemu-aarch64 "$work/ww-arm64/WakeWord" "$work/in.wav" >"$work/ww-arm64.txt"
grep -E '^(detection|timing)' "$work/ww-arm64.txt" | sed 's/^/  arm64 (qemu): /'
if ! awk -v label="  WakeWord" -f scripts/compare-scores.awk "$work/ww-x64.txt" "$work/ww-arm64.txt"; then
  echo "check-arm64: FAILED: the arm64 sample's frames, detections or scores differ from x64" >&2; exit 1
fi
echo "check-arm64: OK"
