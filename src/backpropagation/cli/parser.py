"""The ``backprop`` command's options: the parser of every subcommand, with ``--help`` for each.

Usage errors end with exit code 2 and one line (``backprop: error: ...``); an option given twice is
refused rather than the last one winning; every default is shown in ``--help``. The commands
themselves live in the other modules of :mod:`backpropagation.cli`.
"""

from __future__ import annotations

import argparse

from .. import __version__
from ..engines import ENGINES
from ..nn import activations, optimizers, schedules
from ..nn.tasks import TASK_NAMES
from ..training import table_defaults as defaults
from . import option_types as opt

EXIT_BAD_INPUT = 2
#: What a table argument may be.
TABLE = "a table file (CSV, compressed CSV, Parquet, Arrow/Feather; - for standard input)"


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``backprop`` and its subcommands."""
    parser = _Parser(prog="backprop", description="Train and use neural networks written with "
                     "hand-made backpropagation, from table files (CSV, Parquet, Arrow).")
    parser.add_argument("--version", action="version", version=f"backpropagation {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a network on a table file")
    train.add_argument("data", help=TABLE + " with a header row, one example per row")
    _add_training_options(train)

    predict = sub.add_parser("predict", help="predict with a trained model")
    predict.add_argument("model", help="model file written by 'backprop train'")
    predict.add_argument("data", help=TABLE + " with the training columns (the target may be absent)")
    predict.add_argument("--output", "-o", help="write predictions to this CSV (default: stdout)")
    predict.add_argument("--proba", action="store_true", help="add one probability column per class")
    _add_text_format_options(predict, remembered=True)

    evaluate = sub.add_parser("evaluate", help="metrics of a trained model on a labelled table")
    evaluate.add_argument("model", help="model file written by 'backprop train'")
    evaluate.add_argument("data", help=TABLE + " with the training columns and the target")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_text_format_options(evaluate, remembered=True)

    summary = sub.add_parser("summary", help="architecture, parameters and preprocessing of a model")
    summary.add_argument("model", help="model file written by 'backprop train'")

    demo = sub.add_parser("demo", help="train on the bundled penguins data and write a report")
    demo.add_argument("--output-dir", default="backprop-demo", help="where the model and plots go")
    demo.add_argument("--epochs", type=opt.positive_int, default=200, help="most epochs to train")
    demo.add_argument("--seed", type=opt.seed, default=0, help="random seed (same seed, same model)")
    _add_engine_option(demo)

    _add_trace_parser(sub)

    _add_explore_parser(sub)
    _add_explain_parsers(sub)

    export = sub.add_parser("export", help="the model and its preprocessing as one ONNX file (raw columns in)")
    export.add_argument("model", help="model file written by 'backprop train'")
    export.add_argument("output", help="the .onnx file to write")
    export.add_argument("--data", metavar="FILE", help="also check the graph against predict on this table's rows "
                                                       "(the training file's rows are checked when it is still there)")
    return parser


def _add_trace_parser(sub) -> None:
    trace = sub.add_parser("trace", help="print one training step of backpropagation, layer by layer")
    trace.add_argument("--layers", type=opt.layers, default=[3, 2, 2, 1],
                       help="layer sizes including input and output")
    trace.add_argument("--activation", default="relu", type=opt.choice_name, choices=activations.names(),
                       help="hidden activation")
    trace.add_argument("--task", default="regression", type=opt.choice_name, choices=list(TASK_NAMES),
                       help="what the output means")
    trace.add_argument("--optimizer", default="sgd", type=opt.choice_name, choices=optimizers.names(),
                       help="update rule")
    trace.add_argument("--learning-rate", type=opt.positive_float, default=0.1, help="step size η")
    trace.add_argument("--seed", type=opt.seed, default=0, help="random seed of the weights and the sample")
    trace.add_argument("--model", help="trace a saved model instead, on one row of --data")
    trace.add_argument("--data", help=TABLE + " holding the row to trace (with --model)")
    trace.add_argument("--row", type=opt.count, default=0, help="row of --data to trace (0-based)")
    _add_text_format_options(trace, remembered=True)
    trace.add_argument("--format", type=opt.choice_name, choices=["text", "markdown"], default="text",
                       help="output format")
    trace.add_argument("--unit", type=opt.unit, metavar="LAYER:UNIT",
                       help="print one unit's chain instead (e.g. 1:2, both from 1): its sums with every product, "
                            "its δ, its weights' gradients and their update")


def _add_explain_parsers(sub) -> None:
    explain = sub.add_parser("explain", help="which columns a trained model relies on (importance per column)")
    explain.add_argument("model", help="model file written by 'backprop train'")
    explain.add_argument("data", help=TABLE + " with the training columns (and the target, for permutation)")
    explain.add_argument("--method", type=opt.choice_name, choices=["permutation", "gradient"], default="permutation",
                         help="permutation: the metric's drop when a column is shuffled (needs the target); "
                              "gradient: mean |x * dy/dx| from one more step of the backward pass")
    explain.add_argument("--repeats", type=opt.positive_int, default=5, help="shuffles per column (permutation)")
    explain.add_argument("--metric", type=opt.choice_name,
                         choices=["accuracy", "balanced_accuracy", "roc_auc", "average_precision", "log_loss",
                                  "r2", "rmse"],
                         help="what a shuffle's drop is measured in (permutation; default accuracy for classes, R² "
                              "for numbers; on an imbalanced table accuracy barely moves: use balanced_accuracy or "
                              "roc_auc)")
    explain.add_argument("--max-rows", type=opt.positive_int, default=20_000, metavar="N",
                         help="use a random N rows of a larger table")
    explain.add_argument("--seed", type=opt.seed, default=0, help="seed of the shuffles and of the rows used")
    explain.add_argument("--plot", metavar="FILE", help="write a bar chart (PNG) of the importances")
    explain.add_argument("--json", action="store_true", help="print the ranking as JSON")
    _add_text_format_options(explain, remembered=True)

    lr_find = sub.add_parser("lr-find", help="learning-rate range test: a rate to train with")
    lr_find.add_argument("data", help=TABLE + " with a header row, one example per row")
    _add_table_options(lr_find)
    _add_network_options(lr_find)
    lr_find.add_argument("--start", type=opt.positive_float, default=1e-7, help="first learning rate")
    lr_find.add_argument("--end", type=opt.positive_float, default=10.0, help="last learning rate")
    lr_find.add_argument("--steps", type=opt.number_type(int, 2, what="an integer"), default=None,
                         help="steps from --start to --end (default: one pass over the training rows, at least 100)")
    lr_find.add_argument("--plot", metavar="FILE", help="write the loss-against-rate plot (PNG)")
    lr_find.add_argument("--json", action="store_true", help="print rates, losses and the suggestion as JSON")


def _add_explore_parser(sub) -> None:
    explore = sub.add_parser("explore", help="a local page that steps and trains a small network in front of you")
    explore.add_argument("--layers", type=opt.layers, default=None,
                         help="layer sizes: 2 inputs (the plane), hidden widths, one output per class "
                              "(default: 2,4,3,N for a data set of N classes)")
    explore.add_argument("--dataset", default="moons", type=opt.choice_name,
                         choices=["moons", "circles", "xor", "spiral", "blobs", "linear"],
                         help="2-D data set (blobs has 3 classes, the others 2)")
    explore.add_argument("--activation", default="relu", type=opt.choice_name, choices=activations.names(),
                         help="hidden activation")
    explore.add_argument("--learning-rate", type=opt.positive_float, default=0.1, help="SGD step size η")
    explore.add_argument("--batch-size", type=opt.positive_int, default=10, help="rows per step when training")
    explore.add_argument("--seed", type=opt.seed, default=0, help="random seed of the data and the weights")
    explore.add_argument("--port", type=opt.port, default=8765, help="port on 127.0.0.1 (0: any free port)")
    explore.add_argument("--no-browser", action="store_true", help="print the address, do not open a browser")


def _add_engine_option(command):
    command.add_argument("--engine", default="auto", type=opt.choice_name, choices=list(ENGINES),
                         help="what runs the batches: numpy (the textbook reference), numba (compiled, "
                              "proven equal; pip install 'backpropagation[fast]'), auto (numba when "
                              "installed and the job is long enough to pay for loading it)")


def _add_text_format_options(command, remembered: bool) -> None:
    """``--delimiter``, ``--decimal``, ``--thousands`` and ``--na-values``: how a CSV spells fields,
    numbers and gaps (a trained model remembers how its training file was read)."""
    def default(plain: str) -> str:
        return " (default: as the model was trained)" if remembered else f" (default: {plain})"

    command.add_argument("--delimiter", type=opt.delimiter, default=None, metavar="CHAR",
                         help="field separator: ',', ';', '|', tab, ..." +
                              default("from the header row, or an Excel 'sep=' first line"))
    command.add_argument("--decimal", choices=[".", ","], default=None, metavar="{'.',','}",
                         help="decimal mark of the numbers: ',' reads 3,46 as 3.46" + default("'.'"))
    command.add_argument("--thousands", choices=[",", ".", " ", "'", "none"], default=None,
                         metavar="{',','.',' ',\"'\",none}",
                         help="digit-group separator to ignore in numbers: ',' reads 12,345 as 12345" +
                              default("none"))
    command.add_argument("--na-values", action="append", default=None, metavar="TOKEN",
                         help="also read this cell value as missing, in every column, in any letter case "
                              "(repeatable; 'none', '?' and '-' are missing unless they are categories)" +
                              default("NA, N/A, NaN, null and empty cells"))
    command.add_argument("--numeric-header", action="store_true",
                         help="the first row names the columns even where every name is a number, as years can "
                              "(without it, such a row is data and the file is refused)" +
                              (" (remembered from training)" if remembered else ""))


def _add_training_options(command):
    _add_table_options(command)
    command.add_argument("--stream", action="store_true",
                         help="train on the file block by block, never whole in memory (tables bigger than memory)")
    command.add_argument("--memory", type=opt.memory_size, default=None, metavar="SIZE",
                         help="memory the command may use (e.g. 4G, 500M); a file that would need more trains "
                              "streamed (default: half the machine's memory)")
    command.add_argument("--shuffle-rows", type=opt.positive_int, default=200_000, metavar="N",
                         help="with --stream: rows of the pool whose rows are shuffled together (default 200000)")
    command.add_argument("--shuffle-once", nargs="?", const="", default=None, metavar="COPY",
                         help="first write a copy of the file with its rows shuffled (bounded memory: one read, "
                              "temporary buckets, one write) and train on it; COPY defaults to NAME.shuffled.EXT "
                              "beside the file. For a file sorted or grouped by its target")
    _add_network_options(command)
    command.add_argument("--epochs", type=opt.positive_int, default=defaults.EPOCHS, help="most epochs to train")
    command.add_argument("--early-stopping", type=opt.count, default=None, metavar="PATIENCE",
                         help="stop after PATIENCE epochs without a better validation loss (one lower by "
                              "--min-delta) and keep the best epoch's weights; 0 turns it off (default: 10 when "
                              "there is a validation split, else off)")
    command.add_argument("--min-delta", type=opt.nonnegative_float, default=defaults.MIN_DELTA, metavar="D",
                         help="least fall of the validation loss that early stopping counts as progress "
                              f"(default {defaults.MIN_DELTA:g})")
    command.add_argument("--lr-schedule", default=None, type=opt.choice_name, choices=schedules.names() + ["plateau"],
                         help="learning-rate schedule (default: constant)")
    command.add_argument("--l2-schedule", default=None, type=opt.choice_name, choices=schedules.names(),
                         help="schedule of the L2 penalty over the epochs, e.g. flat_cosine: --l2 for the first "
                              "half, then down to 0 along half a cosine (default: constant)")
    command.add_argument("--dropout-schedule", default=None, type=opt.choice_name, choices=schedules.names(),
                         help="schedule of the dropout rate over the epochs, as --l2-schedule (needs --dropout)")
    _add_engine_option(command)
    command.add_argument("--output", "-o", default="model.npz", help="model file to write")
    command.add_argument("--plots", metavar="DIR", help="write loss curve and prediction plots here")
    command.add_argument("--json", action="store_true", help="print the report as JSON (no progress)")
    command.add_argument("--quiet", "-q", action="store_true", help="no progress output while training")
    command.add_argument("--distributed", action="store_true",
                         help="data-parallel over MPI: run as 'mpiexec -n N backprop train ...'; each "
                              "process reads 1/N of the rows, rank 0 writes the model and the report")


def _add_table_options(command):
    """How the table is read and what is predicted: shared by train and lr-find."""
    command.add_argument("--target", required=True, help="name of the column to predict (required)")
    command.add_argument("--task", default="auto", type=opt.choice_name,
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
    command.add_argument("--max-categories", type=opt.number_type(int, 2, 10**6, what="a whole number of at least 2"),
                         default=None, metavar="K",
                         help="a text column becomes at most K indicator columns: its K-1 most frequent "
                              "categories and one '(other)' level for the rest (default: one per category)")
    command.add_argument("--embed", action="append", default=None, metavar="COLUMN[:DIM]", type=opt.embedding,
                         help="learn DIM numbers per category of this text column (an embedding: one input "
                              "instead of one indicator per category; DIM default 1.6 * categories^0.56, at most "
                              "50); for columns of many categories (repeatable)")
    command.add_argument("--scaling", type=opt.choice_name, choices=["robust", "standard"], default=defaults.SCALING,
                         help="numeric columns: robust (median, quartile spread, smooth clip at ±5: outliers "
                              "stay near the rest; long tails through asinh first) or standard (mean, standard "
                              "deviation)")
    command.add_argument("--class-weight", type=opt.choice_name, choices=["balanced"], default=None,
                         help="classification: weigh each class by n_rows / (n_classes * its rows), so that a rare "
                              "class counts as much as a common one (default: every row alike)")
    _add_text_format_options(command, remembered=False)
    command.add_argument("--validation-split", type=opt.fraction, default=defaults.VALIDATION_SPLIT,
                         help="fraction of rows held out (stratified for classes) for early stopping "
                              "and the report; 0 trains on every row")


def _add_network_options(command):
    """The network and how it steps: shared by train and lr-find."""
    command.add_argument("--layers", type=opt.layers, default=list(defaults.HIDDEN_LAYERS),
                         help="hidden widths, comma-separated")
    command.add_argument("--activation", default=None, type=opt.choice_name, choices=activations.names(),
                         help=f"hidden activation (default: {defaults.ACTIVATION}; relu where a text column of more "
                              f"than {defaults.WIDE_ONE_HOT} categories is one-hot encoded)")
    command.add_argument("--optimizer", default="adam", type=opt.choice_name, choices=optimizers.names(),
                         help="update rule")
    command.add_argument("--learning-rate", type=opt.positive_float, default=None,
                         help=f"step size; default {defaults.LEARNING_RATE:g} for adam/adamw/rmsprop, 0.01 otherwise")
    command.add_argument("--batch-size", type=opt.positive_int, default=None,
                         help=f"rows per gradient step (default {defaults.BATCH_SIZE}, doubled on large tables while "
                              f"an epoch keeps {defaults.STEPS_PER_EPOCH} steps, up to {defaults.MAX_BATCH_SIZE})")
    command.add_argument("--l2", type=opt.nonnegative_float, default=defaults.L2,
                         help=f"L2 penalty on the weights (default {defaults.L2:g})")
    command.add_argument("--dropout", type=opt.dropout, default=0.0, metavar="RATE",
                         help="inverted dropout after each hidden layer while training: one rate, or one per "
                              "hidden layer (0.3,0.1); predictions never drop")
    command.add_argument("--periodic", action=argparse.BooleanOptionalAction, default=defaults.PERIODIC,
                         help="give each numeric column a periodic embedding: [x, cos(2π w x + b) V + c] with 16 "
                              "learned frequencies and 3 features, so the network can switch on and off along a "
                              "number as trees do (default: on; off beyond 200 numeric columns)")
    command.add_argument("--periodic-sigma", type=opt.spread, default=defaults.PERIODIC_SIGMA, metavar="SPREAD",
                         help="spread of the periodic embeddings' initial frequencies: one for all (default "
                              f"{defaults.PERIODIC_SIGMA:g}: slow waves), or LOW,HIGH for spreads log-spaced between "
                              "them (0.1,3 adds fast waves: it wins where a day count, a time index or an "
                              "identifier sets the target in small steps, and loses on most small tables), or "
                              "auto: a network trained with each of 0.1 and 0.1,3, the lower validation loss kept "
                              "(twice the training time)")
    command.add_argument("--ensemble", type=opt.positive_int, default=1, metavar="K",
                         help="train K networks from seeds --seed, --seed + 1, ... on the same rows and save "
                              "their average as one network (K times the training time; default 1)")
    command.add_argument("--input-scale", action=argparse.BooleanOptionalAction, default=defaults.INPUT_SCALE,
                         help="multiply each input of the first layer by a learned factor (default: on)")
    command.add_argument("--label-smoothing", type=opt.smoothing, default=defaults.LABEL_SMOOTHING, metavar="EPSILON",
                         help="classification: train on targets (1 - EPSILON) y + EPSILON / classes instead of 0/1 "
                              "(default 0.1; 0 turns it off)")
    command.add_argument("--clip-predictions", action=argparse.BooleanOptionalAction, default=defaults.CLIP_PREDICTIONS,
                         help="regression: keep predictions within the training targets' range, as trees do "
                              "(default: on)")
    command.add_argument("--seed", type=opt.seed, default=None,
                         help="random seed; the same seed gives the same model (default: random)")
    command.add_argument("--float32", action="store_true", help="compute in float32")
