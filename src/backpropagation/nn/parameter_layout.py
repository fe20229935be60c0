"""The network's parameters as one flat vector, and each layer's views into it.

Layout: all weights (the input's parameters — each :class:`~backpropagation.nn.layers.Embedding`
table, each :class:`~backpropagation.nn.input_layers.PeriodicEmbedding`'s ``w, b, V, c``, the
:class:`~backpropagation.nn.input_layers.InputScale` — then each Dense layer's ``W``, row-major),
then all biases. The optimizer steps the whole vector at once; the
layers read and write their views in place. :class:`FlatParameters` is mixed into
:class:`~backpropagation.NeuralNetwork`.
"""

from __future__ import annotations

import numpy as np

from . import initializers

class FlatParameters:
    """The flat parameter and gradient vectors of a network and the layers' views of them."""

    def _allocate_parameters(self) -> None:
        """One flat parameter vector and one flat gradient vector for the whole network."""
        self.n_weights = sum(layer.n_weights for layer in [*self.input_layers(), *self.layers])
        n_total = self.n_weights + sum(layer.n_biases for layer in self.layers)
        self._params = np.zeros(n_total, dtype=self.dtype)
        self._grads = np.zeros(n_total, dtype=self.dtype)
        self._bind_views()

    def input_layers(self) -> list:
        """The input's pieces with parameters (embedding tables, periodic embeddings, the input
        scale), in their order in the flat vectors."""
        return [] if self.embedded_input is None else self.embedded_input.parameter_layers()

    def embedding_slices(self) -> list[slice]:
        """Where each input piece's parameters sit in the flat vectors (first, before the Dense
        weights), in the order of :meth:`input_layers`."""
        slices, start = [], 0
        for embedding in self.input_layers():
            slices.append(slice(start, start + embedding.n_weights))
            start += embedding.n_weights
        return slices

    def parameter_slices(self) -> list[tuple[slice, slice | None]]:
        """Where each Dense layer's ``W`` and ``b`` sit in the flat vectors: all weights, then all biases."""
        slices, w_start, b_start = [], sum(e.n_weights for e in self.input_layers()), self.n_weights
        for layer in self.layers:
            slices.append((slice(w_start, w_start + layer.n_weights),
                           slice(b_start, b_start + layer.n_biases) if layer.use_bias else None))
            w_start, b_start = w_start + layer.n_weights, b_start + layer.n_biases
        return slices

    def _bind_views(self) -> None:
        """Give each layer its views of the flat vectors (see :meth:`parameter_slices`)."""
        for piece, place in zip(self.input_layers(), self.embedding_slices()):
            piece.bind_flat(self._params[place], self._grads[place])
        for layer, (w, b) in zip(self.layers, self.parameter_slices()):
            shape = (layer.fan_in, layer.fan_out)
            layer.bind(self._params[w].reshape(shape), None if b is None else self._params[b],
                       self._grads[w].reshape(shape), None if b is None else self._grads[b])
        # The data is not learned: the first layer's ∂L/∂X is needed only to reach the input's parameters.
        self.layers[0].compute_input_gradient = bool(self.input_layers())

    def __getstate__(self) -> dict:
        # Views and forward caches do not survive pickling as views: drop them, rebind on load.
        state = self.__dict__.copy()
        state["layers"] = [layer.without_arrays() for layer in self.layers]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_views()

    def _initialize_weights(self) -> None:
        for piece in self.input_layers():
            piece.initialize(self.rng)
        for layer in self.layers:
            init = self.initializer
            if isinstance(init, str) and init == "auto":  # measured in bench/quality.py
                init = "glorot_uniform" if self.task_.is_classifier else "fan_in_uniform"
            layer.W[...] = initializers.get(init)(layer.fan_in, layer.fan_out, self.rng, self.dtype)

    @property
    def parameters(self) -> np.ndarray:
        """The flat parameter vector (all weights, then all biases); assign with ``[...] =``."""
        return self._params

    @property
    def gradients(self) -> np.ndarray:
        """The flat gradient vector from the last backward pass, laid out like ``parameters``."""
        return self._grads

    #: Number of weights (embedding tables and Dense ``W``): the flat vectors' first entries, before the biases.
    n_weights = 0

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return self._params.size
