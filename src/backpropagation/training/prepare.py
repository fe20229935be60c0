"""What ``fit`` trains on: its options and data checked, targets encoded, class weights, the
validation split.

Every check runs through the reducer's ``collectively``: under MPI one rank's refusal stops every
rank, and labels and target statistics are those of every rank's rows.
"""

from __future__ import annotations

import numpy as np

from ..data import (as_array, check_features, check_float, check_int, check_magnitude, check_same_length,
                    check_sample_weight, column_names, validation_split)
from .sources import InMemoryRows


def in_memory(model, reducer, X, y, *, sample_weight, validation_split, validation_data, class_weight,
              batch_size, shuffle) -> tuple[InMemoryRows, tuple]:
    """``fit``'s arrays as the loop's source and validation set (see :func:`training_sets`); the
    processes agree on the start (under MPI, rank 0's weights and random state)."""
    if y is None:
        raise TypeError("fit: y (the targets of X) is required, unless X is a streamed table (read_table)")
    X, Y, X_val, Y_val, weights = training_sets(model, reducer, X, y, sample_weight, validation_split,
                                                validation_data, class_weight)
    reducer.start(model, X_val is not None)    # after the split: MPI shares rank 0's random state
    return InMemoryRows(X, Y, weights, reducer, batch_size, shuffle), (X_val, Y_val)


def fit_options(verbose, epochs, batch_size, shuffle) -> tuple[int, int, int | None, bool]:
    """``fit``'s scalar options, checked."""
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose: expected 0, 1 or 2, got {verbose!r}")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle: expected True or False, got {shuffle!r}")
    return verbose, check_int("epochs", epochs, 1), check_int("batch_size", batch_size, 1, allow_none=True), \
        bool(shuffle)


def training_sets(model, reducer, X, y, sample_weight, validation_split, validation_data, class_weight=None):
    """``fit``'s data checked and encoded for ``model``, split into training and validation sets.

    Every check runs ``collectively``: under MPI one rank's refusal stops every rank. Labels
    and target statistics are those of every rank's rows.
    """
    X, y, weights = reducer.collectively(lambda: checked_training_data(model, X, y, sample_weight))
    if model.task_.is_classifier and not model.task_.fitted:
        # Every rank must number the classes alike, whichever labels its shard holds.
        labels = reducer.collectively(lambda: model.task_.labels(y, "y"))
        model.task_.fit_encode(reducer.union_of_labels(labels), model.dtype)
    if model.task_.fitted:
        Y = reducer.collectively(lambda: model.task_.encode(y, model.dtype))
    else:
        Y = reducer.collectively(lambda: model.task_.fit_encode(y, model.dtype, reducer.merged, weights))
    if class_weight is not None:
        weights = reducer.collectively(lambda: class_weighted(model, Y, weights, class_weight, reducer))
    return reducer.collectively(lambda: validation_sets(
        model, X, Y, validation_split, validation_data, weights, reducer.min_validation_rows))


def class_weighted(model, Y, weights, class_weight, reducer) -> np.ndarray:
    """The rows' weights (``weights``, or 1) times their class's weight (:func:`class_weights`,
    the classes counted over every rank)."""
    if not model.task_.is_classifier:
        raise ValueError("class_weight: only for classification; this network does regression")
    index = class_index(Y)
    counts = reducer.total(np.bincount(index, minlength=len(model.classes_)).astype(np.float64))
    row = class_weights(model, class_weight, counts)[index].astype(model.dtype)
    return row if weights is None else weights * row


def class_index(Y: np.ndarray) -> np.ndarray:
    """Each row's class (its position in ``classes_``) from encoded targets."""
    return Y.argmax(axis=1) if Y.shape[1] > 1 else Y[:, 0].astype(np.int64)


def class_weights(model, class_weight, counts: np.ndarray) -> np.ndarray:
    """Each class's weight, in ``classes_`` order, from ``class_weight``: ``"balanced"``
    (``n_rows / (n_classes · rows of the class)``, from the training rows' ``counts`` per class)
    or a ``{label: weight}`` dict (classes it leaves out weigh 1). ValueError when no class
    present in the training rows weighs anything (there would be nothing to learn from)."""
    if not model.task_.is_classifier:
        raise ValueError("class_weight: only for classification; this network does regression")
    classes = model.classes_
    if isinstance(class_weight, str) and class_weight == "balanced":
        per_class = counts.sum() / (len(classes) * np.maximum(counts, 1))
    elif isinstance(class_weight, dict):
        known = set(classes.tolist())
        unknown = [label for label in class_weight if label not in known]
        if unknown:
            raise ValueError(f"class_weight: {unknown[0]!r} is not a class of y; the classes are "
                             f"{', '.join(map(repr, classes.tolist()))}")
        per_class = np.array([check_float(f"class_weight[{label!r}]", class_weight.get(label, 1.0), 0.0)
                              for label in classes.tolist()])
    else:
        raise ValueError(f"class_weight: expected 'balanced' or a dict {{label: weight}}, got {class_weight!r}")
    if not (per_class * (counts > 0)).any():
        raise ValueError(f"class_weight: every class of the training rows weighs 0 ({class_weight!r}); "
                         "there is nothing to learn from")
    return per_class


def checked_training_data(model, X, y, sample_weight):
    """``fit``'s data, validated: features as the network's dtype, labels/targets, weights."""
    names = column_names(X)
    X = check_features(X, model.dtype, "X", model.layer_sizes[0], feature_names=model.feature_names_in_)
    check_magnitude(X, "X", names)
    if names is not None:                 # recorded as scikit-learn does; later frames must match
        model.feature_names_in_ = np.array(names, dtype=object)
    y = as_array(y, "y")
    check_same_length(X, y)
    return X, y, check_sample_weight(sample_weight, len(X), model.dtype)


def validation_sets(model, X, Y, fraction, validation_data, weights, min_samples=1):
    """Return (X_train, Y_train, X_val, Y_val, train_weights) from the validation arguments.

    ``min_samples=0`` lets an MPI rank hold no validation rows (others hold them)."""
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data: expected a tuple (X_val, y_val)")
        X_val = check_features(validation_data[0], model.dtype, "validation_data[0]",
                               model.layer_sizes[0], min_samples, model.feature_names_in_)
        y_val = as_array(validation_data[1], "validation_data[1]")
        check_same_length(X_val, y_val, "validation_data[0]", "validation_data[1]")
        return X, Y, X_val, model.task_.encode(y_val, model.dtype, "validation_data[1]"), weights
    if check_float("validation_split", fraction, 0.0) == 0:
        return X, Y, None, None, weights
    labels = Y.argmax(axis=1) if model.task_.is_classifier and Y.shape[1] > 1 else \
        (Y[:, 0] if model.task_.is_classifier else None)
    train, val = validation_split(len(X), fraction, model.rng, labels)
    return X[train], Y[train], X[val], Y[val], None if weights is None else weights[train]
