"""``backprop train``: check the outputs, read, split, preprocess, train, save, plot, report.

The pipeline behind the command (and ``backprop demo``); :mod:`backpropagation.cli` parses the
options. Under ``--distributed`` every function runs on every MPI rank: statistics, the
validation split and training are shared, and only rank 0 writes files and prints.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..nn import metrics
from ..training.callbacks import EarlyStopping
from ..data import validation_split
from ..collective import Totals, collectively, mpi, share_cores
from ..training.reducers import MPIReducer
from ..files import check_distinct_outputs, check_output
from ..interrupt import InterruptGuard
from ..network import NeuralNetwork
from ..tables.csv_source import TextFormat
from ..tables.readers import Table, number_rows_across, read_table
from ..tables.preprocessing import TabularPreprocessor
from ..tables.transform_report import TransformReport


@dataclass
class Prepared:
    """A table's rows as the network trains on them: encoded training and validation sets,
    what preprocessing did, and the row counts the report gives (over every rank)."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    report: TransformReport
    counts: list           # rows used, trained on, held out, dropped for a missing target
    has_validation: bool   # (under MPI: on any rank; this rank's X_val may have no rows)


def train(args, table: Table, comm=None) -> dict:
    """Preprocess, split, train, save and plot; return the report as a dict.

    With an MPI communicator, ``table`` is this rank's slice of the file: the validation split,
    preprocessing statistics and training are shared over ranks (each equal to one process
    reading the whole file), and only rank 0 writes files.
    """
    chief = comm is None or comm.Get_rank() == 0
    started = time.perf_counter()
    if args.seed is None:   # a run without --seed is reproducible too: its seed is drawn, used and reported
        seed = int(np.random.SeedSequence().entropy % 2**63)
        args.seed = seed if comm is None else comm.bcast(seed, root=0)
    pre = preprocessor(args)
    data = prepare(args, table, pre, comm)
    model = network_for(args, pre, data.X, data.y, data.X.dtype, comm)
    initial = model.parameters.copy()
    patience = (10 if data.has_validation else 0) if args.early_stopping is None else args.early_stopping
    stopper = EarlyStopping(patience=patience) if patience > 0 else False
    history = model.fit(
        data.X, pre.scale_target(data.y), epochs=args.epochs, batch_size=args.batch_size,
        verbose=0 if args.json or args.quiet else 1,
        validation_data=None if not data.has_validation else (data.X_val, pre.scale_target(data.y_val)),
        early_stopping=stopper, lr_schedule=args.lr_schedule, comm=comm,
        class_weight=getattr(args, "class_weight", None),
    )
    seconds = time.perf_counter() - started
    # A Ctrl-C from here on must not lose the trained model: it is saved whole, then reported.
    with InterruptGuard(announce=False) as late:
        if chief:
            model.save(args.output)
        result = _result(args, table, model, pre, data, history, comm)
        result["seconds"], result["early_stopping"] = round(seconds, 3), _early_stopping_report(stopper)
        if args.plots and chief and not late.requested:   # (under MPI, prediction plots show rank 0's rows)
            result["plots"] = write_plots(model, pre, initial, args.plots, data.X, data.y, data.X_val, data.y_val,
                                          result["warnings"])
    if late.requested and not result["interrupted"]:
        result["interrupted"] = True
        result["warnings"].append("interrupted (Ctrl-C) after training: the model was written"
                                  + ("; no plots were drawn" if args.plots and not result["plots"] else ""))
    return result


def preprocessor(args) -> TabularPreprocessor:
    """The unfitted preprocessing the table options describe."""
    return TabularPreprocessor(args.target, args.task, args.drop, text=args.text or (), numeric=args.numeric or (),
                               max_categories=args.max_categories, embed=dict(getattr(args, "embed", None) or ()))


def prepare(args, table: Table, pre: TabularPreprocessor, comm=None) -> Prepared:
    """Drop rows without a target, split, fit ``pre`` on the training rows and encode both sets."""
    step = (lambda work: work()) if comm is None else (lambda work: collectively(comm, work))
    missing_target = table.column(args.target).missing
    labelled = np.flatnonzero(~missing_target) if missing_target.any() else np.arange(len(table))
    train_rows, val_rows = split_rows(args, pre, table, labelled, comm)
    pre.fit(table, comm, rows=train_rows)
    dtype = np.float32 if args.float32 else np.float64
    X, y, report = step(lambda: pre.transform(table, with_target=True, dtype=dtype, rows=train_rows))
    if comm is not None:
        report = TransformReport.combined(comm.allgather(report))
    X_val, y_val = step(lambda: pre.transform(table, with_target=True, dtype=dtype, rows=val_rows)[:2]
                        if len(val_rows) else (None, None))
    has_validation = X_val is not None if comm is None else any(comm.allgather(X_val is not None))
    if comm is not None and X_val is None and has_validation:  # this rank holds no validation row
        X_val, y_val = np.empty((0, X.shape[1]), dtype=dtype), y[:0]
    counts = [len(labelled), len(train_rows), len(val_rows), len(table) - len(labelled)]
    if comm is not None:
        counts = [int(total) for total in comm.allreduce(np.array(counts))]
    return Prepared(X, y, X_val, y_val, report, counts, has_validation)


def _result(args, table, model, pre, data: Prepared, history, comm) -> dict:
    """The report of a finished training run (metrics in the target's units)."""
    return {
        "data": table.source, "task": model.head.name, "rows_used": data.counts[0],
        "rows_train": data.counts[1], "rows_validation": data.counts[2],
        "rows_dropped_missing_target": data.counts[3], "features": data.X.shape[1],
        "layers": list(model.layer_sizes), "epochs_run": len(history.epoch),
        "stop_reason": history.stop_reason, "early_stopping": None, "seconds": None,
        "train": metrics_in_units(model, pre, data.X, data.y, comm),
        "validation": None if not data.counts[2] else metrics_in_units(model, pre, data.X_val, data.y_val, comm),
        "classes": class_report(model, data.X_val if data.counts[2] else data.X,
                                data.y_val if data.counts[2] else data.y, comm),
        "preprocessing": data.report.lines(), "warnings": list(pre.warnings),
        "model": os.fspath(args.output), "plots": [], "interrupted": history.interrupted,
        "processes": 1 if comm is None else comm.Get_size(), "engine": model.engine_,
        "engine_reason": model.engine_reason_, "seed": args.seed,
        "engine_ms_per_batch": {k: round(v * 1e3, 4) for k, v in getattr(model, "engine_timing_", {}).items()},
        "kernel_seconds": round(history.kernel_seconds, 3),
        "still_improving": _still_improving(history),
    }


def _still_improving(history) -> bool:
    """Whether the monitored loss was still falling at the end: the best of the last epochs, as
    scikit-learn's ConvergenceWarning judges it, within the final tenth of the run."""
    logs = history.history
    losses = logs.get("val_loss") or logs.get("loss") or []
    if len(losses) < 2 or history.interrupted or not (history.stop_reason or "").startswith("completed"):
        return False
    best = int(np.nanargmin(losses))
    return best >= len(losses) - max(2, len(losses) // 10)


def split_rows(args, pre, table: Table, labelled: np.ndarray, comm=None) -> tuple[np.ndarray, np.ndarray]:
    """This rank's (train, validation) row positions in ``table``, from one split of all rows.

    ``labelled`` holds the positions of rows with a target. Under MPI every rank draws the same
    split of the whole file's labelled rows (stratified by class over all ranks' targets) and
    keeps the positions in its own slice, so the held-out rows are those one process would hold
    out. Only class codes travel between ranks, and only for classification.
    """
    totals = Totals(comm)
    target = table.column(args.target)
    kind = pre.infer_target_kind(target, labelled, table.row_numbers, totals)
    counts = totals.gather(len(labelled))
    offset, n_rows = sum(counts[: 0 if comm is None else comm.Get_rank()]), sum(counts)
    if args.validation_split == 0:
        return labelled, labelled[:0]
    labels = None
    if kind != "numeric":
        local = target.labels()[labelled] if kind == "labels" else target.numbers[labelled]
        classes = np.unique(np.concatenate(totals.gather(np.unique(local))))
        labels = np.concatenate(totals.gather(np.searchsorted(classes, local).astype(np.int32)))
    seed = args.seed
    if comm is not None:
        seed = comm.bcast(np.random.SeedSequence(seed).entropy if seed is None else seed, root=0)
    train_rows, val_rows = validation_split(n_rows, args.validation_split, np.random.default_rng(seed), labels,
                                            "--validation-split")

    def local(rows):
        return labelled[rows[(rows >= offset) & (rows < offset + len(labelled))] - offset]

    return local(train_rows), local(val_rows)


def network_for(args, pre, X, y, dtype, comm=None) -> NeuralNetwork:
    """The network ``train`` fits: input width from ``X``, output size from the task and labels."""
    task = pre.resolved_task
    if task == "regression":
        n_out = 1
    else:
        n_classes = len(np.unique(y) if comm is None else MPIReducer(comm).union_of_labels(y))
        n_out = 1 if n_classes == 2 and task in ("classification", "binary") else n_classes
    learning_rate = args.learning_rate
    if learning_rate is None:
        learning_rate = 1e-3 if args.optimizer.lower() in ("adam", "adamw", "rmsprop") else 1e-2
    model = NeuralNetwork([X.shape[1], *args.layers, n_out], task=task, hidden_activation=args.activation,
                          optimizer=args.optimizer, learning_rate=learning_rate, l2=args.l2,
                          dtype=dtype, random_state=args.seed, engine=args.engine,
                          standardize_target=False,  # the preprocessing already standardises it
                          dropout=getattr(args, "dropout", 0.0), embeddings=pre.embeddings or None)
    model.metadata["preprocessing"] = pre.to_dict()
    model.metadata["feature_names"] = pre.feature_names
    model.metadata["text_format"] = text_format(args).to_dict()   # predict reads new files alike
    model.metadata["seed"] = args.seed
    return model


def _early_stopping_report(stopper) -> dict | None:
    """What early stopping did, for the report (None when it was off)."""
    if not stopper:
        return None
    best = stopper.best_epoch
    return {"monitor": stopper.monitor, "patience": stopper.patience,
            "best_epoch": None if best is None else best + 1,
            "restored_best_weights": best is not None and stopper.restore_best_weights}


def metrics_in_units(model, pre, X, y, comm=None) -> dict:
    """Metrics in the target's own units: accuracy and log-loss, or MSE, MAE and R².

    Each is built from sums over rows (R² in two passes: the mean, then squares about it), so
    that under MPI each rank sums its own rows and the ranks add a few numbers; ``X`` may be
    None for a rank holding no rows.
    """
    totals = Totals(comm)
    y = np.asarray([] if y is None else y)
    X = None if X is None or not len(X) else X      # an MPI rank may hold none of these rows
    if model.head.is_classifier:
        proba = model.predict_proba(X).astype(np.float64) if X is not None else np.empty((0, len(model.classes_)))
        one_hot = (y[:, None] == model.classes_[None, :]).astype(np.float64)
        correct = np.count_nonzero(model.classes_[proba.argmax(axis=1)] == y) if len(y) else 0
        surprise = -np.sum(one_hot * np.log(np.clip(proba, np.finfo(np.float64).eps, 1.0)))
        n, correct, surprise = totals.sum([len(y), correct, surprise])
        scores = metrics.class_scores(totals.sum(class_confusion(model, proba, y)))
        return {"accuracy": float(correct / n), "log_loss": float(surprise / n),
                "balanced_accuracy": scores["balanced_accuracy"], "majority_baseline": scores["majority_baseline"]}
    predicted = pre.unscale_target(model.predict(X).astype(np.float64)) if X is not None else np.empty(0)
    residual = y.astype(np.float64) - predicted
    n, total, squares, absolute = totals.sum([residual.size, y.sum(), np.dot(residual, residual),
                                              np.abs(residual).sum()])
    spread = float(totals.sum(np.square(y - total / n).sum()))
    r2 = 1.0 - squares / spread if spread > 0 else (1.0 if squares == 0 else 0.0)
    return {"mse": float(squares / n), "mae": float(absolute / n), "r2": float(r2)}


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
    if not model.head.is_classifier or y is None:
        return None
    X = None if X is None or not len(X) else X
    proba = model.predict_proba(X) if X is not None else np.empty((0, len(model.classes_)))
    confusion = Totals(comm).sum(class_confusion(model, proba, np.asarray(y)))
    scores = metrics.class_scores(confusion)
    names = [str(c) for c in model.classes_.tolist()]
    return {"classes": names, **{k: scores[k] for k in ("precision", "recall", "f1", "support")},
            "top_confusions": [list(c) for c in metrics.top_confusions(confusion, names)]}


def write_plots(model, pre, initial, directory, X, y, X_val, y_val, warnings: list) -> list[str]:
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
    if model.head.is_classifier:
        plotting.plot_predictions(model, X_show, y_show, before=before, path=path)
    else:
        plotting.plot_predictions(_UnscaledRegressor(model, pre), X_show, y_show,
                                  before=pre.unscale_target(before), path=path)
    written.append(path)
    if X.shape[1] == 2 and model.head.is_classifier:
        written.append(os.path.join(directory, PLOT_FILES[2]))
        plotting.plot_decision_boundary(model, X, y, written[-1])
    return written


class _UnscaledRegressor:
    """A regression model seen through the target scaling, for plots in the target's units."""

    def __init__(self, model, pre):
        self.model, self.pre, self.head = model, pre, model.head

    def predict(self, X):
        return self.pre.unscale_target(self.model.predict(X))


def run_training(args) -> dict:
    """``backprop train`` (under ``mpiexec`` with ``--distributed``, on every rank); returns the report."""
    from .stream import should_stream, train_streaming

    shuffled = shuffle_once(args) if getattr(args, "shuffle_once", None) is not None else None
    streamed = should_stream(args)
    if streamed and args.distributed:
        comm = mpi().COMM_WORLD
        share_cores(comm)
        collectively(comm, lambda: comm.Get_rank() == 0 and check_outputs(args))
        result = train_streaming(args, comm)
    elif streamed:
        check_outputs(args)
        result = train_streaming(args)
    elif not args.distributed:
        check_outputs(args)
        result = train(args, read_table(args.data, text_columns=spelled_columns(args), fmt=text_format(args)))
    else:
        comm = mpi().COMM_WORLD
        share_cores(comm)            # ranks sharing a machine: no thread oversubscription
        collectively(comm, lambda: comm.Get_rank() == 0 and check_outputs(args))
        table = collectively(comm, lambda: read_table(args.data, part=(comm.Get_rank(), comm.Get_size()),
                                                          text_columns=spelled_columns(args), fmt=text_format(args)))
        result = train(args, number_rows_across(table, comm), comm)
    if shuffled:
        result["shuffled_copy"] = shuffled
    if not args.distributed or comm.Get_rank() == 0:
        print_report(result, args.json)
    return result


def shuffle_once(args) -> dict:
    """``--shuffle-once``: write the shuffled copy, then train on it (``args.data`` is changed)."""
    from ..tables import shuffle, streaming

    if args.distributed or args.data == "-":
        raise ValueError("--shuffle-once: shuffles a file on disk in one process (not standard input, "
                         "not with --distributed)")
    copy = args.shuffle_once or shuffle.shuffled_name(args.data)
    check_output(copy, "--shuffle-once", inputs=[args.data])
    if os.path.abspath(copy) == os.path.abspath(args.output):
        raise ValueError(f"--shuffle-once: {copy} is also the model file (--output)")
    seed = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy % 2**63)
    args.seed = seed
    blocks = streaming.Blocks(args.data, text_format(args), spelled_columns(args))
    done = shuffle.shuffle_file(blocks, copy, seed)
    if not args.json and not args.quiet:
        print(f"shuffled {done['rows']} rows into {copy} ({done['buckets']} bucket(s), {done['seconds']:.1f}s); "
              "later runs can train on it directly", file=sys.stderr)
    args.data = copy
    return done


def text_format(args, saved: dict | None = None) -> TextFormat:
    """The text format (``--delimiter``, ``--decimal``, ``--thousands``, ``--na-values``) the
    options give, over the one saved with a model (if any)."""
    base = TextFormat.from_dict(saved) if saved is not None else TextFormat()
    thousands = base.thousands if args.thousands is None else None if args.thousands == "none" else args.thousands
    na_values = base.na_values if getattr(args, "na_values", None) is None else tuple(args.na_values)
    return TextFormat(base.delimiter if args.delimiter is None else args.delimiter,
                      base.decimal if args.decimal is None else args.decimal, thousands, na_values)


def spelled_columns(args) -> list[str]:
    """The columns ``train`` reads as written (see :attr:`TabularPreprocessor.spelled_columns`)."""
    return preprocessor(args).spelled_columns


PLOT_FILES = ("loss_curve.png", "predictions.png", "decision_boundary.png")


def check_outputs(args) -> None:
    """Check every file ``train`` will write before any work, naming the path the user gave."""
    plots = {} if not args.plots else {"--plots": args.plots, **{
        f"--plots ({name})": os.path.join(args.plots, name) for name in PLOT_FILES}}
    if args.output == "-":
        raise ValueError("--output: a model file cannot go to standard output ('-'); give a file path")
    check_distinct_outputs({"--output": args.output, **plots})
    check_output(args.output, "--output", inputs=[args.data])
    if args.plots:
        if os.path.exists(args.plots) and not os.path.isdir(args.plots):
            raise ValueError(f"--plots: {args.plots} exists and is not a directory")
        parent = os.path.dirname(os.path.abspath(args.plots))
        if not os.path.isdir(args.plots) and not os.path.isdir(parent):
            raise ValueError(f"--plots: cannot create {args.plots}: directory "
                             f"{os.path.dirname(args.plots) or parent} does not exist")
        if os.path.isdir(args.plots):
            for name in PLOT_FILES:
                check_output(os.path.join(args.plots, name), "--plots",
                             inputs=[args.data, args.output])
        elif not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(f"--plots: cannot create {args.plots}: {parent} is not writable")


def print_report(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
        return
    print(f"\nTrained a {result['task']} network {'-'.join(map(str, result['layers']))} on "
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
              f"shuffled through a pool of up to {streamed['pool_rows']} rows; medians {streamed['medians']}")
    print(f"epochs run: {result['epochs_run']} ({result['stop_reason']}); seed {result['seed']} "
          "(--seed reproduces this run)")
    if result["still_improving"]:
        print(f"note: the loss was still improving at the last epoch: more epochs may help "
              f"(--epochs {2 * result['epochs_run']})")
    stopping = result["early_stopping"]
    if stopping:
        kept = (f"kept the weights of epoch {stopping['best_epoch']}" if stopping["restored_best_weights"]
                else "kept the last weights")
        print(f"early stopping on {stopping['monitor']} (patience {stopping['patience']}): {kept}")
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
