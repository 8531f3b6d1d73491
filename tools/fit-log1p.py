#!/usr/bin/env python3
"""Coefficients of reg_log1p_unit (Kernels/focal_loss.cl): log(1 + e) ≈ e + e²·R(e) on e ∈ [0, 1].

R has degree 7 and is fitted for the least maximum relative error of e + e²·R(e) against log1p
(Lawson's iteratively reweighted least squares on Chebyshev-spaced points, which converges to the
minimax fit). Writing the result as e + e²·R(e) keeps it exactly e where e²·R(e) is below half an
ulp of e (e < 2⁻²⁴, subnormal e included). Prints the float32 coefficients and the error of the
float32 evaluation the kernel does (Horner with FMAs), in relative terms and in ulps of the result.

    python3 tools/fit-log1p.py
"""
import numpy as np

DEGREE = 7


def fit():
    x = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, 40001))[1:]
    ratio = np.log1p(x) / x                    # log(1 + e) / e = 1 + e·R(e)
    target = (ratio - 1.0) / x
    scale = x / ratio                          # error in R, times this, is the relative error
    basis = np.vander(x, DEGREE + 1, increasing=True) * scale[:, None]
    goal = target * scale
    weights = np.ones_like(x)
    for _ in range(400):
        root = np.sqrt(weights)
        coefficients, *_ = np.linalg.lstsq(basis * root[:, None], goal * root, rcond=None)
        residual = np.abs(basis @ coefficients - goal)
        weights = weights * residual
        weights /= weights.sum()
    return coefficients, float(np.max(np.abs(basis @ coefficients - goal)))


def fma32(a, b, c):
    """float32 fma: the product of two float32 is exact in float64, then one rounding to float32
    (through float64, a double rounding that can differ from a true fma in rare ties)."""
    return (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(np.float32)


def evaluate(coefficients, e):
    r = np.full_like(e, coefficients[-1])
    for c in coefficients[-2::-1]:
        r = fma32(r, e, np.full_like(e, c))
    return fma32((e * r).astype(np.float32), e, e)


def main():
    coefficients, exact = fit()
    c32 = coefficients.astype(np.float32)
    print(f"R of degree {DEGREE}: max relative error {exact:.2e} in exact arithmetic")
    for k, c in enumerate(c32):
        print(f"  e^{k}: {c:.9e}f")
    for lo, hi in [(0.0, 1.0), (0.0, 1e-3), (1e-45, 1e-20)]:
        e = np.linspace(lo, hi, 2_000_001).astype(np.float32)
        e = e[e > 0]
        got = evaluate(c32, e).astype(np.float64)
        want = np.log1p(e.astype(np.float64))
        ulp = np.spacing(want.astype(np.float32)).astype(np.float64)
        print(f"  float32 on [{lo:g}, {hi:g}]: max relative error {np.max(np.abs(got - want) / want):.2e}, "
              f"{np.max(np.abs(got - want) / ulp):.2f} ulp")


if __name__ == "__main__":
    main()
