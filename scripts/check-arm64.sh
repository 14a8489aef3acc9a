#!/usr/bin/env bash
# linux-arm64 check: NativeAOT cross-publishes tests/ModelGen.PlatformCheck (float, Weights, Int8 and QDQ models) and
# the WakeWord sample for arm64, runs them under qemu-aarch64 (the AdvSimd/NEON paths of the runtime, as on a
# Raspberry Pi class board), and compares with the x64 JIT: integer pipelines bit for bit, float outputs within 1e-4 of
# their scale, the sample's detections identical and its scores within 1e-5. PlatformCheck twice: the default armv8-a
# build (int8 pair kernels) and an armv8.2-a one (the sdot kernels), each with its in-process kernel check.
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
# two arm64 builds: NativeAOT's default armv8.0 baseline compiles Dp.IsSupported as false (the int8 pair kernels),
# run as a Cortex-A72 (Raspberry Pi 4, no dot product); armv8.2-a has sdot (Dp), run on qemu's default CPU (max). Each
# runs its in-process kernel check (every int8 path against the scalar one) and matches x64's outputs.
publish tests/ModelGen.PlatformCheck "$work/pc-armv8-a"
publish tests/ModelGen.PlatformCheck "$work/pc-armv8.2-a" -p:IlcInstructionSet=armv8.2-a
for build in "armv8-a cortex-a72 False" "armv8.2-a max True"; do
  set -- $build
  bin="$work/pc-$1/ModelGen.PlatformCheck"
  echo "check-arm64: the $1 build on qemu's $2 CPU:"
  if ! QEMU_CPU="$2" qemu-aarch64 "$bin" >"$work/pc-arm64.txt"; then
    tail -1 "$work/pc-arm64.txt"; echo "check-arm64: FAILED: the arm64 run or its kernel check" >&2; exit 1
  fi
  grep -q "^platform Arm64 dotprod $3\$" "$work/pc-arm64.txt" || { echo "check-arm64: FAILED: the arm64 binary did not report Arm64 with dotprod $3" >&2; exit 1; }
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
qemu-aarch64 "$work/ww-arm64/WakeWord" "$work/in.wav" >"$work/ww-arm64.txt"
grep -E '^(detection|timing)' "$work/ww-arm64.txt" | sed 's/^/  arm64 (qemu): /'
if ! awk -v label="  WakeWord" -f scripts/compare-scores.awk "$work/ww-x64.txt" "$work/ww-arm64.txt"; then
  echo "check-arm64: FAILED: the arm64 sample's frames, detections or scores differ from x64" >&2; exit 1
fi
echo "check-arm64: OK"
