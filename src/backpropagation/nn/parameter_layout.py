"""The network's parameters as one flat vector, and each layer's views into it.

Layout: all weights (each :class:`~backpropagation.nn.layers.Embedding` table, then each Dense
layer's ``W``, row-major), then all biases. The optimizer steps the whole vector at once; the
layers read and write their views in place. :class:`FlatParameters` is mixed into
:class:`~backpropagation.NeuralNetwork`.
"""

from __future__ import annotations

import numpy as np

from . import initializers

#: Embedding tables start uniform in this range (Keras' default for its Embedding layer).
EMBEDDING_INIT = 0.05


class FlatParameters:
    """The flat parameter and gradient vectors of a network and the layers' views of them."""

    def _allocate_parameters(self) -> None:
        """One flat parameter vector and one flat gradient vector for the whole network."""
        self.n_weights = sum(layer.n_weights for layer in [*self.embeddings, *self.layers])
        n_total = self.n_weights + sum(layer.n_biases for layer in self.layers)
        self._params = np.zeros(n_total, dtype=self.dtype)
        self._grads = np.zeros(n_total, dtype=self.dtype)
        self._bind_views()

    def embedding_slices(self) -> list[slice]:
        """Where each embedding table sits in the flat vectors (first, before the Dense weights)."""
        slices, start = [], 0
        for embedding in self.embeddings:
            slices.append(slice(start, start + embedding.n_weights))
            start += embedding.n_weights
        return slices

    def parameter_slices(self) -> list[tuple[slice, slice | None]]:
        """Where each Dense layer's ``W`` and ``b`` sit in the flat vectors: all weights, then all biases."""
        slices, w_start, b_start = [], sum(e.n_weights for e in self.embeddings), self.n_weights
        for layer in self.layers:
            slices.append((slice(w_start, w_start + layer.n_weights),
                           slice(b_start, b_start + layer.n_biases) if layer.use_bias else None))
            w_start, b_start = w_start + layer.n_weights, b_start + layer.n_biases
        return slices

    def _bind_views(self) -> None:
        """Give each layer its views of the flat vectors (see :meth:`parameter_slices`)."""
        for embedding, place in zip(self.embeddings, self.embedding_slices()):
            shape = (embedding.n_categories, embedding.dim)
            embedding.bind(self._params[place].reshape(shape), self._grads[place].reshape(shape))
        for layer, (w, b) in zip(self.layers, self.parameter_slices()):
            shape = (layer.fan_in, layer.fan_out)
            layer.bind(self._params[w].reshape(shape), None if b is None else self._params[b],
                       self._grads[w].reshape(shape), None if b is None else self._grads[b])
        # The data is not learned: the first layer's ∂L/∂X is needed only to reach embeddings.
        self.layers[0].compute_input_gradient = bool(self.embeddings)

    def __getstate__(self) -> dict:
        # Views and forward caches do not survive pickling as views: drop them, rebind on load.
        state = self.__dict__.copy()
        state["layers"] = [layer.without_arrays() for layer in self.layers]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_views()

    def _initialize_weights(self) -> None:
        for embedding in self.embeddings:
            embedding.E[...] = self.rng.uniform(-EMBEDDING_INIT, EMBEDDING_INIT, embedding.E.shape)
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
