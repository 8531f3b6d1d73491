#!/usr/bin/env python3
"""The Python binding's overhead on one realistic batch (docs/benchmarks-notes.md, "Python binding
overhead"); run by tools/bench-binding.sh, which builds the release libregc.so and sets REG_LIBRARY.

Batch: detection N = 20 000 anchors x 7 classes over 4 images (5 000 anchor points each on a
512 x 512 grid, ~20 boxes per image, one-hot targets of the box an anchor lies in); segmentation
4 x 5 x 256 x 256 logits with uint8 labels of ~6 rectangles per image. Refinement on both tasks
(beta = 0.5, delta = 8, gamma = 2, alpha by inverse frequency of the paper's counts, sigma = 0,
lambda = 1, normaliser "samples").

Timed, per device ("reference", then "0"), after warm-up, median and spread of the repeats:
  (a) Engine.step on NumPy arrays, gradients written into preallocated arrays;
  (b) reg.torch.REGLoss forward + backward on CPU torch tensors;
  (c) a PyTorch-only eager loss (scipy EDT per image and class, point-to-box distances in torch,
      g = sigmoid(beta (d - delta)), focal term in torch ops, loss.backward()); device-independent;
  (d) reg.jax.step_loss under jax.jit(jax.value_and_grad(..., argnums=(0, 1))).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import scipy.ndimage
import torch

import reg
import reg.torch

DET_COUNTS = [200, 100, 700, 1500, 50, 800, 300]
SEG_COUNTS = [100, 50, 500, 400, 150]
BETA, DELTA, GAMMA, LAMBDA = 0.5, 8.0, 2.0, 1.0


def alpha(counts):
    c = np.asarray(counts, np.float64)
    return (c.sum() / c).astype(np.float32)  # inverse frequency, docs/math.md §4


def make_batch(seed=0, images=4, anchors=20_000, classes=7, seg_classes=5, side=256, det_side=512):
    rng = np.random.default_rng(seed)
    per = anchors // images
    # Anchor points: image index, x, y (pixels).
    img = np.repeat(np.arange(images), per).astype(np.float32)
    xy = rng.uniform(0, det_side, size=(anchors, 2)).astype(np.float32)
    points = np.column_stack([img, xy]).astype(np.float32)
    boxes = []
    for b in range(images):
        for _ in range(int(rng.integers(18, 23))):
            cls = int(rng.integers(1, classes + 1))
            w, h = rng.uniform(16, 96, size=2)
            x1, y1 = rng.uniform(0, det_side - w), rng.uniform(0, det_side - h)
            boxes.append([b, cls, x1, y1, x1 + w, y1 + h])
    boxes = np.asarray(boxes, np.float32)
    targets = np.zeros((anchors, classes), np.float32)
    for bx in boxes:  # one-hot: an anchor inside a box is positive for its class (last box wins)
        b, cls, x1, y1, x2, y2 = bx
        inside = (points[:, 0] == b) & (points[:, 1] >= x1) & (points[:, 1] <= x2) & \
                 (points[:, 2] >= y1) & (points[:, 2] <= y2)
        targets[inside] = 0.0
        targets[inside, int(cls) - 1] = 1.0
    det_logits = rng.normal(-2.0, 1.5, size=(anchors, classes)).astype(np.float32)
    labels = np.zeros((images, side, side), np.uint8)
    for b in range(images):
        for _ in range(6):
            k = int(rng.integers(1, seg_classes + 1))
            h, w = rng.integers(20, 90, size=2)
            y0, x0 = rng.integers(0, side - h), rng.integers(0, side - w)
            labels[b, y0:y0 + h, x0:x0 + w] = k
    seg_logits = rng.normal(-1.0, 1.5, size=(images, seg_classes, side, side)).astype(np.float32)
    return dict(det_logits=det_logits, det_targets=targets, det_points=points, det_boxes=boxes,
                det_images=images, seg_logits=seg_logits, seg_labels=labels)


def settings(counts):
    return reg.TaskSettings(alpha=alpha(counts), gamma=GAMMA, refinement=True, beta=BETA, delta=DELTA, sigma=0.0)


# ---- (c) PyTorch-only eager loss, as a peer writes it today -------------------------------------

def torch_eager_loss(det_logits, det_targets, points, boxes, seg_logits, labels_np, det_alpha, seg_alpha):
    """L_total with autograd, every distance recomputed (scipy EDT on the host, boxes in torch)."""
    n, classes = det_logits.shape
    with torch.no_grad():
        # Point-to-box distance [N, M], inf across images, then the min over each class's boxes.
        px, py = points[:, 1:2], points[:, 2:3]
        x1, y1, x2, y2 = boxes[:, 2], boxes[:, 3], boxes[:, 4], boxes[:, 5]
        dx = torch.clamp(torch.maximum(x1 - px, px - x2), min=0)
        dy = torch.clamp(torch.maximum(y1 - py, py - y2), min=0)
        dist = torch.sqrt(dx * dx + dy * dy)
        dist = torch.where(points[:, 0:1] == boxes[:, 0], dist, torch.full_like(dist, float("inf")))
        box_class = boxes[:, 1].long() - 1
        d_det = torch.full((n, classes), float("inf"))
        for c in range(classes):
            sel = box_class == c
            if bool(sel.any()):
                d_det[:, c] = dist[:, sel].min(dim=1).values
        g_det = torch.sigmoid(BETA * (d_det - DELTA))
        # Per-class EDT of the label maps, one scipy call per image and class.
        b_count, seg_classes = seg_logits.shape[:2]
        d_seg = np.empty(seg_logits.shape, np.float32)
        for b in range(b_count):
            for c in range(seg_classes):
                mask = labels_np[b] == c + 1
                d_seg[b, c] = scipy.ndimage.distance_transform_edt(~mask) if mask.any() else np.inf
        g_seg = torch.sigmoid(BETA * (torch.from_numpy(d_seg) - DELTA))
        seg_targets = torch.nn.functional.one_hot(torch.from_numpy(labels_np).long(), seg_classes + 1)[..., 1:]
        seg_targets = seg_targets.permute(0, 3, 1, 2).float()

    def focal(z, y, a, g):
        p = torch.sigmoid(z)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none")
        return (a * (y - p).abs().pow(GAMMA) * bce * g).sum()

    l_det = focal(det_logits, det_targets, det_alpha, g_det) / n
    l_seg = focal(seg_logits, seg_targets, seg_alpha.view(1, -1, 1, 1), g_seg) / float(labels_np.size)
    return l_det + LAMBDA * l_seg


# ---- timing ---------------------------------------------------------------------------------------

def timed(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--devices", default="reference,0")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads for (b) and (c); 0 keeps torch's default (the core count)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    batch = make_batch()
    det_s, seg_s = settings(DET_COUNTS), settings(SEG_COUNTS)
    nbytes = sum(batch[k].nbytes for k in ("det_logits", "det_targets", "det_points", "det_boxes",
                                            "seg_logits", "seg_labels"))
    grad_bytes = batch["det_logits"].nbytes + batch["seg_logits"].nbytes
    print(f"reg {reg.version()[1]} from {reg.library_path()}")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"scipy {scipy.__version__}, load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    print(f"detection {batch['det_logits'].shape} over {batch['det_images']} images, "
          f"{len(batch['det_boxes'])} boxes, {int(batch['det_targets'].any(1).sum())} positive anchors; "
          f"segmentation {batch['seg_logits'].shape}")
    print(f"bytes: inputs {nbytes / 1e6:.2f} MB read + gradients {grad_bytes / 1e6:.2f} MB written "
          f"= {(nbytes + grad_bytes) / 1e6:.2f} MB per step")

    # The same loss check: (c) against REG's float64 reference step.
    ref = reg.Engine("reference")
    r = ref.step(**batch, detection=det_s, segmentation=seg_s, lambda_=LAMBDA)
    t = {k: torch.from_numpy(batch[k]) for k in ("det_logits", "det_targets", "det_points", "det_boxes", "seg_logits")}
    z_det = t["det_logits"].clone().requires_grad_(True)
    z_seg = t["seg_logits"].clone().requires_grad_(True)
    det_a, seg_a = torch.from_numpy(alpha(DET_COUNTS)), torch.from_numpy(alpha(SEG_COUNTS))
    eager_args = (t["det_targets"], t["det_points"], t["det_boxes"])
    loss = torch_eager_loss(z_det, *eager_args, z_seg, batch["seg_labels"], det_a, seg_a)
    loss.backward()
    rel = abs(loss.item() - r.total) / abs(r.total)
    gd = float(np.abs(z_det.grad.numpy() - r.det_logits_grad).max() / max(1.0, np.abs(r.det_logits_grad).max()))
    gs = float(np.abs(z_seg.grad.numpy() - r.seg_logits_grad).max() / max(1.0, np.abs(r.seg_logits_grad).max()))
    ok = rel <= 1e-4
    print(f"check: torch eager L_total {loss.item():.7f}, REG reference {r.total:.7f} (det {r.detection.loss:.7f}, "
          f"seg {r.segmentation.loss:.7f}); relative difference {rel:.2e} {'<=' if ok else '>'} 1e-4 "
          f"{'OK' if ok else 'FAILED'}; gradient max difference det {gd:.1e}, seg {gs:.1e}")
    if not ok:
        raise SystemExit("bench-binding: the PyTorch eager loss is not REG's loss; not timing")

    rows = []  # (label, device, times)

    def eager_once():
        z_det.grad = None
        z_seg.grad = None
        l = torch_eager_loss(z_det, *eager_args, z_seg, batch["seg_labels"], det_a, seg_a)
        l.backward()

    jax_ok = not args.no_jax
    if jax_ok:
        try:
            import jax
            from reg import jax as reg_jax
        except Exception as error:  # noqa: BLE001
            print(f"(d) skipped: {error}")
            jax_ok = False

    for device in [d for d in args.devices.split(",") if d]:
        engine = reg.Engine(device, fallback="error")
        backend = engine.step(**batch, detection=det_s, segmentation=seg_s, lambda_=LAMBDA).backend
        name = "reference" if device == "reference" else f"device {device} ({backend})"
        g_det = np.empty_like(batch["det_logits"])
        g_seg = np.empty_like(batch["seg_logits"])

        def step_once():
            engine.step(**batch, detection=det_s, segmentation=seg_s, lambda_=LAMBDA,
                        det_logits_grad=g_det, seg_logits_grad=g_seg)

        rows.append(("(a) Engine.step, NumPy", name, timed(step_once, args.warmup, args.repeats)))
        check = engine.step(**batch, detection=det_s, segmentation=seg_s, lambda_=LAMBDA)
        print(f"{name}: L_total {check.total:.7f} (reference {r.total:.7f}, relative {abs(check.total - r.total) / r.total:.1e})")

        loss_fn = reg.torch.REGLoss(detection=det_s, segmentation=seg_s, lambda_=LAMBDA, engine=engine,
                                    distributed=False)

        def torch_once():
            z_det.grad = None
            z_seg.grad = None
            l = loss_fn(det_logits=z_det, det_targets=t["det_targets"], det_points=t["det_points"],
                        det_boxes=t["det_boxes"], det_images=batch["det_images"], seg_logits=z_seg,
                        seg_labels=torch.from_numpy(batch["seg_labels"]))
            l.backward()

        rows.append(("(b) REGLoss fwd+bwd, CPU torch", name, timed(torch_once, args.warmup, args.repeats)))

        if jax_ok:
            f = reg_jax.step_loss(det_s, seg_s, LAMBDA, engine=engine, det_images=batch["det_images"])
            vg = jax.jit(jax.value_and_grad(f, argnums=(0, 1)))
            jargs = [jax.numpy.asarray(batch[k]) for k in ("det_logits", "seg_logits", "det_targets", "det_points",
                                                           "det_boxes", "seg_labels")]

            def jax_once():
                jax.block_until_ready(vg(*jargs))

            rows.append(("(d) reg.jax value_and_grad, jit", name, timed(jax_once, args.warmup, args.repeats)))

    def edt_once():
        for b in range(batch["seg_labels"].shape[0]):
            for c in range(batch["seg_logits"].shape[1]):
                scipy.ndimage.distance_transform_edt(batch["seg_labels"][b] != c + 1)

    edt_times = timed(edt_once, args.warmup, args.repeats)
    rows.append(("(c) PyTorch eager + scipy EDT", "(host, no REG)", timed(eager_once, args.warmup, args.repeats)))

    print(f"\nms per step, median of {args.repeats} after {args.warmup} warm-ups (min - max); "
          f"load average now {os.getloadavg()[0]:.2f}")
    print(f"| {'what':33} | {'on':28} | median ms |  min - max ms   | x (a) same device |")
    print(f"|{'-' * 35}|{'-' * 30}|----------:|----------------:|------------------:|")
    base = {dev: statistics.median(ts) for label, dev, ts in rows if label.startswith("(a)")}
    for label, dev, ts in rows:
        med = statistics.median(ts)
        ratio = f"{med / base[dev]:.2f}" if dev in base else ""
        print(f"| {label:33} | {dev:28} | {med:9.1f} | {min(ts):6.1f} - {max(ts):6.1f} | {ratio:>17} |")
    print(f"  of which the 20 scipy EDT calls alone: median {statistics.median(edt_times):.1f} ms "
          f"({min(edt_times):.1f} - {max(edt_times):.1f})")
    eager = statistics.median(rows[-1][2])
    print("\nratios: PyTorch eager / REG")
    for label, dev, ts in rows[:-1]:
        print(f"  {label} on {dev}: {eager / statistics.median(ts):.2f}x")


if __name__ == "__main__":
    main()
