"""``backprop demo``, ``trace`` and ``explore``: the commands for seeing backpropagation at work."""

from __future__ import annotations

import os
from importlib import resources

import numpy as np

from ..network import NeuralNetwork
from ..tables.readers import read_file
from .parser import build_parser
from .train import run_training
from .use import load_cli_model, reading_format


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
    run_training(options)                 # (prints the report)
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


def command_explore(args) -> int:
    """``backprop explore``: serve the explorer page on 127.0.0.1 until Ctrl-C."""
    from ..explore import Session, serve

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
        table = read_file(args.data, text_columns=pre.spelled_columns, fmt=reading_format(args, model))
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
    print(trace.to_text(args.format, unit=args.unit), end="")
    return 0
