"""reg.torch: REGLoss against the NumPy API on the reference, finite differences of REG's own
loss (torch.autograd.gradcheck), torchvision's sigmoid focal loss written out in torch, and a
two-process gloo run equal to one process on the whole batch."""

from __future__ import annotations

import gc
import os
import socket
import sys

import numpy as np
import pytest

import reg

torch = pytest.importorskip("torch", reason="torch is not installed (tools/test-python.sh installs it)")
import reg.torch as rt  # noqa: E402

from conftest import expect_gradient, expect_loss  # noqa: E402


def batch(seed: int = 0, n: int = 48, classes: int = 5, images: int = 4, b: int = 2, h: int = 12, w: int = 10):
    """A detection + segmentation batch as tensors (float32 logits that require gradients)."""
    rng = np.random.default_rng(seed)
    det = dict(
        det_logits=torch.tensor(rng.normal(0, 2, (n, classes)), dtype=torch.float32, requires_grad=True),
        det_targets=torch.tensor((rng.random((n, classes)) < 0.15), dtype=torch.float32),
        det_points=torch.tensor(np.c_[rng.integers(0, images, n), rng.uniform(0, 40, (n, 2))], dtype=torch.float32),
        det_boxes=torch.tensor([[i, 1 + i % classes, 5, 6, 20 + i, 25] for i in range(images)], dtype=torch.float32),
        det_images=images,
    )
    seg = dict(
        seg_logits=torch.tensor(rng.normal(0, 2, (b, classes, h, w)), dtype=torch.float32, requires_grad=True),
        seg_labels=torch.tensor(rng.choice([0, 1, 2, 3, 4, 5, 255], (b, h, w)), dtype=torch.uint8),
    )
    return det, seg


SETTINGS = [
    (reg.TaskSettings(alpha=[2, 1, 0.5, 3, 1]), reg.TaskSettings(activation="softmax", normalizer="positives")),
    (reg.TaskSettings(normalizer="positives", gamma=1.5, sigma=0.2),
     reg.TaskSettings(refinement=False, positive_fraction=0.25)),
]


@pytest.mark.parametrize("detection, segmentation", SETTINGS)
def test_loss_and_gradients_equal_the_step(reference: reg.Engine, detection, segmentation) -> None:
    det, seg = batch()
    loss_fn = rt.REGLoss(detection, segmentation, lambda_=0.7, engine=reference)
    loss = loss_fn(**det, **seg)
    (3.0 * loss).backward()  # the backward pass multiplies by the incoming gradient
    numpy = {k: v.detach().numpy() if isinstance(v, torch.Tensor) else v for k, v in {**det, **seg}.items()}
    expected = reference.step(**numpy, detection=detection, segmentation=segmentation, lambda_=0.7)
    assert loss.dtype == torch.float32 and loss.shape == ()
    expect_loss(loss.item(), expected.total)
    assert loss_fn.last_result.total == expected.total
    assert loss_fn.last_result.detection.count == 48
    expect_gradient(det["det_logits"].grad.numpy(), 3.0 * expected.det_logits_grad, "det_logits")
    expect_gradient(seg["seg_logits"].grad.numpy(), 3.0 * expected.seg_logits_grad, "seg_logits")


def test_one_task_and_int64_labels(reference: reg.Engine) -> None:
    det, seg = batch(1)
    seg["seg_labels"] = seg["seg_labels"].to(torch.int64)
    loss = rt.REGLoss(segmentation={"activation": "softmax"}, engine=reference)(**seg)
    loss.backward()
    expected = reference.step(seg_logits=seg["seg_logits"].detach().numpy(), seg_labels=seg["seg_labels"].numpy(),
                              segmentation=reg.TaskSettings(activation="softmax"))
    expect_loss(loss.item(), expected.total)
    expect_gradient(seg["seg_logits"].grad.numpy(), expected.seg_logits_grad)
    loss = rt.REGLoss(engine=reference)(**det)
    loss.backward()
    assert det["det_logits"].grad is not None


def test_sigma_map_gradient(reference: reg.Engine) -> None:
    det, _ = batch(2)
    sigma = torch.full(det["det_logits"].shape, 0.3, requires_grad=True)
    loss = rt.REGLoss(engine=reference)(**det, det_sigma=sigma)
    loss.backward()
    numpy = {k: v.detach().numpy() if isinstance(v, torch.Tensor) else v for k, v in det.items()}
    expected = reference.step(**numpy, det_sigma=sigma.detach().numpy())
    expect_gradient(sigma.grad.numpy(), expected.det_sigma_grad, "det_sigma")


def test_gradcheck_against_finite_differences_of_reg(reference: reg.Engine) -> None:
    """float64 tensors on the float64 reference: the inputs are multiples of 1/64 and the step
    2⁻⁷, so z ± eps are exact in the float32 the step reads; the loss is REG's float64 total."""
    rng = np.random.default_rng(3)
    n, classes = 6, 3
    z = torch.tensor(np.round(rng.normal(0, 1.5, (n, classes)) * 64) / 64, dtype=torch.float64, requires_grad=True)
    s = torch.tensor(np.round(rng.normal(0, 1.5, (1, classes, 3, 4)) * 64) / 64, dtype=torch.float64,
                     requires_grad=True)
    y = torch.tensor(rng.random((n, classes)) < 0.3, dtype=torch.float64)
    p = torch.tensor(np.c_[np.zeros(n), rng.uniform(0, 20, (n, 2))], dtype=torch.float64)
    boxes = torch.tensor([[0, 1, 2, 2, 9, 9], [0, 3, 5, 1, 15, 12]], dtype=torch.float64)
    labels = torch.tensor(rng.integers(0, classes + 1, (1, 3, 4)), dtype=torch.uint8)
    loss_fn = rt.REGLoss(reg.TaskSettings(alpha=[1, 2, 0.5], beta=0.3, delta=4.0),
                         reg.TaskSettings(activation="softmax"), lambda_=0.5, engine=reference)

    def f(det_logits, seg_logits):
        return loss_fn(det_logits=det_logits, det_targets=y, det_points=p, det_boxes=boxes, seg_logits=seg_logits,
                       seg_labels=labels)

    assert f(z, s).dtype == torch.float64
    assert torch.autograd.gradcheck(f, (z, s), eps=2.0 ** -7, atol=2e-5, rtol=1e-3)


def test_torchvision_sigmoid_focal_loss(reference: reg.Engine) -> None:
    """torchvision.ops.sigmoid_focal_loss (α = 0.25, γ = 2, sum) written out in torch, and its
    autograd gradient, ↔ REG with α = 1, positive_fraction = 0.25, no refinement, M = 1; the mean
    reduction ↔ M = N·C."""
    rng = np.random.default_rng(4)
    n, classes = 40, 4
    z = torch.tensor(rng.normal(0, 2, (n, classes)), dtype=torch.float32, requires_grad=True)
    y = torch.tensor(rng.random((n, classes)) < 0.2, dtype=torch.float32)
    points = torch.zeros((n, 3))

    def torchvision(inputs, targets, alpha=0.25, gamma=2.0):
        p = torch.sigmoid(inputs)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
        p_t = p * targets + (1 - p) * (1 - targets)
        loss = ce * ((1 - p_t) ** gamma)
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        return alpha_t * loss

    zd = z.detach().double().requires_grad_()
    expected = torchvision(zd, y.double()).sum()
    expected.backward()
    for normalizer, scale in [(1.0, 1.0), (float(n * classes), 1.0 / (n * classes))]:
        z.grad = None
        settings = reg.TaskSettings(refinement=False, positive_fraction=0.25, gamma=2.0, normalizer=normalizer)
        loss = rt.REGLoss(settings, engine=reference)(det_logits=z, det_targets=y, det_points=points)
        loss.backward()
        expect_loss(loss.item(), expected.item() * scale)
        expect_gradient(z.grad.numpy(), zd.grad.numpy() * scale, "torchvision gradient")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, library: str, out: str, normalizers) -> None:
    os.environ["REG_LIBRARY"] = str(library)
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                         world_size=world)
    try:
        _ddp_shard_step(rank, world, out, normalizers)
        # Both ranks done before either tears gloo down: a rank that exits while its peer still
        # talks can abort the peer's gloo thread.
        torch.distributed.barrier()
    finally:
        torch.distributed.destroy_process_group()
    # The step's tensors, the DDP module and its reducer are gone (the function returned; the
    # collection frees their cycles) while the interpreter is whole. The worker then leaves without
    # Python's finalisation: a gloo thread that still drops a tensor then needs the GIL, and taking
    # it during finalisation aborts the process ("terminate called without an active exception",
    # seen once in CI, in torch's teardown after this worker's work was done). Failures above raise
    # before this line and reach mp.spawn as usual.
    gc.collect()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _ddp_shard_step(rank: int, world: int, out: str, normalizers) -> None:
    import reg.torch as rt_

    det, seg = batch()
    # This worker's shard: whole images (samples of its images, all boxes) and whole label maps.
    images = det["det_points"][:, 0].long()
    mine = (images % world) == rank
    model = torch.nn.parallel.DistributedDataParallel(_model())
    features = _features()
    det_logits, seg_logits = _heads(model, features)
    shard = dict(det_logits=det_logits[mine], det_targets=det["det_targets"][mine],
                 det_points=det["det_points"][mine], det_boxes=det["det_boxes"], det_images=det["det_images"],
                 seg_logits=seg_logits[rank::world], seg_labels=seg["seg_labels"][rank::world])
    loss_fn = rt_.REGLoss(reg.TaskSettings(normalizer=normalizers[0]),
                          reg.TaskSettings(activation="softmax", normalizer=normalizers[1]),
                          lambda_=0.7, engine=reg.Engine("reference"))
    loss = loss_fn(**shard)
    loss.backward()  # DDP averages the parameter gradients over the two workers
    total = loss.detach().clone()
    torch.distributed.all_reduce(total)
    if rank == 0:
        grads = {name: p.grad.numpy() for name, p in model.module.named_parameters()}
        np.savez(out, total=float(total) / world, **grads)


def _model() -> "torch.nn.Module":
    torch.manual_seed(0)
    return torch.nn.Linear(8, 5)


def _features():
    """Fixed inputs: 48 detection samples and 2·12·10 pixels of 8 features each."""
    g = torch.Generator().manual_seed(1)
    return torch.randn(48, 8, generator=g), torch.randn(2, 12, 10, 8, generator=g)


def _heads(model, features):
    det_features, seg_features = features
    return model(det_features) * 2, model(seg_features).permute(0, 3, 1, 2).contiguous()


@pytest.mark.parametrize("normalizers", [("samples", "samples"), ("positives", "positives")])
def test_ddp_two_processes_equal_one(tmp_path, reference: reg.Engine, normalizers) -> None:
    import torch.multiprocessing as mp

    out = str(tmp_path / "rank0.npz")
    mp.spawn(_ddp_worker, args=(2, _free_port(), reg.library_path(), out, normalizers), nprocs=2, join=True)
    got = np.load(out)

    det, seg = batch()
    model = _model()
    det_logits, seg_logits = _heads(model, _features())
    loss_fn = rt.REGLoss(reg.TaskSettings(normalizer=normalizers[0]),
                         reg.TaskSettings(activation="softmax", normalizer=normalizers[1]),
                         lambda_=0.7, engine=reference, distributed=False)
    loss = loss_fn(det_logits=det_logits, det_targets=det["det_targets"], det_points=det["det_points"],
                   det_boxes=det["det_boxes"], det_images=det["det_images"], seg_logits=seg_logits,
                   seg_labels=seg["seg_labels"])
    loss.backward()
    assert abs(float(got["total"]) - loss.item()) <= 1e-5 * max(1.0, abs(loss.item()))
    for name, p in model.named_parameters():
        expect_gradient(got[name], p.grad.numpy(), name)


def test_task_counts_equal_the_steps(reference: reg.Engine) -> None:
    det, seg = batch(5)
    loss_fn = rt.REGLoss(engine=reference)
    loss_fn(**det, **seg)
    counts = rt.task_counts(det["det_targets"], seg["seg_labels"], 5).tolist()
    r = loss_fn.last_result
    assert counts == [r.detection.count, r.detection.positives, r.segmentation.count, r.segmentation.positives]
