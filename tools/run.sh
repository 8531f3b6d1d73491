#!/usr/bin/env bash
# The README's main command: set-up, a release build of `reg`, then the main job: list the
# devices and run the refinement on a sample batch on the chosen device and the CPU reference.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
tools/setup.sh
swift build -c release --product reg
reg=.build/release/reg
"$reg" devices
echo
"$reg" demo "$@"
