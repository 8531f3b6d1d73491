"""The NumPy API against values written out in NumPy (float64) on small cases, and the OpenCL
device against the float64 reference (docs/math.md §7)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import reg
from conftest import expect_gradient, expect_loss


# MARK: Focal loss written out in NumPy


def focal_numpy(z: np.ndarray, y: np.ndarray, gamma: float, alpha=None, g=None):
    """ℓ = α_c·|y − p|^γ·BCE(p, y)·g and ∂ℓ/∂z for sigmoid p, in float64 (docs/math.md §1)."""
    z = z.astype(np.float64)
    y = y.astype(np.float64)
    p = 1 / (1 + np.exp(-z))
    log_p = -np.logaddexp(0, -z)
    log_q = -np.logaddexp(0, z)
    bce = -(y * log_p + (1 - y) * log_q)
    u = p - y
    modulating = np.abs(u) ** gamma
    loss = modulating * bce
    # d|u|^γ/dz = γ|u|^(γ−1)·sign(u)·p(1 − p); dBCE/dz = p − y.
    grad = modulating * (p - y) + bce * gamma * np.abs(u) ** (gamma - 1) * np.sign(u) * p * (1 - p)
    weight = np.ones_like(z)
    if alpha is not None:
        weight = weight * np.asarray(alpha, np.float64)[np.newaxis, :]
    if g is not None:
        weight = weight * g
    return loss * weight, grad * weight


def detection_case(rng: np.random.Generator, n: int = 40, c: int = 5):
    z = rng.normal(0, 2, (n, c)).astype(np.float32)
    y = (rng.random((n, c)) < 0.2).astype(np.float32)
    y[0, 0] = 0.3  # a soft target
    return z, y


def test_focal_loss_alpha_1_gamma_2_against_numpy(reference: reg.Engine) -> None:
    rng = np.random.default_rng(1)
    z, y = detection_case(rng)
    loss, grad = focal_numpy(z, y, 2.0)
    n = z.shape[0]
    r = reference.focal_loss(z, y, gamma=2.0)
    expect_loss(r.loss, loss.sum() / n)
    assert r.count == n and r.divisor == n and r.positives == int((y > 0).any(axis=1).sum())
    expect_gradient(r.gradient, grad / n)
    assert r.backend == "reference" and r.element_loss is None and r.sigma_gradient is None


def test_focal_loss_settings_against_numpy(reference: reg.Engine) -> None:
    rng = np.random.default_rng(2)
    z, y = detection_case(rng, 30, 4)
    alpha = np.array([1.0, 2.0, 0.5, 73.0], np.float32)
    d = rng.uniform(0, 20, z.shape).astype(np.float32)
    d[3, 1] = np.inf
    beta, delta = 0.5, 8.0
    g = 1 / (1 + np.exp(-beta * (d.astype(np.float64) - delta)))
    loss, grad = focal_numpy(z, y, 1.5, alpha, g)
    # Sum, with α, a real γ and the refinement.
    r = reference.focal_loss(z, y, alpha=alpha, gamma=1.5, distances=d, beta=beta, delta=delta, reduction="sum")
    expect_loss(r.loss, loss.sum())
    assert r.divisor == 1
    expect_gradient(r.gradient, grad)
    # The positives normaliser, and ℓ per element.
    positives = int((y > 0).any(axis=1).sum())
    r = reference.focal_loss(z, y, alpha=alpha, gamma=1.5, distances=d, normalizer="positives")
    expect_loss(r.loss, loss.sum() / positives)
    expect_gradient(r.gradient, grad / positives)
    r = reference.focal_loss(z, y, alpha=alpha, gamma=1.5, distances=d, reduction="none")
    assert r.element_loss is not None
    expect_gradient(r.element_loss, loss, "element loss")
    # A given M.
    r = reference.focal_loss(z, y, alpha=alpha, gamma=1.5, distances=d, normalizer=400.0)
    expect_loss(r.loss, loss.sum() / 400)


def test_focal_loss_segmentation_against_numpy(reference: reg.Engine) -> None:
    rng = np.random.default_rng(3)
    b, c, h, w = 2, 3, 6, 5
    z = rng.normal(0, 2, (b, c, h, w)).astype(np.float32)
    labels = rng.integers(0, c + 1, (b, h, w)).astype(np.uint8)
    labels[0, 0, :] = 255
    # The one-hot target of channel k − 1 is [label = k]; ignored pixels contribute nothing.
    y = np.stack([(labels == k + 1) for k in range(c)], axis=1).astype(np.float32)
    keep = (labels != 255)[:, np.newaxis, :, :]
    zf = z.transpose(0, 2, 3, 1).reshape(-1, c)
    yf = y.transpose(0, 2, 3, 1).reshape(-1, c)
    loss, grad = focal_numpy(zf, yf, 2.0)
    loss = loss.reshape(b, h, w, c).transpose(0, 3, 1, 2) * keep
    grad = grad.reshape(b, h, w, c).transpose(0, 3, 1, 2) * keep
    count = int((labels != 255).sum())
    r = reference.focal_loss(z, labels=labels, gamma=2.0)
    assert r.count == count
    expect_loss(r.loss, loss.sum() / count)
    expect_gradient(r.gradient, grad / count)
    # int64 labels are checked and converted once: the same result.
    r64 = reference.focal_loss(z, labels=labels.astype(np.int64), gamma=2.0)
    assert r64.loss == r.loss and np.array_equal(r64.gradient, r.gradient)


# MARK: Device against the reference


def test_focal_loss_device_matches_reference(reference: reg.Engine, device: reg.Engine) -> None:
    rng = np.random.default_rng(4)
    z, y = detection_case(rng, 200, 7)
    d = rng.uniform(0, 30, z.shape).astype(np.float32)
    sigma_map = rng.uniform(0, 0.2, z.shape).astype(np.float32)
    alpha = np.array([18.25, 36.5, 5.21, 2.43, 73, 4.56, 12.17], np.float32)
    cases = [
        dict(alpha=alpha, gamma=2.0),
        dict(gamma=0.5, distances=d, beta=-0.25, delta=4.0, positive_fraction=0.25, normalizer="positives"),
        dict(gamma=2.0, sigma=0.05, reduction="sum"),
        dict(gamma=3.0, sigma=sigma_map, distances=d, reduction="none"),
    ]
    for settings in cases:
        ref = reference.focal_loss(z, y, **settings)
        dev = device.focal_loss(z, y, **settings)
        assert dev.backend == "opencl" and ref.backend == "reference"
        expect_loss(dev.loss, ref.loss, f"loss {settings.keys()}")
        expect_loss(dev.sum, ref.sum, "sum")
        assert (dev.count, dev.positives, dev.divisor) == (ref.count, ref.positives, ref.divisor)
        expect_gradient(dev.gradient, ref.gradient)
        if isinstance(ref.sigma_gradient, np.ndarray):
            expect_gradient(dev.sigma_gradient, ref.sigma_gradient, "σ gradient")
        elif ref.sigma_gradient is not None:
            assert abs(dev.sigma_gradient - ref.sigma_gradient) <= 1e-5 * max(1.0, abs(ref.sigma_gradient))
    # Segmentation, softmax.
    z = rng.normal(0, 3, (2, 4, 16, 12)).astype(np.float32)
    labels = rng.integers(0, 5, (2, 16, 12)).astype(np.uint8)
    labels[1, 3:6, 2:9] = 255
    d = reference.edt(labels, 4)
    ref = reference.focal_loss(z, labels=labels, activation="softmax", distances=d, beta=0.5, delta=3.0)
    dev = device.focal_loss(z, labels=labels, activation="softmax", distances=d, beta=0.5, delta=3.0)
    expect_loss(dev.loss, ref.loss)
    expect_gradient(dev.gradient, ref.gradient)


def step_batch(rng: np.random.Generator, sigma_maps: bool = False) -> dict:
    n, c, images = 64, 5, 3
    det_points = np.stack([rng.integers(0, images, n), rng.uniform(0, 64, n), rng.uniform(0, 64, n)], axis=1)
    boxes = []
    for image in range(images):
        for _ in range(3):
            x1, y1 = rng.uniform(0, 50, 2)
            boxes.append([image, rng.integers(1, c + 1), x1, y1, x1 + rng.uniform(1, 14), y1 + rng.uniform(1, 14)])
    b, sc, h, w = 2, 3, 16, 16
    labels = rng.integers(0, sc + 1, (b, h, w)).astype(np.uint8)
    labels[0, :2, :] = 255
    batch = dict(
        det_logits=rng.normal(0, 2, (n, c)).astype(np.float32),
        det_targets=(rng.random((n, c)) < 0.15).astype(np.float32),
        det_points=det_points.astype(np.float32),
        det_boxes=np.array(boxes, np.float32),
        seg_logits=rng.normal(0, 2, (b, sc, h, w)).astype(np.float32),
        seg_labels=labels,
    )
    if sigma_maps:
        batch["det_sigma"] = rng.uniform(0, 0.1, (n, c)).astype(np.float32)
        batch["seg_sigma"] = rng.uniform(0, 0.1, (b, sc, h, w)).astype(np.float32)
    return batch


@pytest.mark.parametrize("sigma_maps", [False, True])
def test_step_device_matches_reference(reference: reg.Engine, device: reg.Engine, sigma_maps: bool) -> None:
    batch = step_batch(np.random.default_rng(5), sigma_maps)
    det = reg.TaskSettings(alpha=[1, 2, 3, 0.5, 73], sigma=0 if sigma_maps else 0.05)
    seg = reg.TaskSettings(activation="softmax", beta=-0.25, delta=2.0, normalizer="positives")
    ref = reference.step(**batch, detection=det, segmentation=seg, lambda_=0.7)
    dev = device.step(**batch, detection=det, segmentation=seg, lambda_=0.7)
    assert ref.backend == "reference" and dev.backend == "opencl"
    expect_loss(dev.total, ref.total, "total")
    for got, expected in [(dev.detection, ref.detection), (dev.segmentation, ref.segmentation)]:
        assert got is not None and expected is not None
        expect_loss(got.sum, expected.sum, "sum")
        assert (got.count, got.positives, got.divisor) == (expected.count, expected.positives, expected.divisor)
    expect_gradient(dev.det_logits_grad, ref.det_logits_grad, "det gradient")
    expect_gradient(dev.seg_logits_grad, ref.seg_logits_grad, "seg gradient")
    if sigma_maps:
        expect_gradient(dev.det_sigma_grad, ref.det_sigma_grad, "det σ gradient")
        expect_gradient(dev.seg_sigma_grad, ref.seg_sigma_grad, "seg σ gradient")
    else:
        assert ref.detection.sigma_gradient is not None and dev.det_sigma_grad is None


def test_step_equals_composed_operations(reference: reg.Engine) -> None:
    """The step's losses and gradients from the single operations: box distances and the EDT, then
    the focal loss with those distances; L_total = L_det + λ·L_seg, the seg gradient scaled by λ."""
    batch = step_batch(np.random.default_rng(6))
    lam = 0.7
    result = reference.step(**batch, lambda_=lam)
    d_det = reg.box_distance(batch["det_points"], batch["det_boxes"], 5, engine=reference)
    det = reference.focal_loss(batch["det_logits"], batch["det_targets"], distances=d_det, beta=0.5, delta=8.0)
    d_seg = reg.edt(batch["seg_labels"], 3, engine=reference)
    seg = reference.focal_loss(batch["seg_logits"], labels=batch["seg_labels"], distances=d_seg, beta=0.5, delta=8.0)
    expect_loss(result.detection.loss, det.loss, "det loss")
    expect_loss(result.segmentation.loss, seg.loss, "seg loss")
    expect_loss(result.total, det.loss + lam * seg.loss, "total")
    expect_gradient(result.det_logits_grad, det.gradient)
    expect_gradient(result.seg_logits_grad, lam * seg.gradient)


def test_step_reads_and_writes_in_place(reference: reg.Engine) -> None:
    batch = step_batch(np.random.default_rng(7))
    det_out = np.full(batch["det_logits"].shape, np.nan, np.float32)
    seg_out = np.full(batch["seg_logits"].shape, np.nan, np.float32)
    result = reference.step(**batch, det_logits_grad=det_out, seg_logits_grad=seg_out)
    assert result.det_logits_grad is det_out and result.seg_logits_grad is seg_out
    assert np.isfinite(det_out).all() and np.isfinite(seg_out).all()
    # Other layouts and types are converted once: the same numbers.
    converted = dict(batch)
    converted["det_logits"] = np.asfortranarray(batch["det_logits"].astype(np.float64))
    converted["det_targets"] = batch["det_targets"].tolist()
    converted["seg_logits"] = batch["seg_logits"][:, :, ::-1, :][:, :, ::-1, :]  # a non-contiguous view
    converted["seg_labels"] = batch["seg_labels"].astype(np.int32)
    again = reference.step(**converted)
    assert again.total == result.total
    assert np.array_equal(again.det_logits_grad, det_out) and np.array_equal(again.seg_logits_grad, seg_out)
    # A gradient array REG cannot write in place is refused, not silently copied.
    with pytest.raises(reg.InvalidArgument, match="det_logits_grad: must be a writeable C-contiguous float32"):
        reference.step(**batch, det_logits_grad=np.zeros(batch["det_logits"].shape, np.float64))


def test_one_engine_from_several_threads(device: reg.Engine) -> None:
    batch = step_batch(np.random.default_rng(8))
    serial = device.step(**batch)
    results: list = [None] * 4

    def work(i: int) -> None:
        results[i] = device.step(**batch)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert r.total == serial.total and np.array_equal(r.det_logits_grad, serial.det_logits_grad)


# MARK: Distances and refinement against NumPy


def edt_numpy(labels: np.ndarray, classes: int) -> np.ndarray:
    b, h, w = labels.shape
    ys, xs = np.mgrid[0:h, 0:w]
    out = np.full((b, classes, h, w), np.inf)
    for i in range(b):
        for k in range(classes):
            on = np.argwhere(labels[i] == k + 1)
            if len(on) == 0:
                continue
            d2 = (ys[..., None] - on[:, 0]) ** 2 + (xs[..., None] - on[:, 1]) ** 2
            out[i, k] = np.sqrt(d2.min(axis=-1))
    return out


@pytest.mark.parametrize("engine_name", ["reference", "device"])
def test_edt_against_numpy(engine_name: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(engine_name)
    rng = np.random.default_rng(9)
    labels = np.zeros((2, 13, 11), np.uint8)
    labels[0][rng.random((13, 11)) < 0.05] = 1
    labels[0, 6, 4] = 2
    labels[1][rng.random((13, 11)) < 0.1] = 3
    labels[1, 0, :] = 255  # ignored: ground truth of no class
    expected = edt_numpy(labels, 3)
    got = reg.edt(labels, 3, engine=engine)
    assert got.shape == (2, 3, 13, 11) and got.dtype == np.float32
    assert np.array_equal(np.isinf(got), np.isinf(expected))
    finite = np.isfinite(expected)
    assert np.allclose(got[finite], expected[finite], rtol=2.4e-7, atol=0)
    squared = reg.edt(labels, 3, squared=True, engine=engine)
    assert np.array_equal(squared[finite], (expected[finite] ** 2).round().astype(np.float32))
    # One map; classes from the labels.
    single = reg.edt(labels[0], engine=engine)
    assert single.shape == (2, 13, 11)
    assert np.array_equal(single, got[0, :2])


@pytest.mark.parametrize("engine_name", ["reference", "device"])
def test_box_distance_against_numpy(engine_name: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(engine_name)
    rng = np.random.default_rng(10)
    points = np.stack([rng.integers(0, 2, 50), rng.uniform(-5, 60, 50), rng.uniform(-5, 60, 50)], axis=1)
    boxes = np.array([[0, 1, 10, 10, 20, 30], [0, 1, 40, 0, 45, 5], [1, 2, 0, 0, 8, 8], [1, 3, 30, 30, 30, 30]],
                     np.float64)
    got = reg.box_distance(points, boxes, 3, engine=engine)
    expected = np.full((50, 3), np.inf)
    for n, (image, x, y) in enumerate(points):
        for image_b, k, x1, y1, x2, y2 in boxes:
            if image_b != image:
                continue
            dx = max(x1 - x, 0.0, x - x2)
            dy = max(y1 - y, 0.0, y - y2)
            expected[n, int(k) - 1] = min(expected[n, int(k) - 1], np.hypot(dx, dy))
    # The points were rounded to float32 on the way in: compare with NumPy on the same values.
    assert np.array_equal(np.isinf(got), np.isinf(expected))
    finite = np.isfinite(expected)
    assert np.allclose(got[finite], expected[finite], rtol=1e-5, atol=1e-4)
    assert reg.box_distance(points, np.zeros((0, 6)), 3, engine=engine).min() == np.inf


@pytest.mark.parametrize("engine_name", ["reference", "device"])
def test_refine_against_numpy(engine_name: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(engine_name)
    d = np.array([[0, 4, 8, 12], [100, np.inf, -3, 8.5]], np.float32)
    for beta, delta in [(0.5, 8.0), (-0.25, 2.0), (0.0, 1.0)]:
        got = reg.refine(d, beta, delta, engine=engine)
        assert got.shape == d.shape and got.dtype == np.float32
        with np.errstate(invalid="ignore"):
            t = beta * (d.astype(np.float64) - delta)
            expected = np.where(np.isinf(d), 1.0 if beta > 0 else (0.0 if beta < 0 else 0.5), 1 / (1 + np.exp(-t)))
        assert np.max(np.abs(got - expected)) <= 1e-6


def test_version_and_library() -> None:
    api, text = reg.version()
    assert api == 1 and text == reg.__version__
    assert reg.library_path().name == "libregc.so"
