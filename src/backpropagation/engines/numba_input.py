"""Compiled kernels of the input stage: embeddings, periodic embeddings and the input scale, a block of rows at a time.

The rules of :mod:`backpropagation.nn.input_layers` (:class:`PeriodicEmbedding`,
:class:`InputScale`) and of :class:`~backpropagation.nn.layers.Embedding` (a code column's
vector ``E[code]``; backward, each row's ``∂L/∂a`` added to its code's row of ``∂L/∂E``) on a
block of a batch's rows, over the flat parameter and gradient vectors,
described by a :data:`~.numba_codes.Stage`. Forward, per row and periodic column ``j``::

    u = 2π x w_j + b_j,   h = cos(u),   e = h V_j + c_j,   a = [x, e]      then   a' = a ⊙ s

backward, from ``∂L/∂a'`` (the first layer's ``δ Wᵀ``)::

    ∂L/∂s = Σ_rows a ⊙ ∂L/∂a',   ∂L/∂a = s ⊙ ∂L/∂a'
    ∂L/∂V_j = Σ_rows hᵀ ∂L/∂e,  ∂L/∂c_j = Σ_rows ∂L/∂e,  ∂L/∂u = -sin(u) ⊙ ∂L/∂e V_jᵀ
    ∂L/∂w_j = 2π Σ_rows x ∂L/∂u,  ∂L/∂b_j = Σ_rows ∂L/∂u

The data is not learned: nothing flows on to ``x``. The phases, sines and cosines are laid out
(column, frequency, row), so that each loop runs over a block's rows, contiguous; the sums over
the rows (:func:`_dot`, :func:`_sum`) may be reordered to vectorise. Imported only when numba is
installed.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .numba_kernels import like, nonzero_places

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
    beyond = 0
    for i in range(U.size):
        sine, cosine = _sin_cos_reduced(float(U[i]))
        S[i], C[i] = sine, cosine
        beyond += not abs(U[i]) <= REDUCED_UP_TO     # (counted branch-free, so the loop vectorises)
    if beyond:                           # (the rare argument beyond the reduction's range)
        for i in range(U.size):
            if not abs(U[i]) <= REDUCED_UP_TO:
                S[i], C[i] = math.sin(U[i]), math.cos(U[i])


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _dot(a, b):
    """``Σ a ⊙ b`` over two vectors of one length, summed in whatever order vectorises (a sum over
    a block's rows: it differs from a sequential sum by rounding only)."""
    total = like(a, 0.0)
    for i in range(a.size):
        total += a[i] * b[i]
    return total


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _sum(a):
    """``Σ a`` over a vector, in whatever order vectorises (as :func:`_dot`)."""
    total = like(a, 0.0)
    for i in range(a.size):
        total += a[i]
    return total


@njit(cache=True, error_model="numpy")
def _column(stage, R, rows, j, x):
    """Periodic column ``j``'s value in each of the ``rows`` rows of ``R`` into ``x`` (contiguous)."""
    n_raw, column = stage.n_raw, stage.periodic_columns[j]
    for i in range(rows):
        x[i] = R[i * n_raw + column]


@njit(cache=True, error_model="numpy")
def _phases(stage, params, R, U, rows, x):
    """``u = 2π x w_j + b_j`` of every periodic column, frequency and row into ``U``, laid out
    (column, frequency, row) so that every loop here and after runs over a block's rows."""
    m, k = stage.periodic_columns.size, stage.k
    w, b = params[stage.w_start:stage.w_start + m * k], params[stage.b_start:stage.b_start + m * k]
    two_pi = like(params, TWO_PI)
    for j in range(m):
        _column(stage, R, rows, j, x)
        for i in range(rows):
            x[i] = two_pi * x[i]
        for f in range(k):
            u, w_f, b_f = U[(j * k + f) * rows:(j * k + f + 1) * rows], w[j * k + f], b[j * k + f]
            for i in range(rows):
                u[i] = x[i] * w_f + b_f


@njit(cache=True, error_model="numpy")
def _embed(stage, params, R, A, H, rows, e_rows):
    """Each periodic column's ``[x, h V_j + c_j]`` of every row into ``A``'s first block
    (``H``: the cosines, laid out as :func:`_phases` lays out the phases)."""
    m, k, d, width, n_raw = stage.periodic_columns.size, stage.k, stage.d, stage.width, stage.n_raw
    for j in range(m):
        V, c = params[stage.V_start + j * k * d:stage.V_start + (j + 1) * k * d], \
            params[stage.c_start + j * d:stage.c_start + (j + 1) * d]
        place, column = stage.periodic_places[j], stage.periodic_columns[j]
        for e in range(d):
            out = e_rows[e * rows:(e + 1) * rows]
            out[:] = 0.0
            for f in range(k):
                h, v = H[(j * k + f) * rows:(j * k + f + 1) * rows], V[f * d + e]
                for i in range(rows):
                    out[i] += h[i] * v
        for i in range(rows):
            a = A[i * width + place:i * width + place + 1 + d]
            a[0] = R[i * n_raw + column]
            for e in range(d):
                a[1 + e] = e_rows[e * rows + i] + c[e]


@njit(cache=True, error_model="numpy")
def _unseen_vector(E, n, dim, out):
    """The vector of the unseen category: the mean of the table's other ``n - 1`` rows (their
    sum row by row, then divided, as NumPy's mean over the rows)."""
    out[:] = 0.0
    for c in range(n - 1):
        out += E[c * dim:(c + 1) * dim]
    out /= n - 1


@njit(cache=True, error_model="numpy")
def _look_up(stage, params, R, A, rows):
    """Each embedded column's vector ``E[code]`` into its place of every row of ``A`` (the
    unseen category's: the mean of the other rows, computed only where a row has it)."""
    tables, n_raw, width = stage.tables, stage.n_raw, stage.width
    for t in range(tables.dims.size):
        column, place, dim, n = tables.columns[t], tables.places[t], tables.dims[t], tables.rows[t]
        E = params[tables.starts[t]:tables.starts[t] + n * dim]
        unseen = np.empty(0, params.dtype)
        for i in range(rows):
            code = int(R[i * n_raw + column])
            a = A[i * width + place:i * width + place + dim]
            if tables.unseen[t] and code == n - 1:
                if unseen.size == 0:
                    unseen = np.empty(dim, params.dtype)
                    _unseen_vector(E, n, dim, unseen)
                a[:] = unseen
            else:
                a[:] = E[code * dim:(code + 1) * dim]


@njit(cache=True, error_model="numpy")
def _tables_backward(stage, grads, R, E, rows):
    """``∂L/∂E``: each row's ``∂L/∂a`` at its embedded column's place added to its code's row, in
    row order; the unseen category's share then spread over the rows its mean is made of."""
    tables, n_raw, width = stage.tables, stage.n_raw, stage.width
    for t in range(tables.dims.size):
        column, place, dim, n = tables.columns[t], tables.places[t], tables.dims[t], tables.rows[t]
        dE = grads[tables.starts[t]:tables.starts[t] + n * dim]
        dE[:] = 0.0
        for i in range(rows):
            code = int(R[i * n_raw + column])
            dE[code * dim:(code + 1) * dim] += E[i * width + place:i * width + place + dim]
        if tables.unseen[t]:
            share = dE[(n - 1) * dim:] / (n - 1)
            for c in range(n - 1):
                dE[c * dim:(c + 1) * dim] += share
            dE[(n - 1) * dim:] = 0.0


@njit(cache=True, error_model="numpy")
def input_forward(stage, params, R, A, P, U, S, H, rows, places, sparse):
    """The first layer's input of ``rows`` rows (``R``: their columns of ``X``) into ``A``'s first
    block: plain columns copied, periodic ones embedded, then times the input scale (the input
    before it kept in ``P``); the phases, their sines and cosines into ``U``, ``S`` and ``H``.
    Where the first layer is ``sparse``, each row's nonzero inputs (before the scale) are listed
    in ``places`` as :func:`.numba_kernels.nonzero_places` lists them, in the same pass."""
    n_raw, width, mk = stage.n_raw, stage.width, stage.periodic_columns.size * stage.k
    if mk:
        x, e_rows = np.empty(rows, params.dtype), np.empty(rows * stage.d, params.dtype)
        _phases(stage, params, R, U, rows, x)
        sin_cos(U[:rows * mk], S[:rows * mk], H[:rows * mk])
        _embed(stage, params, R, A, H, rows, e_rows)
    run_columns, run_places, run_lengths = stage.plain_runs
    if stage.tables.dims.size:
        _look_up(stage, params, R, A, rows)
    for i in range(rows):
        raw, a = R[i * n_raw:(i + 1) * n_raw], A[i * width:(i + 1) * width]
        for r in range(run_lengths.size):
            column, place, length = run_columns[r], run_places[r], run_lengths[r]
            a[place:place + length] = raw[column:column + length]
        if stage.s_start >= 0 and sparse:
            s, p, at = params[stage.s_start:stage.s_start + width], P[i * width:(i + 1) * width], i * (width + 1)
            count = 0
            for q in range(width):
                p[q] = a[q]
                if a[q] != 0.0:
                    count += 1
                    places[at + count] = q
                    a[q] = a[q] * s[q]
            places[at] = count
        elif stage.s_start >= 0:
            s, p = params[stage.s_start:stage.s_start + width], P[i * width:(i + 1) * width]
            for q in range(width):
                p[q] = a[q]
                a[q] = a[q] * s[q]
    if sparse and stage.s_start < 0:
        nonzero_places(A, rows, width, places)


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
def _sparse_scale_backward(stage, params, grads, E, P, places, rows):
    """:func:`_scale_backward` where ``a`` is mostly zeros and ``E`` was computed only where read
    (:func:`needed_input_gradient`): the sum over each row's nonzero ``places`` (a zero ``a``
    adds nothing), and ``s ⊙ E`` there and at the stage's ``read_places`` not among them (periodic
    features and embedding vectors whose ``a`` is zero)."""
    width = stage.width
    s, ds = params[stage.s_start:stage.s_start + width], grads[stage.s_start:stage.s_start + width]
    ds[:] = 0.0
    for i in range(rows):
        p, g, at = P[i * width:(i + 1) * width], E[i * width:(i + 1) * width], i * (width + 1)
        for n in range(places[at]):
            q = places[at + 1 + n]
            ds[q] += p[q] * g[q]
            g[q] = g[q] * s[q]
        for q in stage.read_places:
            if p[q] == 0.0:              # (not among the places: not yet scaled)
                g[q] = g[q] * s[q]


@njit(cache=True, error_model="numpy")
def _periodic_backward(stage, params, grads, R, E, S, H, rows, j, x, de, du):
    """Column ``j``'s ``∂L/∂w, ∂L/∂b, ∂L/∂V, ∂L/∂c`` into ``grads`` from ``E`` (``∂L/∂a``): its
    ``∂L/∂e`` gathered feature by feature into ``de`` (each a contiguous run over the rows), then
    per frequency ``∂L/∂u = -sin(u) ⊙ ∂L/∂e V_jᵀ`` into ``du`` and the sums over the rows."""
    k, d, width = stage.k, stage.d, stage.width
    place = stage.periodic_places[j]
    V = params[stage.V_start + j * k * d:stage.V_start + (j + 1) * k * d]
    dw, db = grads[stage.w_start + j * k:stage.w_start + (j + 1) * k], \
        grads[stage.b_start + j * k:stage.b_start + (j + 1) * k]
    dV, dc = grads[stage.V_start + j * k * d:stage.V_start + (j + 1) * k * d], \
        grads[stage.c_start + j * d:stage.c_start + (j + 1) * d]
    _column(stage, R, rows, j, x)
    for e in range(d):
        for i in range(rows):
            de[e * rows + i] = E[i * width + place + 1 + e]
        dc[e] = _sum(de[e * rows:(e + 1) * rows])
    two_pi = like(params, TWO_PI)
    for f in range(k):
        at = (j * k + f) * rows
        sines, cosines = S[at:at + rows], H[at:at + rows]
        du[:] = 0.0
        for e in range(d):
            g, v = de[e * rows:(e + 1) * rows], V[f * d + e]
            dV[f * d + e] = _dot(cosines, g)
            for i in range(rows):
                du[i] += g[i] * v
        for i in range(rows):
            du[i] = -sines[i] * du[i]
        dw[f] = two_pi * _dot(x, du)
        db[f] = _sum(du)


@njit(cache=True, error_model="numpy")
def needed_input_gradient(stage, D, d, W, w, E, P, places, rows, fan_out):
    """``E = D[d:] @ W[w:]ᵀ`` (``∂L/∂a'``, rows × width) where :func:`input_backward` reads it:
    the stage's ``read_places`` (periodic features, embedding vectors), and (for the input
    scale's ``Σ a ⊙ ∂L/∂a'``) the ``places`` whose input before the scale, in ``P``, is not zero
    (:func:`.numba_kernels.nonzero_places`), each once; 0 elsewhere. A first layer fed one-hot
    columns then costs their ones, not their width."""
    width, scaled = stage.width, stage.s_start >= 0
    E[:rows * width] = 0.0
    for i in range(rows):
        delta = D[d + i * fan_out:d + (i + 1) * fan_out]
        out, at = E[i * width:(i + 1) * width], i * (width + 1)
        if scaled:
            for n in range(places[at]):
                q = places[at + 1 + n]
                out[q] = _dot(delta, W[w + q * fan_out:w + (q + 1) * fan_out])
        for q in stage.read_places:
            if not (scaled and P[i * width + q] != 0.0):     # (among the places: done above)
                out[q] = _dot(delta, W[w + q * fan_out:w + (q + 1) * fan_out])


@njit(cache=True, error_model="numpy")
def input_backward(stage, params, grads, R, E, P, S, H, rows, places, sparse):
    """The input stage's gradients into ``grads`` from ``E``, ``∂L/∂`` of the first layer's input
    of ``rows`` rows (overwritten), with what :func:`input_forward` kept; where the first layer is
    ``sparse``, ``E`` holds only what :func:`needed_input_gradient` computed, and the input
    scale's sum visits each row's nonzero ``places``."""
    if stage.s_start >= 0 and sparse:
        _sparse_scale_backward(stage, params, grads, E, P, places, rows)
    elif stage.s_start >= 0:
        _scale_backward(stage, params, grads, E, P, rows)
    if stage.tables.dims.size:
        _tables_backward(stage, grads, R, E, rows)
    m, d = stage.periodic_columns.size, stage.d
    x, de, du = np.empty(rows, params.dtype), np.empty(rows * d, params.dtype), np.empty(rows, params.dtype)
    for j in range(m):
        _periodic_backward(stage, params, grads, R, E, S, H, rows, j, x, de, du)
