"""REG from PyTorch: ``REGLoss``, a ``torch.nn.Module`` over a ``torch.autograd.Function`` that runs
REG's training step (``Engine.step``) on the tensors' memory (docs/python.md, "PyTorch").

>>> import torch, reg, reg.torch
>>> loss_fn = reg.torch.REGLoss(detection=reg.TaskSettings(normalizer="positives"))
>>> loss = loss_fn(det_logits=z, det_targets=y, det_points=p, det_boxes=b)   # doctest: +SKIP
>>> loss.backward()                                                              # doctest: +SKIP

The forward pass computes L_total = L_det + λ·L_seg and both gradients in one call; the backward
pass multiplies the saved gradients by the incoming gradient. CPU tensors are read in place
(float32 or float16, C-contiguous: ``tensor.numpy()`` shares the memory) and the gradients are
written in place into new tensors of the logits' dtype (float16 logits: float16 gradients, written
by REG as float16); CUDA tensors are copied to the host and their gradients copied back. bfloat16
raises TypeError.

Under ``torch.distributed`` (initialised), the per-task counts and positives are all-reduced before
the step and the step is run with the global normaliser M (divided by the world size when the
parameter gradients are averaged, as DistributedDataParallel does), so that a data-parallel run
equals one process on the whole batch (docs/usage.md §4, recipe 1).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch

from ._engine import Engine, StepResult, TaskSettings, default_engine

__all__ = ["REGLoss", "REGStepFunction", "task_counts", "global_normalizers"]

Settings = Union[TaskSettings, Dict[str, Any], None]


def _settings(value: Settings) -> TaskSettings:
    if value is None:
        return TaskSettings()
    if isinstance(value, TaskSettings):
        return value
    return TaskSettings(**value)


def _refuse_bfloat16(name: str, tensor: Any) -> None:
    if isinstance(tensor, torch.Tensor) and tensor.dtype == torch.bfloat16:
        raise TypeError(f"invalid argument {name}: bfloat16 is not supported; pass float32 or float16 "
                        "(tensor.float() or tensor.half())")


def _host(tensor: Optional[torch.Tensor], dtype: torch.dtype = torch.float32, name: str = "tensor") -> Optional[np.ndarray]:
    """A host NumPy view of ``tensor``: no copy for a C-contiguous CPU tensor of ``dtype`` (the
    array shares the tensor's memory); else one copy (another dtype, a strided view, a CUDA tensor)."""
    if tensor is None:
        return None
    if not isinstance(tensor, torch.Tensor):
        return np.asarray(tensor)
    _refuse_bfloat16(name, tensor)
    t = tensor.detach()
    if t.device.type != "cpu":
        t = t.to("cpu")
    if t.dtype != dtype and (dtype == torch.float32 or not _is_integer(t.dtype)):
        t = t.to(dtype)
    return t.contiguous().numpy()


def _host_floats(name: str, tensor: Optional[torch.Tensor]) -> Optional[np.ndarray]:
    """Logits, targets and σ maps on the host: float16 stays float16 and float32 float32 (no copy
    for a C-contiguous CPU tensor), other floating types are converted once to float32; bfloat16 is
    refused with a TypeError naming the argument."""
    if isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float16:
        return _host(tensor, torch.float16, name)
    return _host(tensor, torch.float32, name)


def _is_integer(dtype: torch.dtype) -> bool:
    return not dtype.is_floating_point and not dtype.is_complex and dtype != torch.bool


def task_counts(det_targets: Optional[torch.Tensor] = None, seg_labels: Optional[torch.Tensor] = None,
                seg_classes: Optional[int] = None) -> torch.Tensor:
    """The four integers of docs/usage.md §4, step 1, counted on the host without logits:
    ``[det count, det positives, seg count, seg positives]`` (float64, CPU). Detection: count =
    samples, positives = samples with a target > 0 in some class; segmentation: count = pixels not
    labelled 255, positives = pixels labelled 1…C (C = ``seg_classes``; None: every label but 0
    and 255)."""
    counts = torch.zeros(4, dtype=torch.float64)
    if det_targets is not None:
        y = det_targets.detach()
        counts[0] = y.shape[0]
        counts[1] = float((y > 0).any(dim=1).sum().item()) if y.numel() else 0.0
    if seg_labels is not None:
        labels = seg_labels.detach().to(torch.int64)
        counts[2] = float((labels != 255).sum().item())
        upper = 254 if seg_classes is None else seg_classes
        counts[3] = float(((labels >= 1) & (labels <= upper)).sum().item())
    return counts


def global_normalizers(counts: torch.Tensor, detection: TaskSettings, segmentation: TaskSettings,
                       world_size: int = 1) -> Tuple[Union[str, float], Union[str, float]]:
    """M_det and M_seg from the all-reduced counts (docs/usage.md §4, step 3), divided by
    ``world_size`` (1: gradients all-reduced by sum; K: averaged over K workers)."""

    def one(count: float, positives: float, normalizer: Union[str, float]) -> float:
        if normalizer == "samples":
            m = count
        elif normalizer == "positives":
            m = max(positives, 1.0)
        else:
            m = float(normalizer)
        if m <= 0:  # every sample or pixel ignored on every worker: all sums are 0, any M gives them
            m = 1.0
        return m / world_size

    c = [float(v) for v in counts.tolist()]
    return one(c[0], c[1], detection.normalizer), one(c[2], c[3], segmentation.normalizer)


class REGStepFunction(torch.autograd.Function):
    """The step as an autograd function of (det_logits, det_sigma, seg_logits, seg_sigma).

    ``forward(ctx, call, det_logits, det_sigma, seg_logits, seg_sigma)``: ``call(det, det_sigma,
    seg, seg_sigma, grads)`` runs ``Engine.step`` on host arrays and returns its ``StepResult``;
    the output is L_total as a 0-dimensional tensor of the logits' dtype, on their device."""

    @staticmethod
    def forward(ctx: Any, call: Any, det_logits: Optional[torch.Tensor], det_sigma: Optional[torch.Tensor],
                seg_logits: Optional[torch.Tensor], seg_sigma: Optional[torch.Tensor]) -> torch.Tensor:
        inputs = (det_logits, det_sigma, seg_logits, seg_sigma)
        hosts = [_host_floats(name, t) for name, t in zip(("det_logits", "det_sigma", "seg_logits", "seg_sigma"), inputs)]
        # Gradients are written in place into CPU tensors (shared with NumPy) of each task's logits'
        # dtype on the host: float16 logits get float16 gradients (σ gradients too).
        dtypes = []
        for logits in (hosts[0], hosts[0], hosts[2], hosts[2]):
            dtypes.append(torch.float16 if logits is not None and logits.dtype == np.float16 else torch.float32)
        grads = [None if t is None else torch.empty(t.shape, dtype=d) for t, d in zip(inputs, dtypes)]
        result: StepResult = call(*hosts, [None if g is None else g.numpy() for g in grads])
        reference = next(t for t in inputs if t is not None)
        saved = []
        for t, g in zip(inputs, grads):
            if t is None or g is None:
                saved.append(None)
            else:
                saved.append(g.to(device=t.device, dtype=t.dtype) if (t.device.type != "cpu" or t.dtype != g.dtype)
                             else g)
        ctx.saved = saved
        ctx.result = result
        return torch.tensor(result.total, dtype=reference.dtype, device=reference.device)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        grads = [None if g is None or not needs else g * grad_output
                 for g, needs in zip(ctx.saved, ctx.needs_input_grad[1:])]
        return (None, *grads)


class REGLoss(torch.nn.Module):
    """L_total = L_det + λ·L_seg of REG's step, differentiable in the logits (and σ maps).

    Parameters
    ----------
    detection, segmentation : reg.TaskSettings or dict, optional
        Each task's settings (``alpha``, ``gamma``, ``refinement``, ``beta``, ``delta``, ``sigma``,
        ``activation``, ``positive_fraction``, ``normalizer``: ``"samples"``, ``"positives"`` or a
        number M). A dict is passed to ``TaskSettings(**dict)``. None: the defaults.
    lambda_ : float
        λ.
    engine : reg.Engine, optional
        The engine; None: ``reg.default_engine()`` (``$REG_DEVICE``, else "auto").
    distributed : bool or None
        Use the global M under ``torch.distributed``: None (the default) does so when a process
        group is initialised; False never (each process normalises by its own shard).
    average_gradients : bool
        Under ``distributed``: True (DistributedDataParallel's mean all-reduce) runs the step with
        M / world size, so that the averaged gradients are the global gradient; False (you
        all-reduce by sum) with M.
    validate, memory_budget
        As in ``Engine.step``.

    ``forward(det_logits=None, det_targets=None, det_points=None, det_boxes=None, det_images=None,
    det_sigma=None, seg_logits=None, seg_labels=None, seg_sigma=None)`` returns L_total (a
    0-dimensional tensor). ``last_result`` is the step's ``reg.StepResult`` (each task's ``loss``,
    ``sum``, ``count``, ``positives``, ``divisor``; the backend) of the latest forward call, and
    ``last_normalizers`` the (M_det, M_seg) passed to it.
    """

    def __init__(self, detection: Settings = None, segmentation: Settings = None, lambda_: float = 1.0, *,
                 engine: Optional[Engine] = None, distributed: Optional[bool] = None,
                 average_gradients: bool = True, validate: bool = True,
                 memory_budget: Optional[int] = None) -> None:
        super().__init__()
        self.detection = _settings(detection)
        self.segmentation = _settings(segmentation)
        self.lambda_ = float(lambda_)
        self.engine = engine
        self.distributed = distributed
        self.average_gradients = average_gradients
        self.validate = validate
        self.memory_budget = memory_budget
        self.last_result: Optional[StepResult] = None
        self.last_normalizers: Optional[Tuple[Union[str, float], Union[str, float]]] = None

    def _distributed(self) -> bool:
        if self.distributed is False:
            return False
        dist = torch.distributed
        active = dist.is_available() and dist.is_initialized()
        if self.distributed and not active:
            raise RuntimeError("REGLoss(distributed=True) needs an initialised torch.distributed process group")
        return active

    def forward(self, det_logits: Optional[torch.Tensor] = None, det_targets: Optional[torch.Tensor] = None,
                det_points: Optional[torch.Tensor] = None, det_boxes: Optional[torch.Tensor] = None,
                det_images: Optional[int] = None, det_sigma: Optional[torch.Tensor] = None,
                seg_logits: Optional[torch.Tensor] = None, seg_labels: Optional[torch.Tensor] = None,
                seg_sigma: Optional[torch.Tensor] = None) -> torch.Tensor:
        if det_logits is None and seg_logits is None:
            raise ValueError("REGLoss: give det_logits, seg_logits or both")
        detection, segmentation = self.detection, self.segmentation
        if self._distributed():
            dist = torch.distributed
            counts = task_counts(det_targets if det_logits is not None else None,
                                 seg_labels if seg_logits is not None else None,
                                 None if seg_logits is None else int(seg_logits.shape[1]))
            # gloo reduces CPU tensors; NCCL needs them on the process's device.
            backend = dist.get_backend()
            where = counts if backend == "gloo" else counts.to(torch.device("cuda", torch.cuda.current_device()))
            dist.all_reduce(where, op=dist.ReduceOp.SUM)
            counts = where.cpu()
            k = dist.get_world_size() if self.average_gradients else 1
            m_det, m_seg = global_normalizers(counts, detection, segmentation, k)
            detection = replace(detection, normalizer=m_det)
            segmentation = replace(segmentation, normalizer=m_seg)
        self.last_normalizers = (detection.normalizer, segmentation.normalizer)
        engine = self.engine if self.engine is not None else default_engine()
        targets = _host_floats("det_targets", det_targets)
        points = _host(det_points, name="det_points")
        boxes = _host(det_boxes, name="det_boxes")
        labels = _host(seg_labels, torch.uint8, "seg_labels") if seg_labels is not None else None

        def call(det: Optional[np.ndarray], dsig: Optional[np.ndarray], seg: Optional[np.ndarray],
                 ssig: Optional[np.ndarray], grads: list) -> StepResult:
            return engine.step(
                det_logits=det, det_targets=targets if det is not None else None,
                det_points=points if det is not None else None, det_boxes=boxes if det is not None else None,
                det_images=det_images if det is not None else None, det_sigma=dsig,
                seg_logits=seg, seg_labels=labels if seg is not None else None, seg_sigma=ssig,
                detection=detection, segmentation=segmentation, lambda_=self.lambda_, validate=self.validate,
                memory_budget=self.memory_budget, det_logits_grad=grads[0], det_sigma_grad=grads[1],
                seg_logits_grad=grads[2], seg_sigma_grad=grads[3])

        holder: Dict[str, StepResult] = {}

        def recording(*args: Any) -> StepResult:
            holder["result"] = call(*args)
            return holder["result"]

        total = REGStepFunction.apply(recording, det_logits, det_sigma, seg_logits, seg_sigma)
        self.last_result = holder["result"]
        return total

    def extra_repr(self) -> str:
        return f"detection={self.detection}, segmentation={self.segmentation}, lambda_={self.lambda_}"
