"""The NumPy API over REG's C API: ``Engine`` with the step, the focal loss and the distance
operations, and the module-level functions on a default engine."""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _capi as C
from ._errors import Error, InvalidArgument, raise_for

__all__ = [
    "Engine",
    "TaskSettings",
    "TaskResult",
    "StepResult",
    "FocalLossResult",
    "default_engine",
    "edt",
    "box_distance",
    "refine",
]

Float32Array = NDArray[np.float32]
# float32 or float16: logits, targets, σ maps and gradients (docs/python.md, "float16").
FloatArray = Union[NDArray[np.float32], NDArray[np.float16]]

_BACKENDS = {C.BACKEND_REFERENCE: "reference", C.BACKEND_OPENCL: "opencl"}
_ACTIVATIONS = {"sigmoid": C.ACTIVATION_SIGMOID, "softmax": C.ACTIVATION_SOFTMAX}
_REDUCTIONS = {"mean": C.REDUCTION_MEAN, "sum": C.REDUCTION_SUM, "none": C.REDUCTION_NONE}
_FALLBACKS = {"reference": C.FALLBACK_REFERENCE, "error": C.FALLBACK_ERROR}
_ELEMENT_TYPES = {np.dtype(np.float32): C.FLOAT32, np.dtype(np.float16): C.FLOAT16}


# MARK: Arrays


def _refuse_bfloat16(name: str, value: Any) -> None:
    """bfloat16 (ml_dtypes' NumPy dtype, as JAX uses, or torch.bfloat16) has no IEEE float16 or
    float32 layout REG reads: a TypeError naming the argument rather than a silent conversion."""
    if "bfloat16" in str(getattr(value, "dtype", "")):
        raise TypeError(f"invalid argument {name}: bfloat16 is not supported; pass float32 or float16 "
                        "(e.g. x.astype(np.float32))")


def _floats(name: str, value: ArrayLike) -> np.ndarray:
    """``value`` as a C-contiguous float32 array: the array itself when it already is one (REG then
    reads its memory in place), else one converted copy."""
    _refuse_bfloat16(name, value)
    if isinstance(value, np.ndarray) and value.dtype == np.float32 and value.flags.c_contiguous:
        return value
    try:
        return np.ascontiguousarray(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise InvalidArgument(f"invalid argument {name}: cannot be read as float32 ({error})") from error


def _half_or_floats(name: str, value: ArrayLike) -> np.ndarray:
    """Logits, targets, σ maps: a C-contiguous float32 or float16 array as it is (read in place); a
    float16 array that is not C-contiguous made so once (it stays float16); anything else converted
    once to float32."""
    _refuse_bfloat16(name, value)
    array = value if isinstance(value, np.ndarray) else None
    if array is None and hasattr(value, "__array__") and not isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            array = None
    if array is not None and array.dtype in _ELEMENT_TYPES:
        return array if array.flags.c_contiguous else np.ascontiguousarray(array)
    return _floats(name, value)


def _gradient_dtype(value: Any) -> Optional[np.dtype]:
    """``gradient_dtype``: None (follow the logits, or the gradient arrays given), or float32 or
    float16 in any spelling NumPy reads (``"float16"``, ``np.float16``, ``"f2"``)."""
    if value is None:
        return None
    if "bfloat16" in str(value):
        raise TypeError("invalid argument gradient_dtype: bfloat16 is not supported; use 'float32' or 'float16'")
    try:
        dtype = np.dtype(value)
    except TypeError as error:
        raise InvalidArgument(f"invalid argument gradient_dtype: is {value!r}; expected 'float32' or 'float16'") from error
    if dtype not in _ELEMENT_TYPES:
        raise InvalidArgument(f"invalid argument gradient_dtype: is {dtype}; expected float32 or float16")
    return dtype


def _labels(name: str, value: ArrayLike) -> np.ndarray:
    """Labels as C-contiguous uint8: a uint8 array as is, other integers checked (0…255) and
    converted once."""
    array = np.asarray(value)
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype.kind not in "iub":
        raise InvalidArgument(f"invalid argument {name}: labels must be integers, got {array.dtype}")
    bad = (array < 0) | (array > 255)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        place = ", ".join(str(i) for i in index)
        raise InvalidArgument(
            f"invalid argument {name}[{place}]: is {array[index]}; labels are 0 (background), 1…C (classes) "
            "or 255 (ignore)")
    return np.ascontiguousarray(array, dtype=np.uint8)


def _shape(name: str, array: np.ndarray, shape: Tuple[int, ...], what: str) -> None:
    if array.shape != tuple(shape):
        raise InvalidArgument(f"invalid argument {name}: has shape {array.shape}; expected {tuple(shape)} ({what})")


def _dimensions(name: str, array: np.ndarray, ndim: int, what: str) -> None:
    if array.ndim != ndim:
        raise InvalidArgument(f"invalid argument {name}: has shape {array.shape}; expected {ndim} dimensions ({what})")


def _rows(name: str, array: np.ndarray, width: int, what: str) -> np.ndarray:
    """``[K, width]`` rows; an empty array of any shape is ``[0, width]``."""
    if array.size == 0:
        return array.reshape(0, width)
    if array.ndim != 2 or array.shape[1] != width:
        raise InvalidArgument(f"invalid argument {name}: has shape {array.shape}; expected [K, {width}] rows ({what})")
    return array


def _output(name: str, given: Optional[np.ndarray], shape: Tuple[int, ...],
            dtype: np.dtype = np.dtype(np.float32)) -> np.ndarray:
    """A new array of ``dtype``, or the caller's, which REG writes in place: it must be a writeable
    C-contiguous array of ``dtype`` (float32 or float16) and the right shape."""
    if given is None:
        return np.empty(shape, dtype=dtype)
    _refuse_bfloat16(name, given)
    if not (isinstance(given, np.ndarray) and given.dtype == dtype and given.flags.c_contiguous
            and given.flags.writeable and given.shape == tuple(shape)):
        got = f"{type(given).__name__} {getattr(given, 'dtype', '')} {getattr(given, 'shape', '')}".strip()
        raise InvalidArgument(
            f"invalid argument {name}: must be a writeable C-contiguous {np.dtype(dtype).name} array of shape "
            f"{tuple(shape)}, got {got}")
    return given


def _task_gradient_dtype(explicit: Optional[np.dtype], given: Optional[np.ndarray], logits: np.ndarray) -> np.dtype:
    """A task's gradient element type: ``gradient_dtype`` when given, else that of the gradient array
    passed (when float32 or float16), else the logits'."""
    if explicit is not None:
        return explicit
    dtype = getattr(given, "dtype", None)
    if dtype is not None and np.dtype(dtype) in _ELEMENT_TYPES:
        return np.dtype(dtype)
    return logits.dtype


def _in(array: Optional[np.ndarray]) -> C.Floats:
    if array is None:
        return C.Floats(None, 0)
    return C.Floats(array.ctypes.data_as(C.c_float_p), array.size)


def _out(array: Optional[np.ndarray]) -> C.FloatsMut:
    if array is None:
        return C.FloatsMut(None, 0)
    return C.FloatsMut(array.ctypes.data_as(C.c_float_p), array.size)


def _tin(array: Optional[np.ndarray]) -> C.Tensor:
    """A float32 or float16 array as a reg_tensor."""
    if array is None:
        return C.Tensor(None, 0, C.FLOAT32)
    return C.Tensor(array.ctypes.data, array.size, _ELEMENT_TYPES[array.dtype])


def _tout(array: Optional[np.ndarray]) -> C.TensorMut:
    if array is None:
        return C.TensorMut(None, 0, C.FLOAT32)
    return C.TensorMut(array.ctypes.data, array.size, _ELEMENT_TYPES[array.dtype])


def _bytes(array: np.ndarray) -> C.Labels:
    return C.Labels(array.ctypes.data_as(C.c_uint8_p), array.size)


def _size(name: str, value: int) -> int:
    value = int(value)
    if value < 0:
        raise InvalidArgument(f"invalid argument {name}: must be at least 0, got {value}")
    return value


# MARK: Settings and results


@dataclass
class TaskSettings:
    """One task's loss settings (docs/usage.md, "Settings").

    Attributes
    ----------
    alpha : array_like of float, optional
        α_c, one per class (finite, ≥ 0); None gives 1 for every class.
    gamma : float
        The focusing parameter γ ≥ 0.
    refinement : bool
        Weigh every element by g = σ(β(d − δ)) of the distances the step computes; False: g ≡ 1.
    beta, delta : float
        β (any sign) and δ (pixels) of the refinement.
    sigma : float
        One prediction uncertainty σ in [0, 1e6] for every logit (a σ map passed to the step wins).
    activation : {"sigmoid", "softmax"}
        ``softmax`` runs over the classes of a pixel: segmentation only.
    positive_fraction : float, optional
        torchvision's split a ∈ [0, 1]; None is off.
    normalizer : {"samples", "positives"} or float
        M of L = Σℓ / M: samples (or non-ignored pixels), positives, or a given M > 0.
    """

    alpha: Optional[ArrayLike] = None
    gamma: float = 2.0
    refinement: bool = True
    beta: float = 0.5
    delta: float = 8.0
    sigma: float = 0.0
    activation: str = "sigmoid"
    positive_fraction: Optional[float] = None
    normalizer: Union[str, float] = "samples"

    def _c(self, prefix: str) -> Tuple[C.TaskSettings, Any]:
        """The C struct, and what must stay alive while it is used."""
        c = C.TaskSettings()
        C.library().reg_task_settings_init(ctypes.byref(c))
        alpha = None
        if self.alpha is not None:
            alpha = _floats(f"{prefix}alpha", self.alpha).reshape(-1)
            c.alpha = alpha.ctypes.data_as(C.c_float_p)
            c.alpha_count = alpha.size
        c.gamma = float(self.gamma)
        c.refinement = 1 if self.refinement else 0
        c.beta = float(self.beta)
        c.delta = float(self.delta)
        c.sigma = float(self.sigma)
        if self.activation not in _ACTIVATIONS:
            raise InvalidArgument(
                f"invalid argument {prefix}activation: is {self.activation!r}; expected 'sigmoid' or 'softmax'")
        c.activation = _ACTIVATIONS[self.activation]
        c.positive_fraction = -1.0 if self.positive_fraction is None else float(self.positive_fraction)
        if isinstance(self.normalizer, str):
            kinds = {"samples": C.NORMALIZER_SAMPLES, "positives": C.NORMALIZER_POSITIVES}
            if self.normalizer not in kinds:
                raise InvalidArgument(
                    f"invalid argument {prefix}normalizer: is {self.normalizer!r}; expected 'samples', 'positives' "
                    "or a number M > 0")
            c.normalizer = kinds[self.normalizer]
        else:
            c.normalizer = C.NORMALIZER_GIVEN
            c.normalizer_value = float(self.normalizer)
        return c, alpha


@dataclass(frozen=True)
class TaskResult:
    """One task's part of a step: what a data-parallel trainer all-reduces.

    Attributes
    ----------
    loss : float
        sum / divisor (0 when the divisor is 0).
    sum : float
        Σℓ over every element (float64).
    count : int
        Samples, or non-ignored pixels.
    positives : int
        Samples with a target > 0, or pixels labelled 1…C.
    divisor : float
        M.
    sigma_gradient : float or None
        ∂L_total/∂σ for a scalar σ > 0.
    """

    loss: float
    sum: float
    count: int
    positives: int
    divisor: float
    sigma_gradient: Optional[float]


@dataclass(frozen=True, eq=False)
class StepResult:
    """What ``Engine.step`` returns: L_total, each task's result, the backend that computed the step
    ("opencl" or "reference") and the gradients (arrays laid out like the logits, float32 or float16
    as ``gradient_dtype`` resolved; None for an absent task or σ map)."""

    total: float
    detection: Optional[TaskResult]
    segmentation: Optional[TaskResult]
    backend: str
    det_logits_grad: Optional[FloatArray]
    det_sigma_grad: Optional[FloatArray]
    seg_logits_grad: Optional[FloatArray]
    seg_sigma_grad: Optional[FloatArray]


@dataclass(frozen=True, eq=False)
class FocalLossResult:
    """What ``Engine.focal_loss`` returns.

    Attributes
    ----------
    loss : float
        Under ``reduction="mean"`` sum / divisor (0 when the divisor is 0), else the sum (float64).
    sum, count, positives, divisor
        As in ``TaskResult``; the divisor is 1 under "sum" and "none".
    gradient : ndarray of float32 or float16
        ∂L/∂logits, laid out like the logits; float16 for float16 logits (or ``gradient_dtype``).
    element_loss : ndarray of float32 or None
        ℓ per element under ``reduction="none"``.
    sigma_gradient : ndarray of float32 or float16, float, or None
        ∂L/∂σ per element for a σ map (the gradient's dtype), the scalar ∂L/∂σ for a scalar σ > 0, else None.
    backend : str
        "opencl" or "reference": what computed this call.
    """

    loss: float
    sum: float
    count: int
    positives: int
    divisor: float
    gradient: FloatArray
    element_loss: Optional[Float32Array]
    sigma_gradient: Union[FloatArray, float, None]
    backend: str


def _task_result(c: C.TaskResult) -> Optional[TaskResult]:
    if not c.present:
        return None
    return TaskResult(loss=c.loss, sum=c.sum, count=int(c.count), positives=int(c.positives), divisor=c.divisor,
                      sigma_gradient=c.sigma_gradient if c.has_sigma_gradient else None)


def _message() -> ctypes.Array:
    return ctypes.create_string_buffer(C.MESSAGE_CAPACITY)


# MARK: Engine


class Engine:
    """One REG engine: an OpenCL device (its context, compiled kernels and the step's buffers, kept
    between calls) or the float64 CPU reference.

    Parameters
    ----------
    device : str or int, optional
        ``"auto"`` (a GPU, else an accelerator, else a CPU OpenCL device such as PoCL, else the
        reference), ``"reference"`` (also ``"ref"``, ``"cpu"``), an index (``0`` or ``"0"``, the order
        ``reg devices`` prints) or a name substring. None: ``$REG_DEVICE``, else ``"auto"``.
    fallback : {"reference", "error"}
        When the device fails: complete the call on the CPU reference with one warning on standard
        error (the default), or raise ``DeviceError``.

    Raises
    ------
    DeviceError
        An index or name that matches no device (the message lists the devices), or a device that
        cannot be set up under ``fallback="error"``.

    Notes
    -----
    An engine may be shared between threads: its calls are serialised (ctypes releases the GIL
    during them, so engines on several devices run in parallel). ``close()`` releases it; do not
    close an engine while another thread calls it.
    """

    def __init__(self, device: Union[str, int, None] = None, *, fallback: str = "reference") -> None:
        self._handle: Optional[ctypes.c_void_p] = None
        lib = C.library()
        if fallback not in _FALLBACKS:
            raise InvalidArgument(f"invalid argument fallback: is {fallback!r}; expected 'reference' or 'error'")
        request = None if device is None else str(device).encode("utf-8")
        handle = ctypes.c_void_p()
        message = _message()
        status = lib.reg_engine_create(request, _FALLBACKS[fallback], ctypes.byref(handle), message, len(message))
        raise_for(status, message.value)
        self._handle = handle

    # Lifetime

    def close(self) -> None:
        """Releases the engine and its device resources (also done when it is garbage-collected)."""
        handle, self._handle = self._handle, None
        if handle is not None and handle.value:
            C.library().reg_engine_destroy(handle)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _engine(self) -> ctypes.c_void_p:
        if self._handle is None:
            raise Error("the engine is closed")
        return self._handle

    # Backend

    def _backend(self) -> Tuple[int, str]:
        backend = ctypes.c_int32(-1)
        text = _message()
        status = C.library().reg_engine_backend(self._engine(), ctypes.byref(backend), text, len(text))
        raise_for(status, text.value)
        return backend.value, text.value.decode("utf-8", errors="replace")

    @property
    def backend(self) -> str:
        """What computes now: ``"OpenCL: <device> (<platform>, <kind>)"`` or ``"CPU reference (float64)"``
        (the reference after a device failure under ``fallback="reference"``)."""
        return self._backend()[1]

    @property
    def on_device(self) -> bool:
        """True while the engine computes on an OpenCL device."""
        return self._backend()[0] == C.BACKEND_OPENCL

    def __repr__(self) -> str:
        if self._handle is None:
            return "reg.Engine(closed)"
        return f"reg.Engine({self.backend!r})"

    # The step

    def step(
        self,
        *,
        det_logits: Optional[ArrayLike] = None,
        det_targets: Optional[ArrayLike] = None,
        det_points: Optional[ArrayLike] = None,
        det_boxes: Optional[ArrayLike] = None,
        det_images: Optional[int] = None,
        det_sigma: Optional[ArrayLike] = None,
        seg_logits: Optional[ArrayLike] = None,
        seg_labels: Optional[ArrayLike] = None,
        seg_sigma: Optional[ArrayLike] = None,
        detection: Optional[TaskSettings] = None,
        segmentation: Optional[TaskSettings] = None,
        lambda_: float = 1.0,
        validate: bool = True,
        memory_budget: Optional[int] = None,
        det_logits_grad: Optional[np.ndarray] = None,
        det_sigma_grad: Optional[np.ndarray] = None,
        seg_logits_grad: Optional[np.ndarray] = None,
        seg_sigma_grad: Optional[np.ndarray] = None,
        gradient_dtype: Any = None,
    ) -> StepResult:
        """One training step: L_total = L_det + λ·L_seg and its gradients (docs/usage.md, "The step").

        The detection task is present when ``det_logits`` is given, the segmentation task when
        ``seg_logits`` is. Distances (point-to-box, per-class EDT) and the refinement are computed
        inside the step. Arrays that are C-contiguous float32 (uint8 labels) are read in place, and
        so are C-contiguous float16 logits, targets and σ maps (float16 stays float16 all the way to
        the device); others are converted once (a copy). bfloat16 raises TypeError.

        Parameters
        ----------
        det_logits : array_like, shape (N, C)
            Detection logits, finite.
        det_targets : array_like, shape (N, C)
            Targets in [0, 1] (one-hot, multi-hot or soft).
        det_points : array_like, shape (N, 3)
            Rows (image, x, y): each sample's image and point in pixels.
        det_boxes : array_like, shape (M, 6), optional
            Ground-truth boxes, rows (image, class 1…C, x1, y1, x2, y2); None: no box.
        det_images : int, optional
            How many images the points and boxes refer to; None: 1 + the largest image index.
        det_sigma : array_like, shape (N, C), optional
            A σ map.
        seg_logits : array_like, shape (B, C, H, W)
            Segmentation logits (NCHW), finite.
        seg_labels : array_like of int, shape (B, H, W)
            0 background, 1…C class, 255 ignore.
        seg_sigma : array_like, shape (B, C, H, W), optional
            A σ map.
        detection, segmentation : TaskSettings, optional
            Each task's settings; None: ``TaskSettings()``.
        lambda_ : float
            λ of L_total = L_det + λ·L_seg.
        validate : bool
            Scan every element on the host before any kernel (a bad element is named either way).
        memory_budget : int, optional
            Device bytes one chunk of the batch may use; None: half the device's memory.
        det_logits_grad, det_sigma_grad, seg_logits_grad, seg_sigma_grad : ndarray, optional
            Arrays to write the gradients into (writeable C-contiguous float32 or float16 of the
            task's gradient dtype, shaped like the logits); None: new arrays.
        gradient_dtype : {None, "float32", "float16"}
            The gradients' element type. None: per task, the dtype of the logits' gradient array
            when one is given, else the logits' dtype (float16 logits give float16 gradients, written
            by the device as float16, rounded to nearest even). A task's σ gradient has the same.

        Returns
        -------
        StepResult
            The total, each task's result, the backend, and the gradients: ∂L_det/∂z for detection,
            λ·∂L_seg/∂z for segmentation (and ∂L_total/∂σ for σ maps).

        Raises
        ------
        InvalidArgument
            A bad shape, setting or element; the message names the argument as ``reg step`` does
            (``det_logits[3, 1]``, ``seg_labels[0, 4, 2]``, ``det_alpha``, …).
        OutOfMemory
            One sample or image does not fit the memory budget, or the host lacks memory.
        DeviceError
            The device failed under ``fallback="error"``.
        """
        lib = C.library()
        for task, logits_given, others in [
            ("det", det_logits is not None, dict(det_targets=det_targets, det_points=det_points, det_boxes=det_boxes,
                                                 det_sigma=det_sigma, det_logits_grad=det_logits_grad,
                                                 det_sigma_grad=det_sigma_grad)),
            ("seg", seg_logits is not None, dict(seg_labels=seg_labels, seg_sigma=seg_sigma,
                                                 seg_logits_grad=seg_logits_grad, seg_sigma_grad=seg_sigma_grad)),
        ]:
            given = [name for name, value in others.items() if value is not None]
            if given and not logits_given:
                raise InvalidArgument(f"invalid argument {task}_logits: is required with {given[0]}")
        keep: list = []
        det_batch = seg_batch = None
        det_grad = det_sgrad = seg_grad = seg_sgrad = None
        explicit = _gradient_dtype(gradient_dtype)
        if det_logits is not None:
            logits = _half_or_floats("det_logits", det_logits)
            _dimensions("det_logits", logits, 2, "[samples, classes]")
            n, classes = logits.shape
            if det_targets is None or det_points is None:
                missing = "det_targets" if det_targets is None else "det_points"
                raise InvalidArgument(f"invalid argument {missing}: is required with det_logits")
            targets = _half_or_floats("det_targets", det_targets)
            _shape("det_targets", targets, logits.shape, "the logits' shape")
            points = _rows("det_points", _floats("det_points", det_points), 3, "image, x, y")
            _shape("det_points", points, (n, 3), "one row (image, x, y) per sample")
            boxes = _rows("det_boxes", _floats("det_boxes", [] if det_boxes is None else det_boxes), 6,
                          "image, class, x1, y1, x2, y2")
            sigma = None
            if det_sigma is not None:
                sigma = _half_or_floats("det_sigma", det_sigma)
                _shape("det_sigma", sigma, logits.shape, "the logits' shape")
            images = _size("det_images", det_images) if det_images is not None else _images(points, boxes)
            det_batch = C.DetectionBatchTyped(_tin(logits), _tin(targets), _in(points), _in(boxes), _tin(sigma), n,
                                              classes, images)
            keep += [logits, targets, points, boxes, sigma]
            dtype = _task_gradient_dtype(explicit, det_logits_grad, logits)
            det_grad = _output("det_logits_grad", det_logits_grad, logits.shape, dtype)
            if sigma is not None:
                det_sgrad = _output("det_sigma_grad", det_sigma_grad, logits.shape, dtype)
        if seg_logits is not None:
            logits = _half_or_floats("seg_logits", seg_logits)
            _dimensions("seg_logits", logits, 4, "[batch, classes, height, width]")
            b, classes, h, w = logits.shape
            if seg_labels is None:
                raise InvalidArgument("invalid argument seg_labels: is required with seg_logits")
            labels = _labels("seg_labels", seg_labels)
            _shape("seg_labels", labels, (b, h, w), "the logits' batch, height, width")
            sigma = None
            if seg_sigma is not None:
                sigma = _half_or_floats("seg_sigma", seg_sigma)
                _shape("seg_sigma", sigma, logits.shape, "the logits' shape")
            seg_batch = C.SegmentationBatchTyped(_tin(logits), _bytes(labels), _tin(sigma), b, classes, h, w)
            keep += [logits, labels, sigma]
            dtype = _task_gradient_dtype(explicit, seg_logits_grad, logits)
            seg_grad = _output("seg_logits_grad", seg_logits_grad, logits.shape, dtype)
            if sigma is not None:
                seg_sgrad = _output("seg_sigma_grad", seg_sigma_grad, logits.shape, dtype)

        settings = C.StepSettings()
        lib.reg_step_settings_init(ctypes.byref(settings))
        settings.detection, alive = (detection or TaskSettings())._c("det_")
        keep.append(alive)
        settings.segmentation, alive = (segmentation or TaskSettings())._c("seg_")
        keep.append(alive)
        settings.lambda_ = float(lambda_)
        settings.validate_elements = 1 if validate else 0
        if memory_budget is not None:
            budget = int(memory_budget)
            if budget < 1:
                raise InvalidArgument(f"invalid argument memoryBudget: must be at least 1 byte, got {budget}")
            settings.memory_budget = budget
        gradients = C.StepGradientsTyped(_tout(det_grad), _tout(det_sgrad), _tout(seg_grad), _tout(seg_sgrad))
        result = C.StepResult()
        message = _message()
        status = lib.reg_step_typed(self._engine(), ctypes.byref(det_batch) if det_batch is not None else None,
                              ctypes.byref(seg_batch) if seg_batch is not None else None, ctypes.byref(settings),
                              ctypes.byref(gradients), ctypes.byref(result), message, len(message))
        raise_for(status, message.value)
        return StepResult(total=result.total, detection=_task_result(result.detection),
                          segmentation=_task_result(result.segmentation), backend=_BACKENDS.get(result.backend, "?"),
                          det_logits_grad=det_grad, det_sigma_grad=det_sgrad, seg_logits_grad=seg_grad,
                          seg_sigma_grad=seg_sgrad)

    # The focal loss

    def focal_loss(
        self,
        logits: ArrayLike,
        targets: Optional[ArrayLike] = None,
        *,
        labels: Optional[ArrayLike] = None,
        alpha: Optional[ArrayLike] = None,
        gamma: float = 2.0,
        distances: Optional[ArrayLike] = None,
        beta: float = 0.5,
        delta: float = 8.0,
        sigma: Union[float, ArrayLike] = 0.0,
        activation: str = "sigmoid",
        positive_fraction: Optional[float] = None,
        normalizer: Union[str, float] = "samples",
        reduction: str = "mean",
        gradient_dtype: Any = None,
    ) -> FocalLossResult:
        """The refined focal loss of one task and its gradient (docs/math.md §1–§5).

        Detection: ``logits`` (N, C) with ``targets`` (N, C) in [0, 1]. Segmentation: ``logits``
        (B, C, H, W) with ``labels`` (B, H, W): 0 background, 1…C class, 255 ignore. The arrays are
        copied once into REG (see docs/python.md); ``step`` reads them in place. Logits and targets
        may be float16 (computed in float32, as REG widens halves exactly); the gradient is then
        float16 unless ``gradient_dtype`` says otherwise.

        Parameters
        ----------
        logits : array_like
            (N, C) or (B, C, H, W), finite.
        targets : array_like, optional
            Detection targets, shaped like the logits.
        labels : array_like of int, optional
            Segmentation labels (B, H, W).
        alpha : array_like, optional
            α_c, one per class; None: 1.
        gamma : float
            γ ≥ 0.
        distances : array_like, optional
            d per element (like the logits; ``inf`` for "no ground truth of the class"): weighs each
            element by g = σ(β(d − δ)). None: no refinement.
        beta, delta : float
            β and δ of the refinement.
        sigma : float or array_like
            One σ ≥ 0 for every logit, or a σ map shaped like the logits.
        activation : {"sigmoid", "softmax"}
            ``softmax`` over the classes of a pixel, segmentation only.
        positive_fraction : float, optional
            torchvision's a ∈ [0, 1].
        normalizer : {"samples", "positives"} or float
            M of the mean.
        reduction : {"mean", "sum", "none"}
            Σℓ / M, Σℓ, or ℓ per element in ``element_loss`` (the gradient is then the sum's).
        gradient_dtype : {None, "float32", "float16"}
            The element type of ``gradient`` (and of a σ map's ``sigma_gradient``); None: the logits'.
            float16 gradients are rounded to nearest even.

        Returns
        -------
        FocalLossResult

        Raises
        ------
        InvalidArgument
            A bad shape, setting or element, named (``logits[2, 1]``, ``labels[0, 3, 1]``, ``alpha``, …).
        """
        if (targets is None) == (labels is None):
            raise InvalidArgument("invalid argument targets: give targets (detection) or labels (segmentation), "
                                  "exactly one")
        lib = C.library()
        explicit = _gradient_dtype(gradient_dtype)
        z = _half_or_floats("logits", logits)
        settings = TaskSettings(alpha=alpha, gamma=gamma, refinement=distances is not None, beta=beta, delta=delta,
                                activation=activation, positive_fraction=positive_fraction, normalizer=normalizer)
        sigma_map = None
        if np.ndim(sigma) == 0:
            settings.sigma = float(sigma)  # type: ignore[arg-type]
        else:
            sigma_map = _floats("sigma", sigma)
            _shape("sigma", sigma_map, z.shape, "the logits' shape")
        c_settings, alive = settings._c("")
        d = None
        if distances is not None:
            d = _floats("distances", distances)
            _shape("distances", d, z.shape, "the logits' shape")
        if reduction not in _REDUCTIONS:
            raise InvalidArgument(f"invalid argument reduction: is {reduction!r}; expected 'mean', 'sum' or 'none'")
        dtype = explicit if explicit is not None else z.dtype
        gradient = np.empty(z.shape, dtype=dtype)
        element_loss = np.empty(z.shape, dtype=np.float32) if reduction == "none" else None
        sigma_gradient = np.empty(z.shape, dtype=dtype) if sigma_map is not None else None
        result = C.FocalResult()
        message = _message()
        if targets is not None:
            _dimensions("logits", z, 2, "[samples, classes] with targets")
            y = _half_or_floats("targets", targets)
            _shape("targets", y, z.shape, "the logits' shape")
            status = lib.reg_focal_loss_detection_typed(
                self._engine(), _tin(z), _tin(y), z.shape[0], z.shape[1], _in(d), _in(sigma_map),
                ctypes.byref(c_settings), _REDUCTIONS[reduction], _tout(gradient), _out(element_loss),
                _tout(sigma_gradient), ctypes.byref(result), message, len(message))
        else:
            _dimensions("logits", z, 4, "[batch, classes, height, width] with labels")
            b, classes, h, w = z.shape
            label_bytes = _labels("labels", labels)
            _shape("labels", label_bytes, (b, h, w), "the logits' batch, height, width")
            status = lib.reg_focal_loss_segmentation_typed(
                self._engine(), _tin(z), _bytes(label_bytes), b, classes, h, w, _in(d), _in(sigma_map),
                ctypes.byref(c_settings), _REDUCTIONS[reduction], _tout(gradient), _out(element_loss),
                _tout(sigma_gradient), ctypes.byref(result), message, len(message))
        del alive
        raise_for(status, message.value)
        scalar = result.sigma_gradient if result.has_sigma_gradient else None
        return FocalLossResult(loss=result.loss, sum=result.sum, count=int(result.count),
                               positives=int(result.positives), divisor=result.divisor, gradient=gradient,
                               element_loss=element_loss,
                               sigma_gradient=sigma_gradient if sigma_gradient is not None else scalar,
                               backend=_BACKENDS.get(result.backend, "?"))

    # Distances and refinement

    def edt(self, labels: ArrayLike, classes: Optional[int] = None, *, spacing: Tuple[float, float] = (1.0, 1.0),
            squared: bool = False) -> Float32Array:
        """The exact per-class Euclidean distance transform (see ``reg.edt``)."""
        label_bytes = _labels("labels", labels)
        single = label_bytes.ndim == 2
        if single:
            label_bytes = label_bytes[np.newaxis]
        _dimensions("labels", label_bytes, 3, "[batch, height, width] or [height, width]")
        b, h, w = label_bytes.shape
        if classes is None:
            present = label_bytes[label_bytes != 255]
            classes = max(int(present.max()) if present.size else 0, 1)
        classes = _size("classes", classes)
        out = np.empty((b, classes, h, w), dtype=np.float32)
        backend = ctypes.c_int32(-1)
        message = _message()
        status = C.library().reg_distance_transform(
            self._engine(), _bytes(label_bytes), b, h, w, classes, float(spacing[0]), float(spacing[1]),
            1 if squared else 0, _out(out), ctypes.byref(backend), message, len(message))
        raise_for(status, message.value)
        return out[0] if single else out

    def box_distance(self, points: ArrayLike, boxes: ArrayLike, classes: int) -> Float32Array:
        """Point-to-box distances per class (see ``reg.box_distance``)."""
        p = _rows("points", _floats("points", points), 3, "image, x, y")
        bx = _rows("boxes", _floats("boxes", boxes), 6, "image, class, x1, y1, x2, y2")
        classes = _size("classes", classes)
        out = np.empty((p.shape[0], classes), dtype=np.float32)
        backend = ctypes.c_int32(-1)
        message = _message()
        status = C.library().reg_box_distances(self._engine(), _in(p), _in(bx), classes, _out(out),
                                               ctypes.byref(backend), message, len(message))
        raise_for(status, message.value)
        return out

    def refine(self, d: ArrayLike, beta: float, delta: float) -> Float32Array:
        """g = σ(β(d − δ)) elementwise (see ``reg.refine``)."""
        distances = _floats("distances", d)
        out = np.empty(distances.shape, dtype=np.float32)
        backend = ctypes.c_int32(-1)
        message = _message()
        status = C.library().reg_refine(self._engine(), _in(distances), float(beta), float(delta), _out(out),
                                        ctypes.byref(backend), message, len(message))
        raise_for(status, message.value)
        return out


def _images(points: np.ndarray, boxes: np.ndarray) -> int:
    """1 + the largest finite image index of the points and boxes (0 without any); REG then checks
    every index against it."""
    indices = np.concatenate([points[:, 0], boxes[:, 0]])
    finite = indices[np.isfinite(indices)]
    if finite.size == 0 or finite.max() < 0:
        return 0
    return int(min(float(finite.max()), 2.0 ** 62)) + 1


# MARK: Module-level functions on a default engine

_default: Optional[Engine] = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """The engine ``reg.edt``, ``reg.box_distance`` and ``reg.refine`` use: ``Engine()``
    ($REG_DEVICE, else auto), made on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default


def edt(labels: ArrayLike, classes: Optional[int] = None, *, spacing: Tuple[float, float] = (1.0, 1.0),
        squared: bool = False, engine: Optional[Engine] = None) -> Float32Array:
    """The exact per-class Euclidean distance transform of label maps.

    Parameters
    ----------
    labels : array_like of int, shape (B, H, W) or (H, W)
        0 background, 1…C class, 255 ignore (ground truth of no class).
    classes : int, optional
        C; None: the largest label other than 255 (at least 1).
    spacing : (float, float)
        A pixel's size along y and x.
    squared : bool
        Squared distances (exact integers at unit spacing).
    engine : Engine, optional
        None: ``default_engine()``.

    Returns
    -------
    ndarray of float32, shape (B, C, H, W) or (C, H, W)
        Channel k: the distance from every pixel to the nearest pixel of class k + 1 in its image
        (0 on it), ``inf`` over the whole map when the image has none.

    Raises
    ------
    InvalidArgument
        A label outside 0…C and 255 (named as ``labels[b, y, x]``), a bad size or spacing.
    """
    return (engine or default_engine()).edt(labels, classes, spacing=spacing, squared=squared)


def box_distance(points: ArrayLike, boxes: ArrayLike, classes: int, *, engine: Optional[Engine] = None) -> Float32Array:
    """Distances from sample points to the nearest ground-truth box of each class in their image.

    Parameters
    ----------
    points : array_like, shape (N, 3)
        Rows (image, x, y); image a whole number ≥ 0.
    boxes : array_like, shape (M, 6)
        Rows (image, class 1…C, x1, y1, x2, y2), x1 ≤ x2 and y1 ≤ y2; M may be 0.
    classes : int
        C.
    engine : Engine, optional
        None: ``default_engine()``.

    Returns
    -------
    ndarray of float32, shape (N, C)
        0 inside or on a box, ``inf`` when the point's image has no box of the class.

    Raises
    ------
    InvalidArgument
        A degenerate box, a class outside 1…C, a bad image index or coordinate (named as
        ``boxes[m]``, ``points[n]``).
    """
    return (engine or default_engine()).box_distance(points, boxes, classes)


def refine(d: ArrayLike, beta: float, delta: float, *, engine: Optional[Engine] = None) -> Float32Array:
    """The spatial refinement g = σ(β(d − δ)) of every distance (docs/math.md §2).

    Parameters
    ----------
    d : array_like
        Distances, any shape; ``inf`` allowed (g = 1 for β > 0, 0 for β < 0).
    beta, delta : float
        β (any sign, finite) and δ (finite).
    engine : Engine, optional
        None: ``default_engine()``.

    Returns
    -------
    ndarray of float32, shaped like ``d``

    Raises
    ------
    InvalidArgument
        A NaN distance (named by its flat index, ``distances[i]``), a non-finite β or δ.
    """
    return (engine or default_engine()).refine(d, beta, delta)
