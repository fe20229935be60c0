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


def _spread(sigma) -> float | tuple[float, float]:
    """``sigma`` checked: a positive number, or a pair ``(low, high)`` of them with low <= high."""
    def positive(value) -> bool:
        return not isinstance(value, bool) and isinstance(value, (int, float, np.floating, np.integer)) and value > 0 \
            and np.isfinite(value)
    if positive(sigma):
        return float(sigma)
    if isinstance(sigma, (tuple, list)) and len(sigma) == 2 and all(map(positive, sigma)) and sigma[0] <= sigma[1]:
        return float(sigma[0]), float(sigma[1])
    raise ValueError(f"periodic: sigma must be a positive number or a pair (low, high) of them with "
                     f"low <= high, got {sigma!r}")


class PeriodicEmbedding(Layer):
    """Numeric input columns, each as itself beside ``dim`` learned periodic features. For column
    ``j`` of the ``m`` it embeds (all columns at once: a batch of ``m`` small maps)::

        forward    u_j = 2π x_j w_jᵀ + b_j           (n, k): k frequencies w_j, phases b_j
                   h_j = cos(u_j)
                   e_j = h_j V_j + c_j                (n, dim): a linear map V_j (k × dim), c_j (dim)
                   a_j = [x_j, e_j]                   (n, 1 + dim)
        backward   ∂L/∂V_j = h_jᵀ ∂L/∂e_j,   ∂L/∂c_j = Σ_rows ∂L/∂e_j
                   ∂L/∂u_j = -sin(u_j) ⊙ (∂L/∂e_j V_jᵀ)
                   ∂L/∂w_j = 2π Σ_rows x_j ⊙ ∂L/∂u_j,   ∂L/∂b_j = Σ_rows ∂L/∂u_j
                   ∂L/∂x_j = ∂L/∂a_j[:, 0] + 2π ∂L/∂u_j w_j

    ``w`` starts small (normal, spread ``sigma``: slow waves over a scaled column's range), ``b``
    uniform in [-π, π], ``V`` and ``c`` uniform in ±1/√k. With ``sigma = (low, high)`` the k
    frequencies' spreads run log-spaced from ``low`` to ``high``: fast waves beside slow ones, for a
    number (a day, a time index, an identifier) that sets the target in many small steps.

    Parameters
    ----------
    columns : int or sequence of int
        Which input columns hold the numbers.
    n_frequencies : int, default 16
    dim : int, default 3
        Learned features beside each number (each column takes ``1 + dim`` places).
    sigma : float or (float, float), default 0.1
        Spread of the initial frequencies: one for all, or the first and last of log-spaced spreads.

    Attributes
    ----------
    w, b : ndarray of shape (m, k);  V : (m, k, dim);  c : (m, dim)
        Views into the network's flat parameters (``dw``, ``db``, ``dV``, ``dc`` into its gradients).
    """

    def __init__(self, columns, n_frequencies: int = 16, dim: int = 3, sigma: float = 0.1) -> None:
        columns = [columns] if isinstance(columns, (int, np.integer)) and not isinstance(columns, bool) else columns
        if isinstance(columns, (str, bytes)) or not hasattr(columns, "__iter__"):
            raise ValueError(f"periodic: expected input columns (whole numbers), got {columns!r}")
        self.columns = [_whole("column", column, 0) for column in columns]
        if not self.columns or len(set(self.columns)) != len(self.columns):
            raise ValueError(f"periodic: expected distinct input columns, got {self.columns}")
        self.n_frequencies, self.features = _whole("n_frequencies", n_frequencies, 1), _whole("dim", dim, 1)
        self.sigma = _spread(sigma)
        self.dim = 1 + self.features                       # (the places each column takes in the first layer's input)
        m, k, d = len(self.columns), self.n_frequencies, self.features
        self.n_weights = m * (2 * k + k * d + d)
        self.w = self.b = self.V = self.c = self.x = self.u = self.h = None

    def _views(self, flat: np.ndarray) -> tuple:
        m, k, d = len(self.columns), self.n_frequencies, self.features
        ends = np.cumsum([m * k, m * k, m * k * d, m * d])
        return (flat[:ends[0]].reshape(m, k), flat[ends[0]:ends[1]].reshape(m, k),
                flat[ends[1]:ends[2]].reshape(m, k, d), flat[ends[2]:].reshape(m, d))

    def bind_flat(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Views of this layer's stretch of the flat parameter and gradient vectors."""
        self.w, self.b, self.V, self.c = self._views(params)
        self.dw, self.db, self.dV, self.dc = self._views(grads)

    def initialize(self, rng: np.random.Generator) -> None:
        spread = self.sigma if isinstance(self.sigma, float) else np.geomspace(*self.sigma, self.n_frequencies)
        self.w[...] = rng.normal(0.0, 1.0, self.w.shape) * spread
        self.b[...] = rng.uniform(-np.pi, np.pi, self.b.shape)
        bound = 1 / np.sqrt(self.n_frequencies)
        self.V[...] = rng.uniform(-bound, bound, self.V.shape)
        self.c[...] = rng.uniform(-bound, bound, self.c.shape)

    def phases(self, x: np.ndarray) -> np.ndarray:
        """``u = 2π x w + b`` for the columns' values ``x`` (shape (n, m)): shape (m, n, k)."""
        return (TWO_PI * x.T)[:, :, None] * self.w[:, None, :] + self.b[:, None, :]

    def _output(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``[x_j, h_j V_j + c_j]`` for every column: shape (n, m, 1 + dim)."""
        e = np.matmul(h, self.V) + self.c[:, None, :]     # (m, n, dim): one small product per column
        return np.concatenate([x[:, :, None], e.transpose(1, 0, 2)], axis=2)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The columns' embeddings, shape (n, m, 1 + dim); caches ``x``, ``u``, ``h`` for backward."""
        self.x, self.u = x, self.phases(x)
        self.h = np.cos(self.u)
        return self._output(x, self.h)

    def output(self, x: np.ndarray) -> np.ndarray:
        """The forward pass without caching (inference)."""
        return self._output(x, np.cos(self.phases(x)))

    def backward(self, dA: np.ndarray) -> np.ndarray:
        """From ``∂L/∂a`` (shape (n, m, 1 + dim)) write ``∂L/∂w, ∂L/∂b, ∂L/∂V, ∂L/∂c``; return
        ``∂L/∂x`` (shape (n, m))."""
        de = dA[:, :, 1:].transpose(1, 0, 2)                                 # (m, n, dim)
        np.matmul(self.h.transpose(0, 2, 1), de, out=self.dV)             # ∂L/∂V = hᵀ ∂L/∂e
        self.dc[...] = de.sum(axis=1)                                      # ∂L/∂c = Σ ∂L/∂e
        du = -np.sin(self.u) * np.matmul(de, self.V.transpose(0, 2, 1))   # ∂L/∂u = -sin(u) ⊙ ∂L/∂e Vᵀ
        self.dw[...] = TWO_PI * np.einsum("nm,mnk->mk", self.x, du)        # ∂L/∂w = 2π Σ x ∂L/∂u
        self.db[...] = du.sum(axis=1)                                      # ∂L/∂b = Σ ∂L/∂u
        return dA[:, :, 0] + TWO_PI * np.einsum("mnk,mk->nm", du, self.w)  # ∂L/∂x

    def input_gradient(self, x: np.ndarray, dA: np.ndarray) -> np.ndarray:
        """``∂/∂x`` of whatever has gradient ``dA`` (shape (n, m, 1 + dim)) at the output, caching
        nothing (explanations)."""
        de = dA[:, :, 1:].transpose(1, 0, 2)
        du = -np.sin(self.phases(x)) * np.matmul(de, self.V.transpose(0, 2, 1))
        return dA[:, :, 0] + TWO_PI * np.einsum("mnk,mk->nm", du, self.w)

    def config(self) -> list:
        return [list(self.columns), self.n_frequencies, self.features,
                self.sigma if isinstance(self.sigma, float) else list(self.sigma)]

    def __repr__(self) -> str:
        return (f"PeriodicEmbedding(columns={self.columns}, n_frequencies={self.n_frequencies}, "
                f"dim={self.features}, sigma={self.sigma!r})")


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


def periodic_layer(periodic, n_inputs: int, codes=()) -> PeriodicEmbedding | None:
    """A :class:`PeriodicEmbedding` from a list of columns (default sizes) or a PeriodicEmbedding
    (a fresh copy); None for none. ValueError for a column outside the input or holding codes."""
    if periodic is None or periodic is False or (hasattr(periodic, "__len__") and not len(periodic)):
        return None
    layer = periodic if isinstance(periodic, PeriodicEmbedding) else PeriodicEmbedding(periodic)
    if max(layer.columns) >= n_inputs or set(layer.columns) & set(codes):
        raise ValueError(f"periodic: columns must be inputs below {n_inputs} that hold numbers (not an "
                         f"embedding's codes), got {sorted(layer.columns)}")
    return PeriodicEmbedding(*layer.config())


class EmbeddedInput:
    """The network's input with code columns replaced by their embeddings and numeric columns by
    their periodic embeddings (a column keeps its place: the first Dense layer sees plain columns
    and embedding vectors in column order), then times the input scale if there is one."""

    def __init__(self, n_inputs: int, embeddings: list, periodic: PeriodicEmbedding | None = None,
                 scale: bool = False) -> None:
        self.embeddings, self.periodic = embeddings, periodic
        by_column = {e.column: e for e in embeddings}
        by_column.update(dict.fromkeys(periodic.columns, periodic) if periodic is not None else {})
        self.pieces, at = [], 0          # (input column, Embedding, PeriodicEmbedding or None, slice)
        for column in range(n_inputs):
            width = by_column[column].dim if column in by_column else 1
            self.pieces.append((column, by_column.get(column), slice(at, at + width)))
            at += width
        self.width = at
        self.plain = [column for column, layer, _ in self.pieces if layer is None]
        self.plain_places = [place.start for column, layer, place in self.pieces if layer is None]
        #: Where the periodic columns' outputs go, column after column (one scatter for all).
        self.periodic_places = None if periodic is None else np.concatenate(
            [np.arange(self.pieces[c][2].start, self.pieces[c][2].stop) for c in periodic.columns])
        self.scale = InputScale(at) if scale else None

    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        """The embedded input (what the backward pass needs cached when ``training``)."""
        A = np.empty((len(X), self.width), dtype=X.dtype)
        A[:, self.plain_places] = X[:, self.plain]
        for embedding in self.embeddings:
            A[:, self.pieces[embedding.column][2]] = (embedding.forward if training else embedding.output)(
                X[:, embedding.column])
        if self.periodic is not None:
            x = X[:, self.periodic.columns]
            A[:, self.periodic_places] = (self.periodic.forward if training else self.periodic.output)(x) \
                .reshape(len(X), -1)
        if self.scale is None:
            return A
        return self.scale.forward(A) if training else A * self.scale.s

    def backward(self, dA: np.ndarray) -> None:
        """The input scale's gradient, then each embedding's share of ``∂L/∂(embedded input)``."""
        if self.scale is not None:
            dA = self.scale.backward(dA)
        for embedding in self.embeddings:
            embedding.backward(dA[:, self.pieces[embedding.column][2]])
        if self.periodic is not None:
            self.periodic.backward(self._periodic_part(dA))

    def _periodic_part(self, dA: np.ndarray) -> np.ndarray:
        return dA[:, self.periodic_places].reshape(len(dA), len(self.periodic.columns), self.periodic.dim)

    def column_gradients(self, X: np.ndarray, dA: np.ndarray) -> np.ndarray:
        """``∂/∂X`` from ``dA``, the gradient at the embedded input (shape (n, width)), caching
        nothing; a code column has no derivative (0)."""
        if self.scale is not None:
            dA = dA * self.scale.s
        gradients = np.zeros(X.shape, dtype=dA.dtype)
        gradients[:, self.plain] = dA[:, self.plain_places]
        if self.periodic is not None:
            gradients[:, self.periodic.columns] = self.periodic.input_gradient(
                X[:, self.periodic.columns], self._periodic_part(dA))
        return gradients

    def describe(self) -> str:
        """What this stage does to ``x``, in words (the trace's first line)."""
        codes = [str(e.column) for e in self.embeddings]
        periodic = [] if self.periodic is None else [str(c) for c in self.periodic.columns]
        parts = ([f"code column{'s' * (len(codes) > 1)} {', '.join(codes)} replaced by E[code]"] if codes else []) + \
            ([f"column{'s' * (len(periodic) > 1)} {', '.join(periodic)} by [x, cos(2π x w + b) V + c] (periodic)"]
             if periodic else [])
        text = "x with " + "; ".join(parts) if parts else "x"
        return text + (", times the input scale s" if self.scale is not None else "")

    def parameter_layers(self) -> list:
        """The pieces with parameters in the flat vectors, in their order there."""
        return [*self.embeddings, *([self.periodic] if self.periodic is not None else []),
                *([self.scale] if self.scale is not None else [])]


__all__ = ["EmbeddedInput", "Embedding", "InputScale", "PeriodicEmbedding", "periodic_layer"]
