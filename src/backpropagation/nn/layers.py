"""Layers: forward and backward side by side.

A :class:`Dense` layer computes ``Z = A_prev @ W + b`` and ``A = f(Z)`` with
``W.shape == (fan_in, fan_out)`` and ``b.shape == (fan_out,)``; batches are rows. Its forward
pass caches exactly what its backward pass needs (``A_prev``, ``Z``, ``A``). Its backward pass
applies the chain rule in the seeds' notation::

    δ      = ∂L/∂Z      = dA ⊙ f'(Z)          (the activation's backward)
    ∂L/∂W  = A_prevᵀ δ                         (summed over the batch)
    ∂L/∂b  = Σ_rows δ
    ∂L/∂A_prev = δ Wᵀ                          (skipped for the first layer)

``W``, ``b``, ``dW`` and ``db`` are views into the network's flat parameter and gradient vectors;
the layer writes into them in place and never rebinds them. The backward pass also keeps ``dA``
and ``delta``, which :mod:`backpropagation.explain.trace` shows.
"""

from __future__ import annotations

import numpy as np

from . import activations


class Layer:
    """Base class: a differentiable map with ``forward`` and ``backward``."""

    n_weights = 0
    n_biases = 0

    def forward(self, A_prev: np.ndarray) -> np.ndarray:
        """Output for input ``A_prev`` of shape (n_samples, fan_in); caches what backward needs."""
        raise NotImplementedError

    def backward(self, dA: np.ndarray) -> np.ndarray | None:
        """Given ``∂L/∂A`` of the output, write parameter gradients and return ``∂L/∂A_prev``."""
        raise NotImplementedError


class Dense(Layer):
    """Fully connected layer followed by an activation.

    Parameters
    ----------
    fan_in, fan_out : int
        Input and output widths.
    activation : str or Activation, default "linear"
    use_bias : bool, default True

    Attributes
    ----------
    W, b : ndarray of shape (fan_in, fan_out) and (fan_out,)
        Weights and biases (``b`` is None without bias): views into the network's parameters.
    dW, db : ndarray
        Their gradients from the last backward pass: views into the network's gradient vector.
    compute_input_gradient : bool
        False for the first layer, whose input is the data: its ``∂L/∂X`` is never needed.
    """

    def __init__(self, fan_in: int, fan_out: int, activation="linear", use_bias: bool = True) -> None:
        self.fan_in = fan_in
        self.fan_out = fan_out
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.n_weights = fan_in * fan_out
        self.n_biases = fan_out if use_bias else 0
        self.compute_input_gradient = True
        self.W = self.b = self.dW = self.db = None
        self.A_prev = self.Z = self.A = self.dA = self.delta = None

    def bind(self, W: np.ndarray, b: np.ndarray | None, dW: np.ndarray, db: np.ndarray | None) -> None:
        """Attach views of the network's flat parameter and gradient vectors."""
        self.W, self.b, self.dW, self.db = W, b, dW, db

    def without_arrays(self) -> "Dense":
        """A copy holding no arrays (no views, no forward cache), for pickling the network."""
        twin = Dense.__new__(Dense)
        twin.__dict__.update({k: (None if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()})
        return twin

    def forward(self, A_prev):
        self.A_prev = A_prev
        self.Z = self.affine(A_prev)
        self.A = self.activation.forward(self.Z)
        return self.A

    def affine(self, A_prev: np.ndarray) -> np.ndarray:
        """``Z = A_prev @ W + b``, caching nothing."""
        Z = A_prev @ self.W
        if self.b is not None:
            Z += self.b                                     # (in place: no second array of Z's size)
        return Z

    def output(self, A_prev: np.ndarray) -> np.ndarray:
        """``f(A_prev @ W + b)`` without caching anything: inference, safe beside a training step
        running in another thread (it never touches what the backward pass reads)."""
        return self.activation.forward(self.affine(A_prev))

    def backward(self, dA):
        return self.backward_delta(self.activation.backward(self.Z, self.A, dA), dA)

    def backward_delta(self, delta: np.ndarray, dA: np.ndarray | None = None) -> np.ndarray | None:
        """Backward pass from ``δ = ∂L/∂Z`` (called directly when the loss fuses the activation).

        Caches ``delta`` and ``dA`` (None when fused) so that a trace can show them.
        """
        self.dA, self.delta = dA, delta
        np.matmul(self.A_prev.T, delta, out=self.dW)        # ∂L/∂W = a_prevᵀ δ  (into the view, in place)
        if self.db is not None:
            self.db[...] = delta.sum(axis=0)                # ∂L/∂b = Σ δ over rows
        return delta @ self.W.T if self.compute_input_gradient else None   # ∂L/∂a_prev = δ Wᵀ

    def __repr__(self) -> str:
        return (f"Dense({self.fan_in}, {self.fan_out}, activation={self.activation!r}, "
                f"use_bias={self.use_bias})")


class Dropout(Layer):
    """Inverted dropout after a hidden layer: during training each unit is kept with probability
    ``1 - rate`` and scaled by ``1 / (1 - rate)``, so inference (which skips this layer) needs no
    rescaling. Forward and backward use the same mask::

        A_out = A ⊙ M,   M = keep / (1 - rate),  keep ~ Bernoulli(1 - rate)
        ∂L/∂A = ∂L/∂A_out ⊙ M

    Parameters
    ----------
    rate : float in [0, 1)
        Fraction of units dropped in each training step.

    Attributes
    ----------
    mask : ndarray or None
        ``M`` of the last training forward pass (what the backward pass multiplies by).
    fixed_mask : ndarray or None
        Set it to use this ``M`` instead of drawing one (gradient checks, comparisons with other
        libraries); its shape must be the batch's ``(n_samples, width)``.
    """

    def __init__(self, rate: float) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating, np.integer)) \
                or not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"dropout: expected a rate in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.mask = self.fixed_mask = None

    def forward(self, A: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """``A ⊙ M`` with a fresh mask drawn from ``rng`` (or :attr:`fixed_mask`)."""
        if self.fixed_mask is not None:
            if self.fixed_mask.shape != A.shape:
                raise ValueError(f"Dropout.fixed_mask: expected shape {A.shape}, got {self.fixed_mask.shape}")
            self.mask = self.fixed_mask.astype(A.dtype, copy=False)
        else:
            keep = rng.random(A.shape) >= self.rate
            self.mask = keep.astype(A.dtype) / A.dtype.type(1.0 - self.rate)
        return A * self.mask

    def backward(self, dA: np.ndarray) -> np.ndarray:
        """``∂L/∂A = ∂L/∂A_out ⊙ M``: a dropped unit passes no gradient back."""
        return dA * self.mask

    def __repr__(self) -> str:
        return f"Dropout({self.rate})"


class Embedding(Layer):
    """A learned vector for each category of one input column that holds category codes.

    Column ``column`` of the input holds whole numbers ``0 .. n_categories - 1``; the layer
    replaces it by row ``code`` of its table ``E`` (shape ``(n_categories, dim)``), so a column of
    thousands of categories becomes ``dim`` numbers instead of thousands of indicators::

        forward    a = E[code]                      (a lookup: the one-hot row times E)
        backward   ∂L/∂E[c] = Σ over rows with code c of ∂L/∂a

    With ``unseen_row`` the last code stands for a category training never saw: its vector is the
    mean of the other rows (an average category, not an untrained random row), and its gradient
    is shared among them::

        a = (1 / (n - 1)) Σ_c<n-1 E[c]               ∂L/∂E[c] += ∂L/∂a / (n - 1)   for every c < n - 1

    Parameters
    ----------
    column : int
        Which input column holds the codes.
    n_categories, dim : int
        Rows and width of ``E``.
    unseen_row : bool, default False
        Whether code ``n_categories - 1`` means "a category unseen in training" (what the table
        encoding gives such a cell; :mod:`backpropagation.tables.preprocessing`).

    Attributes
    ----------
    E, dE : ndarray of shape (n_categories, dim)
        The table and its gradient: views into the network's flat vectors (with the weights, so
        the L2 penalty applies to them).
    """

    def __init__(self, column: int, n_categories: int, dim: int, unseen_row: bool = False) -> None:
        for name, value, low in (("column", column, 0), ("n_categories", n_categories, 1 + bool(unseen_row)),
                                 ("dim", dim, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"embeddings: {name} must be a whole number >= {low}, got {value!r}")
        if not isinstance(unseen_row, (bool, np.bool_)):
            raise ValueError(f"embeddings: unseen_row must be True or False, got {unseen_row!r}")
        self.column, self.n_categories, self.dim = int(column), int(n_categories), int(dim)
        self.unseen_row = bool(unseen_row)
        self.n_weights = self.n_categories * self.dim
        self.E = self.dE = self.codes = None

    def bind(self, E: np.ndarray, dE: np.ndarray) -> None:
        """Attach views of the network's flat parameter and gradient vectors."""
        self.E, self.dE = E, dE

    def bind_flat(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Views of this table's stretch of the flat parameter and gradient vectors."""
        shape = (self.n_categories, self.dim)
        self.bind(params.reshape(shape), grads.reshape(shape))

    def initialize(self, rng: np.random.Generator, spread: float = 0.05) -> None:
        """Uniform in ±``spread`` (Keras' default for its Embedding layer)."""
        self.E[...] = rng.uniform(-spread, spread, self.E.shape)

    def codes_of(self, values: np.ndarray) -> np.ndarray:
        """The column's values as row numbers of ``E``; ValueError naming the first bad row."""
        codes = values.astype(np.intp)
        bad = np.flatnonzero((codes != values) | (codes < 0) | (codes >= self.n_categories))
        if len(bad):
            raise ValueError(f"X: column {self.column} holds category codes 0 to {self.n_categories - 1} "
                             f"(an embedding), got {values[bad[0]].item()!r} in row {bad[0]}")
        return codes

    def forward(self, values: np.ndarray) -> np.ndarray:
        """``E[code]`` for each row; caches the codes for the backward pass."""
        self.codes = self.codes_of(values)
        return self.output(values)

    def output(self, values: np.ndarray) -> np.ndarray:
        """``E[code]`` without caching (inference); the unseen code's row is the others' mean."""
        return self.table()[self.codes_of(values)]

    def table(self) -> np.ndarray:
        """The vectors the codes look up: ``E``, its unseen row (with ``unseen_row``) the mean of
        the others."""
        if not self.unseen_row:
            return self.E
        table = self.E.copy()
        table[-1] = self.E[:-1].mean(axis=0)
        return table

    def backward(self, dA: np.ndarray) -> None:
        """``∂L/∂E``: each row's ``∂L/∂a`` added to the row of its code (codes repeat: ``add.at``);
        an unseen code's share spread over the rows its mean is made of."""
        self.dE[...] = 0
        np.add.at(self.dE, self.codes, dA)
        if self.unseen_row:
            self.dE[:-1] += self.dE[-1] / (self.n_categories - 1)
            self.dE[-1] = 0
        return None

    def __repr__(self) -> str:
        unseen = ", unseen_row=True" if self.unseen_row else ""
        return f"Embedding(column={self.column}, n_categories={self.n_categories}, dim={self.dim}{unseen})"


def embedding_layers(embeddings, n_inputs: int) -> list[Embedding]:
    """``Embedding`` layers from ``{column: (n_categories, dim)}`` or ``(n_categories, dim,
    unseen_row)`` (or a list of Embedding), sorted by column; ValueError for a column outside the
    input or given twice."""
    if not embeddings:
        return []
    layers = list(embeddings) if isinstance(embeddings, (list, tuple)) else \
        [Embedding(column, *shape) for column, shape in dict(embeddings).items()]
    if not all(isinstance(layer, Embedding) for layer in layers):
        raise TypeError("embeddings: expected {column: (n_categories, dim)} or a list of Embedding")
    columns = [layer.column for layer in layers]
    if len(set(columns)) != len(columns) or max(columns) >= n_inputs:
        raise ValueError(f"embeddings: columns must be distinct inputs below {n_inputs}, got {sorted(columns)}")
    return sorted((Embedding(layer.column, layer.n_categories, layer.dim, layer.unseen_row) for layer in layers),
                  key=lambda layer: layer.column)


def dropout_layers(dropout, n_hidden: int) -> list[Dropout | None]:
    """One :class:`Dropout` (or None for a rate of 0) per hidden layer from ``dropout``: a rate
    for every hidden layer or a list with one rate per hidden layer."""
    rates = list(dropout) if isinstance(dropout, (list, tuple, np.ndarray)) else [dropout] * n_hidden
    if len(rates) != n_hidden:
        raise ValueError(f"dropout: expected one rate per hidden layer ({n_hidden}), got {len(rates)}")
    layers = [Dropout(rate) for rate in rates]
    return [layer if layer.rate > 0 else None for layer in layers]


def unpack_layers(layers: list, output_activation):
    """Widths, hidden activations, output activation, use_bias, dropout rates and embeddings of a
    list of layers: :class:`Embedding` layers first (each reads one input column of codes), then
    Dense layers, each hidden one optionally followed by a :class:`Dropout`.

    What ``NeuralNetwork([Embedding(...), Dense(...), Dropout(...), ...])`` builds its network
    from; the network then owns new layers of these shapes (the given ones are descriptions, not
    shared). The first Dense layer's ``fan_in`` counts each embedding's ``dim`` numbers in place
    of its one code column.
    """
    embeddings = [layer for layer in layers if isinstance(layer, Embedding)]
    if any(isinstance(layer, Embedding) for layer in layers[len(embeddings):]):
        raise ValueError("layer_sizes: Embedding layers come first, before the Dense layers (they read the input)")
    rates, dense = [], []
    for i, layer in enumerate(layers[len(embeddings):], len(embeddings)):
        if isinstance(layer, Dropout):
            if not dense or len(rates) == len(dense) or i == len(layers) - 1:
                raise ValueError(f"layer_sizes[{i}]: a Dropout must follow a hidden Dense layer (one each)")
            rates.append(layer.rate)
        elif isinstance(layer, Dense):
            rates += [0.0] * (len(dense) - len(rates))
            dense.append(layer)
        else:
            raise TypeError(f"layer_sizes[{i}]: expected Embedding, Dense or Dropout, got {type(layer).__name__}")
    if not dense:
        raise ValueError("layer_sizes: expected at least one Dense layer")
    layers = dense
    for i, (below, above) in enumerate(zip(layers[:-1], layers[1:]), 1):
        if below.fan_out != above.fan_in:
            raise ValueError(f"layer_sizes[{i}]: Dense({above.fan_in}, ...) does not follow "
                             f"Dense(..., {below.fan_out}): widths must chain")
    if len({layer.use_bias for layer in layers}) != 1:
        raise ValueError("layer_sizes: give every Dense layer the same use_bias")
    last = layers[-1].activation
    if output_activation is None and not isinstance(last, activations.Linear):
        output_activation = last
    n_inputs = layers[0].fan_in - sum(e.dim - 1 for e in embeddings)
    sizes = [n_inputs] + [layer.fan_out for layer in layers]
    rates += [0.0] * (len(layers) - 1 - len(rates))
    return (sizes, [layer.activation for layer in layers[:-1]], output_activation, layers[0].use_bias, rates,
            {e.column: (e.n_categories, e.dim, e.unseen_row) for e in embeddings} or None)
