"""Looking inside a network: its summary, weights, gradient check, pictures, a traced step, its
model file and the explanations of its predictions (:mod:`backpropagation.explain`).

:class:`Inspection` holds the methods :class:`~backpropagation.NeuralNetwork` offers for that; the
network class derives from it, so they are called as ``model.summary()``, ``model.trace(x, y)``.
"""

from __future__ import annotations

import numpy as np

from .errors import NotFittedError
from .data import as_array, check_array, check_features, check_same_length
from .nn.gradcheck import gradient_check
from .io import constructor_arguments, load_model, network_config, save_model
from .explain.trace import trace_step


class Inspection:
    """Summary, weights, gradient check, plots, trace, persistence and explanations of a network
    (mixed into NeuralNetwork)."""

    def summary(self) -> str:
        """A table of layers, activations, output shapes and parameter counts."""
        rows = [("Layer", "Activation", "Output shape", "Params"), ("input", "", f"(None, {self.layer_sizes[0]})", "0")]
        rows += [(f"embedding (column {e.column})", "", f"(None, {e.dim})", f"{e.n_weights:,}")
                 for e in self.embeddings]
        if self.periodic is not None:
            p = self.periodic
            rows.append((f"periodic ({len(p.columns)} columns, {p.n_frequencies} frequencies)", "Cos",
                         f"(None, {len(p.columns)}×{p.dim})", f"{p.n_weights:,}"))
        if self.embedded_input is not None and self.embedded_input.scale is not None:
            rows.append(("input scale", "", f"(None, {self.embedded_input.width})", f"{self.embedded_input.width:,}"))
        for i, (layer, dropout) in enumerate(zip(self.layers, self.dropouts), 1):
            kind = "output" if i == len(self.layers) else f"dense_{i}"
            rows.append((kind, type(layer.activation).__name__, f"(None, {layer.fan_out})",
                         f"{layer.n_weights + layer.n_biases:,}"))
            if dropout is not None:
                rows.append((f"dropout_{i} (rate {dropout.rate:g})", "", f"(None, {layer.fan_out})", "0"))
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        line = "-" * (sum(widths) + 6)

        def fmt(r):
            return "  ".join(v.ljust(w) if c < 3 else v.rjust(w) for c, (v, w) in enumerate(zip(r, widths)))

        head = (f"NeuralNetwork: task={self.task_.name}, loss={self.loss.name}, "
                f"optimizer={type(self.optimizer).__name__}, dtype={self.dtype.name}")
        return "\n".join([head, line, fmt(rows[0]), line, *map(fmt, rows[1:]), line,
                          f"Total params: {self.n_parameters:,}"])

    def get_weights(self) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Copies of the parameters as pairs: ``(E, None)`` per embedding table (shape
        ``(n_categories, dim)``, in column order), ``(parameters, None)`` per periodic embedding
        (its ``w, b, V, c`` in one vector) and for the input scale, then ``(W, b)`` per Dense layer
        (``W.shape == (fan_in, fan_out)``, ``b`` None without bias)."""
        return [(W.copy(), None) for W, _ in self._input_targets()] + \
            [(layer.W.copy(), None if layer.b is None else layer.b.copy()) for layer in self.layers]

    def _input_targets(self) -> list:
        """``(array, None)`` for each input piece's parameters: an embedding's table, else its flat stretch."""
        return [(getattr(piece, "E", None) if hasattr(piece, "E") else self.parameters[place], None)
                for piece, place in zip(self.input_layers(), self.embedding_slices())]

    def set_weights(self, weights) -> None:
        """Set every embedding table and every layer's ``(W, b)``; shapes as ``get_weights()`` gives
        them (``b`` None without bias).

        Raises
        ------
        ValueError
            For a wrong number of pairs, a wrong shape or non-finite values (nothing is changed).
        """
        weights = list(weights)
        targets = self._input_targets() + [(layer.W, layer.b) for layer in self.layers]
        if len(weights) != len(targets):
            raise ValueError(f"weights: expected {len(targets)} pairs ({len(targets) - len(self.layers)} (array, None) "
                             f"for the input's embeddings and scale, then (W, b) per layer), got {len(weights)}")
        checked = []
        for i, (pair, (W, b)) in enumerate(zip(weights, targets)):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"weights[{i}]: expected a pair (W, b), got {type(pair).__name__}")
            new_W = check_array(pair[0], W.shape, f"weights[{i}][0]")
            if b is None and pair[1] is not None:
                raise ValueError(f"weights[{i}][1]: this part has no biases (an embedding, or use_bias=False); "
                                 "pass None")
            checked.append((new_W, None if b is None else check_array(pair[1], b.shape, f"weights[{i}][1] (b)")))
        for (W, b), (new_W, new_b) in zip(targets, checked):
            W[...] = new_W
            if b is not None:
                b[...] = new_b

    def gradient_check(self, X, y, epsilon: float = 1e-6) -> float:
        """Largest relative error between backprop's gradient and central differences.

        Computed on a float64 copy of the network, so it is meaningful for float32 networks too.
        See :func:`backpropagation.nn.gradcheck.gradient_check`.
        """
        X = check_features(X, np.float64, "X", self.layer_sizes[0])
        y = as_array(y, "y")
        check_same_length(X, y)
        Y = self.task_.encode(y, np.float64) if self.task_.fitted else \
            self.task_.unfitted_copy().fit_encode(y, np.float64)
        return gradient_check(self._clone(np.float64), X, Y, epsilon)

    def plot_history(self, path=None):
        """Loss curves of the last ``fit`` (see :func:`backpropagation.explain.plotting.plot_history`)."""
        from .explain.plotting import plot_history

        if self.history_ is None:
            raise NotFittedError("plot_history: this network has not been fitted yet; call fit first")
        return plot_history(self.history_, path)

    def plot_predictions(self, X, y, before=None, path=None):
        """Predictions against the truth (see :func:`backpropagation.explain.plotting.plot_predictions`)."""
        from .explain.plotting import plot_predictions

        return plot_predictions(self, X, y, before, path)

    def plot_decision_boundary(self, X, y, path=None):
        """Decision regions of a two-feature classifier (see :mod:`backpropagation.explain.plotting`)."""
        from .explain.plotting import plot_decision_boundary

        return plot_decision_boundary(self, X, y, path)

    def plot_network(self, ax=None, title=None):
        """The network's units and weights drawn; returns the matplotlib figure (see
        :func:`backpropagation.explain.drawings.plot_network`)."""
        from .explain.drawings import plot_network

        return plot_network(self, ax, title)

    def to_onnx(self, path=None, dtype=None):
        """The trained network as an ONNX graph (``onnx.ModelProto``), written to ``path`` if given.

        Standard operators only: a ``Gemm`` per layer (``MatMul`` without biases) and each
        built-in activation. Input ``X`` (rows of features of the model's dtype, or ``dtype``);
        outputs ``values`` (regression, in the targets' units) or ``label`` and ``probabilities``
        (classification, columns ordered like ``classes_``). Needs the ``onnx`` extra; a custom
        building block is refused by name. See :mod:`backpropagation.export.onnx`.
        """
        from .export.onnx import to_onnx

        return to_onnx(self, path, dtype)

    def trace(self, X, y, apply: bool = False):
        """Record one training step (forward, loss, backward, update) layer by layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One sample (a single row) or a small batch.
        y : array-like
            Its targets; for a classifier that has not been fitted, class indices
            ``0 .. n_classes - 1``.
        apply : bool, default False
            Keep the update; by default the weights and optimizer state are restored.

        Returns
        -------
        Trace
            ``print(trace)`` shows z, a, δ, ∂L/∂W, ∂L/∂b and the update in the seeds' notation.
        """
        X = np.atleast_2d(check_features(np.atleast_2d(as_array(X, "X")), self.dtype, "X",
                                         self.layer_sizes[0]))
        y = as_array(y, "y")
        if y.ndim == 0:
            y = y.reshape(1)
        check_same_length(X, y)
        return trace_step(self, X, self.task_.encode_for_trace(y, self.dtype), apply)

    # ------------------------------------------------------------------ explanations
    def input_gradients(self, X, output=None):
        """∂ŷ/∂x per row: how each prediction moves with each input, by one more step of the
        backward pass (see :func:`backpropagation.explain.gradients.input_gradients`).

        Returns shape (n_samples, n_features) for one output (or ``output=k``), else
        (n_samples, n_outputs, n_features); ``ŷ`` in the targets' units (regression) or as
        probabilities (classification).
        """
        from .explain.gradients import input_gradients

        return input_gradients(self, X, output)

    def feature_importance(self, X, y=None, method="permutation", n_repeats=5, random_state=None,
                           scoring=None, groups=None):
        """Importance of each feature by ``method="permutation"`` (the score's drop when it is
        shuffled; needs ``y``) or ``"gradient"`` (mean ``|x ⊙ ∂ŷ/∂x|``); returns a
        :class:`~backpropagation.explain.importance.FeatureImportance` (see
        :func:`backpropagation.explain.importance.feature_importance` for every argument)."""
        from .explain.importance import feature_importance

        return feature_importance(self, X, y, method, n_repeats, random_state, scoring, groups)

    def lr_find(self, X, y, start=1e-7, end=10.0, steps=None, batch_size=32, **options):
        """The learning-rate range test on a copy of this network (this one is left unchanged);
        returns an :class:`~backpropagation.explain.lr_find.LRFinderResult` whose ``suggestion`` is a
        rate to train with (see :func:`backpropagation.explain.lr_find.lr_find`)."""
        from .explain.lr_find import lr_find

        return lr_find(self, X, y, start=start, end=end, steps=steps, batch_size=batch_size, **options)

    # ------------------------------------------------------------------ persistence
    def get_config(self) -> dict:
        """JSON-ready constructor arguments (building blocks as ``{"name", "config"}``)."""
        return network_config(self)

    @classmethod
    def from_config(cls, config: dict):
        """Build an untrained network from :meth:`get_config`'s output."""
        return cls(**constructor_arguments(config))

    def save(self, path) -> None:
        """Write the model (config, weights, fitted state, optimizer state) to one ``.npz`` file,
        through a temporary name renamed over ``path`` (a whole file or none); loaded without pickle."""
        save_model(self, path)

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`; raises ValueError for a broken or foreign file."""
        return load_model(path, cls.from_config)

    def _clone(self, dtype=None) -> "Inspection":
        """An independent copy with the same weights and fitted state (optionally another dtype).

        Building blocks are shared (activations and losses are stateless), so custom classes
        need no registration; the optimizer starts fresh.
        """
        twin = type(self)(
            self.layer_sizes, task=self.task,
            hidden_activation=[layer.activation for layer in self.layers[:-1]],
            output_activation=self.layers[-1].activation, loss=self.loss,
            optimizer=type(self.optimizer)(**self.optimizer.get_config()),
            learning_rate=self.learning_rate, l2=self.l2, initializer=self.initializer,
            use_bias=self.use_bias, dtype=self.dtype if dtype is None else dtype,
            standardize_target=self.standardize_target, engine=self.engine,
            dropout=[0.0 if d is None else d.rate for d in self.dropouts[:-1]],
            embeddings={e.column: (e.n_categories, e.dim, e.unseen_row) for e in self.embeddings} or None,
            periodic=self.periodic,                      # (copied: a fresh layer of its configuration)
            input_scale=self.input_scale, clip_predictions=self.clip_predictions,
        )
        twin.parameters[...] = self.parameters
        if self.task_.fitted:
            twin.task_.set_state(self.task_.get_state())
        return twin
