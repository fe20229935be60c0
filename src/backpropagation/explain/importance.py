"""Feature importance: which inputs a network's predictions rely on.

*Permutation*: the drop of the model's score when one column's values are shuffled among the rows
(scikit-learn's ``permutation_importance``, same permutations for the same integer seed);
*gradient*: the mean over rows of ``|x ⊙ ∂ŷ/∂x|`` (gradient × input). A group of columns (the
indicators of one text column) is shuffled together, and its gradient scores add.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data import as_array, check_features, check_int, check_same_length
from ..nn.layers import Embedding
from .gradients import column_places, embedded_gradients, require_fitted

METHODS = ("permutation", "gradient")


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
    require_fitted(model, "feature_importance")
    X = check_features(X, model.dtype, "X", model.layer_sizes[0], feature_names=model.feature_names_in_)
    groups = checked_groups(groups, model, X.shape[1])
    if method == "gradient":
        return gradient_importance(model, X, groups)
    if len(X) < 2:
        raise ValueError(f"X: permutation importance shuffles a column among the rows, and {len(X)} row cannot be "
                         "shuffled (every importance would read 0); give more rows, or method='gradient'")
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
    :class:`~backpropagation.tables.preprocessing.TabularPreprocessor`'s ``columns``: a numeric column is one
    (with its gap indicator), a text column its indicators, or its code when embedded (importance per
    column of the table)."""
    from ..tables.preprocessing_state import encoded_width

    groups, at = {}, 0
    for spec in columns:
        width = encoded_width(spec)
        groups[spec["name"]], at = list(range(at, at + width)), at + width
    return groups


def _balanced_accuracy(model, X, y) -> float:
    from ..nn import metrics

    return metrics.class_scores(metrics.confusion_matrix(y, model.predict(X), model.classes_))["balanced_accuracy"]


def _ranking(key: str):
    def score(model, X, y) -> float:
        from ..nn import metrics

        return metrics.ranking_scores(np.asarray(y), model.predict_proba(X), model.classes_)[key]
    return score


def _neg_log_loss(model, X, y) -> float:
    from ..nn import metrics

    one_hot = (np.asarray(y)[:, None] == model.classes_[None, :]).astype(np.float64)
    return -metrics.log_loss(one_hot, model.predict_proba(X).astype(np.float64))


#: ``scoring`` names (scikit-learn's spelling where there is one), each ``(for classifiers?,
#: function of the model, X and y; higher is better)``; ``None`` for either task.
SCORINGS = {
    "loss": (None, lambda model, X, y: -model.evaluate(X, y)["loss"]),
    "balanced_accuracy": (True, _balanced_accuracy),
    "roc_auc": (True, _ranking("roc_auc")),
    "average_precision": (True, _ranking("average_precision")),
    "log_loss": (True, _neg_log_loss),
    "neg_mean_squared_error": (False, lambda model, X, y: -model.evaluate(X, y)["mse"]),
    "neg_mean_absolute_error": (False, lambda model, X, y: -model.evaluate(X, y)["mae"]),
    "rmse": (False, lambda model, X, y: -float(np.sqrt(model.evaluate(X, y)["mse"]))),
}


def scoring_names(model) -> list[str]:
    """The scoring names that apply to ``model``'s task (its own metric first)."""
    own = "accuracy" if model.task_.is_classifier else "r2"
    return [own] + [name for name, (kind, _) in SCORINGS.items() if kind in (None, model.task_.is_classifier)]


def scorer_of(model, scoring):
    """``(function(X, y) -> float, metric name)`` for ``scoring`` (higher is better: a loss or an
    error is scored negated, ``log_loss`` and ``rmse`` included)."""
    task_metric = "accuracy" if model.task_.is_classifier else "r2"
    if scoring is None or scoring == task_metric:
        return model.score, task_metric
    if isinstance(scoring, str) and scoring in scoring_names(model):
        function = SCORINGS[scoring][1]
        return (lambda X, y: float(function(model, X, y))), scoring
    if callable(scoring):
        return (lambda X, y: float(scoring(model, X, y))), getattr(scoring, "__name__", "score")
    raise ValueError(f"scoring: expected None, one of {', '.join(map(repr, scoring_names(model)))} or a function "
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
    (an embedded code column: over its embedding's numbers, ``|e ⊙ ∂ŷ/∂e|``; a column with a
    periodic embedding: its number times the chain rule's ∂ŷ/∂x through the embedding)."""
    inputs, gradients = embedded_gradients(model, X, range(model.layer_sizes[-1]))
    contribution = np.abs(gradients * inputs[:, None, :]).sum(axis=1)      # (rows, first-layer inputs)
    places = column_places(model)
    per_column = np.column_stack([contribution[:, place].sum(axis=1) for place in places])
    if model.embedded_input is not None:                 # (numbers: through the input stage to x)
        numbers = [c for c, layer, _ in model.embedded_input.pieces if not isinstance(layer, Embedding)]
        chained = sum(np.abs(X * model.embedded_input.column_gradients(X, gradients[:, j]))
                      for j in range(gradients.shape[1]))
        per_column[:, numbers] = chained[:, numbers]
    per_group = np.column_stack([per_column[:, columns].sum(axis=1) for columns in groups.values()])
    return FeatureImportance(list(groups), "gradient", per_group.mean(axis=0), per_group.std(axis=0),
                             None, None, "|x·∂ŷ/∂x|", groups)

