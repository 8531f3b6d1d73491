"""Fixtures: an engine on the float64 CPU reference, and one on the first OpenCL device (PoCL
under tools/test.sh) that never falls back, so that a device failure fails the test instead of
comparing the reference with itself."""

from __future__ import annotations

import numpy as np
import pytest

import reg


@pytest.fixture(scope="session")
def reference() -> reg.Engine:
    return reg.Engine("reference")


@pytest.fixture(scope="session")
def device() -> reg.Engine:
    try:
        engine = reg.Engine(0, fallback="error")
    except reg.DeviceError as error:  # no OpenCL device on this machine
        pytest.skip(f"no OpenCL device: {error}")
    assert engine.on_device, engine.backend
    return engine


def expect_gradient(got: np.ndarray, expected: np.ndarray, what: str = "gradient") -> None:
    """docs/math.md §7: max |got − expected| ≤ 1e-5 · max(1, max |expected|)."""
    assert got.shape == expected.shape, what
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    worst = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64)), initial=0.0))
    assert worst <= 1e-5 * scale, f"{what}: max error {worst} > 1e-5 · {scale}"


def expect_loss(got: float, expected: float, what: str = "loss") -> None:
    """docs/math.md §7: relative error ≤ 1e-5."""
    assert abs(got - expected) <= 1e-5 * abs(expected), f"{what}: {got} vs {expected}"
