"""REG from JAX: the step's L_total as a ``jax.custom_vjp`` function over ``jax.pure_callback``
(docs/python.md, "JAX").

>>> import jax, reg, reg.jax
>>> loss = reg.jax.step_loss(detection=reg.TaskSettings(normalizer="positives"))
>>> g = jax.grad(loss)(det_logits, None, det_targets, det_points, det_boxes)    # doctest: +SKIP

The forward pass calls ``Engine.step`` on the host once, computing the loss and the gradients
together; the gradients are saved as residuals, and the backward pass multiplies them by the
incoming cotangent (no second call). Works under ``jax.jit`` (the callback runs on the host; arrays
on an accelerator are copied to it and back); ``vmap`` over the callback is not supported.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

from ._engine import Engine, TaskSettings, default_engine

__all__ = ["step_loss", "step"]

Settings = Union[TaskSettings, Dict[str, Any], None]


def _settings(value: Settings) -> TaskSettings:
    if value is None:
        return TaskSettings()
    if isinstance(value, TaskSettings):
        return value
    return TaskSettings(**value)


def _zero_cotangent(x: Any) -> Any:
    """The cotangent of a non-differentiated input: zeros, or float0 zeros for integers."""
    if x is None:
        return None
    x = jnp.asarray(x) if not hasattr(x, "dtype") else x
    if jnp.issubdtype(x.dtype, jnp.floating):
        return jnp.zeros(x.shape, x.dtype)
    return np.zeros(x.shape, dtype=jax.dtypes.float0)


def _gradient_dtype(logits: Any) -> Any:
    """The step's gradient dtype for these logits: float16 for float16 (REG writes half gradients),
    float32 otherwise."""
    return jnp.float16 if jnp.dtype(logits.dtype) == jnp.float16 else jnp.float32


def step_loss(detection: Settings = None, segmentation: Settings = None, lambda_: float = 1.0, *,
              engine: Optional[Engine] = None, det_images: Optional[int] = None,
              validate: bool = True) -> Callable[..., jax.Array]:
    """A function ``f(det_logits, seg_logits, det_targets=None, det_points=None, det_boxes=None,
    seg_labels=None)`` returning L_total (a float32 scalar), differentiable in ``det_logits`` and
    ``seg_logits`` (either may be None for an absent task). float16 logits and targets are read as
    float16 and their gradients come back float16; bfloat16 raises TypeError. The settings mirror ``Engine.step``;
    ``engine`` None uses ``reg.default_engine()`` at call time."""
    det_settings, seg_settings = _settings(detection), _settings(segmentation)
    lam = float(lambda_)

    def host(det_logits, seg_logits, det_targets, det_points, det_boxes, seg_labels):
        e = engine if engine is not None else default_engine()
        result = e.step(det_logits=det_logits, det_targets=det_targets, det_points=det_points, det_boxes=det_boxes,
                        det_images=det_images if det_logits is not None else None, seg_logits=seg_logits,
                        seg_labels=seg_labels, detection=det_settings, segmentation=seg_settings, lambda_=lam,
                        validate=validate)
        total = np.asarray(result.total, dtype=np.float32)
        return total, result.det_logits_grad, result.seg_logits_grad

    def forward_and_gradients(det_logits, seg_logits, det_targets, det_points, det_boxes, seg_labels):
        if det_logits is None and seg_logits is None:
            raise ValueError("reg.jax: give det_logits, seg_logits or both")
        for name, x in (("det_logits", det_logits), ("seg_logits", seg_logits), ("det_targets", det_targets)):
            if x is not None and "bfloat16" in str(getattr(x, "dtype", "")):
                raise TypeError(f"invalid argument {name}: bfloat16 is not supported; pass float32 or float16")
        shapes = (
            jax.ShapeDtypeStruct((), jnp.float32),
            None if det_logits is None else jax.ShapeDtypeStruct(det_logits.shape, _gradient_dtype(det_logits)),
            None if seg_logits is None else jax.ShapeDtypeStruct(seg_logits.shape, _gradient_dtype(seg_logits)),
        )

        def callback(dl, sl, dt, dp, db, lab):
            total, dg, sg = host(dl, sl, dt, dp, db, lab)
            return total, dg, sg

        return jax.pure_callback(callback, shapes, det_logits, seg_logits, det_targets, det_points, det_boxes,
                                 seg_labels)

    @jax.custom_vjp
    def f(det_logits, seg_logits, det_targets=None, det_points=None, det_boxes=None, seg_labels=None):
        total, _, _ = forward_and_gradients(det_logits, seg_logits, det_targets, det_points, det_boxes, seg_labels)
        return total

    def f_fwd(det_logits, seg_logits, det_targets=None, det_points=None, det_boxes=None, seg_labels=None):
        total, dg, sg = forward_and_gradients(det_logits, seg_logits, det_targets, det_points, det_boxes, seg_labels)
        others = (det_targets, det_points, det_boxes, seg_labels)
        return total, (dg, sg, det_logits, seg_logits, others)

    def f_bwd(residuals, g):
        dg, sg, det_logits, seg_logits, others = residuals
        d = None if dg is None else (g * dg).astype(det_logits.dtype)
        s = None if sg is None else (g * sg).astype(seg_logits.dtype)
        return (d, s, *[_zero_cotangent(x) for x in others])

    f.defvjp(f_fwd, f_bwd)
    return f


def step(det_logits: Any = None, seg_logits: Any = None, *, det_targets: Any = None, det_points: Any = None,
         det_boxes: Any = None, seg_labels: Any = None, detection: Settings = None, segmentation: Settings = None,
         lambda_: float = 1.0, engine: Optional[Engine] = None, det_images: Optional[int] = None) -> jax.Array:
    """L_total of one step: ``step_loss(...)`` made and called at once (convenient outside ``jit``;
    inside a jitted function prefer making the loss once with ``step_loss``)."""
    f = step_loss(detection, segmentation, lambda_, engine=engine, det_images=det_images)
    return f(det_logits, seg_logits, det_targets, det_points, det_boxes, seg_labels)
