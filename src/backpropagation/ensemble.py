"""Several trained networks as one: the average of their outputs, written as a single, wider
:class:`~backpropagation.NeuralNetwork` that every path (``predict``, ``TableModel``, the model
file, ONNX export, explanations) takes as it takes any network.

K members of the same shape ``[n, h1, ..., hL, m]``, trained on the same rows from different
seeds, become one network ``[n, K·h1, ..., K·hL, m]`` whose output layer's pre-activation is the
mean of theirs::

    z = (1/K) Σ_k z_k            (a regression's standardised outputs, a classifier's logits)

Member k's units sit in block k of every hidden layer, so its weights are block-diagonal there
and the blocks never mix: the first layer reads the shared input with each member's weights side
by side, the output layer stacks the members' output weights divided by K. An input stage is
merged alike: a periodic embedding keeps every member's frequencies (``K·16`` of them) with its
maps ``V`` block-diagonal, an embedding table puts the members' vectors side by side, and each
member's learned input scale is folded into its first-layer rows (the merged network has none).
A classifier thus averages its members' logits (a geometric mean of their probabilities,
renormalised), not their probabilities.
"""

from __future__ import annotations

import copy

import numpy as np

from .io import constructor_arguments, network_config
from .network import NeuralNetwork


def average_networks(members) -> NeuralNetwork:
    """One network whose output layer's pre-activation is the mean of ``members``' (a regression's
    standardised outputs, a classifier's logits): each hidden layer holds the members' units side
    by side, block-diagonal; their periodic frequencies and embedding vectors sit side by side and
    each member's input scale is folded into its first-layer rows.

    Parameters
    ----------
    members : iterable of NeuralNetwork
        Fitted networks of one shape, task, activations and input stage, fitted on the same rows
        (the same classes; a regression's same target scaling).

    Returns
    -------
    NeuralNetwork
        Fitted; its metadata is the first member's, with ``ensemble`` (how many members).
    """
    members = list(members)
    first, k = _checked(members)
    config = network_config(first)
    config["layer_sizes"] = [first.layer_sizes[0], *(k * h for h in first.layer_sizes[1:-1]), first.layer_sizes[-1]]
    config["embeddings"] = [[e.column, e.n_categories, k * e.dim, e.unseen_row] for e in first.embeddings]
    if first.periodic is not None:
        columns, n_frequencies, dim, sigma = first.periodic.config()
        config["periodic"] = [columns, k * n_frequencies, k * dim, sigma]
    config["input_scale"] = False                      # (each member's scale folds into its first layer)
    config["dropout"] = 0.0
    merged = NeuralNetwork(**constructor_arguments(config))
    _merge_input_stage(merged, members)
    _merge_layers(merged, members)
    merged.task_.set_state(first.task_.get_state())
    merged.feature_names_in_ = copy.copy(first.feature_names_in_)
    merged.metadata = {**copy.deepcopy(first.metadata), "ensemble": {"members": k}}
    merged.random_state = first.random_state
    return merged


def _checked(members) -> tuple[NeuralNetwork, int]:
    """The first member and the count; ValueError naming what differs between two members."""
    members = list(members)
    if not members or not all(isinstance(m, NeuralNetwork) for m in members):
        raise ValueError("average_networks: expected a list of NeuralNetwork")
    for index, member in enumerate(members):
        if not member.task_.fitted:
            raise ValueError(f"average_networks: member {index} has not been fitted")
    shape = _shape(members[0])
    for index, member in enumerate(members[1:], start=1):
        other = _shape(member)
        differs = [name for name in shape if other[name] != shape[name]]
        if differs:
            raise ValueError(f"average_networks: member {index} differs from the first in {', '.join(differs)}")
    return members[0], len(members)


def _shape(model: NeuralNetwork) -> dict:
    """What members must share to be averaged as one network."""
    config = network_config(model)
    state = model.task_.get_state()
    return {"network": {key: config[key] for key in ("layer_sizes", "task", "hidden_activation", "output_activation",
                                                       "use_bias", "dtype", "embeddings", "input_scale")},
            "periodic embeddings": None if model.periodic is None else model.periodic.config()[:3],
            "fitted targets": {key: np.asarray(value).tolist() if isinstance(value, np.ndarray) else value
                               for key, value in state.items()}}


def _first_layer_rows(model: NeuralNetwork, merged: NeuralNetwork, member: int) -> tuple:
    """``(rows of the member's first layer, rows of the merged network's)``: where each input of
    the member's embedded input lies in the merged one (a number's own place is shared; a
    periodic column's features and an embedding's vector lie in the member's block)."""
    if merged.embedded_input is None:                  # (plain inputs, or an input scale alone: folded)
        rows = np.arange(model.layer_sizes[0])
        return rows, rows
    theirs, ours = [], []
    for (_, layer, place), (_, _, merged_place) in zip(model.embedded_input.pieces, merged.embedded_input.pieces):
        if layer is None:
            theirs.append([place.start])
            ours.append([merged_place.start])
        elif layer is model.periodic:                   # [x, e_1 .. e_K]: x shared, e_member in block member
            dim = place.stop - place.start - 1
            theirs.append(np.arange(place.start, place.stop))
            ours.append(np.r_[merged_place.start, merged_place.start + 1 + member * dim + np.arange(dim)])
        else:                                           # an embedding's vector: block member of K
            width = place.stop - place.start
            theirs.append(np.arange(place.start, place.stop))
            ours.append(merged_place.start + member * width + np.arange(width))
    return np.concatenate(theirs).astype(int), np.concatenate(ours).astype(int)


def _merge_input_stage(merged: NeuralNetwork, members: list) -> None:
    """The periodic embeddings' frequencies and maps, and the embedding tables, block by block."""
    for index, member in enumerate(members):
        if member.periodic is not None:
            source, target = member.periodic, merged.periodic
            n, d = source.n_frequencies, source.features
            frequencies, features = slice(index * n, (index + 1) * n), slice(index * d, (index + 1) * d)
            target.w[:, frequencies], target.b[:, frequencies] = source.w, source.b
            target.V[:, frequencies, :] = 0.0
            target.V[:, frequencies, features] = source.V
            target.c[:, features] = source.c
        for source, target in zip(member.embeddings, merged.embeddings):
            target.E[:, index * source.dim:(index + 1) * source.dim] = source.E


def _merge_layers(merged: NeuralNetwork, members: list) -> None:
    """Block-diagonal hidden layers; the first layer's rows placed (and scaled by each member's
    input scale); the output layer's weights stacked and divided by K, its bias the members' mean."""
    k, layers = len(members), merged.layers
    for layer in layers:
        layer.W[...] = 0.0
    for index, member in enumerate(members):
        theirs, ours = _first_layer_rows(member, merged, index)
        scale = member.embedded_input.scale.s[theirs, None] if member.input_scale else 1.0
        for depth, (source, target) in enumerate(zip(member.layers, layers)):
            fan_in, fan_out = source.W.shape
            rows = ours if depth == 0 else slice(index * fan_in, (index + 1) * fan_in)
            weights = scale * source.W[theirs] if depth == 0 else source.W
            if depth == len(layers) - 1:                # (the output: every member's share, summed)
                target.W[rows] += weights / k
            else:
                target.W[rows, index * fan_out:(index + 1) * fan_out] = weights
                if source.b is not None:
                    target.b[index * fan_out:(index + 1) * fan_out] = source.b
    if layers[-1].b is not None:
        layers[-1].b[...] = sum(member.layers[-1].b for member in members) / k
