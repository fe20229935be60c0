"""What the network does to its input before the first Dense layer, forward beside backward.

Three learned pieces, each optional (:class:`EmbeddedInput` chains them):

* :class:`~backpropagation.nn.layers.Embedding`: a code column becomes a learned vector;
* :class:`PeriodicEmbedding`: a number ``x`` becomes ``[x, e]`` with ``e`` a learned mix of
  ``cos(2π w x + b)`` over a few frequencies ``w`` — features that can turn on and off along
  ``x``, as a tree's thresholds do, which a first layer of ReLUs over a single number draws only
  with many units (Gorishniy et al., 2022; RealMLP's "PBLD", Holzmüller et al., 2024);
* :class:`InputScale`: each input of the first layer times a learned factor ``s`` (starting at
  1), so training can quieten an uninformative column or amplify a useful one faster than the
  first layer's weights move.

Their parameters live in the network's flat vectors with the weights, after the embedding tables
(:mod:`backpropagation.nn.parameter_layout`).
"""

from __future__ import annotations

import numpy as np

from .layers import Embedding, Layer

TWO_PI = 2 * np.pi


def _whole(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"periodic: {name} must be a whole number >= {low}, got {value!r}")
    return int(value)


class PeriodicEmbedding(Layer):
    """A numeric input column as itself beside ``dim`` learned periodic features::

        forward    u = 2π x wᵀ + b               (n, k): k frequencies w, phases b
                   h = cos(u)
                   e = h V + c                    (n, dim): a linear map V (k × dim), c (dim)
                   a = [x, e]                     (n, 1 + dim)
        backward   ∂L/∂V = hᵀ ∂L/∂e,   ∂L/∂c = Σ_rows ∂L/∂e
                   ∂L/∂u = -sin(u) ⊙ (∂L/∂e Vᵀ)
                   ∂L/∂w = 2π Σ_rows x ⊙ ∂L/∂u,   ∂L/∂b = Σ_rows ∂L/∂u
                   ∂L/∂x = ∂L/∂a[:, 0] + 2π ∂L/∂u w

    ``w`` starts small (normal, spread ``sigma``: slow waves over a scaled column's range), ``b``
    uniform in [-π, π], ``V`` and ``c`` uniform in ±1/√k.

    Parameters
    ----------
    column : int
        Which input column holds the number.
    n_frequencies : int, default 16
    dim : int, default 3
        Learned features beside the number (the layer's output is ``1 + dim`` wide).
    sigma : float, default 0.1
        Spread of the initial frequencies.

    Attributes
    ----------
    w, b, V, c : ndarray
        Views into the network's flat parameters (``dw``, ``db``, ``dV``, ``dc`` into its gradients).
    """

    def __init__(self, column: int, n_frequencies: int = 16, dim: int = 3, sigma: float = 0.1) -> None:
        self.column = _whole("column", column, 0)
        self.n_frequencies, self.features = _whole("n_frequencies", n_frequencies, 1), _whole("dim", dim, 1)
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
            raise ValueError(f"periodic: sigma must be a positive number, got {sigma!r}")
        self.sigma = float(sigma)
        self.dim = 1 + self.features                       # (the width it takes in the first layer's input)
        k, d = self.n_frequencies, self.features
        self.n_weights = 2 * k + k * d + d
        self.w = self.b = self.V = self.c = self.x = self.u = self.h = None

    def _views(self, flat: np.ndarray) -> tuple:
        k, d = self.n_frequencies, self.features
        return flat[:k], flat[k:2 * k], flat[2 * k:2 * k + k * d].reshape(k, d), flat[2 * k + k * d:]

    def bind_flat(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Views of this layer's stretch of the flat parameter and gradient vectors."""
        self.w, self.b, self.V, self.c = self._views(params)
        self.dw, self.db, self.dV, self.dc = self._views(grads)

    def initialize(self, rng: np.random.Generator) -> None:
        self.w[...] = rng.normal(0.0, self.sigma, self.w.shape)
        self.b[...] = rng.uniform(-np.pi, np.pi, self.b.shape)
        bound = 1 / np.sqrt(self.n_frequencies)
        self.V[...] = rng.uniform(-bound, bound, self.V.shape)
        self.c[...] = rng.uniform(-bound, bound, self.c.shape)

    def phases(self, x: np.ndarray) -> np.ndarray:
        """``u = 2π x wᵀ + b`` for the column's values ``x`` (shape (n,))."""
        return (TWO_PI * x)[:, None] * self.w + self.b

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``[x, cos(u) V + c]``; caches ``x``, ``u`` and ``h`` for the backward pass."""
        self.x, self.u = x, self.phases(x)
        self.h = np.cos(self.u)
        return np.concatenate([x[:, None], self.h @ self.V + self.c], axis=1)

    def output(self, x: np.ndarray) -> np.ndarray:
        """The forward pass without caching (inference)."""
        return np.concatenate([x[:, None], np.cos(self.phases(x)) @ self.V + self.c], axis=1)

    def backward(self, dA: np.ndarray) -> np.ndarray:
        """Write ``∂L/∂w, ∂L/∂b, ∂L/∂V, ∂L/∂c``; return ``∂L/∂x`` (shape (n,))."""
        de = dA[:, 1:]
        np.matmul(self.h.T, de, out=self.dV)              # ∂L/∂V = hᵀ ∂L/∂e
        self.dc[...] = de.sum(axis=0)                     # ∂L/∂c = Σ ∂L/∂e
        du = -np.sin(self.u) * (de @ self.V.T)            # ∂L/∂u = -sin(u) ⊙ ∂L/∂h
        self.dw[...] = TWO_PI * (self.x @ du)             # ∂L/∂w = 2π Σ x ∂L/∂u
        self.db[...] = du.sum(axis=0)                     # ∂L/∂b = Σ ∂L/∂u
        return dA[:, 0] + TWO_PI * (du @ self.w)          # ∂L/∂x

    def input_gradient(self, x: np.ndarray, dA: np.ndarray) -> np.ndarray:
        """``∂/∂x`` of whatever has gradient ``dA`` at the output, caching nothing (explanations)."""
        du = -np.sin(self.phases(x)) * (dA[:, 1:] @ self.V.T)
        return dA[:, 0] + TWO_PI * (du @ self.w)

    def config(self) -> list:
        return [self.column, self.n_frequencies, self.features, self.sigma]

    def __repr__(self) -> str:
        return (f"PeriodicEmbedding(column={self.column}, n_frequencies={self.n_frequencies}, dim={self.features}, "
                f"sigma={self.sigma:g})")


class InputScale(Layer):
    """The first layer's input times a learned factor per input::

        forward    a' = a ⊙ s                    (s starts at 1)
        backward   ∂L/∂s = Σ_rows a ⊙ ∂L/∂a',   ∂L/∂a = s ⊙ ∂L/∂a'
    """

    def __init__(self, width: int) -> None:
        self.width = self.n_weights = _whole("width", width, 1)
        self.s = self.ds = self.a = None

    def bind_flat(self, params: np.ndarray, grads: np.ndarray) -> None:
        self.s, self.ds = params, grads

    def initialize(self, rng: np.random.Generator) -> None:
        self.s[...] = 1.0

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.a = a
        return a * self.s

    def backward(self, dA: np.ndarray) -> np.ndarray:
        np.einsum("ij,ij->j", self.a, dA, out=self.ds)      # ∂L/∂s = Σ a ⊙ ∂L/∂a'
        return dA * self.s                                  # ∂L/∂a = s ⊙ ∂L/∂a'

    def __repr__(self) -> str:
        return f"InputScale({self.width})"


def periodic_layers(periodic, n_inputs: int, codes=()) -> list[PeriodicEmbedding]:
    """``PeriodicEmbedding`` layers, sorted by column, from a list of columns (default sizes), of
    PeriodicEmbedding, or ``{column: (n_frequencies, dim[, sigma])}``; ValueError for a column
    outside the input, given twice or holding codes (an Embedding's)."""
    if periodic is None or periodic is False or (hasattr(periodic, "__len__") and not len(periodic)):
        return []
    if isinstance(periodic, dict):
        layers = [PeriodicEmbedding(column, *shape) for column, shape in periodic.items()]
    else:
        layers = [p if isinstance(p, PeriodicEmbedding) else PeriodicEmbedding(p) for p in periodic]
    columns = [layer.column for layer in layers]
    if len(set(columns)) != len(columns) or max(columns) >= n_inputs or set(columns) & set(codes):
        raise ValueError(f"periodic: columns must be distinct inputs below {n_inputs} that hold numbers (not an "
                         f"embedding's codes), got {sorted(columns)}")
    return sorted((PeriodicEmbedding(*layer.config()) for layer in layers), key=lambda layer: layer.column)


class EmbeddedInput:
    """The network's input with code columns replaced by their embeddings and numeric columns by
    their periodic embeddings (a column keeps its place: the first Dense layer sees plain columns
    and embedding vectors in column order), then times the input scale if there is one."""

    def __init__(self, n_inputs: int, embeddings: list, periodic=(), scale: bool = False) -> None:
        self.embeddings = embeddings
        by_column = {e.column: e for e in [*embeddings, *periodic]}
        self.pieces, at = [], 0          # (input column, Embedding, PeriodicEmbedding or None, slice)
        for column in range(n_inputs):
            width = by_column[column].dim if column in by_column else 1
            self.pieces.append((column, by_column.get(column), slice(at, at + width)))
            at += width
        self.width = at
        self.scale = InputScale(at) if scale else None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        """The embedded input (what the backward pass needs cached when ``training``)."""
        A = np.empty((len(X), self.width), dtype=X.dtype)
        for column, layer, place in self.pieces:
            if layer is None:
                A[:, place] = X[:, column:column + 1]
            else:
                A[:, place] = (layer.forward if training else layer.output)(X[:, column])
        if self.scale is None:
            return A
        return self.scale.forward(A) if training else A * self.scale.s

    def backward(self, dA: np.ndarray) -> None:
        """The input scale's gradient, then each embedding's share of ``∂L/∂(embedded input)``."""
        if self.scale is not None:
            dA = self.scale.backward(dA)
        for _, layer, place in self.pieces:
            if layer is not None:
                layer.backward(dA[:, place])

    def column_gradients(self, X: np.ndarray, dA: np.ndarray) -> np.ndarray:
        """``∂/∂X`` from ``dA``, the gradient at the embedded input (shape (n, width)), caching
        nothing; a code column has no derivative (0)."""
        if self.scale is not None:
            dA = dA * self.scale.s
        gradients = np.zeros(X.shape, dtype=dA.dtype)
        for column, layer, place in self.pieces:
            if layer is None:
                gradients[:, column] = dA[:, place.start]
            elif isinstance(layer, PeriodicEmbedding):
                gradients[:, column] = layer.input_gradient(X[:, column], dA[:, place])
        return gradients

    def describe(self) -> str:
        """What this stage does to ``x``, in words (the trace's first line)."""
        codes = [str(c) for c, layer, _ in self.pieces if isinstance(layer, Embedding)]
        periodic = [str(c) for c, layer, _ in self.pieces if isinstance(layer, PeriodicEmbedding)]
        parts = ([f"code column{'s' * (len(codes) > 1)} {', '.join(codes)} replaced by E[code]"] if codes else []) + \
            ([f"column{'s' * (len(periodic) > 1)} {', '.join(periodic)} by [x, cos(2π x w + b) V + c] (periodic)"]
             if periodic else [])
        text = "x with " + "; ".join(parts) if parts else "x"
        return text + (", times the input scale s" if self.scale is not None else "")

    def parameter_layers(self) -> list:
        """The pieces with parameters in the flat vectors, in their order there."""
        periodic = [layer for _, layer, _ in self.pieces if isinstance(layer, PeriodicEmbedding)]
        return [*self.embeddings, *periodic, *([self.scale] if self.scale is not None else [])]


__all__ = ["EmbeddedInput", "Embedding", "InputScale", "PeriodicEmbedding", "periodic_layers"]
