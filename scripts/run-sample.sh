#!/usr/bin/env bash
# End to end in one command: set-up (espeak-ng, openWakeWord's models), then the WakeWord sample, which compiles the
# three models to C# at build time, synthesises "hey jarvis! what's the weather?" with espeak-ng, streams it in 80 ms
# chunks through the generated code and prints every frame's score, the detections and the timing.
# Arguments go to the sample: scripts/run-sample.sh --speak "hey jarvis" | scripts/run-sample.sh my16k.wav
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
exec dotnet run --project "$root/samples/WakeWord" -c Release -- "$@"
