"""What ``backprop train`` (in memory and streamed) and ``lr-find`` build from the options: the
preprocessing, the text format, the network, and the check of every file they will write."""

from __future__ import annotations

import os

import numpy as np

from ..files import check_distinct_outputs, check_output
from ..network import NeuralNetwork
from ..tables.csv_source import TextFormat
from ..tables.preprocessing import TabularPreprocessor
from ..training import table_defaults as defaults
from ..training.callbacks import EarlyStopping
from ..training.penalty_schedule import PenaltyScheduler
from . import option_types as opt

#: The pictures ``--plots`` draws.
PLOT_FILES = ("loss_curve.png", "predictions.png", "decision_boundary.png")


def preprocessor(args) -> TabularPreprocessor:
    """The unfitted preprocessing the table options describe."""
    return TabularPreprocessor(args.target, args.task, args.drop, text=args.text or (), numeric=args.numeric or (),
                               max_categories=args.max_categories, embed=dict(getattr(args, "embed", None) or ()),
                               scaling=getattr(args, "scaling", "robust"))


def text_format(args, saved: dict | None = None) -> TextFormat:
    """The text format (``--delimiter``, ``--decimal``, ``--thousands``, ``--na-values``,
    ``--numeric-header``) the options give, over the one saved with a model (if any)."""
    base = TextFormat.from_dict(saved) if saved is not None else TextFormat()
    thousands = base.thousands if args.thousands is None else None if args.thousands == "none" else args.thousands
    na_values = base.na_values if getattr(args, "na_values", None) is None else tuple(args.na_values)
    return TextFormat(base.delimiter if args.delimiter is None else args.delimiter,
                      base.decimal if args.decimal is None else args.decimal, thousands, na_values,
                      base.numeric_names or bool(getattr(args, "numeric_header", False)))


def spelled_columns(args) -> list[str]:
    """The columns ``train`` reads as written (see :attr:`TabularPreprocessor.spelled_columns`)."""
    return preprocessor(args).spelled_columns


def network_for(args, pre, n_inputs: int, n_classes: int, dtype, seed: int | None = None,
                sigma=None) -> NeuralNetwork:
    """The network ``train`` fits: ``n_inputs`` encoded columns in, one output per class (one for
    two classes, and for regression). The network's task (its output) standardises a regression
    target. ``seed`` and ``sigma`` (the periodic spread) stand in for ``--seed`` and ``--periodic-sigma``."""
    task = pre.resolved_task
    n_out = 1 if task == "regression" or (n_classes == 2 and task in ("classification", "binary")) else n_classes
    learning_rate = args.learning_rate
    if learning_rate is None:
        learning_rate = defaults.LEARNING_RATE if args.optimizer.lower() in ("adam", "adamw", "rmsprop") else 1e-2
    activation = args.activation or defaults.activation(pre.columns)
    sigma = sigma or getattr(args, "periodic_sigma", defaults.PERIODIC_SIGMA)
    sigma = defaults.AUTO_SPREADS[0] if sigma == "auto" else sigma      # (lr-find: the first spread auto tries)
    model = NeuralNetwork([n_inputs, *args.layers, n_out], task=task, hidden_activation=activation,
                          optimizer=args.optimizer, learning_rate=learning_rate, l2=args.l2,
                          dtype=dtype, random_state=args.seed if seed is None else seed, engine=args.engine,
                          dropout=getattr(args, "dropout", 0.0), embeddings=pre.embeddings or None,
                          periodic=defaults.periodic_embedding(pre.numeric_positions, getattr(args, "periodic", False),
                                                            sigma),
                          input_scale=getattr(args, "input_scale", False),
                          label_smoothing=getattr(args, "label_smoothing", 0.0) if task != "regression" else 0.0,
                          clip_predictions=getattr(args, "clip_predictions", False) and task == "regression")
    model.metadata["preprocessing"] = pre.to_dict()
    model.metadata["feature_names"] = pre.feature_names
    model.metadata["text_format"] = text_format(args).to_dict()   # predict reads new files alike
    model.metadata["seed"] = args.seed          # (an ensemble's: its first network's, the command's)
    if args.data != "-":                 # (export checks its graph on the training file's rows)
        model.metadata["training_data"] = os.path.abspath(args.data)
    return model


def check_option_pairs(args) -> None:
    """ValueError, before any work, for ``--l2-schedule`` or ``--dropout-schedule`` of a penalty
    the network will not have, for ``--periodic-sigma`` without periodic embeddings, and for
    ``--periodic-sigma auto`` without validation rows."""
    sigma = getattr(args, "periodic_sigma", defaults.PERIODIC_SIGMA)
    shown = opt.spread_text(sigma)
    if sigma != defaults.PERIODIC_SIGMA and not getattr(args, "periodic", False):
        raise ValueError(f"--periodic-sigma {shown}: there are no periodic embeddings to start (--no-periodic)")
    if sigma == "auto" and not getattr(args, "validation_split", 0.0):
        raise ValueError("--periodic-sigma auto: chooses the spread by the validation loss, and --validation-split 0 "
                         "holds out no rows; give --validation-split > 0 or a spread")
    l2, dropout = getattr(args, "l2_schedule", None), getattr(args, "dropout_schedule", None)
    if l2 and not args.l2:
        raise ValueError(f"--l2-schedule {l2}: there is no L2 penalty to schedule (--l2 0); give --l2 > 0")
    if dropout and not getattr(args, "dropout", 0.0):
        raise ValueError(f"--dropout-schedule {dropout}: there is no dropout to schedule; give --dropout RATE")


def penalty_callbacks(args) -> list:
    """``--l2-schedule`` and ``--dropout-schedule`` as a :class:`PenaltyScheduler` (none without them)."""
    l2, dropout = getattr(args, "l2_schedule", None), getattr(args, "dropout_schedule", None)
    return [PenaltyScheduler(l2=l2, dropout=dropout)] if l2 or dropout else []


def drawn_seed(args, comm=None) -> int:
    """``--seed``, or one drawn (and shared by the MPI ranks): a run without it is reproducible too,
    its seed reported."""
    if args.seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**63)
        args.seed = seed if comm is None else comm.bcast(seed, root=0)
    return args.seed


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


def stopper_for(args, has_validation: bool):
    """``--early-stopping``: patience 10 on the validation loss by default (off without validation rows)."""
    patience = (defaults.PATIENCE if has_validation else 0) if args.early_stopping is None else args.early_stopping
    return EarlyStopping(patience=patience, min_delta=getattr(args, "min_delta", defaults.MIN_DELTA)) \
        if patience > 0 else False


def batch_size_for(args, training_rows: int) -> int:
    """``--batch-size``, or where it was left out the table's default for ``training_rows`` rows
    (:func:`~backpropagation.training.table_defaults.batch_size`), kept in ``args`` for the
    report (``args.batch_size_chosen`` says the defaults chose it)."""
    if args.batch_size is None:
        args.batch_size, args.batch_size_chosen = defaults.batch_size(training_rows), True
    return args.batch_size
