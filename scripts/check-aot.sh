#!/usr/bin/env bash
# NativeAOT check of samples/WakeWord: publishes it with PublishAot (failing on ANY warning), runs the native binary
# and the JIT build on the same synthesised WAV, and compares their frame scores and detections line by line.
# Exit status: 0 when the publish is warning-free and the outputs agree; non-zero otherwise.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
proj="$root/samples/WakeWord"
default_text="hey jarvis! what's the weather?"
text="${1:-$default_text}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$root/scripts/setup.sh"

# NativeAOT links with clang (or gcc); Debian ships clang as clang-NN only.
linker=()
if ! command -v clang >/dev/null 2>&1; then
  cc="$(compgen -c clang- | grep -E '^clang-[0-9]+$' | sort -t- -k2 -n | tail -1 || true)"
  if [ -n "$cc" ]; then linker=("-p:CppCompilerAndLinker=$cc")
  elif command -v gcc >/dev/null 2>&1; then linker=("-p:CppCompilerAndLinker=gcc")
  else echo "check-aot: NativeAOT needs clang or gcc" >&2; exit 2; fi
fi

# A clean publish, so that every compiler, trimmer and AOT warning is reported (incremental builds stay silent).
rm -rf "$proj/bin/Release/net10.0/linux-x64" "$proj/obj/Release/net10.0/linux-x64"
echo "check-aot: dotnet publish samples/WakeWord -c Release -r linux-x64 -p:PublishAot=true ${linker[*]}"
if ! dotnet publish "$proj" -c Release -r linux-x64 -p:PublishAot=true "${linker[@]}" -o "$work/aot" \
    -clp:NoSummary -v:minimal >"$work/publish.log" 2>&1; then
  cat "$work/publish.log"; echo "check-aot: FAILED: publish failed" >&2; exit 1
fi
warnings="$(grep -E ': warning [A-Z]+[0-9]+' "$work/publish.log" | sort -u || true)"
if [ -n "$warnings" ]; then
  echo "$warnings"; echo "check-aot: FAILED: $(echo "$warnings" | wc -l) warning(s) in the NativeAOT publish" >&2; exit 1
fi
native="$work/aot/WakeWord"
[ -x "$native" ] || { echo "check-aot: FAILED: no native binary at $native" >&2; exit 1; }
echo "check-aot: publish OK, no warnings; native binary $(du -h "$native" | cut -f1)"

# The same 16 kHz WAV for both (synthesised by the native binary itself: espeak-ng + the C# resampler).
"$native" --speak "$text" --save "$work/in.wav" --quiet >"$work/speak.txt"

echo "check-aot: dotnet build samples/WakeWord -c Release (JIT)"
dotnet build "$proj" -c Release -v:quiet -clp:NoSummary >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
jit_dll="$proj/bin/Release/net10.0/WakeWord.dll"

"$native" "$work/in.wav" >"$work/native.txt"
# NativeAOT code targets the x64 baseline (no AVX) unless told otherwise, while the JIT uses every instruction set of
# this CPU: SIMD kernels then sum in a different order. So the exact comparison runs the JIT on the same instruction
# set (DOTNET_EnableAVX=0), and a second comparison against the JIT at full width allows 1e-5 per score.
DOTNET_EnableAVX=0 dotnet "$jit_dll" "$work/in.wav" >"$work/jit-baseline.txt"
dotnet "$jit_dll" "$work/in.wav" >"$work/jit.txt"
scores() { grep -E '^(frame|detection)' "$1"; }
scores "$work/native.txt" >"$work/native.scores"
scores "$work/jit-baseline.txt" >"$work/jit-baseline.scores"

grep -E '^(detection|timing)' "$work/native.txt" | sed 's/^/  native:           /'
grep -E '^timing' "$work/jit-baseline.txt" | sed 's/^/  jit (no AVX):     /'
grep -E '^timing' "$work/jit.txt" | sed 's/^/  jit (all ISAs):   /'
frames="$(grep -cE '^frame +[0-9]' "$work/native.scores" || true)"
if [ "$frames" -eq 0 ]; then echo "check-aot: FAILED: no frame lines" >&2; exit 1; fi
if ! diff -u "$work/jit-baseline.scores" "$work/native.scores" >"$work/diff.txt"; then
  head -40 "$work/diff.txt"
  echo "check-aot: FAILED: the native binary's scores differ from the JIT build's on the same instruction set" >&2; exit 1
fi
echo "check-aot: native == JIT (same instruction set): $frames frame score lines and all detection lines identical"

# Against the full-width JIT: same frames, same detections, scores within 1e-5.
if ! awk -v label="check-aot: native vs JIT (all instruction sets)" -f "$root/scripts/compare-scores.awk" "$work/jit.txt" "$work/native.txt"; then
  echo "check-aot: FAILED: the native binary's frames, detections or scores (by more than 1e-5) differ from the full-width JIT build's" >&2; exit 1
fi
echo "check-aot: OK"
