#!/usr/bin/env bash
# Installs the peers of tools/bench-peers.py into the venv .build/venv (made here when missing):
# numpy, scipy, opencv-python-headless and edt (seung-lab) from PyPI, each only when it is missing
# (a few seconds with pip's cache; about 60 MB). torch and jax, the focal-loss peers, are large
# (torch from PyPI brings its CUDA libraries, about 5.5 GB): tools/test-python.sh installs them;
# `tools/setup-peers.sh --torch-jax` installs them here too. A failed install is reported and the
# others go on: bench-peers.py skips a missing peer with a note.
set -uo pipefail
cd "$(dirname "$0")/.."
venv=.build/venv
with_torch_jax=0
for arg in "$@"; do
    case "$arg" in
        --torch-jax) with_torch_jax=1 ;;
        *) echo "setup-peers: unknown argument $arg (only --torch-jax)" >&2; exit 2 ;;
    esac
done

if [ ! -x "$venv/bin/python" ]; then
    echo "setup-peers: making $venv" >&2
    python3 -m venv "$venv" || { echo "setup-peers: python3 -m venv failed" >&2; exit 1; }
fi

status=0
install() { # module, pip package
    if "$venv/bin/python" -c "import $1" 2>/dev/null; then return; fi
    local start=$SECONDS
    if "$venv/bin/pip" install -q "$2" >&2; then
        echo "setup-peers: installed $2 in $((SECONDS - start)) s" >&2
    else
        echo "setup-peers: pip install $2 failed; bench-peers.py will skip that peer" >&2
        status=1
    fi
}
install numpy numpy
install scipy.ndimage scipy
install cv2 opencv-python-headless
install edt edt
if [ "$with_torch_jax" = 1 ]; then
    install torch torch
    install jax jax
fi
exit "$status"
