#!/usr/bin/env bash
# The Python binding's overhead (docs/benchmarks-notes.md, "Python binding overhead"): builds the
# release libregc.so in .build-bench (apart from the debug build), uses the venv .build/venv made by
# tools/test-python.sh (numpy, torch, jax; scipy is installed into it when missing), and runs
# tools/bench-binding.py with REG_LIBRARY naming the release library. Arguments go to the script
# (--warmup, --repeats, --devices reference,0, --no-jax).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scratch=.build-bench
venv=.build/venv
export POCL_CACHE_DIR="${POCL_CACHE_DIR:-$PWD/$scratch/pocl-cache}"

if [ ! -x "$venv/bin/python" ]; then
    echo "bench-binding: $venv is missing; run tools/test-python.sh once to make it" >&2
    exit 1
fi
"$venv/bin/python" -c "import numpy, torch" || {
    echo "bench-binding: $venv lacks numpy or torch; run tools/test-python.sh once" >&2
    exit 1
}
"$venv/bin/python" -c "import scipy" 2>/dev/null || "$venv/bin/pip" install -q scipy

swift build -c release --product regc --scratch-path "$scratch"
export REG_LIBRARY="$PWD/$scratch/release/libregc.so"
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"
exec "$venv/bin/python" tools/bench-binding.py "$@"
