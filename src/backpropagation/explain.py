"""Why a network predicts what it predicts, and how fast to train it.

**Input gradients.** Backpropagation stops at the first layer's ``δ`` because the data is not
learned. One more step down the chain gives how the prediction moves with each input::

    ∂ŷ/∂Z_L = f_L'(Z_L)                      (start: the output activation's derivative)
    ∂ŷ/∂A_l-1 = (∂ŷ/∂A_l ⊙ f_l'(Z_l)) W_lᵀ   (every layer, last to first: the usual δ Wᵀ)
    ∂ŷ/∂x = ∂ŷ/∂A_0

It is the backward pass of training with the loss's gradient replaced by "1 for output k", and
the same activation rules (:meth:`Activation.backward <backpropagation.activations.Activation.backward>`)
and ``δ Wᵀ`` products.

**Feature importance.** *Permutation*: the drop of the model's score when one column's values
are shuffled among the rows (scikit-learn's ``permutation_importance``, same permutations for the
same integer seed); *gradient*: the mean over rows of ``|x ⊙ ∂ŷ/∂x|`` (gradient × input). A group
of columns (the indicators of one text column) is shuffled together, and its gradient scores add.

**Learning-rate range test** (:func:`lr_find`): train a copy while the rate grows exponentially,
watch the smoothed loss, stop when it explodes; suggest the rate at its minimum divided by 10.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from .data import as_array, check_features, check_float, check_int, check_same_length
from .training import LocalReducer, training_sets

#: Rows whose activations the input gradients hold at once.
ROWS_PER_PASS = 8192
METHODS = ("permutation", "gradient")
#: Steps of the range test whose smoothed loss the suggestion ignores: an average of a handful of
#: batches can sit below the true curve by chance (fastai skips 10 as well).
SKIP_START = 10


# ---------------------------------------------------------------------- input gradients
def input_gradients(model, X, output: int | None = None) -> np.ndarray:
    """∂ŷ/∂x for every row of ``X``: how each prediction moves with each input.

    ``ŷ`` is what the network outputs in the user's terms: the value in the targets' units
    (regression), the probability of ``classes_[1]`` (one sigmoid output) or of each class
    (softmax). Returns shape (n_samples, n_features) for one output (or ``output=k``), else
    (n_samples, n_outputs, n_features). A column of category codes (an embedding) has no
    derivative: its entries are 0 (:func:`gradient_importance` scores it through its embedding).
    """
    X = check_features(X, model.dtype, "X", model.layer_sizes[0], feature_names=model.feature_names_in_)
    n_outputs = model.layer_sizes[-1]
    if output is not None:
        output = check_int("output", output, 0)
        if output >= n_outputs:
            raise ValueError(f"output: the network has {n_outputs} output(s), got {output}")
    outputs = range(n_outputs) if output is None else [output]
    _, gradients = embedded_gradients(model, X, outputs)
    result = np.zeros((len(X), len(outputs), X.shape[1]), dtype=model.dtype)
    for column, place in enumerate(column_places(model)):
        if not embedded(model, column):                 # (a plain column has one place)
            result[:, :, column] = gradients[:, :, place.start]
    return result[:, 0] if len(outputs) == 1 else result


def embedded_gradients(model, X: np.ndarray, outputs) -> tuple[np.ndarray, np.ndarray]:
    """The network's first-layer input ``a⁰`` (X with code columns embedded) and ∂ŷ_k/∂a⁰ for
    each output ``k`` of ``outputs``: shapes (rows, width) and (rows, len(outputs), width)."""
    width = model.layers[0].fan_in
    inputs = np.empty((len(X), width), dtype=model.dtype)
    gradients = np.empty((len(X), len(outputs), width), dtype=model.dtype)
    for start in range(0, len(X), ROWS_PER_PASS):
        rows = slice(start, start + ROWS_PER_PASS)
        Zs, As = forward_pass(model, X[rows])
        inputs[rows] = As[0]
        for j, k in enumerate(outputs):
            seed = np.zeros_like(As[-1])
            seed[:, k] = output_scale(model)[k]        # ∂ŷ_k/∂A_L: 1 (or the target's scale) for output k
            gradients[rows, j] = backward_to_input(model, Zs, As, seed)
    return inputs, gradients


def column_places(model) -> list[slice]:
    """Where each input column sits in the first layer's input (an embedded column: ``dim`` places)."""
    if model.embedded_input is None:
        return [slice(j, j + 1) for j in range(model.layer_sizes[0])]
    return [place for _, _, place in model.embedded_input.pieces]


def embedded(model, column: int) -> bool:
    return any(e.column == column for e in model.embeddings)


def forward_pass(model, X: np.ndarray) -> tuple[list, list]:
    """Every layer's ``Z`` and ``A`` (``As[0]`` is ``X``, its code columns embedded) without
    touching what training caches."""
    Zs, As = [], [X if model.embedded_input is None else model.embedded_input.forward(X, training=False)]
    for layer in model.layers:
        Zs.append(layer.affine(As[-1]))
        As.append(layer.activation.forward(Zs[-1]))
    return Zs, As


def backward_to_input(model, Zs: list, As: list, dA: np.ndarray) -> np.ndarray:
    """The chain rule from ``dA = ∂ŷ/∂A_L`` down to ``∂ŷ/∂x``: ``δ = f'(Z) ⊙ dA``, then ``δ Wᵀ``."""
    for layer, Z, A in zip(reversed(model.layers), reversed(Zs), reversed(As[1:])):
        delta = layer.activation.backward(Z, A, dA)     # δ = ∂ŷ/∂Z
        dA = delta @ layer.W.T                          # ∂ŷ/∂A_prev = δ Wᵀ, down to the inputs
    return dA


def output_scale(model) -> np.ndarray:
    """How one unit of each network output reads in the user's units (the regression targets'
    standard deviations when the network learned standardised targets; else 1)."""
    scale = getattr(model.head, "target_scale_", None)
    return np.ones(model.layer_sizes[-1]) if scale is None else np.asarray(scale, dtype=np.float64)


# ---------------------------------------------------------------------- feature importance
@dataclass
class FeatureImportance:
    """Importance of each feature (or group of columns), as :func:`feature_importance` measured it.

    Attributes
    ----------
    names : list of str
    method : {"permutation", "gradient"}
    importances_mean, importances_std : ndarray of shape (n_features,)
        Permutation: the score's drop, mean and standard deviation over the repeats; gradient:
        the mean and standard deviation over rows of ``|x ⊙ ∂ŷ/∂x|`` (summed over a group's
        columns and the outputs).
    importances : ndarray of shape (n_features, n_repeats) or None
        Permutation: each repeat's drop.
    baseline : float or None
        Permutation: the score on the unshuffled rows.
    metric : str
        What the drop is measured in (``accuracy``, ``r2``, ``loss`` ...) or ``|x·∂ŷ/∂x|``.
    """

    names: list
    method: str
    importances_mean: np.ndarray
    importances_std: np.ndarray
    importances: np.ndarray | None = None
    baseline: float | None = None
    metric: str = ""
    columns: dict = field(default_factory=dict)

    def __getitem__(self, key: str):
        """Dictionary access, as scikit-learn's ``Bunch``: ``result["importances_mean"]``."""
        return getattr(self, key)

    def ranking(self) -> list[tuple[str, float, float]]:
        """``(name, mean, std)`` from the most to the least important (ties keep column order)."""
        order = np.argsort(-self.importances_mean, kind="stable")
        return [(self.names[i], float(self.importances_mean[i]), float(self.importances_std[i])) for i in order]

    def to_dict(self) -> dict:
        """JSON-ready: method, metric, baseline and the ranking."""
        return {"method": self.method, "metric": self.metric, "baseline": self.baseline,
                "ranking": [{"feature": name, "importance": mean, "std": std} for name, mean, std in self.ranking()]}

    def __str__(self) -> str:
        rows = self.ranking()
        width = max([7, *(len(name) for name, _, _ in rows)])
        head = f"{self.method} importance ({self.metric}" + \
            (f"; baseline {self.baseline:.4f})" if self.baseline is not None else ")")
        lines = [head, f"{'feature'.ljust(width)}  {'importance':>11}  {'± std':>9}"]
        lines += [f"{name.ljust(width)}  {mean:11.4f}  {std:9.4f}" for name, mean, std in rows]
        return "\n".join(lines)

    def plot(self, path=None):
        """A horizontal bar chart of the ranking (needs matplotlib); written to ``path`` if given."""
        from .plotting import plot_importance

        return plot_importance(self, path)


def feature_importance(model, X, y=None, method: str = "permutation", n_repeats: int = 5,
                       random_state=None, scoring=None, groups: dict | None = None) -> FeatureImportance:
    """How much each feature (or group of columns) matters to ``model``'s predictions on ``X``.

    Parameters
    ----------
    model : NeuralNetwork (fitted)
    X : array-like of shape (n_samples, n_features)
    y : array-like, required by ``method="permutation"``
    method : {"permutation", "gradient"}
    n_repeats : int, default 5
        Shuffles per feature (permutation).
    random_state : int, RandomState or None
        Seeds the shuffles exactly as scikit-learn's ``permutation_importance`` does, so an
        integer gives the same permutations (and, for the same model, the same importances).
    scoring : str or callable ``f(model, X, y) -> float``, optional
        Higher is better; default ``model.score`` (``"accuracy"`` or ``"r2"``); ``"loss"`` uses
        minus the loss ``evaluate`` reports; regression also takes
        ``"neg_mean_squared_error"`` and ``"neg_mean_absolute_error"``. A scikit-learn scorer
        (``sklearn.metrics.get_scorer(...)``) is such a function.
    groups : dict of name -> list of column indices, optional
        Columns that are one feature (a text column's indicators): shuffled together, scored
        together. Default: each column alone, named by ``feature_names_in_`` or ``x0, x1, ...``.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(map(repr, METHODS))}, got {method!r}")
    X = check_features(X, model.dtype, "X", model.layer_sizes[0], feature_names=model.feature_names_in_)
    groups = checked_groups(groups, model, X.shape[1])
    if method == "gradient":
        return gradient_importance(model, X, groups)
    if y is None:
        raise ValueError("y: permutation importance needs the targets of X (the score's drop is measured on them)")
    y = as_array(y, "y")
    check_same_length(X, y)
    return permutation_importance(model, X, y, groups, check_int("n_repeats", n_repeats, 1), random_state, scoring)


def checked_groups(groups, model, n_features: int) -> dict:
    """``groups`` checked (every index a column, none twice), or one group per column."""
    if groups is None:
        names = model.feature_names_in_ if model.feature_names_in_ is not None else \
            [f"x{j}" for j in range(n_features)]
        return {str(name): [j] for j, name in enumerate(names)}
    seen = set()
    for name, columns in groups.items():
        columns = list(columns)
        if not columns or any(not isinstance(j, (int, np.integer)) or not 0 <= j < n_features for j in columns):
            raise ValueError(f"groups[{name!r}]: expected column indices in [0, {n_features}), got {columns}")
        if seen & set(columns):
            raise ValueError(f"groups[{name!r}]: column {sorted(seen & set(columns))[0]} is in two groups")
        seen |= set(columns)
    return {str(name): [int(j) for j in columns] for name, columns in groups.items()}


def raw_column_groups(columns: list[dict]) -> dict:
    """The encoded matrix's columns of each raw table column, from a fitted
    :class:`~backpropagation.tabular.TabularPreprocessor`'s ``columns``: a numeric column is one,
    a text column its indicators, or its code when embedded (importance per column of the table)."""
    groups, at = {}, 0
    for spec in columns:
        width = 1 if spec["kind"] == "numeric" or "embed" in spec else len(spec["categories"])
        groups[spec["name"]], at = list(range(at, at + width)), at + width
    return groups


#: ``scoring`` names (scikit-learn's, where they apply): each a function of the model, X and y.
SCORINGS = {
    "loss": lambda model, X, y: -model.evaluate(X, y)["loss"],
    "neg_mean_squared_error": lambda model, X, y: -model.evaluate(X, y)["mse"],
    "neg_mean_absolute_error": lambda model, X, y: -model.evaluate(X, y)["mae"],
}


def scorer_of(model, scoring):
    """``(function(X, y) -> float, metric name)`` for ``scoring`` (higher is better)."""
    task_metric = "accuracy" if model.head.is_classifier else "r2"
    if scoring is None or scoring == task_metric:
        return model.score, task_metric
    if isinstance(scoring, str) and scoring in SCORINGS and (model.head.is_classifier is False or scoring == "loss"):
        return (lambda X, y: float(SCORINGS[scoring](model, X, y))), scoring
    if callable(scoring):
        return (lambda X, y: float(scoring(model, X, y))), getattr(scoring, "__name__", "score")
    names = [task_metric, "loss"] + ([] if model.head.is_classifier else list(SCORINGS)[1:])
    raise ValueError(f"scoring: expected None, one of {', '.join(map(repr, names))} or a function "
                     f"f(model, X, y) (a scikit-learn scorer works), got {scoring!r}")


def permutation_importance(model, X, y, groups: dict, n_repeats: int, random_state, scoring) -> FeatureImportance:
    """The score's drop when each group's columns are shuffled among the rows, ``n_repeats`` times.

    Each group is shuffled as scikit-learn shuffles a column: one seed drawn from
    ``random_state``, a fresh ``RandomState(seed)`` per group, the same index array shuffled in
    place every repeat and applied to the already-shuffled copy.
    """
    score, metric = scorer_of(model, scoring)
    seed = legacy_random_state(random_state).randint(np.iinfo(np.int32).max + 1)
    baseline = score(X, y)
    drops = np.empty((len(groups), n_repeats))
    for g, columns in enumerate(groups.values()):
        rng, shuffled = np.random.RandomState(seed), X.copy()
        order = np.arange(len(X))
        for r in range(n_repeats):
            rng.shuffle(order)
            shuffled[:, columns] = shuffled[order][:, columns]
            drops[g, r] = baseline - score(shuffled, y)
    return FeatureImportance(list(groups), "permutation", drops.mean(axis=1), drops.std(axis=1), drops,
                             float(baseline), metric, groups)


def legacy_random_state(random_state) -> np.random.RandomState:
    """scikit-learn's ``check_random_state``: None (NumPy's global one), a seed or a RandomState."""
    if random_state is None:
        return np.random.mtrand._rand
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return np.random.RandomState(random_state)
    raise ValueError(f"random_state: expected None, an integer or a numpy RandomState, got {random_state!r}")


def gradient_importance(model, X, groups: dict) -> FeatureImportance:
    """Mean over rows of ``|x ⊙ ∂ŷ/∂x|``, summed over each group's columns and over the outputs
    (an embedded column: over its embedding's numbers, ``|e ⊙ ∂ŷ/∂e|``)."""
    inputs, gradients = embedded_gradients(model, X, range(model.layer_sizes[-1]))
    contribution = np.abs(gradients * inputs[:, None, :]).sum(axis=1)      # (rows, first-layer inputs)
    places = column_places(model)
    per_column = np.column_stack([contribution[:, place].sum(axis=1) for place in places])
    per_group = np.column_stack([per_column[:, columns].sum(axis=1) for columns in groups.values()])
    return FeatureImportance(list(groups), "gradient", per_group.mean(axis=0), per_group.std(axis=0),
                             None, None, "|x·∂ŷ/∂x|", groups)


# ---------------------------------------------------------------------- learning-rate range test
@dataclass
class LRFinderResult:
    """What :func:`lr_find` saw.

    Attributes
    ----------
    rates, losses, smoothed : ndarray
        The rate of each step, the batch's loss at it, and the bias-corrected exponential
        moving average of the losses.
    suggestion : float
        The suggested learning rate.
    rule : str
        How ``suggestion`` was chosen.
    stopped : str
        Why the test ended.
    """

    rates: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float
    rule: str
    stopped: str

    def __getitem__(self, key: str):
        """Dictionary access: ``result["suggestion"]``."""
        return getattr(self, key)

    def to_dict(self) -> dict:
        """JSON-ready: the suggestion, its rule, why the test stopped, and every step's numbers."""
        return {"suggestion": self.suggestion, "rule": self.rule, "stopped": self.stopped,
                "rates": self.rates.tolist(), "losses": self.losses.tolist(), "smoothed": self.smoothed.tolist()}

    def plot(self, path=None):
        """Smoothed loss against the rate (log scale), the suggestion marked (needs matplotlib)."""
        from .plotting import plot_lr_find

        return plot_lr_find(self, path)


def lr_find(model, X, y, start: float = 1e-7, end: float = 10.0, steps: int | None = None,
            batch_size: int = 32, smoothing: float = 0.98, diverge: float = 4.0,
            sample_weight=None) -> LRFinderResult:
    """The learning-rate range test (Smith 2015; fastai's and Lightning's ``lr_find``).

    A copy of ``model`` trains on shuffled batches of ``X``, ``y`` while the learning rate grows
    exponentially from ``start`` to ``end`` over ``steps`` steps (default: one pass over the data,
    at least 100 steps); the losses are smoothed by an exponential moving average
    (``smoothing``, bias-corrected), and the test stops once the smoothed loss exceeds
    ``diverge`` times its minimum, or is not finite. ``model`` itself is never changed (weights,
    optimizer state and random generator stay as they were).

    Returns
    -------
    LRFinderResult
        Its ``suggestion`` is the rate at the smoothed loss's minimum (after the first
        :data:`SKIP_START` steps) divided by 10: the minimum sits where training is about to
        become unstable, and a tenth of it still learns fast (fastai's "minimum" rule).
    """
    start, end = check_float("start", start, 0.0, strict=True), check_float("end", end, 0.0, strict=True)
    if not end > start:
        raise ValueError(f"end: expected a rate above start={start}, got {end}")
    smoothing = check_float("smoothing", smoothing, 0.0)
    if smoothing >= 1:
        raise ValueError(f"smoothing: expected a number in [0, 1), got {smoothing}")
    diverge = check_float("diverge", diverge, 1.0, strict=True)
    trial = copy.deepcopy(model)
    X, Y, _, _, weights = training_sets(trial, LocalReducer(), X, y, sample_weight, 0.0, None)
    batch_size = min(check_int("batch_size", batch_size, 1), len(X))
    steps = max(100, math.ceil(len(X) / batch_size)) if steps is None else check_int("steps", steps, 2)
    rates = start * (end / start) ** (np.arange(steps) / (steps - 1))
    losses, smoothed, average, stopped = [], [], 0.0, f"reached end={end:g} after {steps} steps"
    order, at = trial.rng.permutation(len(X)), 0
    with np.errstate(over="ignore", invalid="ignore"):
        for i, rate in enumerate(rates):
            if at + batch_size > len(X):                 # a new pass, newly shuffled
                order, at = trial.rng.permutation(len(X)), 0
            rows = order[at:at + batch_size]
            at += batch_size
            loss = trial.loss_and_gradients(X[rows], Y[rows], None if weights is None else weights[rows],
                                            penalty_gradient=False)
            if not math.isfinite(loss):
                stopped = f"the loss became {loss} at rate {rate:.3g}"
                break
            average = smoothing * average + (1 - smoothing) * loss
            losses.append(loss)
            smoothed.append(average / (1 - smoothing ** (i + 1)))
            if i > 0 and smoothed[-1] > diverge * min(smoothed):
                stopped = f"the smoothed loss exceeded {diverge:g}x its minimum at rate {rate:.3g}"
                break
            trial.update(rate)
    if not smoothed:
        raise ValueError(f"lr_find: the loss was not finite at the first rate ({start:g}); lower start")
    smoothed = np.array(smoothed)
    skip = SKIP_START if len(smoothed) > 2 * SKIP_START else 0      # (the first averages rest on few batches)
    best = skip + int(np.argmin(smoothed[skip:]))
    return LRFinderResult(rates[:len(smoothed)], np.array(losses), smoothed, float(rates[best] / 10),
                          f"the rate at the smoothed loss's minimum ({rates[best]:.3g}) divided by 10"
                          + (f", after the first {skip} steps" if skip else ""), stopped)
