"""``backprop explain`` and ``backprop lr-find``: what a trained model relies on, and how fast to train.

``explain`` reports importance per column of the table (a text column's indicators together),
by permutation (the metric's drop when the column is shuffled) or by gradient × input
(:mod:`backpropagation.explain`). ``lr-find`` runs the learning-rate range test on the network
``train`` would build with the same options.
"""

from __future__ import annotations

import json

import numpy as np

from .build import batch_size_for, drawn_seed, network_for, preprocessor, spelled_columns, text_format
from .train import prepare
from .use import reading_format
from ..explain.importance import FeatureImportance
from ..files import check_output
from ..tables.readers import read_file
from ..tables.table_model import TableModel


#: ``--metric`` choices and the scoring each names (losses and errors negated: higher is better).
METRICS = {"accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy", "roc_auc": "roc_auc",
           "average_precision": "average_precision", "log_loss": "log_loss", "r2": "r2", "rmse": "rmse"}


def command_explain(args) -> int:
    """``backprop explain MODEL DATA``: importance of each column of DATA to the model's predictions."""
    if args.plot:
        check_output(args.plot, "--plot", inputs=[args.model, args.data])
    table_model = TableModel.load(args.model)
    pre = table_model.preprocessing
    table = read_file(args.data, text_columns=pre.spelled_columns, fmt=reading_format(args, table_model.network))
    metric = None if args.metric is None else METRICS[args.metric]
    if metric is not None:
        from ..explain.importance import scoring_names

        if metric not in scoring_names(table_model.network):
            kind = "a classifier" if table_model.network.task_.is_classifier else "a regression model"
            fits = [name for name, scoring in METRICS.items() if scoring in scoring_names(table_model.network)]
            raise ValueError(f"--metric {args.metric}: not a metric of {kind}; choose one of {', '.join(fits)}")
        if args.method != "permutation":
            raise ValueError("--metric: the gradient method has no metric; it applies to --method permutation")
    result = table_model.importance_of_table(table, args.method, args.repeats, args.seed, args.max_rows, metric)
    if args.plot:
        result.plot(args.plot)
    total = len(table_model.report.rows)
    used = min(total, args.max_rows)
    summary = {"data": args.data, "rows": used, "rows_in_file": total, **result.to_dict(),
               "plot": args.plot, "notes": table_model.report.lines()}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    sampled = f" (a random {used} of {total}; --max-rows)" if used < total else ""
    print(f"{used} rows of {args.data}{sampled}")
    print(describe_method(result, args.repeats))
    print(result)
    if args.plot:
        print(f"bar chart written to {args.plot}")
    return 0


def describe_method(result: FeatureImportance, repeats: int) -> str:
    """One line saying what the numbers are."""
    if result.method == "permutation":
        return (f"permutation: the drop of {result.metric} when a column's values are shuffled among the rows "
                f"(mean and spread of {repeats} shuffles); 0 means the model does not use the column")
    return ("gradient: the mean over rows of |x * dy/dx| on the encoded inputs (standardised numbers, "
            "indicators of categories), summed over a text column's indicators")


def command_lr_find(args) -> int:
    """``backprop lr-find DATA --target T``: the learning-rate range test on the training rows."""
    if args.plot:
        check_output(args.plot, "--plot", inputs=[args.data])
    drawn_seed(args)
    table = read_file(args.data, text_columns=spelled_columns(args), fmt=text_format(args))
    pre = preprocessor(args)
    data = prepare(args, table, pre)
    args.engine = "numpy"
    n_classes = 0 if pre.resolved_task == "regression" else len(np.unique(data.y))
    model = network_for(args, pre, data.X.shape[1], n_classes, data.X.dtype)
    result = model.lr_find(data.X, data.y, start=args.start, end=args.end, steps=args.steps,
                           batch_size=batch_size_for(args, data.counts["rows_train"]), class_weight=args.class_weight)
    if args.plot:
        result.plot(args.plot)
    if args.json:
        print(json.dumps({"data": args.data, "optimizer": args.optimizer, "seed": args.seed, "plot": args.plot,
                          **result.to_dict()}, indent=2))
        return 0
    print(f"learning-rate range test: {len(result.rates)} steps of {args.batch_size} rows, {args.optimizer}, "
          f"rate from {result.rates[0]:.3g} to {result.rates[-1]:.3g}; stopped: {result.stopped}")
    every = max(1, len(result.rates) // 12)
    for rate, loss in zip(result.rates[::every], result.smoothed[::every]):
        print(f"  rate {rate:10.3g}   smoothed loss {loss:.4f}")
    print(f"suggested --learning-rate {result.suggestion:.3g}: {result.rule}")
    if args.plot:
        print(f"plot written to {args.plot}")
    return 0
