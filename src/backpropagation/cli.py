"""The ``backprop`` command: train, predict, evaluate, summarise, demo and trace from the shell.

Every subcommand has ``--help``. Bad input ends with exit code 2 and one line on stderr
(``backprop: error: ...``), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources

import numpy as np

from . import __version__, activations, optimizers, schedules
from .cli_train import print_report, run_training, spelled_columns, train
from .cli_use import command_export, command_evaluate, command_predict, command_summary, load_cli_model, reading_format
from .engines import ENGINES
from .network import NeuralNetwork
from .readers import read_table, release_memory_promptly
from .tasks import TASK_NAMES
from .training import DivergenceError

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1
EXIT_INTERRUPTED = 130  # the shell convention for a process stopped by SIGINT
EXIT_BROKEN_PIPE = 141  # likewise for SIGPIPE: what `yes | head -1` leaves in PIPESTATUS


class _StoreOnce(argparse.Action):
    """``store``, but an option given twice is an error rather than the last one winning."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = getattr(namespace, "_given", set())
        if self.dest in given:
            parser.error(f"argument {option_string}: given more than once")
        namespace._given = given | {self.dest}
        setattr(namespace, self.dest, values)


class _HelpWithDefaults(argparse.HelpFormatter):
    """Append "(default: X)" to an option's help unless the help already says, or X is empty."""

    def _get_help_string(self, action):
        text = action.help or ""
        empty = action.default is None or action.default is False or action.default is argparse.SUPPRESS \
            or (isinstance(action.default, list) and not action.default)
        shown = not empty
        if shown and "default" not in text and action.option_strings:
            default = ",".join(map(str, action.default)) if isinstance(action.default, list) else action.default
            text += f" (default: {default})"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line like every other error, repeated options are
    refused, and ``--help`` shows every default."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpWithDefaults)
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"backprop: error: {message} (see '{self.prog} --help')\n")


def _number_type(convert, minimum=None, maximum=None, *, above_minimum=False, below_maximum=False,
                 what="a number"):
    """An argparse type: ``convert(text)`` within bounds, with a message saying what is expected."""
    bounds = [f"{'>' if above_minimum else '>='} {minimum}"] if minimum is not None else []
    bounds += [f"{'<' if below_maximum else '<='} {maximum}"] if maximum is not None else []
    expected = f"{what}{' ' + ' and '.join(bounds) if bounds else ''}"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        too_high = maximum is not None and (value >= maximum if below_maximum else value > maximum)
        too_low = minimum is not None and (value <= minimum if above_minimum else value < minimum)
        if value != value or abs(value) == float("inf") or too_low or too_high:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


_positive_int = _number_type(int, 1, what="an integer")


def _memory_size(text: str) -> int:
    """A size such as ``500M``, ``4G`` or ``2GB`` (or bytes), as bytes."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned[-1:] in units and cleaned[-1:] else (cleaned, "")
    try:
        value = float(number) * units[unit]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"expected a size such as 500M or 4G, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a size above 0, got {text!r}")
    return int(value)
_count = _number_type(int, 0, what="an integer")
_positive_float = _number_type(float, 0, above_minimum=True, what="a number")
_nonnegative_float = _number_type(float, 0.0, what="a number")
_fraction = _number_type(float, 0.0, 1.0, below_maximum=True, what="a fraction")
_seed = _number_type(int, 0, 2**63 - 1, what="an integer seed")


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
    train.add_argument("data", help="CSV file with a header row, one example per row")
    _add_training_options(train)
    train.set_defaults(handler=command_train)

    predict = sub.add_parser("predict", help="predict with a trained model")
    predict.add_argument("model", help="model file written by 'backprop train'")
    predict.add_argument("data", help="CSV file with the training columns (the target may be absent)")
    predict.add_argument("--output", "-o", help="write predictions to this CSV (default: stdout)")
    predict.add_argument("--proba", action="store_true", help="add one probability column per class")
    _add_text_format_options(predict, remembered=True)
    predict.set_defaults(handler=command_predict)

    evaluate = sub.add_parser("evaluate", help="metrics of a trained model on a labelled CSV file")
    evaluate.add_argument("model", help="model file written by 'backprop train'")
    evaluate.add_argument("data", help="CSV file with the training columns and the target")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_text_format_options(evaluate, remembered=True)
    evaluate.set_defaults(handler=command_evaluate)

    summary = sub.add_parser("summary", help="architecture, parameters and preprocessing of a model")
    summary.add_argument("model", help="model file written by 'backprop train'")
    summary.set_defaults(handler=command_summary)

    demo = sub.add_parser("demo", help="train on the bundled penguins data and write a report")
    demo.add_argument("--output-dir", default="backprop-demo", help="where the model and plots go")
    demo.add_argument("--epochs", type=_positive_int, default=200, help="most epochs to train")
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (same seed, same model)")
    _add_engine_option(demo)
    demo.set_defaults(handler=command_demo)

    trace = sub.add_parser("trace", help="print one training step of backpropagation, layer by layer")
    trace.add_argument("--layers", type=_layers, default=[3, 2, 2, 1],
                       help="layer sizes including input and output")
    trace.add_argument("--activation", default="relu", type=str.lower, choices=activations.names(),
                       help="hidden activation")
    trace.add_argument("--task", default="regression", choices=list(TASK_NAMES), help="what the output means")
    trace.add_argument("--optimizer", default="sgd", type=str.lower, choices=optimizers.names(), help="update rule")
    trace.add_argument("--learning-rate", type=_positive_float, default=0.1, help="step size η")
    trace.add_argument("--seed", type=_seed, default=0, help="random seed of the weights and the sample")
    trace.add_argument("--model", help="trace a saved model instead, on one row of --data")
    trace.add_argument("--data", help="CSV file for --model")
    trace.add_argument("--row", type=_count, default=0, help="row of --data to trace (0-based)")
    _add_text_format_options(trace, remembered=True)
    trace.add_argument("--format", choices=["text", "markdown"], default="text", help="output format")
    trace.set_defaults(handler=command_trace)

    _add_explore_parser(sub)

    export = sub.add_parser("export", help="the model and its preprocessing as one ONNX file (raw columns in)")
    export.add_argument("model", help="model file written by 'backprop train'")
    export.add_argument("output", help="the .onnx file to write")
    export.set_defaults(handler=command_export)
    return parser


def _add_explore_parser(sub) -> None:
    explore = sub.add_parser("explore", help="a local page that steps and trains a small network in front of you")
    explore.add_argument("--layers", type=_layers, default=None,
                         help="layer sizes: 2 inputs (the plane), hidden widths, one output per class "
                              "(default: 2,4,3,N for a data set of N classes)")
    explore.add_argument("--dataset", default="moons", choices=["moons", "circles", "xor", "spiral", "blobs", "linear"],
                         help="2-D data set (blobs has 3 classes, the others 2)")
    explore.add_argument("--activation", default="relu", type=str.lower, choices=activations.names(),
                         help="hidden activation")
    explore.add_argument("--learning-rate", type=_positive_float, default=0.1, help="SGD step size η")
    explore.add_argument("--batch-size", type=_positive_int, default=10, help="rows per step when training")
    explore.add_argument("--seed", type=_seed, default=0, help="random seed of the data and the weights")
    explore.add_argument("--port", type=_port, default=8765, help="port on 127.0.0.1 (0: any free port)")
    explore.add_argument("--no-browser", action="store_true", help="print the address, do not open a browser")
    explore.set_defaults(handler=command_explore)


def _add_engine_option(command):
    command.add_argument("--engine", default="auto", type=str.lower, choices=list(ENGINES),
                         help="what runs the batches: numpy (the textbook reference), numba (compiled, "
                              "proven equal; pip install 'backpropagation[fast]'), auto (numba when "
                              "installed and the job is long enough to pay for loading it)")


def _delimiter(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
    text = named.get(text.lower(), text)
    if len(text) != 1 or text in '"\r\n':
        raise argparse.ArgumentTypeError(f"expected one character such as ';', '|' or tab, got {text!r}")
    return text


def _add_text_format_options(command, remembered: bool) -> None:
    """``--delimiter``, ``--decimal`` and ``--thousands``: how a CSV spells fields and numbers."""
    default = " (default: as the model was trained)" if remembered else ""
    command.add_argument("--delimiter", type=_delimiter, default=None, metavar="CHAR",
                         help="field separator: ',', ';', '|', tab, ... (default: from the header row, or an "
                              "Excel 'sep=' first line)" if not remembered else "field separator" + default)
    command.add_argument("--decimal", choices=[".", ","], default=None,
                         help="decimal mark of the numbers: ',' reads 3,46 as 3.46 (default: '.')" + default)
    command.add_argument("--thousands", choices=[",", ".", " ", "'", "none"], default=None,
                         help="digit-group separator to ignore in numbers: ',' reads 12,345 as 12345 "
                              "(default: none)" + default)
    command.add_argument("--na-values", action="append", default=None, metavar="TOKEN",
                         help="also read this cell value as missing, in every column (repeatable; "
                              "'none', '?' and '-' are missing only in columns of numbers unless given)" + default)


def _add_training_options(command):
    command.add_argument("--target", required=True, help="name of the column to predict (required)")
    command.add_argument("--task", default="auto",
                         choices=["auto", "regression", "binary", "multiclass", "classification"],
                         help="auto: text targets and whole numbers with at most 10 distinct values "
                              "are classes, other numbers a regression target; binary/multiclass/"
                              "classification force classes, regression forces numbers")
    command.add_argument("--drop", action="append", default=[], metavar="COLUMN",
                         help="ignore this column (repeatable)")
    command.add_argument("--text", action="append", default=None, metavar="COLUMN",
                         help="read this column as categories whatever its cells (codes such as 01, zip codes; "
                              "repeatable)")
    command.add_argument("--numeric", action="append", default=None, metavar="COLUMN",
                         help="read this column as numbers; its cells that hold text are missing (repeatable)")
    command.add_argument("--max-categories", type=_number_type(int, 2, 10**6, what="a whole number of at least 2"),
                         default=None, metavar="K",
                         help="a text column becomes at most K indicator columns: its K-1 most frequent "
                              "categories and one '(other)' level for the rest (default: one per category)")
    command.add_argument("--stream", action="store_true",
                         help="train on the file block by block, never whole in memory (tables bigger than memory)")
    command.add_argument("--memory", type=_memory_size, default=None, metavar="SIZE",
                         help="memory the command may use (e.g. 4G, 500M); a file that would need more trains "
                              "streamed (default: half the machine's memory)")
    command.add_argument("--shuffle-rows", type=_positive_int, default=200_000, metavar="N",
                         help="with --stream: rows of the pool whose rows are shuffled together (default 200000)")
    command.add_argument("--class-weight", choices=["balanced"], default=None,
                         help="classification: weigh each class by n_rows / (n_classes * its rows), so that a rare "
                              "class counts as much as a common one (default: every row alike)")
    _add_text_format_options(command, remembered=False)
    command.add_argument("--layers", type=_layers, default=[32, 16], help="hidden widths, comma-separated")
    command.add_argument("--activation", default="relu", type=str.lower, choices=activations.names(),
                         help="hidden activation")
    command.add_argument("--optimizer", default="adam", type=str.lower, choices=optimizers.names(), help="update rule")
    command.add_argument("--learning-rate", type=_positive_float, default=None,
                         help="step size; default 0.001 for adam/adamw/rmsprop, 0.01 otherwise")
    command.add_argument("--epochs", type=_positive_int, default=100, help="most epochs to train")
    command.add_argument("--batch-size", type=_positive_int, default=32, help="rows per gradient step")
    command.add_argument("--validation-split", type=_fraction, default=0.2,
                         help="fraction of rows held out (stratified for classes) for early stopping "
                              "and the report; 0 trains on every row")
    command.add_argument("--early-stopping", type=_count, default=None, metavar="PATIENCE",
                         help="stop after PATIENCE epochs without a better validation loss and keep "
                              "the best epoch's weights; 0 turns it off (default: 10 when there is a "
                              "validation split, else off)")
    command.add_argument("--lr-schedule", default=None, type=str.lower, choices=schedules.names() + ["plateau"],
                         help="learning-rate schedule (default: constant)")
    command.add_argument("--l2", type=_nonnegative_float, default=0.0, help="L2 penalty on the weights")
    command.add_argument("--seed", type=_seed, default=None,
                         help="random seed; the same seed gives the same model (default: random)")
    command.add_argument("--float32", action="store_true", help="compute in float32")
    _add_engine_option(command)
    command.add_argument("--output", "-o", default="model.npz", help="model file to write")
    command.add_argument("--plots", metavar="DIR", help="write loss curve and prediction plots here")
    command.add_argument("--json", action="store_true", help="print the report as JSON (no progress)")
    command.add_argument("--quiet", "-q", action="store_true", help="no progress output while training")
    command.add_argument("--distributed", action="store_true",
                         help="data-parallel over MPI: run as 'mpiexec -n N backprop train ...'; each "
                              "process reads 1/N of the rows, rank 0 writes the model and the report")


def command_train(args) -> int:
    """``backprop train``: see :mod:`backpropagation.cli_train`."""
    return EXIT_INTERRUPTED if run_training(args)["interrupted"] else 0


def main(argv=None) -> int:
    """Entry point of ``backprop``; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("train", "predict", "evaluate"):
            release_memory_promptly()      # large tables: parse peaks are not kept
        return args.handler(args)
    except BrokenPipeError:  # `backprop predict ... | head -1`: the reader left, as Unix tools do
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit flush
        except (OSError, ValueError):
            pass
        return EXIT_BROKEN_PIPE
    except (Exception, KeyboardInterrupt) as error:
        if getattr(args, "distributed", False):
            return _fail_on_every_rank(error)
        failure = _failure(error)
        if failure is None:
            raise
        print(failure[1], file=sys.stderr)
        return failure[0]


def _failure(error: BaseException) -> tuple[int, str] | None:
    """The exit code and one-line message for an error the command expects; None for a bug."""
    if isinstance(error, (ValueError, TypeError, OSError, ImportError)):
        return EXIT_BAD_INPUT, f"backprop: error: {error}"
    if isinstance(error, MemoryError):
        return EXIT_BAD_INPUT, (f"backprop: error: out of memory: {error or 'the data do not fit in this machine'}"
                                "; nothing was written")
    if isinstance(error, DivergenceError):
        return EXIT_DIVERGED, f"backprop: error: {error} No model was written."
    if isinstance(error, KeyboardInterrupt):  # outside training, or a second Ctrl-C during it
        return EXIT_INTERRUPTED, "backprop: interrupted; nothing was written"
    return None


def _fail_on_every_rank(error: BaseException) -> int:
    """``--distributed``: an error every rank raised alike is printed once (by rank 0); an
    error on one rank alone stops every rank (the others would wait for it forever)."""
    from .distributed import mpi, on_every_rank, stop_every_rank

    comm = mpi().COMM_WORLD
    code, message = _failure(error) or (1, f"backprop: error: {type(error).__name__}: {error}")
    if not on_every_rank(error):
        stop_every_rank(comm, error, message, code)
    if comm.Get_rank() == 0:
        print(message, file=sys.stderr)
    return code


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
        "--engine", args.engine,
    ])
    options.plots = plots
    result = train(options, read_table(options.data, text_columns=spelled_columns(options)))
    print_report(result, as_json=False)
    model = NeuralNetwork.load(options.output)
    print("\n" + model.summary())
    return 0


def _instructive_trace(model, task: str, rng, tries: int = 100):
    """Trace a random sample on which every layer gets a gradient (else the last one tried).

    With ReLU a random input often switches a whole hidden layer off, and a step whose
    gradients are all zero teaches nothing; samples are drawn from ``rng`` (so a seed still
    gives one trace) until every layer's ∂L/∂W has a nonzero entry.
    """
    sizes = model.layer_sizes
    for _ in range(tries):
        x = rng.normal(size=(1, sizes[0])).round(2)
        y = rng.normal(size=(1, sizes[-1])).round(2) if task == "regression" else \
            rng.integers(0, max(sizes[-1], 2), size=1)
        trace = model.trace(x, y)
        if all(np.any(step.dW != 0) for step in trace.layers):
            break
    return trace


def _port(text: str) -> int:
    port = _count(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return port


def command_explore(args) -> int:
    """``backprop explore``: serve the explorer page on 127.0.0.1 until Ctrl-C."""
    from .explore import Session, serve

    session = Session(args.layers, args.dataset, args.activation, args.learning_rate, args.batch_size, args.seed)
    try:
        serve(session, args.port, open_browser=not args.no_browser)
    except OSError as error:
        raise OSError(f"--port {args.port}: cannot listen on 127.0.0.1:{args.port} ({error.strerror}); "
                      "choose another port, or --port 0 for any free one") from None
    return 0


def command_trace(args) -> int:
    """``backprop trace``: one training step of a small random network (or a saved model)."""
    given = getattr(args, "_given", set())
    if args.model:
        clash = [f"--{name.replace('_', '-')}" for name in ("layers", "activation", "task", "optimizer",
                                                            "learning_rate", "seed") if name in given]
        if clash:
            raise ValueError(f"{', '.join(clash)}: a saved model (--model) has its own; give either --model "
                             "with --data or a network to build, not both")
        if not args.data:
            raise ValueError("--model needs --data: the CSV file holding the row to trace")
        model, pre = load_cli_model(args.model)
        table = read_table(args.data, text_columns=pre.spelled_columns, fmt=reading_format(args, model))
        if not 0 <= args.row < len(table):
            raise ValueError(f"--row: {args.data} has rows 0..{len(table) - 1}, got {args.row}")
        X, y, _ = pre.transform(table.subset([args.row]), with_target=True, dtype=model.dtype)
        trace = model.trace(X, pre.scale_target(y))
    else:
        unused = [f"--{name}" for name in ("data", "row", "delimiter", "decimal", "thousands") if name in given]
        if unused:
            raise ValueError(f"{', '.join(unused)}: only used with --model (tracing a row of a file through a "
                             "saved model); without --model the trace draws a random sample")
        sizes = args.layers
        if len(sizes) < 2:
            raise ValueError(f"--layers: expected at least an input and an output size, got {sizes}")
        model = NeuralNetwork(sizes, task=args.task, hidden_activation=args.activation,
                              optimizer=args.optimizer, learning_rate=args.learning_rate,
                              random_state=args.seed)
        trace = _instructive_trace(model, args.task, np.random.default_rng(args.seed))
    print(trace.to_text(args.format), end="")
    return 0
