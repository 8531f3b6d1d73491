#!/usr/bin/env python3
"""REG's benchmark rows beside the same work done by other libraries ("peers"), interleaved in one run.

Workloads (the rows of `reg bench`, same math and sizes; docs/math.md):

  focal-det-refine  2^22 and 2^24 logits: detection logits [N, 8] float32, N = size / 8; targets
                    t[i] = 1 where i % 8 == (i / 8) % 8, else 0 (one positive per sample); distances
                    d[i] = +inf where i % 97 == 0, else (i % 6400) / 100; sigmoid focal loss with
                    alpha_c = 0.25 + 0.1 c (c = 0..7), gamma = 2, g = sigmoid(beta (d - delta)) with
                    beta = 0.5, delta = 8:  L = (1/N) sum_i sum_c alpha_c |y - p|^2 BCE(p, y) g.
  focal-seg-softmax [B, 5, H, W] logits, REG's row nearest 2^22 logits (8x256x512xC5: 2^22.3; the shape
                    is read from REG's size string and checked against its element count): uint8 labels
                    l[j] = 255 where j % 10 == 9, else (7 j) % 6 (0 background, 1..5 classes); softmax
                    over the 5 channels, gamma = 2, alpha = 1, no spatial weight, every channel's binary
                    term (docs/math.md §1), L = sum / (pixels not ignored).
  edt               8x512x512xC5 and 8x2048x2048xC5: REG's blob label maps (SplitMix64, seed = H;
                    tools/bench_distance_baselines.py draws the same maps), per image b and class c the
                    distance of every pixel to the nearest pixel of class c + 1, +inf for a class absent
                    from the image, written into one float32 [B, C, H, W] array.

Logits everywhere: x[i] = ((i * 2654435761 mod 2^32) >> 8) / 699050.7 - 12, REG's benchmark hash.

Peers (each skipped with a note when its package is missing):
  focal: PyTorch eager (forward + autograd backward), torch.compile (inductor, CPU; compiled before
         timing), JAX jax.jit(jax.value_and_grad(loss)) with block_until_ready: loss AND d loss / d logits.
  edt:   OpenCV cv2.distanceTransform(mask, DIST_L2, DIST_MASK_PRECISE), scipy.ndimage
         .distance_transform_edt, seung-lab edt.edt: one call per image and class; the masks, the
         empty-class check and the copy into the [B, C, H, W] output are inside the timed region.

Method: first REG on small inputs and each peer on the same small inputs are checked against REG's
float64 reference (`reg loss`, `reg edt --device reference`), so every peer is known to compute the
same loss, gradient and distances. Then, for each of R rounds: `reg bench --json --no-reference
--filter <the rows> --repetitions K` runs once as a subprocess (REG's median of K), then each peer on
each workload (two warm-ups in the first round, one in later ones unless a run takes over 2 s; then
K timed repetitions, fewer when they would take over --budget seconds; median). The table gives the
median over rounds with its min - max, and the ratio peer / REG taken per round (both measured
minutes apart at most) for REG's kernel time and REG's wall time (wall includes host <-> device
copies).

    tools/bench-peers.py --reg dist/reg                  # full sizes, 5 rounds
    tools/bench-peers.py --reg .build/release/reg --quick  # small sizes, 2 rounds, 3 repetitions
    tools/bench-peers.py --json peers.json               # also every figure as JSON

The Markdown section (header, table, notes, the checks' details) goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DET_CLASSES = 8
# α_c = 0.25 + 0.1·c evaluated in float32, as REG's benchmark does (FocalLossDescriptor.refineAlpha).
DET_ALPHA = [float(np.float32(0.25) + np.float32(0.1) * np.float32(c)) for c in range(DET_CLASSES)]
GAMMA, BETA, DELTA = 2.0, 0.5, 8.0
SEG_CLASSES = 5
EDT_CLASSES = 5
IGNORE = 255


def note(message):
    print(message, file=sys.stderr, flush=True)


# ---- inputs, as REG's benchmark makes them -----------------------------------------------------------

def bench_logits(count):
    i = np.arange(count, dtype=np.uint64)
    h = ((i * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)) >> np.uint64(8)
    return (h.astype(np.float32) / np.float32(699050.7) - np.float32(12)).astype(np.float32)


def det_inputs(elements):
    n = elements // DET_CLASSES
    count = n * DET_CLASSES
    i = np.arange(count, dtype=np.int64)
    logits = bench_logits(count).reshape(n, DET_CLASSES)
    targets = (i % DET_CLASSES == (i // DET_CLASSES) % DET_CLASSES).astype(np.float32).reshape(n, DET_CLASSES)
    d = np.where(i % 97 == 0, np.float32(np.inf), (i % 6400).astype(np.float32) / np.float32(100))
    d = d.astype(np.float32).reshape(n, DET_CLASSES)
    alpha = np.asarray(DET_ALPHA, np.float32)
    return dict(logits=logits, targets=targets, distances=d, alpha=alpha)


def seg_inputs(shape):
    b, c, h, w = shape
    pixels = b * h * w
    logits = bench_logits(b * c * h * w).reshape(b, c, h, w)
    j = np.arange(pixels, dtype=np.int64)
    labels = np.where(j % 10 == 9, IGNORE, (j * 7) % 6).astype(np.uint8).reshape(b, h, w)
    return dict(logits=logits, labels=labels)


def edt_inputs(shape):
    b, c, h, w = shape
    sys.path.insert(0, HERE)
    bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no tools/__pycache__
    try:
        from bench_distance_baselines import blob_labels  # the Python twin of REG's blobLabels
    finally:
        sys.path.pop(0)
        sys.dont_write_bytecode = bytecode
    return dict(labels=blob_labels(b, h, w, c, h), classes=c)


# ---- sizes ----------------------------------------------------------------------------------------

def parse_elements(size):
    """'2^22' (or '2^22 …') → 4194304."""
    m = re.match(r"\s*2\^(\d+)", size)
    if m:
        return 1 << int(m.group(1))
    m = re.match(r"\s*(\d+)\s*$", size)
    if m:
        return int(m.group(1))
    raise ValueError(f"cannot read an element count from size {size!r}")


def parse_shape(size, classes_default=None):
    """An NCHW shape (B, C, H, W) from a size string: '8x512x512xC5' (B x H x W x C<classes>),
    '4x5x409x512' or '[4,5,409,512]' (B, C, H, W), '8×512², C=5' (older reg), '2^22 [4,5,409,512]'."""
    s = size.replace("×", "x").replace(" ", "")
    m = re.search(r"(\d+)x(\d+)x(\d+)xC(\d+)", s)
    if m:
        b, h, w, c = map(int, m.groups())
        return (b, c, h, w)
    m = re.search(r"\[(\d+),(\d+),(\d+),(\d+)\]", s) or re.search(r"(\d+)x(\d+)x(\d+)x(\d+)", s)
    if m:
        return tuple(map(int, m.groups()))
    m = re.search(r"(\d+)x(\d+)²,?C=(\d+)", s)
    if m:
        b, side, c = map(int, m.groups())
        return (b, c, side, side)
    m = re.match(r"2\^(\d+)$", s)
    if m and classes_default:
        # REG's focal seg rows before they named their shape: [4, C, 2^k / (C·4·512), 512].
        h = max(1, (1 << int(m.group(1))) // (classes_default * 4 * 512))
        note(f"bench-peers: size {size!r} names no shape; assuming REG's [4, {classes_default}, {h}, 512]")
        return (4, classes_default, h, 512)
    raise ValueError(f"cannot read a [B, C, H, W] shape from size {size!r}")


# ---- REG's side: `reg bench --json` (Google Benchmark's schema) -------------------------------------------

UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
AGGREGATE_SUFFIX = re.compile(r"_(mean|median|stddev|cv|min|max)$")


@dataclass
class RegRow:
    name: str
    kernel_ms: float | None
    wall_ms: float
    extra: dict = field(default_factory=dict)


def parse_reg_json(text):
    """{name: RegRow} from `reg bench --json`: the 'median' aggregate of each name when REG printed
    aggregates, else the median of its repetition rows (or the one row)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(f"bench-peers: `reg bench --json` did not print JSON ({error}); first 300 characters:\n"
                         f"{text[:300]}")
    if not isinstance(doc, dict) or "benchmarks" not in doc:
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise SystemExit("bench-peers: `reg bench --json` printed JSON without a \"benchmarks\" list "
                         f"(top level: {keys}); this script reads the Google Benchmark schema "
                         "({\"context\": …, \"benchmarks\": [{\"name\", \"real_time\", \"kernel_time\", \"time_unit\"}]}). "
                         "Is the binary older than `reg bench --json` in that schema?")
    medians, runs = {}, {}
    for row in doc["benchmarks"]:
        name = row.get("run_name") or AGGREGATE_SUFFIX.sub("", row["name"])
        scale = UNIT_MS.get(row.get("time_unit", "ns"))
        if scale is None:
            raise SystemExit(f"bench-peers: unknown time_unit {row.get('time_unit')!r} in row {row['name']}")
        kernel = row.get("kernel_time")
        entry = RegRow(name, None if kernel is None else float(kernel) * scale, float(row["real_time"]) * scale, row)
        if row.get("run_type") == "aggregate":
            if row.get("aggregate_name") == "median":
                medians[name] = entry
        else:
            runs.setdefault(name, []).append(entry)
    out = dict(medians)
    for name, entries in runs.items():
        if name in out:
            continue
        kernels = [e.kernel_ms for e in entries if e.kernel_ms is not None]
        out[name] = RegRow(name, statistics.median(kernels) if kernels else None,
                           statistics.median(e.wall_ms for e in entries), entries[0].extra)
    return doc.get("context", {}), out


def list_reg_rows(reg, regex, device, extra):
    """{name: RegRow or None}: the rows `reg bench --list` names (no figures), or, from a reg without
    --list, the rows of a one-repetition run."""
    command = [reg, "bench", "--list", "--no-reference", "--filter", regex] + (["--device", device] if device else []) + extra
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode == 0:
        return {line.strip(): None for line in proc.stdout.splitlines() if line.strip()}
    return run_reg_bench(reg, regex, 1, device, extra)[1]


def run_reg_bench(reg, regex, repetitions, device, extra):
    command = [reg, "bench", "--json", "--no-reference", "--filter", regex, "--repetitions", str(repetitions)]
    if device:
        command += ["--device", device]
    command += extra
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        hint = ("\n(this script needs a reg whose `bench` takes --json --no-reference --filter --repetitions and "
                "prints Google Benchmark's JSON schema)" if "Unknown option" in proc.stderr else "")
        raise SystemExit(f"bench-peers: {' '.join(command)} exited {proc.returncode}:\n{proc.stderr[-2000:]}{hint}")
    return parse_reg_json(proc.stdout)


# ---- workloads ----------------------------------------------------------------------------------------

@dataclass
class Workload:
    operation: str        # focal-det-refine, focal-seg-softmax, edt
    size: str             # REG's size string
    name: str = ""        # REG's row name
    shape: tuple = ()
    elements: int = 0
    inputs: dict = field(default_factory=dict)

    @property
    def label(self):
        return f"{self.operation} {self.size}"


WANTED = {  # operation → sizes wanted at full size (None: whatever REG names, nearest 2^22 logits)
    "focal-det-refine": ["2^22", "2^24"],
    "focal-seg-softmax": None,
    "edt": ["8x512x512xC5", "8x2048x2048xC5"],
}


def row_logits(op, size):
    """The element count a size string names (0 when it names none)."""
    try:
        return parse_elements(size) if op == "focal-det-refine" else math.prod(parse_shape(size, SEG_CLASSES))
    except ValueError:
        return 0


def choose_rows(rows, variant, operations, quick):
    """The REG rows to compare against, per operation; a clear error when one is missing. Full runs
    take WANTED's sizes (the seg row: REG's size nearest 2^22 logits); --quick the smallest of each."""
    chosen = []
    for op in operations:
        have = {}
        for name in rows:
            parts = name.split("/")
            if len(parts) >= 3 and parts[0] == op and parts[1] == variant:
                have["/".join(parts[2:])] = name
        if not have:
            raise SystemExit(f"bench-peers: REG printed no {op}/{variant}/… row "
                             f"(its rows: {', '.join(sorted(rows)) or 'none'})")
        wanted = WANTED[op]
        if quick:
            sizes = [min(have, key=lambda s: row_logits(op, s))]
        elif wanted is None:
            sizes = [min(have, key=lambda s: abs(math.log2(max(1, row_logits(op, s))) - 22))]
        else:
            missing = [s for s in wanted if s not in have]
            if missing:
                raise SystemExit(f"bench-peers: REG printed no row {', '.join(f'{op}/{variant}/{s}' for s in missing)} "
                                 f"(its {op}/{variant} sizes: {', '.join(have)})")
            sizes = wanted
        for size in sizes:
            w = Workload(op, size, have[size])
            row = rows[w.name].extra if rows[w.name] is not None else {}
            detail = str(row.get("label", "")).rsplit(" · ", 1)[-1]  # "<backend> · <size in words>"
            if op == "focal-det-refine":
                w.elements = parse_elements(size)
                w.shape = (w.elements // DET_CLASSES, DET_CLASSES)
            else:
                try:
                    w.shape = parse_shape(size)
                except ValueError:  # the name says only "2^22": the label may say the shape
                    try:
                        w.shape = parse_shape(detail)
                    except ValueError:
                        w.shape = parse_shape(size, SEG_CLASSES if op == "focal-seg-softmax" else EDT_CLASSES)
                w.elements = math.prod(w.shape)
            check_elements(w, row)
            chosen.append(w)
    return chosen


def check_elements(w, row):
    """REG's row must count the elements of the shape the peers get."""
    if row.get("elements") and int(row["elements"]) != w.elements:
        detail = str(row.get("label", "")).rsplit(" · ", 1)[-1]
        raise SystemExit(f"bench-peers: {w.name} has {row['elements']} elements ({detail!r}); "
                         f"this script read the shape {list(w.shape)} ({w.elements}) from its size")


def make_inputs(w):
    if w.operation == "focal-det-refine":
        w.inputs = det_inputs(w.elements)
    elif w.operation == "focal-seg-softmax":
        w.inputs = seg_inputs(w.shape)
    else:
        w.inputs = edt_inputs(w.shape)


# ---- peers: the focal losses ------------------------------------------------------------------------------

class Peer:
    name = "?"
    operations = ()
    threads = "?"

    def prepare(self, w):
        """Returns a callable doing one timed unit of work and returning (loss, gradient) or maps."""
        raise NotImplementedError


def torch_losses(torch):
    F = torch.nn.functional

    def det(z, y, d, alpha):
        p = torch.sigmoid(z)
        bce = F.binary_cross_entropy_with_logits(z, y, reduction="none")  # logit-space logs
        g = torch.sigmoid(BETA * (d - DELTA))                               # d = +inf gives 1
        return (alpha * (y - p).abs().pow(GAMMA) * bce * g).sum() / z.shape[0]

    def seg(z, labels):
        # Softmax over the channels; log q = log(1 - p) without forming 1 - p for the top class.
        c = z.shape[1]
        classes = torch.arange(1, c + 1, device=z.device, dtype=torch.int32).view(1, c, 1, 1)
        lab = labels.unsqueeze(1).to(torch.int32)
        y = (lab == classes).to(z.dtype)
        valid = (lab != IGNORE).to(z.dtype)
        logp = torch.log_softmax(z, dim=1)
        p = logp.exp()
        top = z.argmax(dim=1, keepdim=True)
        is_top = classes - 1 == top
        e = torch.exp(z - z.gather(1, top))
        others = e.masked_fill(is_top, 0.0).sum(dim=1, keepdim=True)     # Σ_{k≠top} e^{z_k − m}
        log_q = torch.where(is_top, torch.log(others) - torch.log1p(others),
                            torch.log1p(-p.masked_fill(is_top, 0.0)))
        q = log_q.exp()
        dist = torch.where(y > 0, q, p)                                     # |y − p| for 0/1 targets
        bce = -(y * logp + (1 - y) * log_q)
        return (dist.pow(GAMMA) * bce * valid).sum() / valid.sum()

    return det, seg


class TorchPeer(Peer):
    operations = ("focal-det-refine", "focal-seg-softmax")

    def __init__(self, compiled, threads):
        import torch
        self.torch = torch
        if threads:
            torch.set_num_threads(threads)
        self.threads = torch.get_num_threads()
        self.compiled = compiled
        self.name = "torch.compile (inductor, CPU)" if compiled else "PyTorch eager"
        self.det, self.seg = torch_losses(torch)
        if compiled:
            self.det = torch.compile(self.det, dynamic=False)
            self.seg = torch.compile(self.seg, dynamic=False)
        self.version = f"torch {torch.__version__}"

    def prepare(self, w):
        torch = self.torch
        x = w.inputs
        z = torch.from_numpy(x["logits"]).clone().requires_grad_(True)
        if w.operation == "focal-det-refine":
            args = (torch.from_numpy(x["targets"]), torch.from_numpy(x["distances"]), torch.from_numpy(x["alpha"]))
            fn = self.det
        else:
            args = (torch.from_numpy(x["labels"]),)
            fn = self.seg

        def once():
            z.grad = None
            loss = fn(z, *args)
            loss.backward()
            return float(loss.detach()), z.grad

        return once


def jax_losses(jnp, jax):
    def det(z, y, d, alpha):
        p = jax.nn.sigmoid(z)
        bce = jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z)))  # = BCE with logits
        g = jax.nn.sigmoid(BETA * (d - DELTA))
        return jnp.sum(alpha * jnp.abs(y - p) ** GAMMA * bce * g) / z.shape[0]

    def seg(z, labels):
        c = z.shape[1]
        classes = jnp.arange(1, c + 1, dtype=jnp.int32).reshape(1, c, 1, 1)
        lab = labels[:, None].astype(jnp.int32)
        y = (lab == classes).astype(z.dtype)
        valid = (lab != IGNORE).astype(z.dtype)
        logp = jax.nn.log_softmax(z, axis=1)
        p = jnp.exp(logp)
        top = jnp.argmax(z, axis=1, keepdims=True)
        is_top = classes - 1 == top
        e = jnp.exp(z - jnp.take_along_axis(z, top, axis=1))
        others = jnp.sum(jnp.where(is_top, 0.0, e), axis=1, keepdims=True)
        log_q = jnp.where(is_top, jnp.log(others) - jnp.log1p(others), jnp.log1p(-jnp.where(is_top, 0.0, p)))
        q = jnp.exp(log_q)
        dist = jnp.where(y > 0, q, p)
        bce = -(y * logp + (1 - y) * log_q)
        return jnp.sum(dist ** GAMMA * bce * valid) / jnp.sum(valid)

    return det, seg


class JaxPeer(Peer):
    name = "JAX jit(value_and_grad)"
    operations = ("focal-det-refine", "focal-seg-softmax")

    def __init__(self, threads):
        import jax
        import jax.numpy as jnp
        self.jax, self.jnp = jax, jnp
        det, seg = jax_losses(jnp, jax)
        self.det = jax.jit(jax.value_and_grad(det))
        self.seg = jax.jit(jax.value_and_grad(seg))
        self.threads = 1 if threads == 1 else f"XLA default ({os.cpu_count()} cores)"
        self.version = f"jax {jax.__version__} ({jax.devices()[0].platform})"

    def prepare(self, w):
        jnp, jax = self.jnp, self.jax
        x = w.inputs
        z = jnp.asarray(x["logits"])
        if w.operation == "focal-det-refine":
            args = (jnp.asarray(x["targets"]), jnp.asarray(x["distances"]), jnp.asarray(x["alpha"]))
            fn = self.det
        else:
            args = (jnp.asarray(x["labels"]),)
            fn = self.seg

        def once():
            loss, grad = jax.block_until_ready(fn(z, *args))
            return float(loss), grad

        return once


# ---- peers: the distance transforms -----------------------------------------------------------------------

class EdtPeer(Peer):
    operations = ("edt",)

    def transform(self, mask_not_class, out):
        raise NotImplementedError

    def prepare(self, w):
        labels = w.inputs["labels"]
        b_count, c_count = labels.shape[0], w.inputs["classes"]
        out = np.empty((b_count, c_count) + labels.shape[1:], np.float32)

        def once():
            for b in range(b_count):
                for c in range(c_count):
                    not_class = labels[b] != c + 1
                    if not_class.all():                 # class absent: +inf, as REG
                        out[b, c] = np.inf
                    else:
                        self.transform(not_class, out[b, c])
            return None, out

        return once


class OpenCVPeer(EdtPeer):
    name = "OpenCV distanceTransform (L2, PRECISE)"

    def __init__(self, threads):
        import cv2
        self.cv2 = cv2
        if threads:
            cv2.setNumThreads(threads)
        self.threads = cv2.getNumThreads()
        self.version = f"OpenCV {cv2.__version__}"

    def transform(self, not_class, out):
        self.cv2.distanceTransform(not_class.view(np.uint8), self.cv2.DIST_L2, self.cv2.DIST_MASK_PRECISE, dst=out)


class ScipyPeer(EdtPeer):
    name = "scipy.ndimage.distance_transform_edt"
    threads = 1  # single-threaded

    def __init__(self, threads):
        import scipy
        import scipy.ndimage
        self.edt = scipy.ndimage.distance_transform_edt
        self.version = f"scipy {scipy.__version__}"

    def transform(self, not_class, out):
        out[...] = self.edt(not_class)


class SeungEdtPeer(EdtPeer):
    name = "edt.edt (seung-lab)"

    def __init__(self, threads):
        import edt
        self.edt = edt.edt
        self.threads = threads or os.cpu_count()
        try:
            from importlib.metadata import version
            self.version = f"edt {version('edt')}"
        except Exception:  # noqa: BLE001
            self.version = "edt"

    def transform(self, not_class, out):
        out[...] = self.edt(not_class, parallel=self.threads)


FOCAL = ("focal-det-refine", "focal-seg-softmax")
PEERS = {  # key → (constructor, the modules it needs, the operations it does)
    "torch": (lambda t: TorchPeer(False, t), ["torch"], FOCAL),
    "compile": (lambda t: TorchPeer(True, t), ["torch"], FOCAL),
    "jax": (lambda t: JaxPeer(t), ["jax"], FOCAL),
    "opencv": (lambda t: OpenCVPeer(t), ["cv2"], ("edt",)),
    "scipy": (lambda t: ScipyPeer(t), ["scipy.ndimage"], ("edt",)),
    "edt": (lambda t: SeungEdtPeer(t), ["edt"], ("edt",)),
}


def load_peers(keys, threads):
    peers, notes = [], []
    for key in keys:
        make, modules, _ = PEERS[key]
        missing = []
        for m in modules:
            try:
                importlib.import_module(m)
            except Exception as error:  # noqa: BLE001
                missing.append(f"{m} ({type(error).__name__}: {error})")
        if missing:
            notes.append(f"{key}: skipped, not installed: {', '.join(missing)} (tools/setup-peers.sh installs the peers)")
            continue
        try:
            peers.append((key, make(threads)))
        except Exception as error:  # noqa: BLE001
            notes.append(f"{key}: skipped: {type(error).__name__}: {error}")
    return peers, notes


# ---- correctness: every peer against REG's float64 reference on the same small inputs -------------------

def reg_loss(reg, w, folder, device):
    x = w.inputs
    paths = {k: os.path.join(folder, f"{w.operation}-{k}.npy") for k in ("logits", "targets", "distances", "labels", "grad")}
    np.save(paths["logits"], x["logits"])
    command = [reg, "loss", "--logits", paths["logits"], "--json", "--grad-out", paths["grad"], "--device", device]
    if w.operation == "focal-det-refine":
        np.save(paths["targets"], x["targets"])
        np.save(paths["distances"], x["distances"])
        command += ["--targets", paths["targets"], "--distances", paths["distances"], f"--beta={BETA}",
                    f"--delta={DELTA}", "--alpha", ",".join(repr(float(a)) for a in x["alpha"]), f"--gamma={GAMMA}"]
    else:
        np.save(paths["labels"], x["labels"])
        command += ["--labels", paths["labels"], "--activation", "softmax", f"--gamma={GAMMA}"]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench-peers: {' '.join(command)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)["loss"], np.load(paths["grad"])


def reg_edt(reg, w, folder, device):
    path, out = os.path.join(folder, "edt-labels.npy"), os.path.join(folder, "edt-out.npy")
    np.save(path, w.inputs["labels"])
    command = [reg, "edt", path, "-o", out, "--classes", str(w.inputs["classes"]), "--device", device]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench-peers: {' '.join(command)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return np.load(out)


def check(reg, device, peers, operations):
    """Small inputs of every workload through REG (reference and device) and every peer."""
    small = {"focal-det-refine": Workload("focal-det-refine", "2^16", elements=1 << 16, shape=(1 << 13, 8)),
             "focal-seg-softmax": Workload("focal-seg-softmax", "2x5x48x160", shape=(2, 5, 48, 160)),
             "edt": Workload("edt", "2x128x160xC5", shape=(2, 5, 128, 160))}
    lines, ok = [], True
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as folder:
        for op in operations:
            w = small[op]
            w.elements = w.elements or math.prod(w.shape)
            make_inputs(w)
            if op == "edt":  # one class absent from the second image: REG gives +inf there, so must the peers
                labels = w.inputs["labels"]
                labels[1][labels[1] == 3] = 0
            if op == "edt":
                ref = reg_edt(reg, w, folder, "reference")
                dev = reg_edt(reg, w, folder, device) if device != "reference" else ref
                finite = ~np.isinf(ref)
                same = bool((np.isinf(dev) == ~finite).all())
                lines.append(f"{w.label}: REG device vs reference max |Δd| {np.abs(dev[finite] - ref[finite]).max():.3g}, "
                             f"+inf in the same places: {'yes' if same else 'NO'}; "
                             f"{int(np.isinf(ref).all(axis=(2, 3)).sum())} of {ref.shape[0] * ref.shape[1]} maps +inf (absent class)")
                for key, peer in peers:
                    if op not in peer.operations:
                        continue
                    _, maps = peer.prepare(w)()
                    same_inf = bool((np.isinf(maps) == np.isinf(ref)).all())
                    finite = ~np.isinf(ref)
                    diff = float(np.abs(maps[finite] - ref[finite]).max())
                    rel = float((np.abs(maps[finite] - ref[finite]) / np.maximum(ref[finite], 1)).max())
                    good = same_inf and rel <= 1e-5
                    ok &= good
                    lines.append(f"  {peer.name}: max |Δd| {diff:.3g} (relative {rel:.2g}), +inf where REG's: "
                                 f"{'yes' if same_inf else 'NO'} {'OK' if good else 'MISMATCH'}")
                continue
            ref_loss, ref_grad = reg_loss(reg, w, folder, "reference")
            dev_loss, dev_grad = reg_loss(reg, w, folder, device) if device != "reference" else (ref_loss, ref_grad)
            scale = max(1.0, float(np.abs(ref_grad).max()))
            lines.append(f"{w.label} {list(w.inputs['logits'].shape)}: REG reference loss {ref_loss:.9g}; "
                         f"REG device {dev_loss:.9g} (relative {abs(dev_loss - ref_loss) / abs(ref_loss):.1e}, "
                         f"gradient {np.abs(dev_grad - ref_grad).max() / scale:.1e})")
            grads = {}
            for key, peer in peers:
                if op not in peer.operations:
                    continue
                loss, grad = peer.prepare(w)()
                grad = np.asarray(grad)
                grads[peer.name] = grad
                rel = abs(loss - ref_loss) / abs(ref_loss)
                gerr = float(np.abs(grad - ref_grad).max()) / scale
                grel = float(np.abs(grad - ref_grad).max() / np.abs(ref_grad).max())
                # docs/math.md §7's tolerances, and the gradient also within 1e-4 of its own largest value.
                good = rel <= 1e-5 and gerr <= 1e-5 and grel <= 1e-4 and bool(np.isfinite(grad).all())
                ok &= good
                lines.append(f"  {peer.name}: loss {loss:.9g} (relative to REG's reference {rel:.1e}), gradient "
                             f"max |Δ| {gerr * scale:.1e} = {grel:.1e} of max |ref| {'OK' if good else 'MISMATCH'}")
            names = list(grads)
            for a in range(len(names)):
                for b in range(a + 1, len(names)):
                    ga, gb = grads[names[a]], grads[names[b]]
                    lines.append(f"  {names[a]} vs {names[b]}: gradient max |Δ| / max|g| "
                                 f"{np.abs(ga - gb).max() / np.abs(ga).max():.1e}")
    return ok, lines


# ---- timing ----------------------------------------------------------------------------------------------

def median_ms(fn, repetitions, warmup, budget_s, estimate_ms=None):
    """(median ms, reps) of `fn`: `warmup` untimed runs, then up to `repetitions` timed ones, fewer
    when one run takes long (at least 1; about budget_s seconds in all, judged by the last warm-up
    or, without one, by `estimate_ms`)."""
    last = None if estimate_ms is None else estimate_ms / 1e3
    for _ in range(warmup):
        t0 = time.perf_counter()
        fn()
        last = time.perf_counter() - t0
    reps = repetitions if last is None else max(1, min(repetitions, int(budget_s / max(last, 1e-9))))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), reps


def spread(values):
    return statistics.median(values), min(values), max(values)


def fmt(v):
    if v is None:
        return "–"
    return f"{v:.3g}" if v < 10 else (f"{v:.1f}" if v < 1000 else f"{v:.0f}")


def ratio_text(values):
    if not values:
        return "–"
    med, lo, hi = spread(values)
    f = lambda v: f"{v:.2f}" if v >= 0.1 else f"{v:.2g}"
    return f"{f(med)} ({f(lo)}–{f(hi)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reg", help="the reg binary (default: dist/reg, else .build/release/reg)")
    ap.add_argument("--device", default=None, help="REG's --device (default: $REG_DEVICE, else auto)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 5; --quick 2)")
    ap.add_argument("--repetitions", type=int, default=None, help="timed repetitions per round, REG and peers (default 5; --quick 3)")
    ap.add_argument("--budget", type=float, default=20.0,
                    help="seconds a peer may spend on its timed repetitions of one workload in one round (default 20); "
                         "a slower peer runs fewer, at least 1")
    ap.add_argument("--quick", action="store_true", help="`reg bench --quick` sizes (the smallest of each row), 2 rounds")
    ap.add_argument("--operations", default="focal-det-refine,focal-seg-softmax,edt")
    ap.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}")
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for torch, OpenCV and edt (and JAX when 1); 0 (default) keeps each peer's default")
    ap.add_argument("--variant", default="f32",
                    help="REG's variant to compare (default f32; with f16 REG reads half-precision inputs while "
                         "the peers still compute on float32 ones)")
    ap.add_argument("--reg-arg", action="append", default=[], help="an extra argument for `reg bench` (repeatable)")
    ap.add_argument("--no-check", action="store_true", help="skip the check of every peer against REG's reference")
    ap.add_argument("--json", metavar="FILE", help="also write every figure as JSON ('-' for stdout)")
    args = ap.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    repetitions = args.repetitions or (3 if args.quick else 5)
    operations = [o for o in args.operations.split(",") if o]
    for op in operations:
        if op not in WANTED:
            ap.error(f"--operations: no workload {op!r} (have {', '.join(WANTED)})")
    keys = [k for k in args.peers.split(",") if k]
    for k in keys:
        if k not in PEERS:
            ap.error(f"--peers: no peer {k!r} (have {', '.join(PEERS)})")
    keys = [k for k in keys if set(PEERS[k][2]) & set(operations)]

    reg = args.reg or next((p for p in ("dist/reg", ".build/release/reg") if os.access(os.path.join(ROOT, p), os.X_OK)), None)
    if reg is None:
        raise SystemExit("bench-peers: no reg binary (dist/reg or .build/release/reg); build one or give --reg")
    reg = os.path.abspath(reg if os.path.isabs(reg) or os.path.exists(reg) else os.path.join(ROOT, reg))
    if not os.access(reg, os.X_OK):
        raise SystemExit(f"bench-peers: {reg} is not an executable")
    device = args.device or os.environ.get("REG_DEVICE") or "auto"
    if args.threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    os.environ.setdefault("POCL_CACHE_DIR", os.path.join(ROOT, ".build", "pocl-cache"))

    peers, notes = load_peers(keys, args.threads)
    for n in notes:
        note(f"bench-peers: {n}")
    reg_extra = (["--quick"] if args.quick else []) + args.reg_arg

    # The rows, by name (`reg bench --list`); their element counts are checked on the first round.
    ops_re = "|".join(re.escape(o) for o in operations)
    note(f"bench-peers: finding REG's rows ({reg} bench --list --filter '^({ops_re})/{args.variant}/')")
    rows = list_reg_rows(reg, f"^({ops_re})/{re.escape(args.variant)}/", args.device, reg_extra)
    context = {}
    workloads = choose_rows(rows, args.variant, operations, args.quick)
    regex = "^(" + "|".join(re.escape(w.name) for w in workloads) + ")$"

    # torch.compile needs a working C++ toolchain: try it once, report and drop it when it fails.
    for key, peer in list(peers):
        if key == "compile":
            try:
                w = Workload("focal-det-refine", "2^10", elements=1 << 10, shape=(128, 8))
                make_inputs(w)
                peer.prepare(w)()
            except Exception as error:  # noqa: BLE001
                reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
                notes.append(f"torch.compile unavailable: {reason}")
                note(f"bench-peers: torch.compile unavailable: {reason}")
                peers.remove((key, peer))

    check_lines, check_ok = [], True
    if not args.no_check:
        note("bench-peers: checking every peer against REG's float64 reference on small inputs…")
        check_ok, check_lines = check(reg, device, peers, operations)
        if not check_ok:
            for line in check_lines:
                note(f"  {line}")
            raise SystemExit("bench-peers: a peer does not compute REG's result (above); not timing")
        note("bench-peers: every peer agrees with REG's reference (details under the table)")

    for w in workloads:
        make_inputs(w)
    results = {w.name: {"reg_kernel": [], "reg_wall": [], "peers": {}} for w in workloads}
    onces, failed = {}, set()
    start = time.time()
    for r in range(rounds):
        note(f"bench-peers: round {r + 1}/{rounds}: REG…")
        context, rows = run_reg_bench(reg, regex, repetitions, args.device, reg_extra)
        for w in workloads:
            if w.name not in rows:
                raise SystemExit(f"bench-peers: round {r + 1}: REG printed no row {w.name}")
            check_elements(w, rows[w.name].extra)
            results[w.name]["reg_kernel"].append(rows[w.name].kernel_ms)
            results[w.name]["reg_wall"].append(rows[w.name].wall_ms)
        for w in workloads:
            for key, peer in peers:
                if w.operation not in peer.operations:
                    continue
                if (key, w.name) in failed:
                    continue
                note(f"bench-peers: round {r + 1}/{rounds}: {peer.name} on {w.label}…")
                entry = results[w.name]["peers"].setdefault(peer.name, {"ms": [], "reps": []})
                # Two warm-ups in the first round (torch.compile compiles the backward on the first
                # call), one in later rounds unless a run took over 2 s.
                warm = 2 if r == 0 else (1 if entry["ms"][-1] < 2000 else 0)
                try:
                    if (key, w.name) not in onces:
                        onces[(key, w.name)] = peer.prepare(w)
                    ms, reps = median_ms(onces[(key, w.name)], repetitions, warm, args.budget,
                                         entry["ms"][-1] if entry["ms"] else None)
                except Exception as error:  # noqa: BLE001
                    reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
                    notes.append(f"{peer.name} failed on {w.label}: {type(error).__name__}: {reason}")
                    note(f"bench-peers: {notes[-1]}")
                    failed.add((key, w.name))
                    results[w.name]["peers"].pop(peer.name, None)
                    continue
                entry["ms"].append(ms)
                entry["reps"].append(reps)
    elapsed = time.time() - start

    # ---- report ----
    load = os.getloadavg()
    versions = list(dict.fromkeys(p.version for _, p in peers))
    threads = {p.name: p.threads for _, p in peers}
    device_name = context.get("device") or context.get("reg_device") or context.get("executable") or device
    header = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `tools/bench-peers.py"
        f"{' --quick' if args.quick else ''}` ({rounds} rounds of {repetitions} repetitions, {elapsed:.0f} s), "
        f"host {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end.",
        f"REG: `{os.path.relpath(reg, ROOT) if reg.startswith(ROOT) else reg} bench --json --no-reference`, device {device_name}; "
        f"peers: {', '.join(versions) or 'none'}, numpy {np.__version__}, Python {platform.python_version()}.",
        "Threads: " + "; ".join(f"{n} {t}" for n, t in threads.items()) + "." if threads else "No peer is installed.",
    ]
    table = ["| workload | implementation | threads | median ms (min – max over rounds) | × REG kernel | × REG wall |",
             "|---|---|--:|--:|--:|--:|"]
    out_json = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "reg": reg, "device": device_name,
                "rounds": rounds, "repetitions": repetitions, "load_average": load, "versions": versions,
                "threads": threads, "notes": notes, "check": check_lines, "workloads": []}
    for w in workloads:
        res = results[w.name]
        kern = [k for k in res["reg_kernel"] if k is not None]
        wall = res["reg_wall"]
        shape = "×".join(map(str, w.shape))
        label = f"{w.operation} {w.size}" + ("" if w.operation == "edt" else f" [{shape.replace('×', ', ')}]")
        if kern:
            table.append(f"| {label} | REG kernel | device | {fmt(spread(kern)[0])} ({fmt(min(kern))} – {fmt(max(kern))}) | 1 | |")
        table.append(f"| {label if not kern else ''} | REG wall | device | {fmt(spread(wall)[0])} ({fmt(min(wall))} – {fmt(max(wall))}) | | 1 |")
        wj = {"name": w.name, "operation": w.operation, "size": w.size, "shape": list(w.shape),
              "reg_kernel_ms": res["reg_kernel"], "reg_wall_ms": wall, "peers": {}}
        for name, entry in res["peers"].items():
            ms = entry["ms"]
            rk = [m / k for m, k in zip(ms, res["reg_kernel"]) if k]
            rw = [m / k for m, k in zip(ms, wall) if k]
            reps = f"{min(entry['reps'])}" if min(entry["reps"]) == max(entry["reps"]) else f"{min(entry['reps'])}–{max(entry['reps'])}"
            reps_note = "" if reps == str(repetitions) else f" ({reps} rep{'' if reps == '1' else 's'} a round)"
            table.append(f"| | {name}{reps_note} | {threads[name]} | "
                         f"{fmt(spread(ms)[0])} ({fmt(min(ms))} – {fmt(max(ms))}) | {ratio_text(rk)} | {ratio_text(rw)} |")
            wj["peers"][name] = {"ms": ms, "repetitions": entry["reps"], "threads": threads[name],
                                 "ratio_to_reg_kernel": rk, "ratio_to_reg_wall": rw}
        out_json["workloads"].append(wj)

    lines = header + [""] + table + [""]
    lines.append(f"Ratios are peer ms / REG ms, taken per round (median, min – max over the {rounds} rounds); "
                 "above 1, REG is faster. REG's wall time includes the host ↔ device copies; its kernel time "
                 "does not. Peers compute on host memory.")
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    if check_lines:
        lines += ["", "Checked first on small inputs against REG's float64 reference (`reg loss`, `reg edt`):", ""]
        lines += ["    " + l for l in check_lines]
    text = "\n".join(lines)
    print(text)
    if args.json:
        payload = json.dumps(out_json, indent=2, default=str)
        if args.json == "-":
            print(payload)
        else:
            with open(args.json, "w") as f:
                f.write(payload + "\n")
    note(f"bench-peers: done in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
