"""REG from NumPy: the Refined Generalized Focal Loss, its distance maps and the training step,
over the C API of libregc.so (docs/python.md).

>>> import numpy as np, reg
>>> engine = reg.Engine("reference")
>>> result = engine.focal_loss(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
>>> round(result.loss, 6)
0.51986

The library is found through ``$REG_LIBRARY``, else in the wheel's ``reg/lib``, else beside this
package, else in the SwiftPM build folder of the checkout this package lies in (``.build/release``
or ``.build/debug``).
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Tuple

from . import _capi
from ._engine import (
    Engine,
    FocalLossResult,
    StepResult,
    TaskResult,
    TaskSettings,
    box_distance,
    default_engine,
    edt,
    refine,
)
from ._errors import DeviceError, Error, InvalidArgument, LibraryNotFound, OutOfMemory

__version__ = "0.2.0"

__all__ = [
    "Engine",
    "TaskSettings",
    "TaskResult",
    "StepResult",
    "FocalLossResult",
    "edt",
    "box_distance",
    "refine",
    "default_engine",
    "version",
    "library_path",
    "Error",
    "InvalidArgument",
    "OutOfMemory",
    "DeviceError",
    "LibraryNotFound",
]


def version() -> Tuple[int, str]:
    """The loaded library's C API version and REG's version string, e.g. ``(1, "0.2.0")``."""
    text = ctypes.c_char_p()
    api = _capi.library().reg_version(ctypes.byref(text))
    return api, (text.value or b"").decode("utf-8")


def library_path() -> Path:
    """The libregc.so this package loaded."""
    return _capi.library_path()
