"""The compiled engine: chunks of batches in one numba call over the model's flat vectors.

It trains the same parameters, gradients and optimizer state as the reference engine (a model
may switch engines between ``fit`` calls, and its file is the same), with the built-in building
blocks only: :func:`unsupported` says why a model cannot use it. The kernels are compiled on
first use and cached on disk by numba (beside the package, or in numba's user-wide cache
directory when the package directory is read-only; ``NUMBA_CACHE_DIR`` chooses another place).
"""

from __future__ import annotations

import math

import numpy as np

from .. import activations, callbacks, losses, optimizers

_ACTIVATIONS = {activations.Sigmoid: 0, activations.Tanh: 1, activations.ReLU: 2, activations.LeakyReLU: 3,
                activations.ELU: 4, activations.Softplus: 5, activations.Swish: 6, activations.Linear: 7,
                activations.Softmax: 8}
_LOSSES = {losses.MeanSquaredError: 0, losses.MeanAbsoluteError: 1, losses.Huber: 2,
           losses.BinaryCrossEntropy: 3, losses.CategoricalCrossEntropy: 4}
_OPTIMIZERS = {optimizers.SGD: 0, optimizers.RMSProp: 1, optimizers.Adam: 2, optimizers.AdamW: 3}
#: Multiply-adds a chunk of batches aims at: short enough for Ctrl-C and progress to stay
#: responsive, long enough that the Python between chunks does not count.
CHUNK_WORK = 2e7
#: Batches whose largest product has at least this many multiply-adds take the wide path: the
#: products by NumPy's BLAS (multi-threaded), everything between them by the fused kernels.
WIDE_PRODUCT = 1 << 20
#: Batch callbacks that accept being called after each chunk, in order, with each batch's loss.
CHUNK_SAFE_CALLBACKS = (callbacks.ProgressBar, callbacks.History)


def unsupported(model) -> str | None:
    """Why the numba engine cannot train ``model`` (a custom building block), or None."""
    for i, layer in enumerate(model.layers):
        if type(layer.activation) not in _ACTIVATIONS:
            return f"layer {i + 1}'s activation {type(layer.activation).__name__} is not a built-in one"
    if type(model.loss) not in _LOSSES:
        return f"the loss {type(model.loss).__name__} is not a built-in one"
    if type(model.optimizer) not in _OPTIMIZERS:
        return f"the optimizer {type(model.optimizer).__name__} is not a built-in one"
    return None


def _layout(model) -> tuple[np.ndarray, np.ndarray]:
    """Per layer: fan-in, fan-out, weight offset, bias offset (-1: none), activation code, and
    the first unit of its input block in the activations buffer (input first), of its block in
    the pre-activation and delta buffers, and of its output block in the activations buffer;
    and each activation's alpha."""
    rows, alphas, w_start, b_start = [], [], 0, sum(layer.n_weights for layer in model.layers)
    a_unit, z_unit = 0, 0
    for layer in model.layers:
        rows.append([layer.fan_in, layer.fan_out, w_start, b_start if layer.use_bias else -1,
                     _ACTIVATIONS[type(layer.activation)], a_unit, z_unit, a_unit + layer.fan_in])
        alphas.append(getattr(layer.activation, "alpha", 0.0))
        w_start, b_start = w_start + layer.n_weights, b_start + layer.n_biases
        a_unit, z_unit = a_unit + layer.fan_in, z_unit + layer.fan_out
    return np.array(rows, dtype=np.int64), np.array(alphas, dtype=np.float64)


def _optimizer_arguments(optimizer, params) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Code, hyper-parameters (momentum, nesterov, rho/β1, β2, ε, weight decay) and state arrays."""
    state = optimizer.state_arrays(params)
    code = _OPTIMIZERS[type(optimizer)]
    spare = np.zeros(0, dtype=params.dtype)
    if code == 0:
        hyper = [optimizer.momentum, float(optimizer.nesterov), 0, 0, 0, 0]
        return code, np.array(hyper, dtype=np.float64), state["velocity"], spare
    if code == 1:
        hyper = [0, 0, optimizer.rho, 0, optimizer.epsilon, 0]
        return code, np.array(hyper, dtype=np.float64), spare, state["mean_square"]
    hyper = [0, 0, optimizer.beta_1, optimizer.beta_2, optimizer.epsilon, getattr(optimizer, "weight_decay", 0.0)]
    return code, np.array(hyper, dtype=np.float64), state["m"], state["v"]


def chunk_length(model, batch_size: int, n_batches: int, batch_callbacks) -> int:
    """Batches per compiled call: one when a callback must see every batch as it ends."""
    if any(not isinstance(c, CHUNK_SAFE_CALLBACKS) for c in batch_callbacks):
        return 1
    work = 3 * batch_size * sum(layer.n_weights for layer in model.layers) + 1000
    return int(min(max(CHUNK_WORK // work, 1), n_batches))


class NumbaEngine:
    """Trains ``model`` with the compiled kernels; same contract as the reference engine."""

    name = "numba"

    def __init__(self, model, batch_callbacks=()) -> None:
        from . import numba_kernels

        reason = unsupported(model)
        if reason:
            raise ValueError(f"engine='numba': {reason}; use engine='numpy' or 'auto'")
        self.kernels = numba_kernels
        self.model, self.batch_callbacks = model, list(batch_callbacks)
        self.layout, self.alphas = _layout(model)
        self.n_weights = int(sum(layer.n_weights for layer in model.layers))
        eps = float(np.finfo(model.dtype).eps)
        self.loss = np.array([_LOSSES[type(model.loss)], getattr(model.loss, "delta", 1.0),
                              float(model.fused), eps], dtype=np.float64)

    def chunks(self, batches, order, lr, outputs, trained, interrupt):
        """Yield ``(index of the first batch, [(loss, weight, rows), ...])`` per compiled chunk."""
        model, dtype = self.model, self.model.dtype
        X, Y, size = batches.X, batches.Y, batches.batch_size
        n_rows = len(X)
        weights = np.zeros(0, dtype=dtype) if batches.weights is None else batches.weights
        order = np.arange(n_rows, dtype=np.int64) if order is None else order.astype(np.int64, copy=False)
        n_batches = math.ceil(n_rows / size)
        length = chunk_length(model, size, n_batches, self.batch_callbacks)
        code, hyper, first, second = _optimizer_arguments(model.optimizer, model.parameters)
        units = int(self.layout[:, 1].sum())
        work = [np.empty(size * Y.shape[1], dtype), np.empty(size, dtype), np.empty(size * units, dtype),
                np.empty(size * (units + X.shape[1]), dtype), np.empty(size * units, dtype)]
        wide = size * int((self.layout[:, 0] * self.layout[:, 1]).max()) >= WIDE_PRODUCT
        run = self._wide_batches if wide else self.kernels.run_batches
        batch_losses, batch_weights = np.empty(length), np.empty(length)
        for start in range(0, n_batches, length):
            count = min(length, n_batches - start)
            done, steps = run(
                X, Y, weights, order, size, start, count, model.parameters, model.gradients, self.layout,
                self.alphas, self.n_weights, model.l2, self.loss, code, hyper, first, second, float(lr),
                model.optimizer.iterations, outputs, trained, batch_losses, batch_weights, *work)
            model.optimizer.iterations = int(steps)
            yield start, [(float(batch_losses[k]), float(batch_weights[k]),
                           min(size, n_rows - (start + k) * size)) for k in range(done)]

    def _wide_batches(self, X, Y, sample_weight, order, batch_size, first_batch, n_batches, params, grads,
                      layout, alphas, n_weights, l2, loss, code, hyper, first, second, lr, t, outputs, trained,
                      batch_losses, batch_weights, Yb, row_scale, Z, A, D):
        """``run_batches`` for wide layers: the same kernels between the products, the products
        by NumPy (its BLAS threads), one Python call per step of the batch."""
        k = self.kernels
        views = [_layer_views(layout[layer], params, grads, Z, A, D, batch_size) for layer in range(len(layout))]
        for b in range(n_batches):
            start = (first_batch + b) * batch_size
            rows = min(batch_size, X.shape[0] - start)
            weight = k.gather(X, Y, sample_weight, order, start, rows, A, Yb, row_scale)
            batch_weights[b], batch_losses[b] = weight, 0.0
            if weight == 0:
                grads[...] = 0
                continue
            for layer, (W, _, Zl, Ain, _, _) in enumerate(views):
                _, fan_out, _, b_start, activation, _, z, a_out = layout[layer]
                np.dot(Ain[:rows], W, out=Zl[:rows])
                k.add_bias(Z, z * batch_size, params, b_start, rows, fan_out)
                k.activate(activation, alphas[layer], Z, z * batch_size, A, a_out * batch_size, rows, fan_out)
            batch_losses[b] = k.objective(loss, layout, Yb, A, Z, row_scale, rows, batch_size, weight, params,
                                          n_weights, l2)
            if not math.isfinite(batch_losses[b]):
                grads[...] = 0
                return b + 1, t
            k.keep_outputs(layout, A, order, start, rows, batch_size, outputs, trained, row_scale, weight)
            k.output_delta(loss, layout, alphas, Yb, A, Z, D, row_scale, rows, batch_size)
            for layer in range(len(layout) - 1, -1, -1):
                W, dW, _, Ain, Dl, Dbelow = views[layer]
                np.dot(Ain[:rows].T, Dl[:rows], out=dW)
                k.bias_gradient(D, layout[layer, 6] * batch_size, grads, layout[layer, 3], rows, layout[layer, 1])
                if layer > 0:
                    np.dot(Dl[:rows], W.T, out=Dbelow[:rows])
                    k.activation_backward(layout[layer - 1, 4], alphas[layer - 1], Z, A, layout[layer, 5] * batch_size,
                                          D, layout[layer - 1, 6] * batch_size, rows, layout[layer, 0])
            k.add_penalty(grads, params, n_weights, l2)
            t += 1
            k.update(code, params, grads, first, second, hyper, lr, t)
        return n_batches, t


def _layer_views(row, params, grads, Z, A, D, batch_size):
    """A layer's W and ∂L/∂W, and (batch × units) views of its Z, input A, δ and the δ below."""
    fan_in, fan_out, w_start, _, _, a_prev, z, _ = (int(v) for v in row)
    W = params[w_start:w_start + fan_in * fan_out].reshape(fan_in, fan_out)
    dW = grads[w_start:w_start + fan_in * fan_out].reshape(fan_in, fan_out)
    Zl = Z[z * batch_size:(z + fan_out) * batch_size].reshape(batch_size, fan_out)
    Ain = A[a_prev * batch_size:(a_prev + fan_in) * batch_size].reshape(batch_size, fan_in)
    Dl = D[z * batch_size:(z + fan_out) * batch_size].reshape(batch_size, fan_out)
    below = D[max(z - fan_in, 0) * batch_size:z * batch_size].reshape(-1, fan_in) if z else None
    return W, dW, Zl, Ain, Dl, below
