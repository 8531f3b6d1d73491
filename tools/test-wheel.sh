#!/usr/bin/env bash
# The wheel on a machine without Swift, as near as this one gets: builds it (tools/build-wheel.sh),
# installs it with numpy into a fresh venv in a temporary folder, and from another folder, with an
# empty environment (env -i, PATH=/usr/bin:/bin, no LD_LIBRARY_PATH), checks that the installed
# libregc.so resolves nothing into /opt/swift and misses nothing (ldd), that `reg` loads it from
# the wheel's reg/lib and maps no file of the toolchain, and that a detection step on the reference
# — and on the first OpenCL device when there is one — gives the focal loss and gradient written
# out in NumPy on a tiny case. Exits non-zero, with the reason, on any failure.
#
#   tools/test-wheel.sh               build the wheel, then test it
#   tools/test-wheel.sh --skip-build  test the wheel already in dist/
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
    --skip-build) ;;
    "") tools/build-wheel.sh ;;
    *) echo "usage: tools/test-wheel.sh [--skip-build]" >&2; exit 2 ;;
esac
fail() { echo "test-wheel: FAIL: $*" >&2; exit 1; }

shopt -s nullglob
wheels=(dist/reg_loss-*.whl)
[ "${#wheels[@]}" -eq 1 ] || fail "expected one dist/reg_loss-*.whl, found ${#wheels[@]} (run tools/build-wheel.sh)"
wheel=$PWD/${wheels[0]}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install -q --disable-pip-version-check "$wheel" numpy \
    || fail "pip could not install $wheel with numpy"
mkdir "$scratch/elsewhere"
# The empty environment every check runs in; PoCL's kernel cache is the one thing passed on.
clean=(env -i HOME="$scratch" PATH=/usr/bin:/bin)
[ -n "${POCL_CACHE_DIR:-}" ] && clean+=(POCL_CACHE_DIR="$POCL_CACHE_DIR")

installed=$(cd "$scratch/elsewhere" && "${clean[@]}" "$scratch/venv/bin/python" -c \
    "import pathlib, importlib.util; print(pathlib.Path(importlib.util.find_spec('reg').origin).parent / 'lib' / 'libregc.so')")
[ -f "$installed" ] || fail "the installed package has no $installed"
libraries=$(cd "$scratch/elsewhere" && "${clean[@]}" ldd "$installed") || fail "ldd $installed failed"
if grep -q "/opt/swift" <<<"$libraries"; then
    echo "$libraries" >&2
    fail "the installed libregc.so resolves a library into /opt/swift"
fi
if grep -q "not found" <<<"$libraries"; then
    echo "$libraries" >&2
    fail "the installed libregc.so misses a library"
fi

cat >"$scratch/check.py" <<'EOF'
import sys
from pathlib import Path

import numpy as np

import reg


def fail(message):
    print(f"test-wheel: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


bundled = Path(reg.__file__).resolve().parent / "lib" / "libregc.so"
if reg.library_path().resolve() != bundled:
    fail(f"reg loaded {reg.library_path()}, not the wheel's {bundled}")
mapped = [line.split()[-1] for line in open("/proc/self/maps") if "/opt/swift" in line]
if mapped:
    fail(f"the process maps files of the toolchain: {sorted(set(mapped))}")

# A tiny detection step with α, γ = 2 and the refinement off (g ≡ 1): L = Σ α_c·ℓ / N.
z = np.array([[-1.5, 0.25, 2.0], [0.5, -0.75, 3.0]], np.float32)
y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.3]], np.float32)
alpha = np.array([1.0, 2.0, 0.5])
z64, y64 = z.astype(np.float64), y.astype(np.float64)
p = 1 / (1 + np.exp(-z64))
bce = -(y64 * -np.logaddexp(0, -z64) + (1 - y64) * -np.logaddexp(0, z64))
u = p - y64
loss = alpha * u**2 * bce
grad = alpha * (u**2 * u + bce * 2 * np.abs(u) * np.sign(u) * p * (1 - p))
n = z.shape[0]
expected_loss, expected_grad = loss.sum() / n, grad / n

settings = reg.TaskSettings(alpha=alpha, gamma=2.0, refinement=False)
points = np.zeros((n, 3), np.float32)
engines = [("reference", reg.Engine("reference"))]
try:
    engines.append(("OpenCL device 0", reg.Engine(0, fallback="error")))
except reg.DeviceError as error:
    print(f"test-wheel: no OpenCL device, the reference only ({error})")
for name, engine in engines:
    result = engine.step(det_logits=z, det_targets=y, det_points=points, detection=settings)
    if abs(result.total - expected_loss) > 1e-5 * abs(expected_loss):
        fail(f"{name}: L_total {result.total!r}, expected {expected_loss!r}")
    worst = float(np.max(np.abs(result.det_logits_grad - expected_grad)))
    if worst > 1e-5 * max(1.0, float(np.max(np.abs(expected_grad)))):
        fail(f"{name}: gradient off by {worst}: {result.det_logits_grad.tolist()} vs {expected_grad.tolist()}")
    print(f"test-wheel: {name} ({engine.backend}): L_total {result.total:.7g} as NumPy's {expected_loss:.7g}")
print(f"test-wheel: reg {reg.version()[1]} from {bundled}")
EOF
(cd "$scratch/elsewhere" && "${clean[@]}" "$scratch/venv/bin/python" "$scratch/check.py") \
    || fail "the installed package failed its check (above)"
echo "test-wheel: passed: $(basename "$wheel") installs and runs with no Swift toolchain in its library path"
