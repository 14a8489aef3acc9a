#!/usr/bin/env bash
# Build time of the WakeWord sample (three openWakeWord models compiled by the generator):
# a clean build, then an incremental build after touching an unrelated .cs file. Prints seconds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh >/dev/null
dotnet build samples/WakeWord -c Release -nologo -v q >/dev/null   # restore and build dependencies once
rm -rf samples/WakeWord/bin samples/WakeWord/obj/Release
dotnet restore samples/WakeWord -v q >/dev/null
t0=$(date +%s.%N)
dotnet build samples/WakeWord -c Release --no-restore -nologo -v q >/dev/null
t1=$(date +%s.%N)
touch samples/WakeWord/Program.cs
dotnet build samples/WakeWord -c Release --no-restore -nologo -v q >/dev/null
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "clean build of samples/WakeWord: %.1f s\nincremental build after touching Program.cs: %.1f s\n", b - a, c - b }'
