#!/usr/bin/env bash
# The Python package's tests (python/tests, pytest) on the libregc.so of this checkout: makes the
# venv .build/venv when it is missing (shared with the metrics comparison, which adds pycocotools
# to it), installs numpy and pytest and the package (pip install -e python/) into it, builds
# libregc.so, and runs pytest with REG_LIBRARY naming that library. Arguments go to pytest.
# REG_SCRATCH_PATH names the SwiftPM build folder to use (default .build).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scratch="${REG_SCRATCH_PATH:-.build}"
venv=.build/venv
export POCL_CACHE_DIR="${POCL_CACHE_DIR:-$PWD/$scratch/pocl-cache}"

if [ ! -x "$venv/bin/python" ]; then
    echo "test-python: making $venv"
    python3 -m venv "$venv"
fi
"$venv/bin/python" -c "import numpy, pytest" 2>/dev/null || "$venv/bin/pip" install -q numpy pytest
# The package, installed editable from this checkout (once; it then follows the sources).
if ! "$venv/bin/python" -c "import reg, sys; sys.exit(reg.__file__ != '$PWD/python/reg/__init__.py')" 2>/dev/null; then
    "$venv/bin/pip" install -q -e python/
fi

swift build --scratch-path "$scratch" --product regc
export REG_LIBRARY="$PWD/$scratch/debug/libregc.so"

status=0
"$venv/bin/python" -m pytest -q python/tests "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "test-python: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
