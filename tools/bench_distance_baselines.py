#!/usr/bin/env python3
"""Baselines for `reg bench --only distance-transform`: the same per-class EDT done by
scipy.ndimage.distance_transform_edt and OpenCV's distanceTransform(DIST_L2, DIST_MASK_PRECISE),
looped per image and class, on the same blob-like label maps (B images, C = 5 classes).

Prints Mpixel-maps/s and GB/s with the same byte count as REG's benchmark (labels read once,
1 byte per pixel, plus C float32 maps written once, 4 bytes per pixel-map). Only the library call
is timed: the binary masks (labels != k + 1) are made beforehand, which favours the baselines.

    python3 tools/bench_distance_baselines.py                 # B = 8 at 512², 1024², 2048²
    python3 tools/bench_distance_baselines.py --quick         # B = 2 at 128², 256²
    python3 tools/bench_distance_baselines.py --hash 1 48 64  # fingerprint of one map (tests)

Needs numpy, scipy and opencv-python-headless; installs the last with pip when it is missing.
"""
import argparse
import importlib
import os
import platform
import statistics
import subprocess
import sys
import time

MASK64 = (1 << 64) - 1


def require(module, package):
    try:
        return importlib.import_module(module)
    except ImportError:
        print(f"installing {package} with pip", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", package])
        return importlib.import_module(module)


class SplitMix64:
    """The generator of REG's DistanceTransformBenchmark (same constants, same stream)."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


def blob_labels(batch, height, width, classes, seed):
    """DistanceTransformBenchmark.blobLabels: per image one disk of each class, then 5·C disks of
    random classes, then two small ignore (255) disks, painted in that order over background."""
    import numpy as np

    random = SplitMix64(seed)
    labels = np.zeros((batch, height, width), dtype=np.uint8)
    side = min(height, width)
    for b in range(batch):
        for i in range(6 * classes + 2):
            if i < classes:
                label = i + 1
            elif i < 6 * classes:
                label = 1 + random.next() % classes
            else:
                label = 255
            cy = random.next() % height
            cx = random.next() % width
            if label == 255:
                radius = 1 + random.next() % max(1, side // 32)
            else:
                radius = 2 + random.next() % max(1, side // 8)
            y0, y1 = max(0, cy - radius), min(height - 1, cy + radius)
            x0, x1 = max(0, cx - radius), min(width - 1, cx + radius)
            ys = np.arange(y0, y1 + 1)[:, None]
            xs = np.arange(x0, x1 + 1)[None, :]
            disk = (ys - cy) ** 2 + (xs - cx) ** 2 <= radius * radius
            labels[b, y0:y1 + 1, x0:x1 + 1][disk] = label
    return labels


def fnv1a(data):
    """64-bit FNV-1a of a byte string (the Swift test computes the same)."""
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return h


def time_batch(function, masks, repeats):
    """Median seconds of running `function` over every mask, after one untimed warm-up run."""
    for mask in masks:
        function(mask)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for mask in masks:
            function(mask)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), samples


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--sides", type=int, nargs="+", default=None)
    parser.add_argument("--quick", action="store_true", help="B = 2 at 128² and 256²")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per size (scipy: 1 at 2048² and up)")
    parser.add_argument("--hash", type=int, nargs=3, metavar=("BATCH", "HEIGHT", "WIDTH"),
                        help="print the FNV-1a of blob_labels(BATCH, HEIGHT, WIDTH, C, seed=HEIGHT) and exit")
    args = parser.parse_args()

    np = require("numpy", "numpy")
    if args.hash:
        b, h, w = args.hash
        print(f"{fnv1a(blob_labels(b, h, w, args.classes, h).tobytes()):016x}")
        return

    ndimage = require("scipy.ndimage", "scipy")
    cv2 = require("cv2", "opencv-python-headless")
    import scipy

    batch = args.batch or (2 if args.quick else 8)
    sides = args.sides or ([128, 256] if args.quick else [512, 1024, 2048])
    classes = args.classes
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"numpy {np.__version__}, scipy {scipy.__version__}, OpenCV {cv2.__version__} "
          f"({cv2.getNumThreads()} threads)")
    print(f"{'library':<44} {'size':<16} {'median ms':>10} {'Mpix-maps/s':>12} {'GB/s':>7}")
    for side in sides:
        labels = blob_labels(batch, side, side, classes, side)
        masks = [np.ascontiguousarray(labels[b] != k + 1) for b in range(batch) for k in range(classes)]
        masks_u8 = [m.astype(np.uint8) for m in masks]
        pixel_maps = batch * classes * side * side
        bytes_moved = batch * side * side + 4 * pixel_maps
        size = f"{batch}×{side}², C={classes}"

        # Sanity: both libraries agree on the first map (OpenCV's precise mask is exact in float32).
        a = ndimage.distance_transform_edt(masks[0])
        c = cv2.distanceTransform(masks_u8[0], cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        assert float(np.abs(a - c).max()) < 1e-3 * max(1.0, float(a.max())), "scipy and OpenCV disagree"

        runs = [
            ("OpenCV distanceTransform(DIST_L2, PRECISE)",
             lambda m: cv2.distanceTransform(m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE), masks_u8, args.repeats),
            ("scipy.ndimage.distance_transform_edt",
             ndimage.distance_transform_edt, masks, 1 if side >= 2048 else args.repeats),
        ]
        for name, function, inputs, repeats in runs:
            seconds, _ = time_batch(function, inputs, repeats)
            print(f"{name:<44} {size:<16} {seconds * 1e3:>10.1f} {pixel_maps / seconds / 1e6:>12.1f} "
                  f"{bytes_moved / seconds / 1e9:>7.3f}", flush=True)


if __name__ == "__main__":
    main()
