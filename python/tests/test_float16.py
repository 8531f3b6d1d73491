"""float16 through the NumPy API, reg.torch and reg.jax: logits, targets and σ maps read as float16,
gradients returned as float16, against the reference fed the same half values (docs/math.md §6–§7;
a float16 gradient is within one half-precision ulp of the reference's rounded to half)."""

from __future__ import annotations

import numpy as np
import pytest

import reg
from reg import _engine
from conftest import expect_gradient, expect_loss
from test_numpy_api import detection_case, step_batch


def halves(batch: dict, names=("det_logits", "det_targets", "seg_logits", "det_sigma", "seg_sigma")) -> dict:
    """The batch with these arrays rounded to float16."""
    return {k: (v.astype(np.float16) if k in names and v is not None else v) for k, v in batch.items()}


def widened(batch: dict) -> dict:
    """float16 arrays widened (exactly) to float32: what the reference is fed."""
    return {k: (v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float16 else v)
            for k, v in batch.items()}


def expect_half(got: np.ndarray, reference: np.ndarray, what: str = "gradient") -> None:
    """float16 ``got`` within one half ulp of ``reference`` (float32) rounded to half."""
    assert got.dtype == np.float16 and got.shape == reference.shape, what
    expected = reference.astype(np.float16)
    ok = (got == expected) | (got == np.nextafter(expected, np.float16(np.inf))) | \
        (got == np.nextafter(expected, np.float16(-np.inf)))
    bad = np.argwhere(~ok)
    assert bad.size == 0, f"{what}: {tuple(bad[0])} = {got[tuple(bad[0])]} vs {reference[tuple(bad[0])]}"


# MARK: The focal loss


def test_focal_loss_float16_on_the_reference(reference: reg.Engine) -> None:
    rng = np.random.default_rng(21)
    z, y = detection_case(rng, 50, 6)
    z16, y16 = z.astype(np.float16), y.astype(np.float16)
    alpha = [1, 2, 0.5, 3, 1, 1]
    r16 = reference.focal_loss(z16, y16, alpha=alpha, gamma=2.0, sigma=0.05)
    r32 = reference.focal_loss(z16.astype(np.float32), y16.astype(np.float32), alpha=alpha, gamma=2.0, sigma=0.05)
    assert r16.gradient.dtype == np.float16 and r16.gradient.shape == z.shape
    assert r16.loss == r32.loss and r16.sum == r32.sum and r16.positives == r32.positives
    assert np.array_equal(r16.gradient, r32.gradient.astype(np.float16)), "the reference's gradient rounded to half"
    assert r16.sigma_gradient == r32.sigma_gradient
    # gradient_dtype: float32 gradients of float16 logits are the float32 ones; float16 of float32 logits.
    r = reference.focal_loss(z16, y16, alpha=alpha, gamma=2.0, sigma=0.05, gradient_dtype="float32")
    assert r.gradient.dtype == np.float32 and np.array_equal(r.gradient, r32.gradient)
    r = reference.focal_loss(z16.astype(np.float32), y16.astype(np.float32), alpha=alpha, gamma=2.0, sigma=0.05,
                             gradient_dtype=np.float16)
    assert np.array_equal(r.gradient, r32.gradient.astype(np.float16))
    # Mixed: float16 logits with float32 targets.
    r = reference.focal_loss(z16, y16.astype(np.float32), alpha=alpha, gamma=2.0, sigma=0.05)
    assert r.loss == r32.loss and np.array_equal(r.gradient, r16.gradient)


def test_focal_loss_float16_segmentation(reference: reg.Engine) -> None:
    rng = np.random.default_rng(22)
    z = rng.normal(0, 2, (2, 4, 7, 9)).astype(np.float16)
    labels = rng.choice([0, 1, 2, 3, 4, 255], (2, 7, 9)).astype(np.uint8)
    sigma = rng.uniform(0, 0.1, z.shape).astype(np.float32)
    r16 = reference.focal_loss(z, labels=labels, activation="softmax", sigma=sigma, reduction="none")
    r32 = reference.focal_loss(z.astype(np.float32), labels=labels, activation="softmax", sigma=sigma, reduction="none")
    assert r16.gradient.dtype == np.float16 and r16.sigma_gradient.dtype == np.float16
    assert r16.element_loss.dtype == np.float32 and np.array_equal(r16.element_loss, r32.element_loss)
    assert np.array_equal(r16.gradient, r32.gradient.astype(np.float16))
    assert np.array_equal(r16.sigma_gradient, r32.sigma_gradient.astype(np.float16))


def test_focal_loss_float16_device_against_the_reference(device: reg.Engine, reference: reg.Engine) -> None:
    rng = np.random.default_rng(23)
    z, y = detection_case(rng, 500, 7)
    z16, y16 = z.astype(np.float16), y.astype(np.float16)
    d = rng.uniform(0, 20, z.shape).astype(np.float32)
    for normalizer in ("samples", "positives"):
        settings = dict(gamma=2.0, distances=d, normalizer=normalizer)
        expected = reference.focal_loss(z16.astype(np.float32), y16.astype(np.float32), **settings)
        got = device.focal_loss(z16, y16, **settings)
        assert got.backend == "opencl"
        expect_loss(got.loss, expected.loss)
        assert got.positives == expected.positives
        expect_half(got.gradient, expected.gradient, f"{normalizer}: gradient")
        got = device.focal_loss(z16, y16, gradient_dtype="float32", **settings)
        expect_gradient(got.gradient, expected.gradient, f"{normalizer}: float32 gradient")


# MARK: The step


@pytest.mark.parametrize("sigma_maps", [False, True])
def test_step_float16_on_the_reference(reference: reg.Engine, sigma_maps: bool) -> None:
    batch = halves(step_batch(np.random.default_rng(24), sigma_maps=sigma_maps))
    det = reg.TaskSettings(alpha=[1, 2, 0.5, 3, 1], normalizer="positives")
    seg = reg.TaskSettings(activation="softmax")
    r16 = reference.step(**batch, detection=det, segmentation=seg, lambda_=0.7)
    r32 = reference.step(**widened(batch), detection=det, segmentation=seg, lambda_=0.7)
    assert r16.total == r32.total and r16.detection == r32.detection and r16.segmentation == r32.segmentation
    for name in ("det_logits_grad", "seg_logits_grad", "det_sigma_grad", "seg_sigma_grad"):
        g16, g32 = getattr(r16, name), getattr(r32, name)
        if g32 is None:
            assert g16 is None
            continue
        assert g16.dtype == np.float16 and np.array_equal(g16, g32.astype(np.float16)), name


@pytest.mark.parametrize("normalizer", ["samples", "positives"])
def test_step_float16_device_against_the_reference(device: reg.Engine, reference: reg.Engine, normalizer: str) -> None:
    batch = halves(step_batch(np.random.default_rng(25), sigma_maps=True))
    det = reg.TaskSettings(sigma=0.0, normalizer=normalizer)
    seg = reg.TaskSettings(normalizer=normalizer)
    expected = reference.step(**widened(batch), detection=det, segmentation=seg)
    got = device.step(**batch, detection=det, segmentation=seg)
    assert got.backend == "opencl"
    expect_loss(got.total, expected.total)
    assert got.detection.positives == expected.detection.positives
    assert got.segmentation.count == expected.segmentation.count
    for name in ("det_logits_grad", "seg_logits_grad", "det_sigma_grad", "seg_sigma_grad"):
        expect_half(getattr(got, name), getattr(expected, name), name)
    # float32 gradients of the same halves: within §7.
    got = device.step(**batch, detection=det, segmentation=seg, gradient_dtype="float32")
    for name in ("det_logits_grad", "seg_logits_grad", "det_sigma_grad", "seg_sigma_grad"):
        expect_gradient(getattr(got, name), getattr(expected, name), name)


def test_step_float16_in_place(reference: reg.Engine) -> None:
    batch = halves(step_batch(np.random.default_rng(26)))
    # C-contiguous float16 and float32 pass through as they are; a strided float16 view is made
    # contiguous once and stays float16; other types become float32 once.
    z = batch["det_logits"]
    assert _engine._half_or_floats("det_logits", z) is z
    strided = np.asfortranarray(z)
    again = _engine._half_or_floats("det_logits", strided)
    assert again.dtype == np.float16 and again.flags.c_contiguous and np.array_equal(again, z)
    assert _engine._half_or_floats("det_logits", z.astype(np.float64)).dtype == np.float32
    assert _engine._half_or_floats("det_logits", z.tolist()).dtype == np.float32
    # Gradients written into the caller's float16 arrays.
    det_out = np.full(z.shape, np.nan, np.float16)
    seg_out = np.full(batch["seg_logits"].shape, np.nan, np.float16)
    result = reference.step(**batch, det_logits_grad=det_out, seg_logits_grad=seg_out)
    assert result.det_logits_grad is det_out and result.seg_logits_grad is seg_out
    assert np.isfinite(det_out).all() and np.isfinite(seg_out).all()
    converted = dict(batch, det_logits=strided, seg_logits=batch["seg_logits"][:, :, ::-1, :][:, :, ::-1, :])
    assert np.array_equal(reference.step(**converted).det_logits_grad, det_out)
    # A float32 array given for float16 logits decides the task's gradient type: float32.
    det32 = np.empty(z.shape, np.float32)
    result = reference.step(**batch, det_logits_grad=det32)
    assert result.det_logits_grad is det32 and result.seg_logits_grad.dtype == np.float16
    assert np.array_equal(det32.astype(np.float16), det_out)


def test_float16_errors(reference: reg.Engine) -> None:
    import re

    def raises(exception: type, message: str):
        return pytest.raises(exception, match=re.escape(message))

    batch = halves(step_batch(np.random.default_rng(27), sigma_maps=True))
    bad = dict(batch, det_logits=batch["det_logits"].copy())
    bad["det_logits"][2, 1] = np.nan
    with raises(reg.InvalidArgument, "invalid argument det_logits[2, 1]: must be finite, got nan"):
        reference.step(**bad)
    bad["det_logits"][2, 1] = np.float16(np.inf)
    with raises(reg.InvalidArgument, "invalid argument det_logits[2, 1]: must be finite, got inf"):
        reference.step(**bad)
    bad = dict(batch, det_targets=batch["det_targets"].copy())
    bad["det_targets"][4, 0] = 1.5
    with raises(reg.InvalidArgument, "invalid argument det_targets[4, 0]: must be in [0, 1], got 1.5"):
        reference.step(**bad)
    with raises(reg.InvalidArgument, "invalid argument det_sigma_grad: must be a writeable C-contiguous float16 array"):
        reference.step(**batch, det_sigma_grad=np.empty(batch["det_logits"].shape, np.float32))
    with raises(reg.InvalidArgument, "invalid argument seg_logits_grad: must be a writeable C-contiguous float16 array"):
        reference.step(**batch, gradient_dtype="float16", seg_logits_grad=np.empty(batch["seg_logits"].shape, np.float32))
    with raises(reg.InvalidArgument, "invalid argument gradient_dtype: is float64; expected float32 or float16"):
        reference.step(**batch, gradient_dtype=np.float64)
    with raises(reg.InvalidArgument, "invalid argument gradient_dtype: is 'half-ish'; expected 'float32' or 'float16'"):
        reference.focal_loss(batch["det_logits"], batch["det_targets"], gradient_dtype="half-ish")
    with raises(TypeError, "invalid argument gradient_dtype: bfloat16 is not supported"):
        reference.step(**batch, gradient_dtype="bfloat16")


def test_bfloat16_is_refused(reference: reg.Engine) -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes (NumPy's bfloat16, installed with jax) is missing")
    batch = step_batch(np.random.default_rng(28))
    bf16 = batch["det_logits"].astype(ml_dtypes.bfloat16)
    with pytest.raises(TypeError, match=r"invalid argument det_logits: bfloat16 is not supported; pass float32 or float16"):
        reference.step(**dict(batch, det_logits=bf16))
    with pytest.raises(TypeError, match=r"invalid argument targets: bfloat16 is not supported"):
        reference.focal_loss(batch["det_logits"], batch["det_targets"].astype(ml_dtypes.bfloat16))


# MARK: PyTorch and JAX


def test_torch_float16(reference: reg.Engine) -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed (tools/test-python.sh installs it)")
    import reg.torch as rt

    batch = halves(step_batch(np.random.default_rng(29)))
    det_logits = torch.from_numpy(batch["det_logits"].copy()).requires_grad_()
    seg_logits = torch.from_numpy(batch["seg_logits"].copy()).requires_grad_()
    others = {k: torch.from_numpy(v) for k, v in batch.items() if k not in ("det_logits", "seg_logits")}
    det = reg.TaskSettings(normalizer="positives")
    loss_fn = rt.REGLoss(det, reg.TaskSettings(activation="softmax"), lambda_=0.5, engine=reference)
    loss = loss_fn(det_logits=det_logits, seg_logits=seg_logits, **others)
    assert loss.dtype == torch.float16 and others["det_targets"].dtype == torch.float16
    (2.0 * loss).backward()
    expected = reference.step(**widened(batch), detection=det, segmentation=reg.TaskSettings(activation="softmax"),
                              lambda_=0.5)
    assert loss_fn.last_result.total == expected.total
    assert det_logits.grad.dtype == torch.float16 and seg_logits.grad.dtype == torch.float16
    # The backward pass multiplies the float16 gradient by 2 (exact).
    assert np.array_equal(det_logits.grad.numpy(), 2 * expected.det_logits_grad.astype(np.float16))
    assert np.array_equal(seg_logits.grad.numpy(), 2 * expected.seg_logits_grad.astype(np.float16))
    with pytest.raises(TypeError, match=r"invalid argument det_logits: bfloat16 is not supported"):
        loss_fn(det_logits=det_logits.detach().to(torch.bfloat16), **{k: v for k, v in others.items() if k.startswith("det")})
    with pytest.raises(TypeError, match=r"invalid argument det_targets: bfloat16 is not supported"):
        loss_fn(det_logits=det_logits, det_targets=others["det_targets"].to(torch.bfloat16),
                det_points=others["det_points"], det_boxes=others["det_boxes"])


def test_jax_float16(reference: reg.Engine) -> None:
    jax = pytest.importorskip("jax", reason="jax is not installed (tools/test-python.sh installs it)")
    import jax.numpy as jnp
    import reg.jax as rj

    batch = halves(step_batch(np.random.default_rng(30)))
    expected = reference.step(**widened(batch))
    loss = rj.step_loss(engine=reference)
    value, (gd, gs) = jax.value_and_grad(loss, argnums=(0, 1))(
        jnp.asarray(batch["det_logits"]), jnp.asarray(batch["seg_logits"]), batch["det_targets"], batch["det_points"],
        batch["det_boxes"], batch["seg_labels"])
    expect_loss(float(value), expected.total)
    assert gd.dtype == jnp.float16 and gs.dtype == jnp.float16
    # The backward pass multiplies REG's float16 gradient by the cotangent in XLA, which flushes
    # float16 subnormals (below 2^-14) to zero on the CPU; every other element is REG's exactly.
    for got, want in ((np.asarray(gd), expected.det_logits_grad), (np.asarray(gs), expected.seg_logits_grad)):
        want = want.astype(np.float16)
        assert ((got == want) | ((got == 0) & (np.abs(want) < np.float16(2.0 ** -14)))).all()
    with pytest.raises(TypeError, match=r"invalid argument det_logits: bfloat16 is not supported"):
        loss(jnp.asarray(batch["det_logits"]).astype(jnp.bfloat16), None, batch["det_targets"], batch["det_points"],
             batch["det_boxes"])
