"""reg.jax: jax.grad through the custom_vjp over pure_callback equals the reference step's gradient."""

from __future__ import annotations

import numpy as np
import pytest

import reg

jax = pytest.importorskip("jax", reason="jax is not installed (tools/test-python.sh installs it)")
import jax.numpy as jnp  # noqa: E402

import reg.jax as rj  # noqa: E402

from conftest import expect_gradient, expect_loss  # noqa: E402


def batch(seed: int = 0, n: int = 40, classes: int = 4, images: int = 3):
    rng = np.random.default_rng(seed)
    return dict(
        det_logits=rng.normal(0, 2, (n, classes)).astype(np.float32),
        det_targets=(rng.random((n, classes)) < 0.2).astype(np.float32),
        det_points=np.c_[rng.integers(0, images, n), rng.uniform(0, 30, (n, 2))].astype(np.float32),
        det_boxes=np.array([[i, 1 + i, 3, 4, 15 + i, 20] for i in range(images)], np.float32),
        seg_logits=rng.normal(0, 2, (2, classes, 9, 7)).astype(np.float32),
        seg_labels=rng.choice([0, 1, 2, 3, 4, 255], (2, 9, 7)).astype(np.uint8),
    )


DET = reg.TaskSettings(alpha=[1, 2, 0.5, 3], normalizer="positives")
SEG = reg.TaskSettings(activation="softmax")


@pytest.mark.parametrize("jit", [False, True])
def test_grad_equals_the_reference(reference: reg.Engine, jit: bool) -> None:
    b = batch()
    expected = reference.step(**b, detection=DET, segmentation=SEG, lambda_=0.6)
    loss = rj.step_loss(DET, SEG, 0.6, engine=reference)
    fn = jax.value_and_grad(loss, argnums=(0, 1))
    if jit:
        fn = jax.jit(fn)
    value, (gd, gs) = fn(jnp.asarray(b["det_logits"]), jnp.asarray(b["seg_logits"]), b["det_targets"],
                         b["det_points"], b["det_boxes"], b["seg_labels"])
    expect_loss(float(value), expected.total)
    expect_gradient(np.asarray(gd), expected.det_logits_grad, "det_logits")
    expect_gradient(np.asarray(gs), expected.seg_logits_grad, "seg_logits")


def test_one_task_and_chain_rule(reference: reg.Engine) -> None:
    b = batch(1)
    expected = reference.step(det_logits=b["det_logits"], det_targets=b["det_targets"], det_points=b["det_points"],
                              det_boxes=b["det_boxes"])
    loss = rj.step_loss(engine=reference)
    w = jnp.float32(1.5)
    # d/dw of 3·L(w·z) = 3·z·∂L/∂z summed: the cotangent and the chain rule go through.
    g = jax.grad(lambda w: 3.0 * loss(w * b["det_logits"], None, b["det_targets"], b["det_points"],
                                      b["det_boxes"]))(w)
    at = reference.step(det_logits=1.5 * b["det_logits"], det_targets=b["det_targets"], det_points=b["det_points"],
                        det_boxes=b["det_boxes"])
    expect_loss(float(g), 3.0 * float(np.sum(b["det_logits"].astype(np.float64) * at.det_logits_grad)))
    value = rj.step(b["det_logits"], det_targets=b["det_targets"], det_points=b["det_points"],
                    det_boxes=b["det_boxes"], engine=reference)
    expect_loss(float(value), expected.total)
