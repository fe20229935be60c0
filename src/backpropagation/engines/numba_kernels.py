"""Compiled kernels of the numba engine: a chunk of mini-batches, forward to update, in one call.

The same rules as the reference path (``layers.py``, ``activations.py``, ``losses.py``,
``optimizers.py``), written as loops over the flat parameter and gradient vectors so that a
batch costs no Python calls. Building blocks arrive as the codes and records of
:mod:`.numba_codes` (an unknown code is an error, never another rule); matrices are products
by BLAS (``np.dot``) when large enough, by loops when tiny. The loop over a chunk's batches is
:func:`.numba_chunk.run_chunk`. Imported only when numba is installed.
"""

from __future__ import annotations

import math

from collections import namedtuple

import numpy as np
from numba import njit
from numba.extending import overload

from .numba_math import sigmoid, sigmoid_block
from .numba_codes import (ADAM, ADAMW, BCE, CCE, ELU, HUBER, LEAKY_RELU, LINEAR, MAE, MSE, RELU, RMSPROP, SGD,
                          SIGMOID, SOFTMAX, SOFTPLUS, SWISH, TANH)

#: Products with fewer multiply-adds than this run as loops (BLAS call overhead dominates).
SMALL_PRODUCT = 4096


@njit(cache=True, error_model="numpy")
def activate(code, alpha, Z, z_start, A, a_start, rows, units):
    """``A = f(Z)`` on the ``rows × units`` blocks at ``z_start`` and ``a_start`` of the flat
    buffers; one loop per rule (softmax row by row). The loops run over views of the two
    blocks, which LLVM vectorises (offset arithmetic into whole buffers it did not)."""
    n = rows * units
    z, a = Z[z_start:z_start + n], A[a_start:a_start + n]
    if code == SOFTMAX:
        for row in range(0, n, units):
            top = z[row]
            for k in range(row, row + units):
                top = max(top, z[k])
            total = 0.0
            for k in range(row, row + units):
                a[k] = math.exp(z[k] - top)
                total += a[k]
            for k in range(row, row + units):
                a[k] /= total
    elif code == RELU:
        for k in range(n):
            a[k] = z[k] if z[k] > 0 else 0.0
    elif code == LINEAR:
        for k in range(n):
            a[k] = z[k]
    elif code == TANH:
        for k in range(n):
            a[k] = math.tanh(z[k])
    elif code == SIGMOID or code == SWISH:
        sigmoid_block(z, a, code == SWISH)
    elif code == LEAKY_RELU:
        for k in range(n):
            a[k] = z[k] if z[k] > 0 else alpha * z[k]
    elif code == ELU:
        for k in range(n):
            a[k] = z[k] if z[k] > 0 else alpha * math.expm1(min(z[k], 0.0))
    elif code == SOFTPLUS:
        for k in range(n):
            a[k] = max(z[k], 0.0) + math.log1p(math.exp(-abs(z[k])))
    else:
        raise ValueError("numba engine: unknown activation code")


@njit(cache=True, error_model="numpy")
def activation_backward(code, alpha, Z, A, a_start, D, d_start, rows, units):
    """In place on the flat ``D`` block at ``d_start``: ``δ = dA · f'(Z)`` (softmax: its
    Jacobian-vector product); ``Z`` shares ``D``'s offsets, ``A`` starts at ``a_start``."""
    n = rows * units
    z, a, d = Z[d_start:d_start + n], A[a_start:a_start + n], D[d_start:d_start + n]
    if code == SOFTMAX:
        for row in range(0, n, units):
            inner = 0.0
            for k in range(row, row + units):
                inner += d[k] * a[k]
            for k in range(row, row + units):
                d[k] = a[k] * (d[k] - inner)
    elif code == RELU:
        for k in range(n):
            if z[k] <= 0:
                d[k] = 0.0
    elif code == LINEAR:
        pass                        # f'(z) = 1: δ = dA as it is
    elif code == TANH:
        for k in range(n):
            d[k] = d[k] * (1.0 - a[k] * a[k])
    elif code == SIGMOID:
        for k in range(n):
            d[k] = d[k] * a[k] * (1.0 - a[k])
    elif code == LEAKY_RELU:
        for k in range(n):
            if z[k] <= 0:
                d[k] = alpha * d[k]
    elif code == ELU:
        for k in range(n):
            if z[k] <= 0:
                d[k] = d[k] * (a[k] + alpha)
    elif code == SOFTPLUS:
        for k in range(n):
            d[k] = d[k] * sigmoid(z[k])
    elif code == SWISH:
        for k in range(n):           # σ(z) = a / z, kept from the forward pass (one division, no exp)
            sig = a[k] / z[k] if abs(z[k]) > 1e-30 else sigmoid(z[k])
            d[k] = d[k] * (sig + a[k] * (1.0 - sig))
    else:
        raise ValueError("numba engine: unknown activation code")


@njit(cache=True, error_model="numpy")
def sample_loss(loss, Y, A, Z, a_start, z_start, i, outputs):
    """Loss of row ``i`` (``loss``: a :data:`~.numba_codes.LOSS` record): targets ``Y`` (flat,
    ``outputs`` per row), outputs and logits at ``a_start`` and ``z_start`` of ``A`` and ``Z``
    (fused cross-entropies use the logits)."""
    code, huber_delta, fused, eps = loss.code, loss.delta, loss.fused, loss.eps
    total = 0.0
    y, a, z = i * outputs, a_start + i * outputs, z_start + i * outputs
    if code == CCE:
        if fused:
            top = Z[z]
            for j in range(outputs):
                top = max(top, Z[z + j])
            norm = 0.0
            for j in range(outputs):
                norm += math.exp(Z[z + j] - top)
            norm = math.log(norm)
            for j in range(outputs):
                total -= Y[y + j] * (Z[z + j] - top - norm)
        else:
            for j in range(outputs):
                total -= Y[y + j] * math.log(min(max(A[a + j], eps), 1.0 - eps))
        return total
    for j in range(outputs):
        r = A[a + j] - Y[y + j]
        if code == MSE:
            total += r * r
        elif code == MAE:
            total += abs(r)
        elif code == HUBER:
            q = min(abs(r), huber_delta)
            total += 0.5 * q * q + huber_delta * (abs(r) - q)
        elif code != BCE:
            raise ValueError("numba engine: unknown loss code")
        elif fused:
            total += max(Z[z + j], 0.0) - Z[z + j] * Y[y + j] + math.log1p(math.exp(-abs(Z[z + j])))
        else:
            p = min(max(A[a + j], eps), 1.0 - eps)
            total -= Y[y + j] * math.log(p) + (1.0 - Y[y + j]) * math.log1p(-p)
    return total / outputs


@njit(cache=True, error_model="numpy")
def loss_gradient(loss, y, a, rows, outputs):
    """``∂L/∂A`` (fused: ``δ = ∂L/∂Z``) of one element with target ``y`` and output ``a``, for a
    batch of ``rows`` rows."""
    code, huber_delta, fused, eps = loss.code, loss.delta, loss.fused, loss.eps
    size = rows * outputs
    r = a - y
    if fused:
        return r / rows if code == CCE else r / size
    if code == MSE:
        return r * (2.0 / size)
    if code == MAE:
        return (1.0 if r > 0 else (-1.0 if r < 0 else 0.0)) / size
    if code == HUBER:
        return min(max(r, -huber_delta), huber_delta) / size
    p = min(max(a, eps), 1.0 - eps)
    if code == BCE:
        return (p - y) / (p * (1.0 - p) * size)
    if code == CCE:
        return -y / (p * rows)
    raise ValueError("numba engine: unknown loss code")


@njit(cache=True, error_model="numpy", inline="always")
def _block(flat, start, rows, columns):
    """The ``rows × columns`` row-major block of a flat buffer that starts at ``start`` (a view)."""
    return flat[start:start + rows * columns].reshape((rows, columns))


@njit(cache=True, error_model="numpy", inline="always")
def _add_scaled(out, value, row):
    """``out += value * row`` on two vectors of one length (a loop LLVM vectorises)."""
    for j in range(out.size):
        out[j] += value * row[j]


@njit(cache=True, error_model="numpy")
def matmul(A, a, W, w, Z, z, rows, fan_in, fan_out):
    """``Z[z:] = A[a:] @ W[w:]`` on flat row-major blocks: BLAS, or for tiny products the loops of
    :func:`matmul_sparse` (a zero entry adds nothing, so skipping it changes no finite result)."""
    if rows * fan_in * fan_out >= SMALL_PRODUCT:
        np.dot(_block(A, a, rows, fan_in), _block(W, w, fan_in, fan_out), _block(Z, z, rows, fan_out))
    else:
        matmul_sparse(A, a, W, w, Z, z, rows, fan_in, fan_out)


@njit(cache=True, error_model="numpy")
def matmul_sparse(A, a, W, w, Z, z, rows, fan_in, fan_out):
    """``Z[z:] = A[a:] @ W[w:]`` over the nonzero entries of ``A`` only, each tested in turn: a
    tiny product's loops (a first layer fed mostly zeros, :data:`LAYER`'s ``sparse_in``, tests
    each input once a batch instead: :func:`nonzero_places`, :func:`matmul_places`)."""
    for i in range(rows):
        out = Z[z + i * fan_out:z + (i + 1) * fan_out]
        out[:] = 0.0
        for p in range(fan_in):
            value = A[a + i * fan_in + p]
            if value != 0.0:
                _add_scaled(out, value, W[w + p * fan_out:w + (p + 1) * fan_out])


@njit(cache=True, error_model="numpy")
def matmul_at_b_sparse(A, a, D, d, G, g, rows, fan_in, fan_out):
    """``G[g:] = A[a:].T @ D[d:]`` over the nonzero entries of ``A`` only (see :func:`matmul_sparse`)."""
    G[g:g + fan_in * fan_out] = 0.0
    for i in range(rows):
        delta = D[d + i * fan_out:d + (i + 1) * fan_out]
        for p in range(fan_in):
            value = A[a + i * fan_in + p]
            if value != 0.0:
                _add_scaled(G[g + p * fan_out:g + (p + 1) * fan_out], value, delta)


@njit(cache=True, error_model="numpy")
def nonzero_places(source, rows, width, places):
    """Each of ``rows`` rows' nonzero entries of ``source`` (rows × ``width``, from 0): row ``i``'s
    count at ``places[i (width + 1)]``, their places in increasing order after it. One pass over a
    batch's inputs, so that the products and the input stage's backward pass then visit a one-hot
    row's few ones instead of testing its width each (:func:`matmul_places`)."""
    for i in range(rows):
        row, at = source[i * width:(i + 1) * width], i * (width + 1)
        count = 0
        for p in range(width):
            if row[p] != 0.0:
                count += 1
                places[at + count] = p
        places[at] = count


@njit(cache=True, error_model="numpy")
def matmul_places(A, a, places, W, w, Z, z, rows, fan_in, fan_out):
    """:func:`matmul_sparse` over the entries :func:`nonzero_places` listed (in the same order,
    so the same sums): ``Z[z:] = A[a:] @ W[w:]`` where ``A`` is zero outside them."""
    for i in range(rows):
        out, at = Z[z + i * fan_out:z + (i + 1) * fan_out], i * (fan_in + 1)
        out[:] = 0.0
        for n in range(places[at]):
            p = places[at + 1 + n]
            value = A[a + i * fan_in + p]
            if value != 0.0:
                _add_scaled(out, value, W[w + p * fan_out:w + (p + 1) * fan_out])


@njit(cache=True, error_model="numpy")
def matmul_at_b_places(A, a, places, D, d, G, g, rows, fan_in, fan_out):
    """:func:`matmul_at_b_sparse` over the entries :func:`nonzero_places` listed."""
    G[g:g + fan_in * fan_out] = 0.0
    for i in range(rows):
        delta, at = D[d + i * fan_out:d + (i + 1) * fan_out], i * (fan_in + 1)
        for n in range(places[at]):
            p = places[at + 1 + n]
            value = A[a + i * fan_in + p]
            if value != 0.0:
                _add_scaled(G[g + p * fan_out:g + (p + 1) * fan_out], value, delta)


@njit(cache=True, error_model="numpy")
def matmul_at_b(A, a, D, d, G, g, rows, fan_in, fan_out):
    """``G[g:] = A[a:].T @ D[d:]`` (the weight gradient ``A_prev.T @ δ``) on flat blocks: BLAS, or
    for tiny products the loops of :func:`matmul_at_b_sparse`."""
    if rows * fan_in * fan_out >= SMALL_PRODUCT:
        np.dot(_block(A, a, rows, fan_in).T, _block(D, d, rows, fan_out), _block(G, g, fan_in, fan_out))
    else:
        matmul_at_b_sparse(A, a, D, d, G, g, rows, fan_in, fan_out)


@njit(cache=True, error_model="numpy")
def matmul_a_bt(D, d, W, w, E, e, rows, fan_in, fan_out):
    """``E[e:] = D[d:] @ W[w:].T`` (the input gradient ``δ @ W.T``) on flat blocks."""
    if rows * fan_in * fan_out >= SMALL_PRODUCT:
        np.dot(_block(D, d, rows, fan_out), _block(W, w, fan_in, fan_out).T, _block(E, e, rows, fan_in))
        return
    for i in range(rows):
        delta = D[d + i * fan_out:d + (i + 1) * fan_out]
        for p in range(fan_in):
            total, row = 0.0, W[w + p * fan_out:w + (p + 1) * fan_out]
            for j in range(fan_out):
                total += delta[j] * row[j]
            E[e + i * fan_in + p] = total


#: The constants of one optimizer step, in the parameters' dtype (float32 arithmetic for
#: float32 parameters, as NumPy does it): the learning rate and the hyper-parameters, the
#: complements ``1 - ρ``, ``1 - β1``, ``1 - β2``, Adam's bias corrections folded into
#: ``root = √(1 - β2^t)`` and ``step = lr / (1 - β1^t)``, and AdamW's ``decay = 1 - lr λ``.
StepConstants = namedtuple("StepConstants", "lr momentum nesterov rho rest_rho beta_1 rest_1 beta_2 rest_2 "
                                            "epsilon root step decay")


def like(params, value):
    """``value`` as a scalar of the parameters' dtype (compiled: see :func:`_like_compiled`)."""
    return params.dtype.type(value)


@overload(like)
def _like_compiled(params, value):
    """In compiled code, a cast to the array's numba type (no allocation)."""
    kind = params.dtype
    return lambda params, value: kind(value)


@njit(cache=True, error_model="numpy")
def step_constants(spec, lr, t, params):
    """The :class:`StepConstants` of step ``t`` for the optimizer ``spec`` (an
    :data:`~.numba_codes.OPTIMIZER` record)."""
    return StepConstants(
        like(params, lr), like(params, spec.momentum), like(params, 1.0 if spec.nesterov else 0.0),
        like(params, spec.rho), like(params, 1.0 - spec.rho), like(params, spec.beta_1),
        like(params, 1.0 - spec.beta_1), like(params, spec.beta_2), like(params, 1.0 - spec.beta_2),
        like(params, spec.epsilon), like(params, math.sqrt(1.0 - spec.beta_2 ** t)),
        like(params, lr / (1.0 - spec.beta_1 ** t)), like(params, 1.0 - lr * spec.weight_decay))


@njit(cache=True, error_model="numpy")
def update_range(code, params, grads, first, second, c, start, stop):
    """The optimizer ``code``'s step on parameters ``start:stop``, with the :class:`StepConstants`
    ``c``; one plain loop per rule, so that it vectorises. The rules and the order of their
    operations are those of ``optimizers.py``."""
    if code == SGD:
        if c.momentum == 0:
            for i in range(start, stop):
                params[i] -= grads[i] * c.lr
        elif c.nesterov > 0:
            for i in range(start, stop):
                first[i] = first[i] * c.momentum + grads[i]
                params[i] -= (first[i] * c.momentum + grads[i]) * c.lr
        else:
            for i in range(start, stop):
                first[i] = first[i] * c.momentum + grads[i]
                params[i] -= first[i] * c.lr
    elif code == RMSPROP:
        for i in range(start, stop):
            g = grads[i]
            second[i] = second[i] * c.rho + g * g * c.rest_rho
            params[i] -= g / (np.sqrt(second[i]) + c.epsilon) * c.lr
    elif code == ADAM or code == ADAMW:
        for i in range(start, stop):
            g = grads[i]
            m = first[i] * c.beta_1 + g * c.rest_1
            v = second[i] * c.beta_2 + g * g * c.rest_2
            first[i] = m
            second[i] = v
            if code == ADAMW:
                params[i] *= c.decay
            params[i] -= m / (np.sqrt(v) / c.root + c.epsilon) * c.step
    else:
        raise ValueError("numba engine: unknown optimizer code")


@njit(cache=True, error_model="numpy")
def gather(X, Y, sample_weight, order, start, rows, A, Yb, row_scale):
    """Rows ``order[start:start + rows]`` of ``X`` into ``A``'s input block and of ``Y`` into
    ``Yb``; their sample weights (1 without) into ``row_scale``. Returns the batch's weight."""
    n_in, n_out, weighted = X.shape[1], Y.shape[1], sample_weight.size > 0
    weight = 0.0
    for r in range(rows):
        source = order[start + r]
        a, y = A[r * n_in:(r + 1) * n_in], Yb[r * n_out:(r + 1) * n_out]
        for j in range(n_in):
            a[j] = X[source, j]
        for j in range(n_out):
            y[j] = Y[source, j]
        row_scale[r] = sample_weight[source] if weighted else 1.0
        weight += row_scale[r]
    return weight


@njit(cache=True, error_model="numpy")
def add_bias(Z, z, params, b_start, rows, units):
    """``Z += b`` on a layer's block (no-op without biases)."""
    if b_start >= 0:
        b = params[b_start:b_start + units]
        for i in range(rows):
            row = Z[z + i * units:z + (i + 1) * units]
            for j in range(units):
                row[j] += b[j]


@njit(cache=True, error_model="numpy")
def bias_gradient(D, d, grads, b_start, rows, units):
    """``∂L/∂b = Σ over rows of δ`` into ``grads`` (no-op without biases)."""
    if b_start >= 0:
        g = grads[b_start:b_start + units]
        for j in range(units):
            g[j] = 0.0
        for i in range(rows):
            row = D[d + i * units:d + (i + 1) * units]
            for j in range(units):
                g[j] += row[j]


@njit(cache=True, error_model="numpy")
def mean_loss(loss, layers, Yb, A, Z, row_scale, rows, batch_size, weight):
    """``Σ w_i ℓ_i / weight`` over the block's ``rows`` rows (``weight``: the whole batch's
    ``Σ w_i``; the L2 penalty is added by the caller)."""
    out = layers[layers.shape[0] - 1]
    spec = loss[0]
    value = 0.0
    for i in range(rows):
        value += row_scale[i] * sample_loss(spec, Yb, A, Z, out.a_out * batch_size, out.z_at * batch_size, i,
                                            out.fan_out)
    return value / weight


@njit(cache=True, error_model="numpy")
def keep_outputs(layers, A, order, start, rows, batch_size, outputs, trained, row_scale, weight, batch_rows):
    """The outputs of rows ``order[start:start + rows]`` into the epoch's ``outputs``; rescale
    ``row_scale`` to ``N w_i / Σ w`` (the factor by which a sample weight scales its row of the
    loss gradient), with ``N = batch_rows`` and ``Σ w = weight`` those of the whole batch."""
    out = layers[layers.shape[0] - 1]
    a_out, n_out = out.a_out * batch_size, out.fan_out
    for r in range(rows):
        for j in range(n_out):
            outputs[order[start + r], j] = A[a_out + r * n_out + j]
        trained[order[start + r]] = True
        row_scale[r] *= batch_rows / weight


@njit(cache=True, error_model="numpy")
def output_delta(loss, layers, Yb, A, Z, D, row_scale, rows, batch_size, batch_rows):
    """δ of the output layer for ``rows`` rows: the gradient of the loss's mean over the
    ``batch_rows`` rows of the batch, scaled per row, through the output activation (already
    inside it for the fused pairs)."""
    out, spec = layers[layers.shape[0] - 1], loss[0]
    z, a, n_out = out.z_at * batch_size, out.a_out * batch_size, out.fan_out
    for i in range(rows):
        for j in range(n_out):
            D[z + i * n_out + j] = loss_gradient(spec, Yb[i * n_out + j], A[a + i * n_out + j], batch_rows,
                                                 n_out) * row_scale[i]
    if not spec.fused:
        activation_backward(out.activation, out.alpha, Z, A, a, D, z, rows, n_out)


@njit(cache=True, error_model="numpy")
def forward(params, layers, Z, A, places, rows, batch_size):
    """Every layer's ``Z = A_prev W + b`` and ``A = f(Z)``; ``A`` holds the input block, then
    each layer's output block; ``Z`` each layer's block; a sparse first layer visits the input's
    nonzero ``places`` only (:func:`nonzero_places`)."""
    for k in range(layers.shape[0]):
        layer = layers[k]
        z = layer.z_at * batch_size
        if layer.sparse_in:
            matmul_places(A, layer.a_in * batch_size, places, params, layer.w_start, Z, z, rows, layer.fan_in,
                          layer.fan_out)
        else:
            matmul(A, layer.a_in * batch_size, params, layer.w_start, Z, z, rows, layer.fan_in, layer.fan_out)
        add_bias(Z, z, params, layer.b_start, rows, layer.fan_out)
        activate(layer.activation, layer.alpha, Z, z, A, layer.a_out * batch_size, rows, layer.fan_out)


@njit(cache=True, error_model="numpy")
def backward(params, grads, layers, Z, A, D, places, rows, batch_size):
    """From the output layer's δ (in ``D``) down: every layer's ``∂L/∂W``, ``∂L/∂b`` and the δ
    below (a sparse first layer: over its input's nonzero ``places``)."""
    for k in range(layers.shape[0] - 1, -1, -1):
        layer = layers[k]
        d, a_prev = layer.z_at * batch_size, layer.a_in * batch_size
        if layer.sparse_in:
            matmul_at_b_places(A, a_prev, places, D, d, grads, layer.w_start, rows, layer.fan_in, layer.fan_out)
        else:
            matmul_at_b(A, a_prev, D, d, grads, layer.w_start, rows, layer.fan_in, layer.fan_out)
        bias_gradient(D, d, grads, layer.b_start, rows, layer.fan_out)
        if k > 0:
            below = layers[k - 1]
            matmul_a_bt(D, d, params, layer.w_start, D, below.z_at * batch_size, rows, layer.fan_in,
                        layer.fan_out)
            activation_backward(below.activation, below.alpha, Z, A, a_prev, D, below.z_at * batch_size, rows,
                                layer.fan_in)
