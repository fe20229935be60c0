"""The report of ``backprop train``, one builder for the in-memory and the streamed run, and the
metrics and pictures it holds.

:func:`training_report` is fed by counts (rows used, trained on, held out, dropped), what the
preprocessing did to the training rows, the history and the metrics each path computes; every
key means the same whichever path trained. Under MPI the metrics are sums merged over the ranks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from ..collective import Totals
from ..nn import metrics
from ..statistics import merged
from ..tables.group_codes import codes_note
from ..tables.kinds import MAX_AUTO_CLASSES
from ..tables.scaling import CLIP, TAIL_SPREADS
from ..training.table_defaults import BATCH_SIZE, MAX_PERIODIC_COLUMNS, STEPS_PER_EPOCH, WIDE_ONE_HOT, wide_one_hot
from .build import PLOT_FILES


@dataclass
class Trained:
    """A finished run's model, its weights before training (for the plots), its report, and the
    rows its prediction plot shows (training rows, and validation rows when there are any)."""

    model: object
    initial: np.ndarray
    report: dict
    shown: tuple          # (X, y, X_val, y_val)


def training_report(args, *, data: str, model, history, stopper, counts: dict, preprocessing: list, warnings: list,
                    train: dict | None, validation: dict | None, classes: dict | None, seconds: float,
                    comm=None, streamed: dict | None = None) -> dict:
    """The report of a finished training run (metrics in the target's units).

    ``counts`` holds ``rows_used`` (rows with a target), ``rows_train``, ``rows_validation`` and
    ``rows_dropped_missing_target``; ``preprocessing`` the lines of what encoding the training
    rows did (gaps filled, text cells read as missing, unseen categories).
    """
    return {
        "data": data, "task": model.task_.name, **counts, "features": model.layer_sizes[0],
        "layers": list(model.layer_sizes), "batch_size": args.batch_size, "epochs_run": len(history.epoch),
        "stop_reason": history.stop_reason, "early_stopping": early_stopping_report(stopper),
        "seconds": round(seconds, 3), "train": train, "validation": validation, "classes": classes,
        "preprocessing": list(preprocessing),
        "warnings": list(warnings) + imbalance_warnings(validation or train, classes,
                                                        getattr(args, "class_weight", None)),
        "model": os.fspath(args.output), "plots": [], "interrupted": history.interrupted,
        "processes": 1 if comm is None else comm.Get_size(), "engine": model.engine_,
        "engine_reason": model.engine_reason_, "seed": args.seed,
        "engine_ms_per_batch": {k: round(v * 1e3, 4) for k, v in getattr(model, "engine_timing_", {}).items()},
        "kernel_seconds": round(history.kernel_seconds, 3),
        "still_improving": still_improving(history), "streamed": streamed, "recipe": recipe(args, model),
        "ensemble": model.metadata.get("ensemble"),
    }


def recipe(args, model) -> list[str]:
    """What the defaults (or the options) chose for this table, in words: the scaling of the numbers,
    periodic embeddings, the input scale, swish units, label smoothing, the clip of regression predictions."""
    return input_recipe(args, model) + training_recipe(args, model)


def input_recipe(args, model) -> list[str]:
    """:func:`recipe`'s lines on what reaches the first layer: scaling, tails, group codes, periodic
    embeddings, the input scale, an ensemble's members."""
    pre = model.metadata.get("preprocessing", {})
    columns = pre.get("columns", [])
    numeric = [c for c in columns if c["kind"] == "numeric"]
    robust = sum(c.get("scaling") == "robust" for c in numeric)
    lines = [f"numeric columns: {robust} of {len(numeric)} robust-scaled (median, quartile spread, smooth clip "
             f"at ±{CLIP:g})" if robust else f"numeric columns: {len(numeric)} standardised (mean, std)"] \
        if numeric else []
    tails = [c["name"] for c in numeric if c.get("tail") == "asinh"]
    if tails:
        shown = ", ".join(map(repr, tails[:5])) + (f" and {len(tails) - 5} more" if len(tails) > 5 else "")
        lines.append(f"long tails (5% of rows beyond {TAIL_SPREADS:g} quartile spreads) through asinh before the "
                     f"clip: {shown}")
    lines += [codes_note(c["name"], c) for c in columns if c.get("codes")]
    dated = [c["name"] for c in numeric if c.get("date")]
    if dated:
        timed = ", ".join(repr(c["name"]) for c in numeric if c.get("times"))
        lines.append(f"dates read as numbers, days since 1970-01-01, beside their phases in the year and the week "
                     f"(a sine and a cosine each): {', '.join(map(repr, dated))} (--text {dated[0]!r} reads them as "
                     "categories)" + (f"; and in the day, for the times of {timed}" if timed else ""))
    members = (model.metadata.get("ensemble") or {}).get("members", 1)
    if model.periodic is not None:
        periodic = model.periodic
        spread = f"{periodic.sigma:g}" if isinstance(periodic.sigma, float) else "{:g} to {:g}".format(*periodic.sigma)
        lines.append(f"periodic embeddings on {len(periodic.columns)} numeric column(s) "
                     f"({periodic.n_frequencies // members} frequencies starting at spread {spread}, "
                     f"{periodic.features // members} features each"
                     + (f", in each of the {members} networks)" if members > 1 else ")"))
        choice = model.metadata.get("periodic_choice")
        if choice:
            others = ", ".join(f"{spread} ({loss:.4g})" for spread, loss in
                               zip(choice["spreads"], choice["validation_loss"]) if spread != choice["chosen"])
            chosen = choice["validation_loss"][choice["spreads"].index(choice["chosen"])]
            lines.append(f"periodic spread {choice['chosen']} chosen by the validation {choice['loss']} ({chosen:.4g}) "
                         f"over {others} (--periodic-sigma auto: a network trained with each)")
    elif getattr(args, "periodic", False) and len(numeric) > MAX_PERIODIC_COLUMNS:
        lines.append(f"no periodic embeddings: {len(numeric)} numeric columns is more than {MAX_PERIODIC_COLUMNS} "
                     "(each would add 3 inputs to the first layer)")
    if model.input_scale:
        lines.append("a learned scale on each input of the first layer")
    if members > 1:
        seeds = model.metadata["ensemble"]["seeds"]
        lines.append(f"an ensemble of {members} networks (seeds {seeds[0]} to {seeds[-1]}), each with its own "
                     "periodic embeddings and input scale (folded into its first layer): predictions average "
                     f"their {'standardised outputs' if model.task_.name == 'regression' else 'logits'}")
    return lines


def training_recipe(args, model) -> list[str]:
    """:func:`recipe`'s lines on the network and its training: the hidden units, the batch size,
    label smoothing, schedules, a whole-number target read as classes, the clip of predictions."""
    pre = model.metadata.get("preprocessing", {})
    columns, lines = pre.get("columns", []), []
    if {type(layer.activation).__name__ for layer in model.layers[:-1]} == {"Swish"}:
        lines.append("swish hidden units, z σ(z) (--activation relu for ReLU's hinge)")
    elif getattr(args, "activation", "given") is None:             # (ReLU chosen for a wide one-hot column)
        wide = ", ".join(map(repr, wide_one_hot(columns)))
        lines.append(f"ReLU hidden units, not swish: {wide} one-hot with more than {WIDE_ONE_HOT} categories, "
                     "where swish measured no better (--activation swish)")
    if getattr(args, "batch_size_chosen", False) and args.batch_size > BATCH_SIZE:
        lines.append(f"batches of {args.batch_size} rows: {BATCH_SIZE}, doubled while an epoch keeps "
                     f"{STEPS_PER_EPOCH} steps (--batch-size sets it)")
    smoothing = getattr(model.loss, "label_smoothing", 0.0)
    if smoothing:
        lines.append(f"label smoothing {smoothing:g}: targets (1 - {smoothing:g}) y + {smoothing:g} / classes")
    for what, value, name in (("L2 penalty", model.l2, getattr(args, "l2_schedule", None)),
                              ("dropout", max([d.rate for d in model.dropouts if d is not None], default=0.0),
                               getattr(args, "dropout_schedule", None))):
        if name:
            lines.append(f"{what} {value:g} on the {name} schedule over the epochs")
    classes = getattr(model.task_, "classes_", None)
    if pre.get("target_kind") == "integer-labels" and pre.get("task") == "auto" and classes is not None:
        lines.append(f"target {pre['target']!r}: {len(classes)} distinct whole numbers ({classes[0]} to "
                     f"{classes[-1]}), so classes (at most {MAX_AUTO_CLASSES} are); --task regression predicts it "
                     "as a number")
    bounds = getattr(model.task_, "target_range_", None)
    if bounds is not None:
        lines.append("predictions kept within the training targets' range " +
                     ", ".join(f"[{low:.6g}, {high:.6g}]" for low, high in zip(*bounds)))
    return lines


#: Least fall of the monitored loss over the run's final tenth that more epochs may be worth: the
#: loss is a log-loss, or a mean squared error of standardised targets (about 1 - R²), so less is
#: a thousandth of R² or of a nat.
MIN_GAIN = 1e-3


def still_improving(history) -> bool:
    """Whether the monitored loss was still falling at the end: the best of the run within its final
    tenth, as scikit-learn's ConvergenceWarning judges it, and lower than the best before that by
    :data:`MIN_GAIN` (a fit already near perfect keeps falling by millionths)."""
    logs = history.history
    losses = logs.get("val_loss") or logs.get("loss") or []
    if len(losses) < 2 or history.interrupted or not (history.stop_reason or "").startswith("completed"):
        return False
    last = len(losses) - max(2, len(losses) // 10)
    best = int(np.nanargmin(losses))
    earlier = np.nanmin(losses[:last]) if last > 0 else np.inf
    return best >= last and not earlier - losses[best] <= MIN_GAIN


def early_stopping_report(stopper) -> dict | None:
    """What early stopping did, for the report (None when it was off)."""
    if not stopper:
        return None
    best = stopper.best_epoch
    return {"monitor": stopper.monitor, "patience": stopper.patience, "min_delta": stopper.min_delta,
            "best_epoch": None if best is None else best + 1,
            "restored_best_weights": best is not None and stopper.restore_best_weights}


def metrics_in_units(model, pre, X, y, comm=None) -> dict:
    """Metrics in the target's own units: accuracy and log-loss, or MSE, MAE and R².

    Each is built from summaries that merge over rows (R² from the targets' moments), so that
    under MPI each rank summarises its own rows and the ranks merge a few numbers; ``X`` may be
    None for a rank holding no rows.
    """
    totals = Totals(comm)
    y = np.asarray([] if y is None else y)
    X = None if X is None or not len(X) else X      # an MPI rank may hold none of these rows
    if model.task_.is_classifier:
        proba = model.predict_proba(X).astype(np.float64) if X is not None else np.empty((0, len(model.classes_)))
        one_hot = (y[:, None] == model.classes_[None, :]).astype(np.float64)
        correct = np.count_nonzero(model.classes_[proba.argmax(axis=1)] == y) if len(y) else 0
        surprise = -np.sum(one_hot * np.log(np.clip(proba, np.finfo(np.float64).eps, 1.0)))
        n, correct, surprise = totals.sum([len(y), correct, surprise])
        scores = metrics.class_scores(totals.sum(class_confusion(model, proba, y)))
        parts = totals.gather((y, proba))                  # (the ranking metrics need every row's score)
        ranking = metrics.ranking_scores(np.concatenate([p[0] for p in parts]),
                                         np.concatenate([p[1] for p in parts]), model.classes_)
        return {"accuracy": float(correct / n), "log_loss": float(surprise / n),
                "balanced_accuracy": scores["balanced_accuracy"], "majority_baseline": scores["majority_baseline"],
                "roc_auc": ranking["roc_auc"], "average_precision": ranking["average_precision"]}
    predicted = pre.unscale_target(model.predict(X).astype(np.float64)) if X is not None else np.empty(0)
    residual = y.astype(np.float64) - predicted
    n, squares, absolute = totals.sum([residual.size, np.dot(residual, residual), np.abs(residual).sum()])
    tally = metrics.R2Tally()
    tally.add(y.astype(np.float64), predicted)
    return {"mse": float(squares / n), "rmse": float(np.sqrt(squares / n)), "mae": float(absolute / n),
            "r2": merged(totals.gather(tally)).value}


def imbalance_warnings(scores: dict | None, classes: dict | None, class_weight) -> list[str]:
    """What the report should say when classes are imbalanced and the network follows the majority:
    accuracy no better than always answering the commonest class, or a class almost never found."""
    if not scores or "majority_baseline" not in scores or class_weight:
        return []
    warnings = []
    if scores["accuracy"] <= scores["majority_baseline"] + 0.005:
        warnings.append(f"accuracy {scores['accuracy']:.4f} is no better than always answering the most common class "
                        f"({scores['majority_baseline']:.4f}): the network learned little beyond the class frequencies "
                        f"(balanced accuracy {scores['balanced_accuracy']:.4f}); --class-weight balanced makes every "
                        "class count as much")
    if classes:
        missed = [f"{name!r} (recall {recall:.2f} of {support} rows)" for name, recall, support
                  in zip(classes["classes"], classes["recall"], classes["support"]) if support and recall < 0.1]
        if missed:
            warnings.append(f"class(es) {', '.join(missed)} are almost never predicted: --class-weight balanced makes "
                            "a rare class count as much as a common one; judge the model by balanced accuracy, ROC AUC "
                            "and average precision rather than accuracy")
    return warnings


def class_confusion(model, proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """This rank's confusion matrix of ``proba``'s predictions against labels ``y`` (classes in
    the model's order; unseen labels are not counted)."""
    classes = model.classes_
    actual, known = np.searchsorted(classes, y), np.isin(y, classes)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (actual[known], proba.argmax(axis=1)[known]), 1)
    return confusion


def class_report(model, X, y, comm=None) -> dict | None:
    """Per-class precision, recall, F1 and support, and the top confusions (None for regression)."""
    if not model.task_.is_classifier or y is None:
        return None
    X = None if X is None or not len(X) else X
    proba = model.predict_proba(X) if X is not None else np.empty((0, len(model.classes_)))
    confusion = Totals(comm).sum(class_confusion(model, proba, np.asarray(y)))
    scores = metrics.class_scores(confusion)
    names = [str(c) for c in model.classes_.tolist()]
    return {"classes": names, **{k: scores[k] for k in ("precision", "recall", "f1", "support")},
            "top_confusions": [list(c) for c in metrics.top_confusions(confusion, names)]}


def write_plots(model, initial, directory, X, y, X_val, y_val, warnings: list) -> list[str]:
    """Draw the loss curve and the predictions (and the decision boundary for two features);
    return the paths written. What could not be drawn is said in ``warnings``."""
    from ..explain import plotting

    os.makedirs(directory, exist_ok=True)
    written = []
    if model.history_.epoch:
        written.append(os.path.join(directory, PLOT_FILES[0]))
        plotting.plot_history(model.history_, written[0])
    else:
        warnings.append(f"no loss curve ({PLOT_FILES[0]}): no epoch was completed")
    X_show, y_show = (X, y) if X_val is None else (X_val, y_val)
    before = plotting.predictions_with(model, initial, X_show)
    path = os.path.join(directory, PLOT_FILES[1])
    plotting.plot_predictions(model, X_show, y_show, before=before, path=path)
    written.append(path)
    if X.shape[1] == 2 and model.task_.is_classifier:
        written.append(os.path.join(directory, PLOT_FILES[2]))
        plotting.plot_decision_boundary(model, X, y, written[-1])
    return written


def print_report(result: dict, as_json: bool) -> None:
    """The report on standard output: JSON, or lines to read."""
    if as_json:
        print(json.dumps(result, indent=2))
        return
    ensemble, layers = result.get("ensemble"), result["layers"]
    what = f"a {result['task']} network {'-'.join(map(str, layers))}" if not ensemble else \
        (f"an ensemble of {ensemble['members']} {result['task']} networks "
         f"{'-'.join(map(str, [layers[0], *(h // ensemble['members'] for h in layers[1:-1]), layers[-1]]))} "
         f"(epochs {', '.join(map(str, ensemble['epochs_run']))}; saved as one network {'-'.join(map(str, layers))})")
    print(f"\nTrained {what} on "
          f"{result['rows_used']} rows of {result['data']} ({result['rows_train']} training, "
          f"{result['rows_validation']} validation) in {result['seconds']:.1f}s ({result['engine']} engine)")
    if result.get("engine_reason"):
        print(f"note: numpy engine because {result['engine_reason']}")
    if result.get("engine_ms_per_batch"):
        measured = ", ".join(f"{name} {ms:.3g} ms" for name, ms in result["engine_ms_per_batch"].items())
        print(f"measured per batch: {measured} (--engine NAME fixes the choice, for runs reproduced bit for bit)")
    if result["kernel_seconds"] >= 1:
        print(f"note: {result['kernel_seconds']:.1f}s of that compiled the numba kernels (first use; "
              "later runs load them from numba's cache)")
    if result.get("streamed"):
        streamed = result["streamed"]
        print(f"streamed ({streamed['why']}): {streamed['file_rows']} rows read in {streamed['blocks']} block(s), "
              f"shuffled through pools of up to {streamed['pool_rows']} rows; medians {streamed['medians']}")
    print(f"epochs run: {result['epochs_run']} ({result['stop_reason']}); seed {result['seed']} "
          "(--seed reproduces this run)")
    if result["still_improving"]:
        print(f"note: the loss was still improving at the last epoch: more epochs may help "
              f"(--epochs {2 * result['epochs_run']})")
    _print_details(result)


def _print_details(result: dict) -> None:
    stopping = result["early_stopping"]
    if stopping:
        kept = (f"kept the weights of epoch {stopping['best_epoch']}" if stopping["restored_best_weights"]
                else "kept the last weights")
        print(f"early stopping on {stopping['monitor']} (patience {stopping['patience']}, least fall "
              f"{stopping['min_delta']:g}): {kept}")
    for line in result.get("recipe", ()):
        print(f"recipe: {line}")
    for line in result["preprocessing"]:
        print(f"preprocessing (training rows): {line}")
    for line in result["warnings"]:
        print(f"warning: {line}")
    if result["rows_dropped_missing_target"]:
        print(f"preprocessing: dropped {result['rows_dropped_missing_target']} row(s) with a missing target")
    for part in ("train", "validation"):
        if result[part]:
            print(f"{part + ':':12s}" + "  ".join(f"{k} {v:.4f}" for k, v in result[part].items()))
    if result["classes"]:
        print_classes(result["classes"], "validation" if result["validation"] else "training")
    print(f"model written to {result['model']}")
    if result["interrupted"]:
        print("training was interrupted (Ctrl-C): the model holds the weights after the last complete "
              "batch, or the best epoch's under early stopping")
    for path in result["plots"]:
        print(f"plot written to {path}")


def print_classes(report: dict, rows: str) -> None:
    """Per-class precision, recall and F1, and the top confusions, as a short table."""
    width = max(8, *map(len, report["classes"])) + 2
    print(f"per class ({rows} rows):" + "".join(h.rjust(11) for h in ("precision", "recall", "f1", "support")))
    for name, *values in zip(report["classes"], report["precision"], report["recall"], report["f1"]):
        print(f"  {name:<{width}}".ljust(20) + "".join(f"{v:11.4f}" for v in values)
              + f"{report['support'][report['classes'].index(name)]:11d}")
    if report["top_confusions"]:
        print("most confused: " + "; ".join(f"{a} taken for {p} ({n})" for a, p, n in report["top_confusions"]))
