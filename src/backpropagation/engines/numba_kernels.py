"""Compiled kernels of the numba engine: a chunk of mini-batches, forward to update, in one call.

The same rules as the reference path (``layers.py``, ``activations.py``, ``losses.py``,
``optimizers.py``), written as loops over the flat parameter and gradient vectors so that a
batch costs no Python calls. Building blocks arrive as integer codes (the tables below) with
their hyper-parameters; matrices are products by BLAS (``np.dot``) when large enough, by loops
when tiny. Imported only by :mod:`backpropagation.engines.numba_engine`, when numba is installed.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

SIGMOID, TANH, RELU, LEAKY_RELU, ELU, SOFTPLUS, SWISH, LINEAR, SOFTMAX = range(9)
MSE, MAE, HUBER, BCE, CCE = range(5)
SGD, RMSPROP, ADAM, ADAMW = range(4)
#: Products with fewer multiply-adds than this run as loops (BLAS call overhead dominates).
SMALL_PRODUCT = 4096


@njit(cache=True, error_model="numpy", inline="always")
def _sigmoid(z):
    e = math.exp(-abs(z))
    return 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)


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
    elif code == SIGMOID:
        for k in range(n):
            a[k] = _sigmoid(z[k])
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
        for k in range(n):
            a[k] = z[k] * _sigmoid(z[k])


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
            d[k] = d[k] * _sigmoid(z[k])
    elif code == SWISH:
        for k in range(n):
            sig = _sigmoid(z[k])
            d[k] = d[k] * (sig + a[k] * (1.0 - sig))


@njit(cache=True, error_model="numpy")
def sample_loss(code, huber_delta, fused, Y, A, Z, a_start, z_start, i, outputs, eps):
    """Loss of row ``i``: targets ``Y`` (flat, ``outputs`` per row), outputs and logits at
    ``a_start`` and ``z_start`` of ``A`` and ``Z`` (fused cross-entropies use the logits)."""
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
        elif fused:
            total += max(Z[z + j], 0.0) - Z[z + j] * Y[y + j] + math.log1p(math.exp(-abs(Z[z + j])))
        else:
            p = min(max(A[a + j], eps), 1.0 - eps)
            total -= Y[y + j] * math.log(p) + (1.0 - Y[y + j]) * math.log1p(-p)
    return total / outputs


@njit(cache=True, error_model="numpy")
def loss_gradient(code, huber_delta, fused, y, a, rows, outputs, eps):
    """``∂L/∂A`` (fused: ``δ = ∂L/∂Z``) of one element with target ``y`` and output ``a``, for a
    batch of ``rows`` rows."""
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
    return -y / (p * rows)


@njit(cache=True, error_model="numpy", inline="always")
def _block(flat, start, rows, columns):
    """The ``rows × columns`` row-major block of a flat buffer that starts at ``start`` (a view)."""
    return flat[start:start + rows * columns].reshape((rows, columns))


@njit(cache=True, error_model="numpy")
def matmul(A, a, W, w, Z, z, rows, fan_in, fan_out):
    """``Z[z:] = A[a:] @ W[w:]`` on flat row-major blocks: loops for tiny products, BLAS otherwise."""
    if rows * fan_in * fan_out >= SMALL_PRODUCT:
        np.dot(_block(A, a, rows, fan_in), _block(W, w, fan_in, fan_out), _block(Z, z, rows, fan_out))
        return
    for i in range(rows):
        out = Z[z + i * fan_out:z + (i + 1) * fan_out]
        for j in range(fan_out):
            out[j] = 0.0
        for p in range(fan_in):
            value, row = A[a + i * fan_in + p], W[w + p * fan_out:w + (p + 1) * fan_out]
            for j in range(fan_out):
                out[j] += value * row[j]


@njit(cache=True, error_model="numpy")
def matmul_at_b(A, a, D, d, G, g, rows, fan_in, fan_out):
    """``G[g:] = A[a:].T @ D[d:]`` (the weight gradient ``A_prev.T @ δ``) on flat blocks."""
    if rows * fan_in * fan_out >= SMALL_PRODUCT:
        np.dot(_block(A, a, rows, fan_in).T, _block(D, d, rows, fan_out), _block(G, g, fan_in, fan_out))
        return
    for k in range(g, g + fan_in * fan_out):
        G[k] = 0.0
    for i in range(rows):
        delta = D[d + i * fan_out:d + (i + 1) * fan_out]
        for p in range(fan_in):
            value, row = A[a + i * fan_in + p], G[g + p * fan_out:g + (p + 1) * fan_out]
            for j in range(fan_out):
                row[j] += value * delta[j]


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


@njit(cache=True, error_model="numpy")
def _update_range(code, params, grads, first, second, c, start, stop):
    """Parameters ``start:stop`` of the step; one plain loop per rule, so that it vectorises.

    ``c`` holds the step's constants in the parameters' dtype (float32 arithmetic for float32
    parameters, as NumPy does it): see :func:`update`. The rules and the order of their
    operations are those of ``optimizers.py``.
    """
    if code == SGD:
        mu, lr = c[0], c[9]
        if mu == 0:
            for i in range(start, stop):
                params[i] -= grads[i] * lr
        elif c[1] > 0:
            for i in range(start, stop):
                first[i] = first[i] * mu + grads[i]
                params[i] -= (first[i] * mu + grads[i]) * lr
        else:
            for i in range(start, stop):
                first[i] = first[i] * mu + grads[i]
                params[i] -= first[i] * lr
    elif code == RMSPROP:
        rho, rest, eps, lr = c[2], c[3], c[6], c[9]
        for i in range(start, stop):
            g = grads[i]
            second[i] = second[i] * rho + g * g * rest
            params[i] -= g / (np.sqrt(second[i]) + eps) * lr
    else:
        beta_1, rest_1, beta_2, rest_2, eps, root, step, decay = c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[10]
        for i in range(start, stop):
            g = grads[i]
            m = first[i] * beta_1 + g * rest_1
            v = second[i] * beta_2 + g * g * rest_2
            first[i] = m
            second[i] = v
            if code == ADAMW:
                params[i] *= decay
            params[i] -= m / (np.sqrt(v) / root + eps) * step


@njit(cache=True, error_model="numpy")
def update(code, params, grads, first, second, hyper, lr, t):
    """The optimizer ``code``'s step ``t`` over the whole flat vector, fused in one pass.

    ``hyper`` = (momentum, nesterov, rho or β1, β2, ε, weight decay). (One thread: on two
    cores, numba's threads slowed the update down next to BLAS's worker threads.)
    """
    _update_range(code, params, grads, first, second, step_constants(hyper, lr, t, params), 0, params.size)


@njit(cache=True, error_model="numpy", inline="always")
def step_constants(hyper, lr, t, params):
    """The constants of step ``t`` that :func:`_update_range` takes, in the parameters' dtype."""
    c = np.empty(11, dtype=params.dtype)
    c[0], c[1], c[2], c[3] = hyper[0], hyper[1], hyper[2], 1.0 - hyper[2]
    c[4], c[5], c[6] = hyper[3], 1.0 - hyper[3], hyper[4]
    c[7], c[8] = math.sqrt(1.0 - hyper[3] ** t), lr / (1.0 - hyper[2] ** t)
    c[9], c[10] = lr, 1.0 - lr * hyper[5]
    return c


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
def objective(loss, layout, Yb, A, Z, row_scale, rows, batch_size, weight, params, n_weights, l2):
    """The batch's objective: ``Σ w_i ℓ_i / Σ w_i`` plus ``l2/2 · Σ W²``."""
    last = layout.shape[0] - 1
    a_out, z_out, n_out = layout[last, 7] * batch_size, layout[last, 6] * batch_size, layout[last, 1]
    code, huber_delta, fused, eps = int(loss[0]), loss[1], loss[2] > 0, loss[3]
    value = 0.0
    for i in range(rows):
        value += row_scale[i] * sample_loss(code, huber_delta, fused, Yb, A, Z, a_out, z_out, i, n_out, eps)
    value /= weight
    if l2 > 0:
        squares = 0.0
        for i in range(n_weights):
            squares += params[i] * params[i]
        value += 0.5 * l2 * squares
    return value


@njit(cache=True, error_model="numpy")
def keep_outputs(layout, A, order, start, rows, batch_size, outputs, trained, row_scale, weight, batch_rows):
    """The outputs of rows ``order[start:start + rows]`` into the epoch's ``outputs``; rescale
    ``row_scale`` to ``N w_i / Σ w`` (the factor by which a sample weight scales its row of the
    loss gradient), with ``N = batch_rows`` and ``Σ w = weight`` those of the whole batch."""
    last = layout.shape[0] - 1
    a_out, n_out = layout[last, 7] * batch_size, layout[last, 1]
    for r in range(rows):
        for j in range(n_out):
            outputs[order[start + r], j] = A[a_out + r * n_out + j]
        trained[order[start + r]] = True
        row_scale[r] *= batch_rows / weight


@njit(cache=True, error_model="numpy")
def output_delta(loss, layout, alphas, Yb, A, Z, D, row_scale, rows, batch_size, batch_rows):
    """δ of the output layer for ``rows`` rows: the gradient of the loss's mean over the
    ``batch_rows`` rows of the batch, scaled per row, through the output activation (already
    inside it for the fused pairs)."""
    last = layout.shape[0] - 1
    z, a, n_out = layout[last, 6] * batch_size, layout[last, 7] * batch_size, layout[last, 1]
    code, huber_delta, fused, eps = int(loss[0]), loss[1], loss[2] > 0, loss[3]
    for i in range(rows):
        for j in range(n_out):
            D[z + i * n_out + j] = loss_gradient(code, huber_delta, fused, Yb[i * n_out + j],
                                                 A[a + i * n_out + j], batch_rows, n_out, eps) * row_scale[i]
    if not fused:
        activation_backward(layout[last, 4], alphas[last], Z, A, a, D, z, rows, n_out)


@njit(cache=True, error_model="numpy")
def add_penalty(grads, params, n_weights, l2):
    """The L2 penalty's gradient ``l2 W`` (weights only)."""
    if l2 > 0:
        for i in range(n_weights):
            grads[i] += l2 * params[i]


@njit(cache=True, error_model="numpy")
def _forward(params, layout, alphas, Z, A, rows, batch_size):
    """Every layer's ``Z = A_prev W + b`` and ``A = f(Z)``; ``A`` holds the input block, then
    each layer's output block; ``Z`` each layer's block."""
    for layer in range(layout.shape[0]):
        fan_in, fan_out, w_start, b_start = layout[layer, 0], layout[layer, 1], layout[layer, 2], layout[layer, 3]
        z = layout[layer, 6] * batch_size
        matmul(A, layout[layer, 5] * batch_size, params, w_start, Z, z, rows, fan_in, fan_out)
        add_bias(Z, z, params, b_start, rows, fan_out)
        activate(layout[layer, 4], alphas[layer], Z, z, A, layout[layer, 7] * batch_size, rows, fan_out)


@njit(cache=True, error_model="numpy")
def _backward(params, grads, layout, alphas, Z, A, D, rows, batch_size):
    """From the output layer's δ (in ``D``) down: every layer's ``∂L/∂W``, ``∂L/∂b`` and the δ below."""
    for layer in range(layout.shape[0] - 1, -1, -1):
        fan_in, fan_out, w_start, b_start = layout[layer, 0], layout[layer, 1], layout[layer, 2], layout[layer, 3]
        d, a_prev = layout[layer, 6] * batch_size, layout[layer, 5] * batch_size
        matmul_at_b(A, a_prev, D, d, grads, w_start, rows, fan_in, fan_out)
        bias_gradient(D, d, grads, b_start, rows, fan_out)
        if layer > 0:
            below = layout[layer - 1, 6] * batch_size
            matmul_a_bt(D, d, params, w_start, D, below, rows, fan_in, fan_out)
            activation_backward(layout[layer - 1, 4], alphas[layer - 1], Z, A, a_prev, D, below, rows, fan_in)


@njit(cache=True, error_model="numpy")
def run_batches(X, Y, sample_weight, order, batch_size, first_batch, n_batches, params, grads, layout,
                alphas, n_weights, l2, loss, optimizer, hyper, first, second, lr, t, outputs, trained,
                batch_losses, batch_weights, Yb, row_scale, Z, A, D):
    """Train on batches ``first_batch`` .. ``first_batch + n_batches - 1`` of the epoch's ``order``.

    Per batch: gather, forward, loss (plus the L2 penalty), backward, penalty gradient, update;
    the batch's loss and weight go to ``batch_losses``/``batch_weights`` and its outputs to
    ``outputs``. Stops after a batch whose loss is not finite (before its update). Returns the
    number of batches run and the optimizer's step count. ``layout`` rows: fan-in, fan-out,
    weight offset, bias offset (-1: none), activation code, and the first unit of the layer's
    input block in ``A``, of its block in ``Z``/``D``, and of its output block in ``A``.
    """
    for k in range(n_batches):
        start = (first_batch + k) * batch_size
        rows = min(batch_size, X.shape[0] - start)
        weight = gather(X, Y, sample_weight, order, start, rows, A, Yb, row_scale)
        batch_weights[k] = weight
        batch_losses[k] = 0.0
        if weight == 0:
            grads[:] = 0.0
            continue
        _forward(params, layout, alphas, Z, A, rows, batch_size)
        batch_losses[k] = objective(loss, layout, Yb, A, Z, row_scale, rows, batch_size, weight, params,
                                    n_weights, l2)
        if not math.isfinite(batch_losses[k]):
            grads[:] = 0.0
            return k + 1, t
        keep_outputs(layout, A, order, start, rows, batch_size, outputs, trained, row_scale, weight, rows)
        output_delta(loss, layout, alphas, Yb, A, Z, D, row_scale, rows, batch_size, rows)
        _backward(params, grads, layout, alphas, Z, A, D, rows, batch_size)
        add_penalty(grads, params, n_weights, l2)
        t += 1
        update(optimizer, params, grads, first, second, hyper, lr, t)
    return n_batches, t
