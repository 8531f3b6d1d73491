#!/usr/bin/env bash
# The Python package's tests (python/tests, pytest) on the libregc.so of this checkout: makes the
# venv .build/venv when it is missing (shared with the metrics comparison, which adds pycocotools
# to it), installs numpy, pytest, torch and jax and the package (pip install -e python/) into it, builds
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
# PyTorch and JAX for python/tests/test_torch.py and test_jax.py (reg.torch, reg.jax). Measured on a
# fresh 2-core machine: `pip install torch` 1 min 30 s (PyPI's Linux wheel pulls the CUDA libraries,
# about 5.5 GB installed; it computes on the CPU here), `pip install jax` (jaxlib CPU) 15 s. pip's
# cache (~/.cache/pip) makes later installs into a new venv take seconds; an existing venv skips them.
# A failed install stops the tests with this message rather than skipping the torch and JAX tests.
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "test-python: installing torch (PyPI, with its CUDA libraries: about 1.5 min and 5.5 GB the first time)"
    start=$SECONDS
    "$venv/bin/pip" install -q torch || {
        echo "test-python: pip install torch failed; python/tests/test_torch.py needs it (install it into $venv)" >&2
        exit 1
    }
    echo "test-python: torch installed in $((SECONDS - start)) s"
fi
if ! "$venv/bin/python" -c "import jax" 2>/dev/null; then
    start=$SECONDS
    "$venv/bin/pip" install -q jax || {
        echo "test-python: pip install jax failed; python/tests/test_jax.py needs it (install it into $venv)" >&2
        exit 1
    }
    echo "test-python: jax installed in $((SECONDS - start)) s"
fi
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
