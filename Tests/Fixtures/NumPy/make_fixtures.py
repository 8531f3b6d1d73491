"""Writes the .npy fixtures of Tests/REGTests/NumPyFixtureTests.swift with NumPy itself.

Run from this folder: python3 make_fixtures.py. The tests hold the same values written out, so a
fixture and its expectation are checked against each other, never against REG's own writer.
"""
import numpy as np
from numpy.lib import format as npformat

def save(name, array, version=None):
    with open(name, "wb") as f:
        if version is None:
            np.save(f, array)
        else:
            npformat.write_array(f, array, version=version)

save("f4_2x3.npy", np.array([[0.5, -1.0, 3.25], [np.inf, -0.0, 1e-38]], dtype="<f4"))
save("f8_scalar.npy", np.array(3.125, dtype="<f8"))
save("u1_5.npy", np.array([0, 1, 2, 254, 255], dtype="|u1"))
save("b1_2x2.npy", np.array([[True, False], [False, True]]))
save("i4_2x1x3.npy", np.array([[[0, -1, 2]], [[2147483647, -2147483648, 255]]], dtype="<i4"))
save("i8_4.npy", np.array([-(2**40), 0, 7, 2**62], dtype="<i8"))
save("f4_1x2x1x3.npy", np.arange(6, dtype="<f4").reshape(1, 2, 1, 3) / 4)
save("f4_0x3.npy", np.zeros((0, 3), dtype="<f4"))
save("f2_2x3.npy", np.array([[0.5, -1.0, 65504.0], [np.inf, -0.0, 2.0**-24]], dtype="<f2"))
# Converted on read: Fortran order, big-endian, both.
save("f4_fortran_2x3.npy", np.asfortranarray(np.array([[1, 2, 3], [4, 5, 6]], dtype="<f4")))
save("f8_big_3.npy", np.array([1.5, -2.0, 1e300], dtype=">f8"))
save("i4_big_fortran_3x2.npy", np.asfortranarray(np.array([[1, 2], [3, 4], [5, -6]], dtype=">i4")))
save("i8_big_2x2.npy", np.array([[1, -2], [2**40, -(2**40)]], dtype=">i8"))
save("f2_big_3.npy", np.array([1.5, -2.0, 0.25], dtype=">f2"))
save("u1_fortran_2x2x2.npy", np.asfortranarray(np.arange(8, dtype="|u1").reshape(2, 2, 2)))
# Format versions 2.0 and 3.0 (NumPy writes them only when asked, or for huge headers).
save("f4_v2_3.npy", np.array([1, 2, 3], dtype="<f4"), version=(2, 0))
save("i4_v3_2.npy", np.array([7, -7], dtype="<i4"), version=(3, 0))
# Refused: a dtype REG does not take.
save("i2_3.npy", np.array([1, 2, 3], dtype="<i2"))
