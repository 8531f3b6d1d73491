#!/usr/bin/env bash
# The README's main command: set-up, a release build of `reg`, then the main job: list the
# devices, check every operation on the chosen device against the CPU reference, and run the
# paper's pipeline (distance maps → refined focal loss) on a sample batch on both.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
tools/setup.sh
swift build -c release --product reg
reg=.build/release/reg
"$reg" devices
echo
"$reg" check --cases 20
echo
"$reg" demo "$@"
