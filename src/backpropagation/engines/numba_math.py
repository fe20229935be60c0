"""Elementary functions for the compiled loops, written so that a loop over many arguments vectorises.

A call to libm's ``exp`` stops LLVM from vectorising the loop around it; the sigmoid and swish
of a layer's block then cost a libm call per unit and row. :func:`exp_nonpositive` is fdlibm's
``__ieee754_exp`` for ``x <= 0`` without its branches (within an ulp of NumPy's ``np.exp``), so
:func:`sigmoid_block`'s loop over a block's ``exp(-|z|)`` runs on SIMD lanes. Imported only when
numba is installed.
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

#: ln 2 in two parts (fdlibm's ``ln2HI``, 32 bits, and ``ln2LO``): ``k · LN2_HIGH`` is exact.
LN2_HIGH, LN2_LOW, LOG2_E = 6.93147180369123816490e-01, 1.90821492927058770002e-10, 1.44269504088896338700e+00
#: fdlibm's minimax coefficients of ``r (e^r + 1) / (e^r - 1)`` on ``|r| <= ln 2 / 2``.
P1, P2, P3, P4, P5 = (1.66666666666666019037e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05,
                      -1.65339022054652515390e-06, 4.13813679705723846039e-08)
#: Smallest argument served: below it ``2^k`` is no longer a normal number (libm's own there).
LOWEST = -708.0


@intrinsic
def _float_of_bits(typingctx, bits):
    """The float64 whose IEEE bits are the int64 ``bits`` (a reinterpretation, not a conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@njit(cache=True, error_model="numpy", inline="always")
def _exp_reduced(x):
    """``e^x`` for ``LOWEST <= x <= 0``: ``x = k ln 2 + r``, then fdlibm's rational form at ``r``
    and ``2^k`` built from its exponent bits."""
    k = math.floor(x * LOG2_E + 0.5)
    high = x - k * LN2_HIGH
    low = k * LN2_LOW
    r = high - low
    t = r * r
    c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))))
    y = 1.0 - ((low - (r * c) / (2.0 - c)) - high)
    return y * _float_of_bits((int(k) + 1023) << 52)


@njit(cache=True, error_model="numpy", inline="always")
def exp_nonpositive(x):
    """``e^x`` for ``x <= 0`` (a float64), branch-free where ``x >= LOWEST`` (callers that may see
    lower arguments, or NaN, take libm's ``exp`` there: :func:`beyond`)."""
    return _exp_reduced(max(x, LOWEST))


@njit(cache=True, error_model="numpy", inline="always")
def beyond(x) -> bool:
    """Whether :func:`exp_nonpositive` does not serve ``x`` (below :data:`LOWEST`, or NaN)."""
    return not x >= LOWEST


@njit(cache=True, error_model="numpy", inline="always")
def sigmoid(z):
    """``σ(z) = 1 / (1 + e^-z)`` through libm's ``exp(-|z|)`` (never overflows)."""
    e = math.exp(-abs(z))
    return 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)


@njit(cache=True, error_model="numpy")
def sigmoid_block(z, a, times_z):
    """``a = σ(z)``, or ``z σ(z)`` (swish) with ``times_z``, over a block, as :func:`sigmoid`
    computes it but with ``exp(-|z|)`` from :func:`exp_nonpositive`, so that the loop
    vectorises; the arguments it does not serve (below -708, NaN) again through libm."""
    far = 0
    for k in range(z.size):
        x = float(z[k])
        e = exp_nonpositive(-abs(x))
        sig = 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)
        a[k] = sig * (x if times_z else 1.0)
        far += beyond(-abs(x))
    if far:
        for k in range(z.size):
            if beyond(-abs(float(z[k]))):
                a[k] = sigmoid(z[k]) * (z[k] if times_z else 1.0)
