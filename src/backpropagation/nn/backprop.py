"""One training step of a network, as the seeds teach it: forward pass, loss, backward pass, update.

:class:`Backprop` strings a network's pieces together for one batch: every layer's ``forward``
in order (with dropout while training), the loss of the output, every layer's ``backward`` last
to first writing its parameters' gradients into the flat gradient vector (one step further into
the embedding tables), the L2 penalty's gradient, and the optimizer's step over the flat vectors::

    A⁰ = x;   Aˡ = f(Aˡ⁻¹ Wˡ + bˡ)                      forward (each layer caches what backward needs)
    L = loss(Y, Aᴸ) + l2/2 · Σ W²                       the objective
    δᴸ = ∂L/∂Zᴸ;  ∂L/∂Wˡ = (Aˡ⁻¹)ᵀ δˡ;  δˡ⁻¹ = (δˡ Wˡᵀ) ⊙ f'(Zˡ⁻¹)    backward
    θ ← optimizer step(θ, ∂L/∂θ + l2 W, η)              update

It is what the reference engine runs for every batch (:mod:`backpropagation.engines.numpy_engine`),
what ``trace`` records and ``lr_find`` steps: ``network.backprop``. The network's own public
surface is build, fit, predict; this is the machinery under ``fit``.
"""

from __future__ import annotations

import math

import numpy as np

#: Rows whose activations inference holds at once: memory stays bounded whatever the rows.
ROWS_PER_PASS = 8192


class Backprop:
    """The forward pass, loss, backward pass and update of ``network`` (a NeuralNetwork).

    Attributes
    ----------
    fused : bool
        Whether the loss and the output activation use their fused rule, ``δ = (ŷ - y) / N``
        (sigmoid with binary cross-entropy, softmax with categorical cross-entropy).
    """

    def __init__(self, network) -> None:
        self.network = network
        self.fused = network.loss.fuses_with(network.layers[-1].activation)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Forward pass: every layer in order (with its dropout, training); the output activations."""
        A = X if self.network.embedded_input is None else self.network.embedded_input.forward(X)
        for layer, dropout in zip(self.network.layers, self.network.dropouts):
            A = layer.forward(A)
            if dropout is not None:
                A = dropout.forward(A, self.network.dropout_rng)
        return A

    def infer(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forward pass that caches nothing (inference): the output layer's ``Z`` and ``A``."""
        A = X if self.network.embedded_input is None else self.network.embedded_input.forward(X, training=False)
        for layer in self.network.layers[:-1]:
            A = layer.output(A)
        output = self.network.layers[-1]
        Z = output.affine(A)
        return Z, output.activation.forward(Z)

    def loss_value(self, Y: np.ndarray, Z: np.ndarray, A: np.ndarray, weights: np.ndarray | None = None,
                   penalty: bool = True) -> float:
        """Objective of outputs ``Z`` (pre-activation) and ``A``: the (weighted) loss plus
        (``penalty``) the L2 penalty."""
        if weights is None:
            value = self.network.loss.fused_forward(Y, Z) if self.fused else self.network.loss.forward(Y, A)
        else:
            losses_ = (self.network.loss.fused_sample_losses(Y, Z) if self.fused
                       else self.network.loss.sample_losses(Y, A))
            value = float(np.dot(weights, losses_) / weights.sum())
        return value + self.penalty() if penalty else value

    def penalty(self) -> float:
        """The L2 penalty ``l2/2 · Σ W²`` (biases are not penalised)."""
        W = self.network.parameters[: self.network.n_weights]
        return 0.5 * self.network.l2 * float(np.dot(W, W)) if self.network.l2 else 0.0

    def backward(self, Y: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Backward pass: δ of the output layer from the loss, then every layer last to first."""
        output = self.network.layers[-1]
        # Sample weights scale row i of the loss gradient by N w_i / Σ w (losses are row means).
        row_scale = None if weights is None else (weights * (len(weights) / weights.sum()))[:, None]
        if self.fused:
            delta = self.network.loss.fused_backward(Y, output.A)
            dA = output.backward_delta(delta if row_scale is None else delta * row_scale)
        else:
            dA_out = self.network.loss.backward(Y, output.A)
            dA = output.backward(dA_out if row_scale is None else dA_out * row_scale)
        for layer, dropout in zip(reversed(self.network.layers[:-1]), reversed(self.network.dropouts[:-1])):
            dA = layer.backward(dA if dropout is None else dropout.backward(dA))
        if self.network.embedded_input is not None:     # one step further: into the embedding tables
            self.network.embedded_input.backward(dA)

    def add_penalty_gradient(self) -> None:
        """Add the L2 penalty's gradient, l2 * W, to the weights' gradients (biases are not penalised)."""
        if self.network.l2:
            weights = slice(0, self.network.n_weights)
            self.network.gradients[weights] += self.network.l2 * self.network.parameters[weights]

    def update(self, learning_rate: float) -> None:
        """The update: the L2 penalty's gradient joins the batch's, then the optimizer steps."""
        self.add_penalty_gradient()
        self.network.optimizer.step(self.network.parameters, self.network.gradients, learning_rate)

    def zero_gradients(self) -> float:
        """Set every gradient to zero (a batch with nothing to learn from); returns a loss of 0."""
        self.network.gradients[...] = 0
        return 0.0

    def loss_and_gradients(self, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None,
                           penalty_gradient: bool = True) -> float:
        """Forward, loss and backward on one batch; gradients land in the network's ``gradients``.

        ``X`` and ``Y`` are validated and encoded (``Y`` as the loss sees it: one-hot classes,
        standardised regression targets); ``sample_weight`` weights the rows' losses. Returns the
        objective, L2 penalty included, and leaves every layer's forward and backward quantities
        cached (see :class:`~backpropagation.nn.layers.Dense`). A non-finite loss leaves the
        gradients zero. ``penalty_gradient=False`` leaves out the penalty's gradient (the
        training loop adds it once the batch's gradients are combined over processes).
        """
        self.forward(X)
        value = self.loss_value(Y, self.network.layers[-1].Z, self.network.layers[-1].A, sample_weight)
        if not math.isfinite(value):
            self.zero_gradients()
            return value
        self.backward(Y, sample_weight)
        if penalty_gradient:
            self.add_penalty_gradient()
        return value

    def objective(self, X: np.ndarray, Y: np.ndarray, outputs=None, rows_per_pass: int = ROWS_PER_PASS) -> float:
        """Loss plus L2 penalty on validated ``X``, encoded ``Y`` (no gradients; in passes); ``outputs``
        receives each row's output. No rows (an MPI rank without validation rows): NaN."""
        if not len(X):
            return math.nan
        passes, total = range(0, len(X), rows_per_pass), 0.0
        for start in passes:
            Z, A = self.infer(X[start:start + rows_per_pass])
            if outputs is not None:
                outputs[start:start + rows_per_pass] = A
            loss = self.loss_value(Y[start:start + rows_per_pass], Z, A, penalty=False)
            total += loss if len(passes) == 1 else loss * len(A) / len(X)   # the loss is a mean over rows
        return total + self.penalty()
