"""Writes the .npz fixtures of Tests/REGTests/NumPyArchiveTests.swift and StepCommandTests.swift
with NumPy itself.

Run from this folder: python3 make_archives.py. arrays_*.npz hold values the tests write out, so
the reader is checked against NumPy's writer, never against REG's own. batch_*.npz are `reg step`
batches drawn from a fixed seed; the tests read them back and compute the reference from what
they read.
"""
import zipfile

import numpy as np

arrays = dict(
    f4=np.array([[0.5, -1.0, 3.25], [np.inf, -0.0, 1e-38]], dtype="<f4"),
    u1=np.array([0, 1, 2, 254, 255], dtype="|u1"),
    i8_scalar=np.array(7, dtype="<i8"),
    f8_fortran=np.asfortranarray(np.array([[1.5, 2.0], [3.0, -4.0], [5.0, 6.0]], dtype="<f8")),
    b1=np.array([[True, False], [False, True]]),
    empty=np.zeros((0, 6), dtype="<f4"),
)
np.savez("arrays_stored.npz", **arrays)
np.savez_compressed("arrays_compressed.npz", **arrays)

# A member that is not a .npy file, beside a good one.
with zipfile.ZipFile("bad_member.npz", "w") as z:
    with z.open("good.npy", "w") as f:
        np.lib.format.write_array(f, np.array([1, 2, 3], dtype="<i4"))
    z.writestr("junk.npy", b"not an array")


def batch(rng, images, sigma_maps):
    n, c = 40, 3
    det_logits = rng.normal(0, 3, (n, c)).astype("<f4")
    det_targets = np.zeros((n, c))                       # float64, whole 0/1 and one soft target
    for i in range(n):
        if rng.random() < 0.4:
            det_targets[i, rng.integers(0, c)] = 1.0
    det_targets[3, 1] = 0.25
    det_points = np.column_stack([rng.integers(0, 2, n), rng.uniform(0, 32, n), rng.uniform(0, 32, n)]).astype("<f4")
    det_boxes = np.array([[0, 1, 2, 3, 10, 12], [0, 3, 20, 4, 30, 9], [1, 2, 5, 5, 6, 20], [1, 1, 0, 0, 31, 2]], dtype="<f8")
    b, k, h, w = 2, 3, 9, 11
    seg_logits = rng.normal(0, 3, (b, k, h, w)).astype("<f4")
    seg_labels = rng.integers(0, k + 1, (b, h, w)).astype("<i8")
    seg_labels[0, 0, :4] = 255
    out = dict(det_logits=det_logits, det_targets=det_targets, det_points=det_points, det_boxes=det_boxes,
               seg_logits=seg_logits, seg_labels=seg_labels)
    if images is not None:
        out["det_images"] = np.array(images, dtype="<i8")
    if sigma_maps:
        out["det_sigma"] = rng.uniform(0, 0.2, (n, c)).astype("<f4")
        out["seg_sigma"] = rng.uniform(0, 0.2, (b, k, h, w)).astype("<f4")
    return out


rng = np.random.default_rng(7)
np.savez("batch_stored.npz", **batch(rng, images=None, sigma_maps=False))
compressed = batch(rng, images=3, sigma_maps=True)
compressed["seg_labels"] = compressed["seg_labels"].astype("|u1")
np.savez_compressed("batch_compressed.npz", **compressed)
