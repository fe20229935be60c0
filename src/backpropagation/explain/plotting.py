"""Pictures of training: loss curves, predictions before and after, decision boundaries.

matplotlib is an optional extra (``pip install "backpropagation[plot]"``). Figures are built with
matplotlib's object API and the Agg canvas, so nothing needs a display and no global pyplot state
is touched. Every function returns the ``Figure`` and, given ``path``, also writes it as a PNG.
"""

from __future__ import annotations

import numpy as np

from ..files import write_atomically
from ..nn.metrics import confusion_matrix


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install \"backpropagation[plot]\"") from None
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _finish(figure, path):
    if path is not None:
        write_atomically(path, lambda handle: figure.savefig(handle, dpi=100, format="png"))
    return figure


def plot_history(history, path=None):
    """Training and validation loss per epoch, with the learning rate on a second axis when it
    changed during training (a constant rate says nothing a second axis should show).

    Parameters
    ----------
    history : History or dict
        What ``fit`` returned (or its ``history`` dict).
    path : str or path-like, optional
        Where to write a PNG.
    """
    logs = getattr(history, "history", history)
    if not logs.get("loss"):
        raise ValueError("history: no epochs recorded; train first")
    figure = _figure(8, 5)
    ax = figure.add_subplot()
    epochs = np.arange(1, len(logs["loss"]) + 1)
    ax.plot(epochs, logs["loss"], label="training loss", color="tab:blue", linewidth=2)
    if "val_loss" in logs:
        ax.plot(epochs, logs["val_loss"], label="validation loss", color="tab:orange", linewidth=2)
    losses = np.concatenate([logs["loss"], logs.get("val_loss", [])])
    if losses.min() > 0 and losses.max() / losses.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if "lr" in logs and len(set(logs["lr"])) > 1:
        lr_axis = ax.twinx()
        lr_axis.plot(epochs, logs["lr"], color="tab:gray", linestyle="--", label="learning rate")
        lr_axis.set_ylabel("learning rate")
        more_handles, more_labels = lr_axis.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.legend(handles, labels, loc="upper right")
    ax.set_title("Loss per epoch")
    return _finish(figure, path)


def plot_predictions(model, X, y, before=None, path=None):
    """Predictions against the truth, after training and (if given) before.

    Regression: predicted against actual values with the diagonal. Classification: confusion
    matrices.

    Parameters
    ----------
    model : NeuralNetwork
    X, y : array-like
        Data and true targets or labels.
    before : array-like, optional
        Predictions on ``X`` made before training (see :func:`predictions_with`).
    path : str or path-like, optional
    """
    after = model.predict(X)
    panels = [("before training", np.asarray(before)), ("after training", after)] if before is not None \
        else [("predictions", after)]
    figure = _figure(5.5 * len(panels), 5)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    y = np.asarray(y)
    for ax, (title, predicted) in zip(axes, panels):
        if model.task_.is_classifier:
            title = f"{title}: accuracy {_confusion(ax, y, predicted, model.classes_):.3f}"
        else:
            truth, guess = y.reshape(len(y), -1)[:, 0], predicted.reshape(len(y), -1)[:, 0]
            ax.scatter(truth, guess, s=12, alpha=0.6)
            low, high = min(truth.min(), guess.min()), max(truth.max(), guess.max())
            ax.plot([low, high], [low, high], color="tab:red", linewidth=1, label="perfect")
            ax.set_xlabel("actual")
            ax.set_ylabel("predicted")
            ax.legend(loc="upper left")
            ax.grid(alpha=0.3)
        ax.set_title(title)
    return _finish(figure, path)


def plot_confusion_matrix(y_true, y_pred, classes, path=None):
    """A confusion matrix with counts in the cells."""
    figure = _figure(5.5, 5)
    ax = figure.add_subplot()
    ax.set_title(f"accuracy {_confusion(ax, np.asarray(y_true), np.asarray(y_pred), classes):.3f}")
    return _finish(figure, path)


def _confusion(ax, y_true, y_pred, classes) -> float:
    """Draw the confusion matrix on ``ax``; return the accuracy."""
    matrix = confusion_matrix(y_true, y_pred, classes)
    ax.imshow(matrix, cmap="Blues")
    ticks = np.arange(len(classes))
    names = [str(c) for c in np.asarray(classes).tolist()]
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center",
                color="white" if count > threshold else "black")
    return float(np.trace(matrix) / max(matrix.sum(), 1))


def plot_decision_boundary(model, X, y, path=None, resolution: int = 200):
    """Predicted class over the plane of a two-feature classifier, with the samples on top."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X: a decision boundary needs exactly 2 features, got shape {X.shape}")
    if not model.task_.is_classifier:
        raise ValueError("model: a decision boundary needs a classification network")
    margin = 0.1 * (X.max(axis=0) - X.min(axis=0) + 1e-9)
    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    classes = model.classes_
    index = np.searchsorted(classes, model.predict(grid)).reshape(xx.shape)
    figure = _figure(6.5, 5.5)
    ax = figure.add_subplot()
    ax.contourf(xx, yy, index, levels=np.arange(len(classes) + 1) - 0.5, cmap="tab10", alpha=0.25,
                vmin=0, vmax=9)
    y_index = np.searchsorted(classes, np.asarray(y))
    for k, label in enumerate(classes.tolist()):
        chosen = y_index == k
        ax.scatter(X[chosen, 0], X[chosen, 1], s=14, color=f"C{k}", label=str(label), edgecolor="k",
                   linewidth=0.3)
    ax.legend(loc="best")
    ax.set_title("Decision boundary")
    return _finish(figure, path)


def predictions_with(model, parameters: np.ndarray, X) -> np.ndarray:
    """``model.predict(X)`` as it would be with ``parameters``; the model is left unchanged."""
    current = model.parameters.copy()
    try:
        model.parameters[...] = parameters
        return model.predict(X)
    finally:
        model.parameters[...] = current


def plot_importance(importance, path=None, top: int = 20):
    """A horizontal bar per feature of a :class:`~backpropagation.explain.importance.FeatureImportance`
    (the ``top`` most important, most important on top), with the spread as error bars."""
    rows = importance.ranking()[:top][::-1]
    figure = _figure(8, 1.5 + 0.35 * len(rows))
    ax = figure.add_subplot()
    names, means, stds = zip(*rows)
    ax.barh(range(len(rows)), means, xerr=stds, color="tab:blue", alpha=0.8, capsize=3)
    ax.set_yticks(range(len(rows)), names)
    ax.set_xlabel(f"{importance.method} importance ({importance.metric})")
    ax.grid(axis="x", alpha=0.3)
    return _finish(figure, path)


def plot_lr_find(result, path=None):
    """The learning-rate range test: smoothed (and raw) loss against the rate on a log axis, the
    suggested rate marked."""
    figure = _figure(8, 5)
    ax = figure.add_subplot()
    ax.plot(result.rates, result.losses, color="tab:blue", alpha=0.25, label="batch loss")
    ax.plot(result.rates, result.smoothed, color="tab:blue", linewidth=2, label="smoothed loss")
    ax.axvline(result.suggestion, color="tab:red", linestyle="--", label=f"suggested {result.suggestion:.3g}")
    ax.set_xscale("log")
    low = min(np.min(result.smoothed), np.min(result.losses))
    high = np.max(result.smoothed[: max(1, len(result.smoothed) // 2)])
    ax.set_ylim(low - 0.1 * (high - low + 1e-12), max(high, result.smoothed[-1]) + 0.1 * (high - low + 1e-12))
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    return _finish(figure, path)
