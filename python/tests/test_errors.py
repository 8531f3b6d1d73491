"""Every error path raises its exception with REG's message (naming the argument and the element)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import reg
from test_numpy_api import detection_case, step_batch


def raises(exception: type, message: str):
    """pytest.raises matching ``message`` literally (not as a regular expression)."""
    import re

    return pytest.raises(exception, match=re.escape(message))


def test_step_element_errors(reference: reg.Engine) -> None:
    batch = step_batch(np.random.default_rng(11))
    bad = dict(batch, det_logits=batch["det_logits"].copy())
    bad["det_logits"][2, 1] = np.nan
    with raises(reg.InvalidArgument, "invalid argument det_logits[2, 1]: must be finite, got nan") as caught:
        reference.step(**bad)
    assert caught.value.status == 1 and isinstance(caught.value, ValueError)
    assert str(caught.value) == caught.value.message

    bad = dict(batch, det_targets=batch["det_targets"].copy())
    bad["det_targets"][0, 3] = 1.5
    with raises(reg.InvalidArgument, "invalid argument det_targets[0, 3]: must be in [0, 1], got 1.5"):
        reference.step(**bad)

    bad = dict(batch, seg_labels=batch["seg_labels"].copy())
    bad["seg_labels"][1, 4, 2] = 7
    with raises(reg.InvalidArgument, "invalid argument seg_labels[1, 4, 2]: is 7; labels are 0 (background), 1…3"):
        reference.step(**bad)

    bad = dict(batch, det_boxes=batch["det_boxes"].copy())
    bad["det_boxes"][0, 1] = 9
    with raises(reg.InvalidArgument, "invalid argument det_boxes[0, 1]: class 9.0 is not a class 1…5"):
        reference.step(**bad)

    bad = dict(batch, seg_sigma=np.full(batch["seg_logits"].shape, -1, np.float32))
    with raises(reg.InvalidArgument, "invalid argument seg_sigma[0, 0, 0, 0]: must be finite and in [0, "):
        reference.step(**bad)


def test_step_setting_errors(reference: reg.Engine) -> None:
    batch = step_batch(np.random.default_rng(12))
    with raises(reg.InvalidArgument, "invalid argument det_alpha: has 2 values; expected one per class (5)"):
        reference.step(**batch, detection=reg.TaskSettings(alpha=[1, 2]))
    with raises(reg.InvalidArgument, "invalid argument seg_gamma: must be finite and ≥ 0, got -1.0"):
        reference.step(**batch, segmentation=reg.TaskSettings(gamma=-1))
    with raises(reg.InvalidArgument, "invalid argument det_activation: detection is multi-label"):
        reference.step(**batch, detection=reg.TaskSettings(activation="softmax"))
    with raises(reg.InvalidArgument, "invalid argument seg_activation: is 'tanh'; expected 'sigmoid' or 'softmax'"):
        reference.step(**batch, segmentation=reg.TaskSettings(activation="tanh"))
    with raises(reg.InvalidArgument, "invalid argument det_normalizer: a given M must be finite and > 0, got -2.0"):
        reference.step(**batch, detection=reg.TaskSettings(normalizer=-2.0))
    with raises(reg.InvalidArgument, "invalid argument det_pos_fraction: must be in [0, 1], got 2.0"):
        reference.step(**batch, detection=reg.TaskSettings(positive_fraction=2.0))
    with raises(reg.InvalidArgument, "invalid argument lambda: must be finite, got inf"):
        reference.step(**batch, lambda_=float("inf"))
    with raises(reg.InvalidArgument, "invalid argument memoryBudget: must be at least 1 byte, got 0"):
        reference.step(**batch, memory_budget=0)


def test_step_shape_errors(reference: reg.Engine) -> None:
    batch = step_batch(np.random.default_rng(13))
    with raises(reg.InvalidArgument, "invalid argument det_targets: has shape (5, 64); expected (64, 5)"):
        reference.step(**dict(batch, det_targets=batch["det_targets"].T))
    with raises(reg.InvalidArgument, "invalid argument det_points: is required with det_logits"):
        reference.step(det_logits=batch["det_logits"], det_targets=batch["det_targets"])
    with raises(reg.InvalidArgument, "invalid argument seg_logits: is required with seg_labels"):
        reference.step(seg_labels=batch["seg_labels"])
    with raises(reg.InvalidArgument, "invalid argument det_boxes: has shape (3, 5); expected [K, 6] rows"):
        reference.step(**dict(batch, det_boxes=np.zeros((3, 5), np.float32)))
    with raises(reg.InvalidArgument, "invalid argument seg_labels: has shape (2, 16); expected (2, 16, 16)"):
        reference.step(**dict(batch, seg_labels=batch["seg_labels"][:, 0]))
    with raises(reg.InvalidArgument, "invalid argument seg_labels[0, 0, 0]: is 300; labels are 0 (background)"):
        reference.step(**dict(batch, seg_labels=np.full((2, 16, 16), 300)))
    with raises(reg.InvalidArgument, "invalid argument seg_labels: labels must be integers, got float32"):
        reference.step(**dict(batch, seg_labels=batch["seg_labels"].astype(np.float32)))
    with raises(reg.InvalidArgument, "invalid argument det_logits: cannot be read as float32"):
        reference.step(**dict(batch, det_logits=[["a", "b"]]))
    with raises(reg.InvalidArgument, "invalid argument det_points[0, 0]: image 7.0 is not an image of the batch (0..<3)"):
        points = batch["det_points"].copy()
        points[0, 0] = 7
        reference.step(**dict(batch, det_points=points, det_images=3))


def test_focal_loss_errors(reference: reg.Engine) -> None:
    z, y = detection_case(np.random.default_rng(14), 6, 3)
    bad = z.copy()
    bad[4, 2] = np.inf
    with raises(reg.InvalidArgument, "invalid argument logits[4, 2]: must be finite, got inf"):
        reference.focal_loss(bad, y)
    with raises(reg.InvalidArgument, "invalid argument gamma: must be finite and ≥ 0, got -0.5"):
        reference.focal_loss(z, y, gamma=-0.5)
    with raises(reg.InvalidArgument, "invalid argument alpha[1]: must be finite and ≥ 0, got -1.0"):
        reference.focal_loss(z, y, alpha=[1, -1, 1])
    with raises(reg.InvalidArgument, "invalid argument sigma: must be finite and in [0, "):
        reference.focal_loss(z, y, sigma=-0.1)
    with raises(reg.InvalidArgument, "invalid argument targets: give targets (detection) or labels (segmentation)"):
        reference.focal_loss(z)
    with raises(reg.InvalidArgument, "invalid argument reduction: is 'max'"):
        reference.focal_loss(z, y, reduction="max")
    with raises(reg.InvalidArgument, "invalid argument distances: has shape (3, 6); expected (6, 3)"):
        reference.focal_loss(z, y, distances=np.zeros((3, 6)))
    d = np.zeros_like(z)
    d[1, 1] = np.nan
    with raises(reg.InvalidArgument, "invalid argument distances[1, 1]"):
        reference.focal_loss(z, y, distances=d)
    seg = np.zeros((1, 3, 2, 2), np.float32)
    with raises(reg.InvalidArgument, "invalid argument labels[0, 1, 0]: must be 0…3 or 255 (ignore), got 4"):
        reference.focal_loss(seg, labels=np.array([[[0, 1], [4, 255]]], np.uint8))
    with raises(reg.InvalidArgument, "invalid argument activation: softmax needs at least 2 classes, got 1"):
        reference.focal_loss(seg[:, :1], labels=np.zeros((1, 2, 2), np.uint8), activation="softmax")


def test_distance_errors(reference: reg.Engine) -> None:
    with raises(reg.InvalidArgument, "invalid argument labels[0, 1, 0]: is 9; labels are 0 (background), 1…2"):
        reg.edt(np.array([[0, 1], [9, 2]], np.uint8), 2, engine=reference)
    with raises(reg.InvalidArgument, "invalid argument spacing.y: must be finite"):
        reg.edt(np.zeros((2, 2), np.uint8), 1, spacing=(0.0, 1.0), engine=reference)
    with raises(reg.InvalidArgument, "invalid argument boxes[0]: is degenerate: [5.0, 0.0, 1.0, 1.0]"):
        reg.box_distance([[0, 0, 0]], [[0, 1, 5, 0, 1, 1]], 1, engine=reference)
    with raises(reg.InvalidArgument, "invalid argument boxes[0, 1]: class 1.5 is not a whole number"):
        reg.box_distance([[0, 0, 0]], [[0, 1.5, 0, 0, 1, 1]], 2, engine=reference)
    with raises(reg.InvalidArgument, "invalid argument points: has shape (1, 2); expected [K, 3] rows"):
        reg.box_distance([[0, 0]], [[0, 1, 0, 0, 1, 1]], 1, engine=reference)
    with raises(reg.InvalidArgument, "invalid argument distances[1]: is NaN"):
        reg.refine([0, np.nan, 1], 0.5, 8, engine=reference)
    with raises(reg.InvalidArgument, "invalid argument beta: must be finite, got inf"):
        reg.refine([0], np.inf, 8, engine=reference)


def test_engine_errors(reference: reg.Engine) -> None:
    with raises(reg.DeviceError, "device index 999 does not exist") as caught:
        reg.Engine(999)
    assert caught.value.status == 3
    with raises(reg.DeviceError, "no OpenCL device matches 'no-such-device-anywhere'"):
        reg.Engine("no-such-device-anywhere")
    with raises(reg.InvalidArgument, "invalid argument fallback: is 'retry'"):
        reg.Engine("reference", fallback="retry")
    engine = reg.Engine("reference")
    engine.close()
    with raises(reg.Error, "the engine is closed"):
        engine.refine([1.0], 0.5, 8)
    with reg.Engine("reference") as scoped:
        assert scoped.backend == "CPU reference (float64)"


def test_out_of_memory(device: reg.Engine) -> None:
    batch = step_batch(np.random.default_rng(15))
    with pytest.raises(reg.OutOfMemory) as caught:
        device.step(**batch, memory_budget=64)
    assert caught.value.status == 2 and isinstance(caught.value, MemoryError)
    assert "needs" in str(caught.value) and "available" in str(caught.value)


def test_library_not_found() -> None:
    """REG_LIBRARY naming no file: reg.LibraryNotFound, saying where it looked and how to build."""
    package = Path(reg.__file__).resolve().parent.parent
    script = ("import reg\ntry:\n    reg.Engine('reference')\nexcept reg.LibraryNotFound as e:\n"
              "    print('LibraryNotFound', e)\n")
    env = dict(os.environ, REG_LIBRARY="/nonexistent/libregc.so", PYTHONPATH=str(package))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.startswith("LibraryNotFound libregc.so not found (looked at /nonexistent/libregc.so)")
    assert "swift build --product regc" in out.stdout
