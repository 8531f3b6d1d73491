"""REG's errors as Python exceptions: each C status has its class, and the message is REG's."""

from __future__ import annotations


class Error(Exception):
    """Every error REG raises. ``status`` is the C API's status (``reg.h``'s ``REG_*``), 0 for errors
    raised by this package before any call."""

    status: int = 4

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        """REG's message, e.g. ``invalid argument det_logits[2, 1]: must be finite, got nan``."""
        return str(self.args[0]) if self.args else ""


class InvalidArgument(Error, ValueError):
    """A bad argument (``REG_INVALID_ARGUMENT``): the message names it and the first bad index."""

    status = 1


class OutOfMemory(Error, MemoryError):
    """Not enough host or device memory for the call (``REG_OUT_OF_MEMORY``), found before anything
    was allocated; the message says how much was needed and how to need less."""

    status = 2


class DeviceError(Error, RuntimeError):
    """The device failed under ``fallback="error"``, or the device asked for does not exist
    (``REG_DEVICE_ERROR``)."""

    status = 3


class LibraryNotFound(Error, OSError):
    """libregc.so was not found or could not be loaded (raised by this package)."""

    status = 0


_BY_STATUS = {1: InvalidArgument, 2: OutOfMemory, 3: DeviceError}


def raise_for(status: int, message: bytes) -> None:
    """Raises the exception of a C status other than REG_OK, with REG's message."""
    if status == 0:
        return
    text = message.decode("utf-8", errors="replace")
    cls = _BY_STATUS.get(status, Error)
    raise cls(text, status)
