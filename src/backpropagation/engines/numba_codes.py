"""What the numba engine's kernels know of a model, defined once for both sides.

The engine (:mod:`.numba_engine`) describes a model with these codes and records; the kernels
(:mod:`.numba_kernels`) dispatch on the same names. The records' field names are those of the
reference classes (``Huber.delta``, ``Adam.beta_1``, ``SGD.nesterov``, ...). Plain NumPy: importing
it needs no numba.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..nn import activations, losses, optimizers

SIGMOID, TANH, RELU, LEAKY_RELU, ELU, SOFTPLUS, SWISH, LINEAR, SOFTMAX = range(9)
MSE, MAE, HUBER, BCE, CCE = range(5)
SGD, RMSPROP, ADAM, ADAMW = range(4)

#: The built-in building blocks the kernels run, by class; anything else stays on numpy.
ACTIVATIONS = {activations.Sigmoid: SIGMOID, activations.Tanh: TANH, activations.ReLU: RELU,
               activations.LeakyReLU: LEAKY_RELU, activations.ELU: ELU, activations.Softplus: SOFTPLUS,
               activations.Swish: SWISH, activations.Linear: LINEAR, activations.Softmax: SOFTMAX}
LOSSES = {losses.MeanSquaredError: MSE, losses.MeanAbsoluteError: MAE, losses.Huber: HUBER,
          losses.BinaryCrossEntropy: BCE, losses.CategoricalCrossEntropy: CCE}
OPTIMIZERS = {optimizers.SGD: SGD, optimizers.RMSProp: RMSPROP, optimizers.Adam: ADAM, optimizers.AdamW: ADAMW}

#: One record per layer. Offsets are in the flat vectors: ``w_start``/``b_start`` in the
#: parameters (``b_start`` -1: no bias); ``a_in``, ``z_at`` and ``a_out`` are the first unit of
#: the layer's input block in the activations buffer (the input first), of its block in the
#: pre-activation and delta buffers, and of its output block in the activations buffer (a
#: block holds that many units per row of the batch). ``sparse_in``: the layer's input is mostly
#: zeros (a first layer fed one-hot columns), so its products skip them (set per fit from the data).
LAYER = np.dtype([("fan_in", np.int64), ("fan_out", np.int64), ("w_start", np.int64), ("b_start", np.int64),
                  ("activation", np.int64), ("alpha", np.float64), ("a_in", np.int64), ("z_at", np.int64),
                  ("a_out", np.int64), ("sparse_in", np.bool_)])
#: The loss: its code, Huber's ``delta``, whether it is fused with the output activation
#: (``δ = ŷ - y``), and the clipping of probabilities (the dtype's machine epsilon).
LOSS = np.dtype([("code", np.int64), ("delta", np.float64), ("fused", np.bool_), ("eps", np.float64)])
#: The optimizer's code and hyper-parameters (those it does not have stay 0).
OPTIMIZER = np.dtype([("code", np.int64), ("momentum", np.float64), ("nesterov", np.bool_), ("rho", np.float64),
                      ("beta_1", np.float64), ("beta_2", np.float64), ("epsilon", np.float64),
                      ("weight_decay", np.float64)])


def unsupported(model) -> str | None:
    """Why the kernels cannot train ``model`` (a custom building block), or None."""
    for i, layer in enumerate(model.layers):
        if type(layer.activation) not in ACTIVATIONS:
            return f"layer {i + 1}'s activation {type(layer.activation).__name__} is not a built-in one"
    for i, dropout in enumerate(model.dropouts, 1):
        if dropout is not None:
            return f"layer {i} has dropout, which the compiled kernels do not run"
    if type(model.loss) not in LOSSES:
        return f"the loss {type(model.loss).__name__} is not a built-in one"
    if type(model.optimizer) not in OPTIMIZERS:
        return f"the optimizer {type(model.optimizer).__name__} is not a built-in one"
    return None


def layers_of(model) -> np.ndarray:
    """The model's layers as :data:`LAYER` records."""
    records = np.zeros(len(model.layers), dtype=LAYER)
    a_unit = z_unit = 0
    for record, layer, (w, b) in zip(records, model.layers, model.parameter_slices()):
        record["fan_in"], record["fan_out"] = layer.fan_in, layer.fan_out
        record["w_start"], record["b_start"] = w.start, -1 if b is None else b.start
        record["activation"] = ACTIVATIONS[type(layer.activation)]
        record["alpha"] = getattr(layer.activation, "alpha", 0.0)
        record["a_in"], record["z_at"], record["a_out"] = a_unit, z_unit, a_unit + layer.fan_in
        a_unit, z_unit = a_unit + layer.fan_in, z_unit + layer.fan_out
    return records


def loss_of(model) -> np.ndarray:
    """The model's loss as a one-element :data:`LOSS` array."""
    record = np.zeros(1, dtype=LOSS)
    record["code"], record["delta"] = LOSSES[type(model.loss)], getattr(model.loss, "delta", 1.0)
    record["fused"], record["eps"] = model.backprop.fused, float(np.finfo(model.dtype).eps)
    return record


def optimizer_of(optimizer) -> np.ndarray:
    """The optimizer's code and hyper-parameters as a one-element :data:`OPTIMIZER` array."""
    record = np.zeros(1, dtype=OPTIMIZER)
    record["code"] = OPTIMIZERS[type(optimizer)]
    for name in OPTIMIZER.names[1:]:
        if hasattr(optimizer, name):
            record[name] = getattr(optimizer, name)
    return record


def optimizer_state(optimizer, params) -> tuple[np.ndarray, np.ndarray]:
    """The optimizer's first and second state vectors (SGD's velocity; RMSProp's mean square;
    Adam's ``m`` and ``v``), an empty array where it keeps none."""
    state = optimizer.state_arrays(params)
    spare = np.zeros(0, dtype=params.dtype)
    code = OPTIMIZERS[type(optimizer)]
    if code == SGD:
        return state["velocity"], spare
    if code == RMSPROP:
        return spare, state["mean_square"]
    return state["m"], state["v"]


def stage_of(model) -> "Stage":
    """The model's input stage (embeddings of code columns, periodic embeddings, the input
    scale) as a :class:`Stage`; inactive (``active`` False, the input as it is) without any."""
    n_raw = int(model.layer_sizes[0])
    stage = model.embedded_input
    none = np.zeros(0, np.int64)
    if stage is None:
        return Stage(False, n_raw, n_raw, none, none, (none, none, none), none, none, 0, 0, -1, -1, -1, -1, -1,
                     Tables(*[none] * 6), none)
    pieces = dict(zip(model.input_layers(), model.embedding_slices()))
    tables = Tables(*(np.array(values, np.int64).reshape(-1) for values in zip(*(
        (e.column, stage.pieces[e.column][2].start, e.dim, e.n_categories, pieces[e].start, e.unseen_row)
        for e in stage.embeddings)))) if stage.embeddings else Tables(*[none] * 6)
    periodic = stage.periodic
    columns = none if periodic is None else np.array(periodic.columns, np.int64)
    places = np.array([stage.pieces[c][2].start for c in columns], np.int64)
    k, d = (0, 0) if periodic is None else (periodic.n_frequencies, periodic.features)
    w_start = -1 if periodic is None else pieces[periodic].start
    m = len(columns)
    starts = (w_start, w_start + m * k, w_start + 2 * m * k, w_start + m * k * (2 + d)) if m else (-1,) * 4
    s_start = -1 if stage.scale is None else pieces[stage.scale].start
    read = [place + 1 + e for place in places for e in range(d)] + \
        [place + e for place, dim in zip(tables.places, tables.dims) for e in range(dim)]
    plain, plain_places = np.array(stage.plain, np.int64), np.array(stage.plain_places, np.int64)
    return Stage(True, n_raw, int(stage.width), plain, plain_places, runs_of(plain, plain_places), columns, places,
                 k, d, *starts, s_start, tables, np.array(sorted(read), np.int64))


def runs_of(columns: np.ndarray, places: np.ndarray) -> tuple:
    """The plain columns as runs of consecutive columns landing on consecutive places: (first
    column, first place, length) of each, as three arrays. Between two periodic or embedded
    columns every plain column moves by the same offset, so a row's plain inputs are a few
    contiguous copies, not one lookup each."""
    if not len(columns):
        return columns, places, columns
    breaks = np.flatnonzero((np.diff(columns) != 1) | (np.diff(places) != 1)) + 1
    starts = np.concatenate([[0], breaks])
    return columns[starts], places[starts], np.diff(np.concatenate([starts, [len(columns)]])).astype(np.int64)


def first_input_density(X: np.ndarray, stage: "Stage", rows: int = 1024) -> float:
    """The share of nonzero entries in the first layer's input, from ``X``'s first ``rows`` rows:
    the input stage's plain columns as they are, its periodic features and embedding vectors as
    all nonzero."""
    sample = X[:rows]
    if not len(sample):
        return 1.0
    if not stage.active:
        return np.count_nonzero(sample) / sample.size
    nonzero = np.count_nonzero(sample[:, stage.plain_columns]) + \
        len(sample) * (stage.periodic_columns.size * (1 + stage.d) + int(stage.tables.dims.sum()))
    return nonzero / (len(sample) * stage.width)


# The kernels' arguments, grouped by what they are (numba passes named tuples by field).
#: The epoch's rows: features, encoded targets, sample weights (empty: none), the row order.
Data = namedtuple("Data", "X Y sample_weight order")
#: The input stage between the rows of ``X`` and the first layer's input (:mod:`.numba_input`):
#: whether there is one; the columns of ``X`` and the first layer's inputs; the plain columns and
#: their places among the first layer's inputs, and the same as runs (:func:`runs_of`); the
#: periodic columns, each one's first place (``x``, then its ``d`` features), ``k`` frequencies
#: and ``d`` features; where ``w``, ``b``, ``V``, ``c`` and the input scale ``s`` start in the
#: flat vectors (-1: none); the embedding :class:`Tables`; and the places whose ``∂L/∂`` the
#: stage always reads (every periodic feature's and embedding vector's), in increasing order.
Stage = namedtuple("Stage", "active n_raw width plain_columns plain_places plain_runs periodic_columns "
                            "periodic_places k d w_start b_start V_start c_start s_start tables read_places")
#: The embeddings of code columns, one entry per table: the column of ``X`` holding the codes, the
#: place of its vector in the first layer's input, the vector's width, the table's rows, where the
#: table starts in the flat vectors, and whether its last row stands for unseen categories (1).
Tables = namedtuple("Tables", "columns places dims rows starts unseen")
#: The model: flat parameters and gradients, :data:`LAYER` records, the :data:`LOSS` record
#: array, the number of weights (they come before the biases), the L2 factor and the input
#: :class:`Stage`.
Network = namedtuple("Network", "params grads layers loss n_weights l2 stage")
#: The :data:`OPTIMIZER` record array and the optimizer's two state vectors.
Optimizer = namedtuple("Optimizer", "spec first second")
#: What a chunk hands back: each row's output and whether it was trained on (for the epoch's
#: metric), each batch's loss and weight.
Results = namedtuple("Results", "outputs trained batch_losses batch_weights")
#: One thread's buffers for its block of a batch's rows: targets, row scales (sample weights),
#: pre-activations, activations (the first layer's input first) and deltas; for the input stage
#: (empty without it): the rows of ``X``, the first layer's input before the scale, the phases
#: ``u``, their sines and cosines, and ``∂L/∂`` of the first layer's input; where the first
#: layer's input is mostly zeros (``sparse_in``), each row's count of nonzero inputs and their
#: places (:func:`.numba_kernels.nonzero_places`).
Work = namedtuple("Work", "Yb row_scale Z A D R P U S H E places")
#: The threads sharing each batch: this one's number, how many, the barrier's counter, each
#: thread's loss and penalty (2 × parts), and the gradient vectors of threads 1.. .
Threads = namedtuple("Threads", "part parts counters shared partials")
