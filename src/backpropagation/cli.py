"""The ``backprop`` command: train, predict, evaluate, summarise, demo and trace from the shell.

Every subcommand has ``--help``. Bad input ends with exit code 2 and one line on stderr
(``backprop: error: ...``), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib import resources

import numpy as np

from . import __version__, metrics
from .callbacks import EarlyStopping
from .data import validation_split
from .distributed import MPISync, collectively, mpi
from .network import DivergenceError, NeuralNetwork
from .tabular import TabularPreprocessor, Table, TransformReport, is_missing, read_csv

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1
EXIT_INTERRUPTED = 130  # the shell convention for a process stopped by SIGINT


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line like every other error."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"backprop: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _layers(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated widths such as 64,32, got {text!r}") from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``backprop`` and its subcommands."""
    parser = _Parser(prog="backprop", description="Train and use neural networks written with "
                     "hand-made backpropagation, from CSV files.")
    parser.add_argument("--version", action="version", version=f"backpropagation {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a network on a CSV file")
    train.add_argument("data", help="CSV file with a header row")
    _add_training_options(train)
    train.set_defaults(handler=command_train)

    predict = sub.add_parser("predict", help="predict with a trained model")
    predict.add_argument("model", help="model file written by 'backprop train'")
    predict.add_argument("data", help="CSV file with the training columns (the target may be absent)")
    predict.add_argument("--output", "-o", help="write predictions to this CSV (default: stdout)")
    predict.add_argument("--proba", action="store_true", help="add one probability column per class")
    predict.set_defaults(handler=command_predict)

    evaluate = sub.add_parser("evaluate", help="metrics of a trained model on a labelled CSV file")
    evaluate.add_argument("model")
    evaluate.add_argument("data")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.set_defaults(handler=command_evaluate)

    summary = sub.add_parser("summary", help="architecture, parameters and preprocessing of a model")
    summary.add_argument("model")
    summary.set_defaults(handler=command_summary)

    demo = sub.add_parser("demo", help="train on the bundled penguins data and write a report")
    demo.add_argument("--output-dir", default="backprop-demo", help="where the model and plots go")
    demo.add_argument("--epochs", type=_positive_int, default=200)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=command_demo)

    trace = sub.add_parser("trace", help="print one training step of backpropagation, layer by layer")
    trace.add_argument("--layers", type=_layers, default=[3, 2, 2, 1],
                       help="layer sizes including input and output (default 3,2,2,1)")
    trace.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    trace.add_argument("--task", default="regression",
                       choices=["regression", "binary", "multiclass", "classification"])
    trace.add_argument("--optimizer", default="sgd")
    trace.add_argument("--learning-rate", type=float, default=0.1)
    trace.add_argument("--seed", type=int, default=0)
    trace.add_argument("--model", help="trace a saved model instead, on one row of --data")
    trace.add_argument("--data", help="CSV file for --model")
    trace.add_argument("--row", type=int, default=0, help="row of --data to trace (0-based, default 0)")
    trace.add_argument("--format", choices=["text", "markdown"], default="text")
    trace.set_defaults(handler=command_trace)
    return parser


def _add_training_options(command):
    command.add_argument("--target", required=True, help="name of the column to predict")
    command.add_argument("--task", default="auto",
                         choices=["auto", "regression", "binary", "multiclass", "classification"])
    command.add_argument("--drop", action="append", default=[], metavar="COLUMN",
                         help="ignore this column (repeatable)")
    command.add_argument("--layers", type=_layers, default=[32, 16], help="hidden widths (default 32,16)")
    command.add_argument("--activation", default="relu")
    command.add_argument("--optimizer", default="adam")
    command.add_argument("--learning-rate", type=float, default=None,
                         help="default 0.001 for adam/adamw/rmsprop, 0.01 otherwise")
    command.add_argument("--epochs", type=_positive_int, default=100)
    command.add_argument("--batch-size", type=_positive_int, default=32)
    command.add_argument("--validation-split", type=float, default=0.2)
    command.add_argument("--early-stopping", type=int, default=0, metavar="PATIENCE",
                         help="stop after PATIENCE epochs without improvement (0: off)")
    command.add_argument("--lr-schedule", default=None,
                         help="step, exponential, inverse_time, cosine or plateau")
    command.add_argument("--l2", type=float, default=0.0)
    command.add_argument("--seed", type=int, default=None)
    command.add_argument("--float32", action="store_true", help="compute in float32")
    command.add_argument("--output", "-o", default="model.npz", help="model file (default model.npz)")
    command.add_argument("--plots", metavar="DIR", help="write loss curve and prediction plots here")
    command.add_argument("--json", action="store_true", help="print the report as JSON (no progress bar)")
    command.add_argument("--distributed", action="store_true",
                         help="data-parallel over MPI: run as 'mpiexec -n N backprop train ...'; each "
                              "process reads 1/N of the rows, rank 0 writes the model and the report")


def main(argv=None) -> int:
    """Entry point of ``backprop``; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, TypeError, OSError, ImportError) as error:
        print(f"backprop: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DivergenceError as error:
        print(f"backprop: error: {error} No model was written.", file=sys.stderr)
        return EXIT_DIVERGED
    except KeyboardInterrupt:  # outside training, or a second Ctrl-C during it
        print("backprop: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED


# ---------------------------------------------------------------------- train
def train(args, table: Table, comm=None) -> dict:
    """Preprocess, split, train, save and plot; return the report as a dict.

    With an MPI communicator, ``table`` is this rank's slice of the file: preprocessing
    statistics and training are shared over ranks, and only rank 0 writes files.
    """
    step = (lambda work: work()) if comm is None else (lambda work: collectively(comm, work))
    chief = comm is None or comm.Get_rank() == 0
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    pre = TabularPreprocessor(args.target, args.task, args.drop)
    target = [value.strip() for value in table.column(args.target)]
    labelled = table.subset([i for i, value in enumerate(target) if not is_missing(value)])
    dropped = len(table.rows) - len(labelled.rows)
    if not labelled.rows:
        raise ValueError(f"{table.source}: the target column {args.target!r} has no values")
    stratify = pre.infer_target_kind([v.strip() for v in labelled.column(args.target)], labelled) != "numeric"
    if args.validation_split == 0:
        train_rows, val_rows = np.arange(len(labelled.rows)), np.array([], dtype=int)
    else:
        labels = np.array([v.strip() for v in labelled.column(args.target)]) if stratify else None
        train_rows, val_rows = validation_split(len(labelled.rows), args.validation_split, rng, labels)
    train_table, val_table = labelled.subset(train_rows), labelled.subset(val_rows)
    pre.fit(train_table, comm)
    dtype = np.float32 if args.float32 else np.float64
    X, y, report = step(lambda: pre.transform(train_table, with_target=True, dtype=dtype))
    if comm is not None:
        report = TransformReport.combined(comm.allgather(report))
    X_val, y_val = step(lambda: pre.transform(val_table, with_target=True, dtype=dtype)[:2]
                        if len(val_rows) else (None, None))

    task = pre.resolved_task
    if task == "regression":
        n_out = 1
    else:
        n_classes = len(np.unique(y) if comm is None else MPISync.union_of_labels(comm, y))
        n_out = 1 if n_classes == 2 and task in ("classification", "binary") else n_classes
    learning_rate = args.learning_rate
    if learning_rate is None:
        learning_rate = 1e-3 if args.optimizer.lower() in ("adam", "adamw", "rmsprop") else 1e-2
    model = NeuralNetwork([X.shape[1], *args.layers, n_out], task=task, hidden_activation=args.activation,
                          optimizer=args.optimizer, learning_rate=learning_rate, l2=args.l2,
                          dtype=dtype, random_state=args.seed)
    model.metadata["preprocessing"] = pre.to_dict()
    model.metadata["feature_names"] = pre.feature_names
    initial = model.parameters.copy()
    history = model.fit(
        X, pre.scale_target(y), epochs=args.epochs, batch_size=args.batch_size,
        verbose=0 if args.json else 1,
        validation_data=None if X_val is None else (X_val, pre.scale_target(y_val)),
        early_stopping=EarlyStopping(patience=args.early_stopping) if args.early_stopping > 0 else False,
        lr_schedule=args.lr_schedule, comm=comm,
    )
    seconds = time.perf_counter() - started
    if chief:
        model.save(args.output)
    counts = [len(labelled.rows), len(train_rows), len(val_rows), dropped]
    if comm is not None:
        counts = [int(total) for total in comm.allreduce(np.array(counts))]
    result = {
        "data": table.source, "task": model.head.name, "rows_used": counts[0],
        "rows_train": counts[1], "rows_validation": counts[2],
        "rows_dropped_missing_target": counts[3], "features": X.shape[1],
        "layers": list(model.layer_sizes), "epochs_run": len(history.epoch),
        "stop_reason": history.stop_reason, "seconds": round(seconds, 3),
        "train": _metrics(model, pre, X, y, comm),
        "validation": None if not counts[2] else _metrics(model, pre, X_val, y_val, comm),
        "preprocessing": report.lines(), "warnings": pre.warnings,
        "model": os.fspath(args.output), "plots": [], "interrupted": history.interrupted,
        "processes": 1 if comm is None else comm.Get_size(),
    }
    if args.plots and chief:   # (under MPI, prediction plots show rank 0's rows)
        result["plots"] = _write_plots(model, pre, initial, args.plots, X, y, X_val, y_val)
    return result


def _metrics(model, pre, X, y, comm=None) -> dict:
    """Metrics in the target's own units: accuracy and log-loss, or MSE, MAE and R².

    Under MPI the rows are this rank's; targets and predictions are gathered from all ranks
    (R² and log-loss are not means of per-rank values).
    """
    def everywhere(local):
        return local if comm is None else np.concatenate(comm.allgather(local))

    y = everywhere(np.asarray([] if y is None else y))
    if model.head.is_classifier:
        proba = everywhere(model.predict_proba(X).astype(np.float64) if X is not None else
                           np.empty((0, len(model.classes_))))
        one_hot = (np.asarray(y)[:, None] == model.classes_[None, :]).astype(np.float64)
        return {"accuracy": metrics.accuracy(y, model.classes_[proba.argmax(axis=1)]),
                "log_loss": metrics.log_loss(one_hot, proba)}
    predicted = everywhere(pre.unscale_target(model.predict(X).astype(np.float64)) if X is not None
                           else np.empty(0))
    return {"mse": metrics.mean_squared_error(y, predicted), "mae": metrics.mean_absolute_error(y, predicted),
            "r2": metrics.r2_score(y, predicted)}


def _write_plots(model, pre, initial, directory, X, y, X_val, y_val) -> list[str]:
    from . import plotting

    os.makedirs(directory, exist_ok=True)
    written = [os.path.join(directory, "loss_curve.png")]
    plotting.plot_history(model.history_, written[0])
    X_show, y_show = (X, y) if X_val is None else (X_val, y_val)
    before = plotting.predictions_with(model, initial, X_show)
    path = os.path.join(directory, "predictions.png")
    if model.head.is_classifier:
        plotting.plot_predictions(model, X_show, y_show, before=before, path=path)
    else:
        plotting.plot_predictions(_UnscaledRegressor(model, pre), X_show, y_show,
                                  before=pre.unscale_target(before), path=path)
    written.append(path)
    if X.shape[1] == 2 and model.head.is_classifier:
        written.append(os.path.join(directory, "decision_boundary.png"))
        plotting.plot_decision_boundary(model, X, y, written[-1])
    return written


class _UnscaledRegressor:
    """A regression model seen through the target scaling, for plots in the target's units."""

    def __init__(self, model, pre):
        self.model, self.pre, self.head = model, pre, model.head

    def predict(self, X):
        return self.pre.unscale_target(self.model.predict(X))


def command_train(args) -> int:
    """``backprop train`` (under ``mpiexec`` with ``--distributed``, on every rank)."""
    if not args.distributed:
        result = train(args, read_csv(args.data))
    else:
        comm = mpi().COMM_WORLD
        table = collectively(comm, lambda: read_csv(args.data, part=(comm.Get_rank(), comm.Get_size())))
        result = train(args, table, comm)
    if not args.distributed or comm.Get_rank() == 0:
        _print_report(result, args.json)
    return EXIT_INTERRUPTED if result["interrupted"] else 0


def _print_report(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
        return
    print(f"\nTrained a {result['task']} network {'-'.join(map(str, result['layers']))} on "
          f"{result['rows_used']} rows of {result['data']} ({result['rows_train']} training, "
          f"{result['rows_validation']} validation) in {result['seconds']:.1f}s")
    print(f"epochs run: {result['epochs_run']} ({result['stop_reason']})")
    for line in result["preprocessing"]:
        print(f"preprocessing (training rows): {line}")
    for line in result["warnings"]:
        print(f"warning: {line}")
    if result["rows_dropped_missing_target"]:
        print(f"preprocessing: dropped {result['rows_dropped_missing_target']} row(s) with a missing target")
    for part in ("train", "validation"):
        if result[part]:
            print(f"{part + ':':12s}" + "  ".join(f"{k} {v:.4f}" for k, v in result[part].items()))
    print(f"model written to {result['model']}")
    if result["interrupted"]:
        print("training was interrupted (Ctrl-C): the model holds the weights after the last complete "
              "batch, or the best epoch's under early stopping")
    for path in result["plots"]:
        print(f"plot written to {path}")


# ---------------------------------------------------------------------- use a model
def _load(path) -> tuple[NeuralNetwork, TabularPreprocessor]:
    model = NeuralNetwork.load(path)
    if "preprocessing" not in model.metadata:
        raise ValueError(f"{path}: this model was not trained by 'backprop train' (no preprocessing stored)")
    return model, TabularPreprocessor.from_dict(model.metadata["preprocessing"])


def command_predict(args) -> int:
    """``backprop predict``: the input rows plus prediction (and probability) columns."""
    model, pre = _load(args.model)
    table = read_csv(args.data)
    X, _, report = pre.transform(table, with_target=False, dtype=model.dtype)
    for line in report.lines():
        print(f"backprop: note: {line}", file=sys.stderr)
    header = table.header + [f"predicted_{pre.target}"]
    if model.head.is_classifier:
        columns = [model.predict(X).tolist()]
        if args.proba:
            proba = model.predict_proba(X)
            header += [f"proba_{label}" for label in model.classes_.tolist()]
            columns += [proba[:, k].tolist() for k in range(proba.shape[1])]
    else:
        columns = [pre.unscale_target(model.predict(X).astype(np.float64)).tolist()]
    import csv

    handle = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    try:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i, row in enumerate(table.rows):
            writer.writerow(row + [column[i] for column in columns])
    finally:
        if args.output:
            handle.close()
    return 0


def command_evaluate(args) -> int:
    """``backprop evaluate``: metrics (and a confusion matrix for classifiers)."""
    model, pre = _load(args.model)
    table = read_csv(args.data)
    X, y, report = pre.transform(table, with_target=True, dtype=model.dtype)
    result = {"rows": len(y), **_metrics(model, pre, X, y), "preprocessing": report.lines()}
    if model.head.is_classifier:
        result["classes"] = model.classes_.tolist()
        result["confusion_matrix"] = metrics.confusion_matrix(y, model.predict(X), model.classes_).tolist()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['rows']} rows of {args.data}")
    for key in ("accuracy", "log_loss", "mse", "mae", "r2"):
        if key in result:
            print(f"{key:10s}{result[key]:.4f}")
    if "confusion_matrix" in result:
        names = [str(c) for c in result["classes"]]
        width = max(8, *map(len, names)) + 2
        print("\nconfusion matrix (rows: actual, columns: predicted)")
        print(" " * width + "".join(n.rjust(width) for n in names))
        for name, row in zip(names, result["confusion_matrix"]):
            print(name.rjust(width) + "".join(str(v).rjust(width) for v in row))
    for line in report.lines():
        print(f"note: {line}")
    return 0


def command_summary(args) -> int:
    """``backprop summary``."""
    model, pre = _load(args.model)
    print(model.summary())
    print("\nPreprocessing (fitted on the training rows):")
    print(pre.describe())
    return 0


# ---------------------------------------------------------------------- demo and trace
def demo_data_path() -> str:
    """Path of the bundled penguins CSV."""
    return str(resources.files("backpropagation") / "datasets" / "penguins.csv")


def command_demo(args) -> int:
    """``backprop demo``: train on the bundled penguins table, write model and plots."""
    os.makedirs(args.output_dir, exist_ok=True)
    print("Demo: predict penguin species from bill, flipper, mass, island and sex "
          "(Palmer penguins, 344 rows, with missing values)\n")
    try:
        import matplotlib  # noqa: F401
        plots = os.path.join(args.output_dir, "plots")
    except ImportError:
        plots = None
        print("(matplotlib is not installed: no plots; pip install \"backpropagation[plot]\")")
    options = build_parser().parse_args([
        "train", demo_data_path(), "--target", "species", "--layers", "16,8", "--epochs", str(args.epochs),
        "--batch-size", "16", "--learning-rate", "0.01", "--early-stopping", "20",
        "--seed", str(args.seed), "--output", os.path.join(args.output_dir, "penguins_model.npz"),
    ])
    options.plots = plots
    result = train(options, read_csv(options.data))
    _print_report(result, as_json=False)
    model = NeuralNetwork.load(options.output)
    print("\n" + model.summary())
    return 0


def command_trace(args) -> int:
    """``backprop trace``: one training step of a small random network (or a saved model)."""
    if args.model:
        if not args.data:
            raise ValueError("--model needs --data: the CSV file holding the row to trace")
        model, pre = _load(args.model)
        table = read_csv(args.data)
        if not 0 <= args.row < len(table.rows):
            raise ValueError(f"--row: {args.data} has rows 0..{len(table.rows) - 1}, got {args.row}")
        X, y, _ = pre.transform(table.subset([args.row]), with_target=True, dtype=model.dtype)
        trace = model.trace(X, pre.scale_target(y))
    else:
        sizes = args.layers
        if len(sizes) < 2:
            raise ValueError(f"--layers: expected at least an input and an output size, got {sizes}")
        rng = np.random.default_rng(args.seed)
        model = NeuralNetwork(sizes, task=args.task, hidden_activation=args.activation,
                              optimizer=args.optimizer, learning_rate=args.learning_rate,
                              random_state=args.seed)
        x = rng.normal(size=(1, sizes[0])).round(2)
        if args.task == "regression":
            y = rng.normal(size=(1, sizes[-1])).round(2)
        else:
            y = rng.integers(0, max(sizes[-1], 2), size=1)
        trace = model.trace(x, y)
    print(trace.to_text(args.format), end="")
    return 0
