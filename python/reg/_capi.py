"""ctypes declarations of REG's C API (Sources/REGC/include/reg.h, API version 1, minor version 1)
and the loader of libregc.so. Every structure here mirrors the header field by field."""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import Optional

from ._errors import LibraryNotFound

API_VERSION = 1
# The float16 functions (reg_step_typed, reg_focal_loss_*_typed) came with minor version 1.
API_MINOR_VERSION = 1

# Element types of reg_tensor / reg_tensor_mut.
FLOAT32 = 0
FLOAT16 = 1

# Statuses.
OK = 0
INVALID_ARGUMENT = 1
OUT_OF_MEMORY = 2
DEVICE_ERROR = 3
INTERNAL_ERROR = 4

MESSAGE_CAPACITY = 1024

BACKEND_REFERENCE = 0
BACKEND_OPENCL = 1

FALLBACK_REFERENCE = 0
FALLBACK_ERROR = 1

ACTIVATION_SIGMOID = 0
ACTIVATION_SOFTMAX = 1

NORMALIZER_SAMPLES = 0
NORMALIZER_POSITIVES = 1
NORMALIZER_GIVEN = 2

REDUCTION_MEAN = 0
REDUCTION_SUM = 1
REDUCTION_NONE = 2

LIBRARY_NAME = "libregc.so"
ENVIRONMENT_VARIABLE = "REG_LIBRARY"

c_float_p = ctypes.POINTER(ctypes.c_float)
c_uint8_p = ctypes.POINTER(ctypes.c_uint8)


class Floats(ctypes.Structure):
    """reg_floats: a float32 array REG reads."""

    _fields_ = [("data", c_float_p), ("count", ctypes.c_size_t)]


class FloatsMut(ctypes.Structure):
    """reg_floats_mut: a float32 array REG writes."""

    _fields_ = [("data", c_float_p), ("count", ctypes.c_size_t)]


class Tensor(ctypes.Structure):
    """reg_tensor: a float32 or float16 array REG reads."""

    _fields_ = [("data", ctypes.c_void_p), ("count", ctypes.c_size_t), ("dtype", ctypes.c_int32)]


class TensorMut(ctypes.Structure):
    """reg_tensor_mut: a float32 or float16 array REG writes."""

    _fields_ = [("data", ctypes.c_void_p), ("count", ctypes.c_size_t), ("dtype", ctypes.c_int32)]


class Labels(ctypes.Structure):
    """reg_labels: label bytes REG reads."""

    _fields_ = [("data", c_uint8_p), ("count", ctypes.c_size_t)]


class TaskSettings(ctypes.Structure):
    _fields_ = [
        ("alpha", c_float_p),
        ("alpha_count", ctypes.c_size_t),
        ("gamma", ctypes.c_float),
        ("refinement", ctypes.c_int32),
        ("beta", ctypes.c_float),
        ("delta", ctypes.c_float),
        ("sigma", ctypes.c_float),
        ("activation", ctypes.c_int32),
        ("positive_fraction", ctypes.c_float),
        ("normalizer", ctypes.c_int32),
        ("normalizer_value", ctypes.c_double),
    ]


class StepSettings(ctypes.Structure):
    _fields_ = [
        ("detection", TaskSettings),
        ("segmentation", TaskSettings),
        ("lambda_", ctypes.c_float),
        ("validate_elements", ctypes.c_int32),
        ("memory_budget", ctypes.c_int64),
    ]


class DetectionBatch(ctypes.Structure):
    _fields_ = [
        ("logits", Floats),
        ("targets", Floats),
        ("points", Floats),
        ("boxes", Floats),
        ("sigma", Floats),
        ("samples", ctypes.c_size_t),
        ("classes", ctypes.c_size_t),
        ("images", ctypes.c_size_t),
    ]


class SegmentationBatch(ctypes.Structure):
    _fields_ = [
        ("logits", Floats),
        ("labels", Labels),
        ("sigma", Floats),
        ("batch", ctypes.c_size_t),
        ("classes", ctypes.c_size_t),
        ("height", ctypes.c_size_t),
        ("width", ctypes.c_size_t),
    ]


class StepGradients(ctypes.Structure):
    _fields_ = [
        ("detection_logits", FloatsMut),
        ("detection_sigma", FloatsMut),
        ("segmentation_logits", FloatsMut),
        ("segmentation_sigma", FloatsMut),
    ]


class DetectionBatchTyped(ctypes.Structure):
    _fields_ = [
        ("logits", Tensor),
        ("targets", Tensor),
        ("points", Floats),
        ("boxes", Floats),
        ("sigma", Tensor),
        ("samples", ctypes.c_size_t),
        ("classes", ctypes.c_size_t),
        ("images", ctypes.c_size_t),
    ]


class SegmentationBatchTyped(ctypes.Structure):
    _fields_ = [
        ("logits", Tensor),
        ("labels", Labels),
        ("sigma", Tensor),
        ("batch", ctypes.c_size_t),
        ("classes", ctypes.c_size_t),
        ("height", ctypes.c_size_t),
        ("width", ctypes.c_size_t),
    ]


class StepGradientsTyped(ctypes.Structure):
    _fields_ = [
        ("detection_logits", TensorMut),
        ("detection_sigma", TensorMut),
        ("segmentation_logits", TensorMut),
        ("segmentation_sigma", TensorMut),
    ]


class TaskResult(ctypes.Structure):
    _fields_ = [
        ("present", ctypes.c_int32),
        ("has_sigma_gradient", ctypes.c_int32),
        ("loss", ctypes.c_double),
        ("sum", ctypes.c_double),
        ("count", ctypes.c_int64),
        ("positives", ctypes.c_int64),
        ("divisor", ctypes.c_double),
        ("sigma_gradient", ctypes.c_double),
    ]


class StepResult(ctypes.Structure):
    _fields_ = [
        ("total", ctypes.c_double),
        ("detection", TaskResult),
        ("segmentation", TaskResult),
        ("backend", ctypes.c_int32),
    ]


class FocalResult(ctypes.Structure):
    _fields_ = [
        ("loss", ctypes.c_double),
        ("sum", ctypes.c_double),
        ("count", ctypes.c_int64),
        ("positives", ctypes.c_int64),
        ("divisor", ctypes.c_double),
        ("has_sigma_gradient", ctypes.c_int32),
        ("sigma_gradient", ctypes.c_double),
        ("backend", ctypes.c_int32),
    ]


_engine_p = ctypes.c_void_p
_message = ctypes.c_char_p
_int = ctypes.c_int
_size = ctypes.c_size_t
_int32_p = ctypes.POINTER(ctypes.c_int32)

_SIGNATURES = {
    "reg_version": (_int, [ctypes.POINTER(ctypes.c_char_p)]),
    "reg_api_minor_version": (_int, []),
    "reg_engine_create": (_int, [ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(_engine_p), _message, _size]),
    "reg_engine_destroy": (_int, [_engine_p]),
    "reg_engine_backend": (_int, [_engine_p, _int32_p, _message, _size]),
    "reg_task_settings_init": (_int, [ctypes.POINTER(TaskSettings)]),
    "reg_step_settings_init": (_int, [ctypes.POINTER(StepSettings)]),
    "reg_step": (_int, [_engine_p, ctypes.POINTER(DetectionBatch), ctypes.POINTER(SegmentationBatch),
                        ctypes.POINTER(StepSettings), ctypes.POINTER(StepGradients), ctypes.POINTER(StepResult),
                        _message, _size]),
    "reg_focal_loss_detection": (_int, [_engine_p, Floats, Floats, _size, _size, Floats, Floats,
                                        ctypes.POINTER(TaskSettings), ctypes.c_int32, FloatsMut, FloatsMut, FloatsMut,
                                        ctypes.POINTER(FocalResult), _message, _size]),
    "reg_focal_loss_segmentation": (_int, [_engine_p, Floats, Labels, _size, _size, _size, _size, Floats, Floats,
                                           ctypes.POINTER(TaskSettings), ctypes.c_int32, FloatsMut, FloatsMut,
                                           FloatsMut, ctypes.POINTER(FocalResult), _message, _size]),
    "reg_step_typed": (_int, [_engine_p, ctypes.POINTER(DetectionBatchTyped), ctypes.POINTER(SegmentationBatchTyped),
                              ctypes.POINTER(StepSettings), ctypes.POINTER(StepGradientsTyped),
                              ctypes.POINTER(StepResult), _message, _size]),
    "reg_focal_loss_detection_typed": (_int, [_engine_p, Tensor, Tensor, _size, _size, Floats, Floats,
                                              ctypes.POINTER(TaskSettings), ctypes.c_int32, TensorMut, FloatsMut,
                                              TensorMut, ctypes.POINTER(FocalResult), _message, _size]),
    "reg_focal_loss_segmentation_typed": (_int, [_engine_p, Tensor, Labels, _size, _size, _size, _size, Floats,
                                                 Floats, ctypes.POINTER(TaskSettings), ctypes.c_int32, TensorMut,
                                                 FloatsMut, TensorMut, ctypes.POINTER(FocalResult), _message,
                                                 _size]),
    "reg_distance_transform": (_int, [_engine_p, Labels, _size, _size, _size, _size, ctypes.c_float, ctypes.c_float,
                                      ctypes.c_int32, FloatsMut, _int32_p, _message, _size]),
    "reg_box_distances": (_int, [_engine_p, Floats, Floats, _size, FloatsMut, _int32_p, _message, _size]),
    "reg_refine": (_int, [_engine_p, Floats, ctypes.c_float, ctypes.c_float, FloatsMut, _int32_p, _message, _size]),
}


def candidates() -> list[Path]:
    """Where libregc.so is looked for, in order: $REG_LIBRARY (a file, or a folder holding
    libregc.so), the wheel's bundled lib folder (reg/lib, the library with the Swift runtime beside
    it), beside this package, then the SwiftPM build folders of the checkout this package lies in
    (`.build/release` and `.build/debug`, the newer first)."""
    found: list[Path] = []
    named = os.environ.get(ENVIRONMENT_VARIABLE)
    if named:
        path = Path(named)
        return [path / LIBRARY_NAME if path.is_dir() else path]
    here = Path(__file__).resolve().parent
    found.append(here / "lib" / LIBRARY_NAME)  # a wheel from tools/build-wheel.sh
    found.append(here / LIBRARY_NAME)
    root = here.parent.parent  # python/reg -> the checkout
    if (root / "Package.swift").is_file():
        builds = [root / ".build" / kind / LIBRARY_NAME for kind in ("release", "debug")]
        existing = sorted((p for p in builds if p.is_file()), key=lambda p: p.stat().st_mtime, reverse=True)
        found.extend(existing or builds)
    return found


_library: Optional[ctypes.CDLL] = None
_path: Optional[Path] = None
_lock = threading.Lock()


def library() -> ctypes.CDLL:
    """libregc.so, loaded once, with its functions' signatures declared."""
    global _library, _path
    with _lock:
        if _library is not None:
            return _library
        tried = candidates()
        path = next((p for p in tried if p.is_file()), None)
        if path is None:
            places = ", ".join(str(p) for p in tried)
            raise LibraryNotFound(
                f"{LIBRARY_NAME} not found (looked at {places}); build it with `swift build --product regc` in the "
                f"REG checkout, or set {ENVIRONMENT_VARIABLE} to its path")
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as error:
            raise LibraryNotFound(f"cannot load {path}: {error}") from error
        lib.reg_version.restype = _int
        lib.reg_version.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        version = lib.reg_version(None)
        if version != API_VERSION:
            raise LibraryNotFound(f"{path} has C API version {version}; this package needs {API_VERSION}")
        minor = lib.reg_api_minor_version() if hasattr(lib, "reg_api_minor_version") else 0
        if minor < API_MINOR_VERSION:
            raise LibraryNotFound(f"{path} has C API version {version}.{minor}; this package needs "
                                  f"{API_VERSION}.{API_MINOR_VERSION} or newer (float16); rebuild it")
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(lib, name)
            function.restype = restype
            function.argtypes = argtypes
        _library, _path = lib, path
        return lib


def library_path() -> Path:
    """The file of the loaded library."""
    library()
    assert _path is not None
    return _path
