"""Compiled kernels of the input stage: periodic embeddings and the input scale, row by row.

The rules of :mod:`backpropagation.nn.input_layers` (:class:`PeriodicEmbedding`,
:class:`InputScale`) on a block of a batch's rows, over the flat parameter and gradient vectors,
described by a :data:`~.numba_codes.Stage`. Forward, per row and periodic column ``j``::

    u = 2π x w_j + b_j,   h = cos(u),   e = h V_j + c_j,   a = [x, e]      then   a' = a ⊙ s

backward, from ``∂L/∂a'`` (the first layer's ``δ Wᵀ``)::

    ∂L/∂s = Σ_rows a ⊙ ∂L/∂a',   ∂L/∂a = s ⊙ ∂L/∂a'
    ∂L/∂V_j = Σ_rows hᵀ ∂L/∂e,  ∂L/∂c_j = Σ_rows ∂L/∂e,  ∂L/∂u = -sin(u) ⊙ ∂L/∂e V_jᵀ
    ∂L/∂w_j = 2π Σ_rows x ∂L/∂u,  ∂L/∂b_j = Σ_rows ∂L/∂u

The data is not learned: nothing flows on to ``x``. Imported only when numba is installed.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .numba_kernels import like

TWO_PI = 2 * math.pi
#: Coefficients of fdlibm's ``__kernel_sin`` and ``__kernel_cos`` (minimax on [-π/4, π/4]).
S1, S2, S3, S4, S5, S6 = (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
                          2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)
C1, C2, C3, C4, C5, C6 = (4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
                          -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11)
#: π/2 in two parts (fdlibm's ``pio2_1``, 33 bits, and ``pio2_1t``): ``n · PIO2_HIGH`` is exact
#: for the ``n`` below :data:`REDUCED_UP_TO`, so the reduced argument keeps its precision.
PIO2_HIGH, PIO2_LOW, TWO_OVER_PI = 1.57079632673412561417e+00, 6.07710050650619224932e-11, 0.63661977236758134308
#: Largest ``|u|`` the two-part reduction serves (2^19 · π/2); beyond it (and for NaN) libm's own.
REDUCED_UP_TO = 823549.6


@njit(cache=True, error_model="numpy", inline="always", fastmath={"contract"})
def _sin_cos_reduced(u):
    """``(sin u, cos u)`` for ``|u| <=`` :data:`REDUCED_UP_TO`, without branches (so that a loop
    over many ``u`` vectorises): ``u = n π/2 + r`` with ``|r| <= π/4``, the two polynomials at
    ``r``, then the quadrant ``n mod 4`` picks and signs them."""
    n = np.floor(u * TWO_OVER_PI + 0.5)
    r = (u - n * PIO2_HIGH) - n * PIO2_LOW
    z = r * r
    sine = r + z * r * (S1 + z * (S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)))))
    half = 0.5 * z
    w = 1.0 - half
    cosine = w + (((1.0 - w) - half) + z * z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6))))))
    quadrant = n - 4.0 * np.floor(0.25 * n)                  # n mod 4, as a float (0, 1, 2 or 3)
    odd = quadrant - 2.0 * np.floor(0.5 * quadrant)
    first, second = odd * cosine + (1.0 - odd) * sine, odd * sine + (1.0 - odd) * cosine
    return (first * (1.0 - 2.0 * np.floor(0.5 * quadrant)),
            second * (1.0 - 2.0 * (np.floor(0.5 * (quadrant + 1.0)) - 2.0 * np.floor(0.25 * (quadrant + 1.0)))))


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def sin_cos(U, S, C):
    """``S = sin(U)``, ``C = cos(U)`` elementwise, in float64 whatever the arrays' dtype (then
    rounded to it): within 2.3e-16 of NumPy's ``np.sin``/``np.cos`` (an ulp of 1), and
    several times faster than libm's two calls, since one vectorised loop serves both (its
    multiply-adds fused: ``contract`` is the one fast-math liberty taken, NaN and infinities keep
    their meaning)."""
    for i in range(U.size):
        sine, cosine = _sin_cos_reduced(float(U[i]))
        S[i], C[i] = sine, cosine
    for i in range(U.size):              # (the rare argument beyond the reduction's range)
        if not abs(U[i]) <= REDUCED_UP_TO:
            S[i], C[i] = math.sin(U[i]), math.cos(U[i])


@njit(cache=True, error_model="numpy")
def _phases(stage, params, R, U, rows):
    """``u = 2π x w_j + b_j`` of every row and periodic column into ``U`` (row, column, frequency)."""
    n_raw, m, k = stage.n_raw, stage.periodic_columns.size, stage.k
    w, b = params[stage.w_start:stage.w_start + m * k], params[stage.b_start:stage.b_start + m * k]
    two_pi = like(params, TWO_PI)
    for i in range(rows):
        for j in range(m):
            two_pi_x, u = two_pi * R[i * n_raw + stage.periodic_columns[j]], U[(i * m + j) * k:(i * m + j + 1) * k]
            for f in range(k):
                u[f] = two_pi_x * w[j * k + f] + b[j * k + f]


@njit(cache=True, error_model="numpy")
def _embed_row(stage, params, raw, a, h):
    """One row's ``[x, h V_j + c_j]`` of each periodic column into ``a`` (``h``: the row's cosines)."""
    m, k, d = stage.periodic_columns.size, stage.k, stage.d
    for j in range(m):
        V, c = params[stage.V_start + j * k * d:stage.V_start + (j + 1) * k * d], \
            params[stage.c_start + j * d:stage.c_start + (j + 1) * d]
        place, cosines = stage.periodic_places[j], h[j * k:(j + 1) * k]
        a[place] = raw[stage.periodic_columns[j]]
        for e in range(d):
            total = like(params, 0.0)
            for f in range(k):
                total += cosines[f] * V[f * d + e]
            a[place + 1 + e] = total + c[e]


@njit(cache=True, error_model="numpy")
def input_forward(stage, params, R, A, P, U, S, H, rows):
    """The first layer's input of ``rows`` rows (``R``: their columns of ``X``) into ``A``'s first
    block: plain columns copied, periodic ones embedded, then times the input scale (the input
    before it kept in ``P``); the phases, their sines and cosines into ``U``, ``S`` and ``H``."""
    n_raw, width, mk = stage.n_raw, stage.width, stage.periodic_columns.size * stage.k
    if mk:
        _phases(stage, params, R, U, rows)
        sin_cos(U[:rows * mk], S[:rows * mk], H[:rows * mk])
    for i in range(rows):
        raw, a = R[i * n_raw:(i + 1) * n_raw], A[i * width:(i + 1) * width]
        for j in range(stage.plain_columns.size):
            a[stage.plain_places[j]] = raw[stage.plain_columns[j]]
        if mk:
            _embed_row(stage, params, raw, a, H[i * mk:(i + 1) * mk])
        if stage.s_start >= 0:
            s, p = params[stage.s_start:stage.s_start + width], P[i * width:(i + 1) * width]
            for q in range(width):
                p[q] = a[q]
                a[q] = a[q] * s[q]


@njit(cache=True, error_model="numpy")
def _scale_backward(stage, params, grads, E, P, rows):
    """``∂L/∂s = Σ_rows a ⊙ ∂L/∂a'`` into ``grads``; ``E`` becomes ``s ⊙ E`` (``∂L/∂a``)."""
    width = stage.width
    s, ds = params[stage.s_start:stage.s_start + width], grads[stage.s_start:stage.s_start + width]
    ds[:] = 0.0
    for i in range(rows):
        p, g = P[i * width:(i + 1) * width], E[i * width:(i + 1) * width]
        for q in range(width):
            ds[q] += p[q] * g[q]
            g[q] = g[q] * s[q]


@njit(cache=True, error_model="numpy")
def _periodic_backward(stage, params, grads, R, E, S, H, rows, j, Vt, dVt, back):
    """Column ``j``'s ``∂L/∂w, ∂L/∂b, ∂L/∂V, ∂L/∂c`` into ``grads`` from ``E`` (``∂L/∂a``).
    ``V`` is read, and ``∂L/∂V`` summed, transposed (``Vt``, ``dVt``: feature by feature), so that
    the loops over the frequencies run over contiguous memory; ``back`` holds ``∂L/∂e V_jᵀ``."""
    k, d, m, n_raw, width = stage.k, stage.d, stage.periodic_columns.size, stage.n_raw, stage.width
    column, place = stage.periodic_columns[j], stage.periodic_places[j]
    V = params[stage.V_start + j * k * d:stage.V_start + (j + 1) * k * d]
    dw, db = grads[stage.w_start + j * k:stage.w_start + (j + 1) * k], \
        grads[stage.b_start + j * k:stage.b_start + (j + 1) * k]
    dV, dc = grads[stage.V_start + j * k * d:stage.V_start + (j + 1) * k * d], \
        grads[stage.c_start + j * d:stage.c_start + (j + 1) * d]
    for f in range(k):
        for e in range(d):
            Vt[e * k + f] = V[f * d + e]
    dVt[:], dw[:], db[:], dc[:] = 0.0, 0.0, 0.0, 0.0
    for i in range(rows):
        de = E[i * width + place + 1:i * width + place + 1 + d]
        at = (i * m + j) * k
        sines, cosines, x = S[at:at + k], H[at:at + k], R[i * n_raw + column]
        back[:] = 0.0
        for e in range(d):
            g = de[e]
            dc[e] += g
            for f in range(k):
                dVt[e * k + f] += cosines[f] * g
                back[f] += g * Vt[e * k + f]
        for f in range(k):
            du = -sines[f] * back[f]
            dw[f] += x * du
            db[f] += du
    two_pi = like(params, TWO_PI)
    for f in range(k):
        dw[f] = two_pi * dw[f]
        for e in range(d):
            dV[f * d + e] = dVt[e * k + f]


@njit(cache=True, error_model="numpy")
def input_backward(stage, params, grads, R, E, P, S, H, rows):
    """The input stage's gradients into ``grads`` from ``E``, ``∂L/∂`` of the first layer's input
    of ``rows`` rows (overwritten), with what :func:`input_forward` kept."""
    if stage.s_start >= 0:
        _scale_backward(stage, params, grads, E, P, rows)
    k, d = stage.k, stage.d
    Vt, dVt, back = np.empty(k * d, params.dtype), np.empty(k * d, params.dtype), np.empty(k, params.dtype)
    for j in range(stage.periodic_columns.size):
        _periodic_backward(stage, params, grads, R, E, S, H, rows, j, Vt, dVt, back)
