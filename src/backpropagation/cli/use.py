"""``backprop predict``, ``evaluate`` and ``summary``: using a model that ``backprop train`` wrote.

The model file keeps the preprocessing fitted on the training rows (see
:mod:`backpropagation.tables.preprocessing`), so new tables are read and encoded exactly as the training
table was.
"""

from __future__ import annotations

import csv
import io
import json
import sys

import numpy as np

from ..nn import metrics
from .build import text_format
from .report import metrics_in_units
from ..tables.csv_source import TextFormat
from ..files import check_output, write_atomically
from ..network import NeuralNetwork
from ..tables.readers import Table, read_file, stream_table
from ..tables.table_model import TableModel
from ..tables.preprocessing import TabularPreprocessor
from ..tables.transform_report import TransformReport


def load_cli_model(path) -> tuple[NeuralNetwork, TabularPreprocessor]:
    """A model written by ``backprop train`` and its preprocessing, both checked: a file whose
    metadata does not describe a valid preprocessing is refused by name (ValueError)."""
    table_model = TableModel.load(path)
    return table_model.network, table_model.preprocessing


def reading_format(args, model) -> TextFormat:
    """How to read ``args.data``: as the model's training table was read, unless the options say."""
    return text_format(args, model.metadata.get("text_format"))


def command_predict(args) -> int:
    """``backprop predict``: the input rows plus prediction (and probability) columns.

    Columns the input already has under those names (from an earlier ``predict``) are replaced,
    not repeated. The file is read and scored in chunks, so it need not fit in memory. The
    output file is written atomically (a failure leaves no partial file); to stdout, a closed
    pipe ends quietly.
    """
    to_stdout = args.output in (None, "-")        # "-o -": standard output, as Unix tools write
    if not to_stdout:
        check_output(args.output, "--output", inputs=[args.model, args.data])
    model, pre = load_cli_model(args.model)
    reports, header = [], []

    def write(handle):
        for chunk in stream_table(args.data, fmt=reading_format(args, model)):
            X, _, report = pre.transform(chunk, with_target=False, dtype=model.dtype)
            reports.append(report)
            added = {f"predicted_{pre.target}": (model.predict(X).tolist() if model.task_.is_classifier else
                                                 pre.unscale_target(model.predict(X).astype(np.float64)).tolist())}
            if args.proba and model.task_.is_classifier:
                proba = model.predict_proba(X)
                for k, label in enumerate(model.classes_.tolist()):
                    added[f"proba_{label}"] = proba[:, k].tolist()
            handle.write(_csv_bytes(chunk, added, with_header=not header))
            header[:] = chunk.header

    if not to_stdout:
        write_atomically(args.output, write, "--output")
    else:
        sys.stdout.flush()
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()  # a closed pipe shows here, inside main's BrokenPipeError handler
    for line in TransformReport.combined(reports).lines():
        print(f"backprop: note: {line}", file=sys.stderr)
    replaced = [name for name in header if name == f"predicted_{pre.target}" or
                (args.proba and model.task_.is_classifier and name in {f"proba_{c}" for c in model.classes_.tolist()})]
    if replaced:
        print(f"backprop: note: replaced the input's column(s) {', '.join(replaced)}", file=sys.stderr)
    return 0


def _csv_bytes(table: Table, added: dict, with_header: bool = True) -> bytes:
    """The table's cells as read, without columns named in ``added``, then ``added``'s columns, as CSV."""
    kept = [name for name in table.header if name not in added]
    columns = [table.raw(name).to_pylist() for name in kept] + list(added.values())
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    if with_header:
        writer.writerow(kept + list(added))
    writer.writerows(zip(*columns))
    return text.getvalue().encode("utf-8")


def command_evaluate(args) -> int:
    """``backprop evaluate``: metrics (and a confusion matrix for classifiers)."""
    model, pre = load_cli_model(args.model)
    table = read_file(args.data, text_columns=pre.spelled_columns, fmt=reading_format(args, model))
    X, y, report = pre.transform(table, with_target=True, dtype=model.dtype)
    if model.task_.is_classifier:
        _refuse_unseen_labels(y, model.classes_, table, report.rows, pre.target)
    result = {"rows": len(y), **metrics_in_units(model, pre, X, y), "preprocessing": report.lines()}
    if model.task_.is_classifier:
        result["classes"] = model.classes_.tolist()
        result["confusion_matrix"] = metrics.confusion_matrix(y, model.predict(X), model.classes_).tolist()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['rows']} rows of {args.data}")
    for key in ("accuracy", "balanced_accuracy", "majority_baseline", "roc_auc", "average_precision", "log_loss",
                "mse", "rmse", "mae", "r2"):
        if key in result:
            print(f"{key:19s}{result[key]:.4f}")
    if "confusion_matrix" in result and len(result["classes"]) > MATRIX_CLASSES:   # (lines too long to read)
        names = [str(c) for c in result["classes"]]
        confused = metrics.top_confusions(np.array(result["confusion_matrix"]), names, 10)
        print("\nmost confused (actual taken for predicted, rows):")
        for actual, predicted, count in confused:
            print(f"  {actual} taken for {predicted}: {count}")
    elif "confusion_matrix" in result:
        names = [str(c) for c in result["classes"]]
        width = max(8, *map(len, names)) + 2
        print("\nconfusion matrix (rows: actual, columns: predicted)")
        print(" " * width + "".join(n.rjust(width) for n in names))
        for name, row in zip(names, result["confusion_matrix"]):
            print(name.rjust(width) + "".join(str(v).rjust(width) for v in row))
    for line in report.lines():                  # (notes go to stderr, as predict's do)
        print(f"backprop: note: {line}", file=sys.stderr)
    return 0


#: Classes up to which evaluate prints the whole confusion matrix (beyond: the top confusions).
MATRIX_CLASSES = 10


def _refuse_unseen_labels(y, classes, table: Table, rows, target: str) -> None:
    """ValueError naming the first label of ``y`` (rows ``rows`` of ``table``) the model has no
    class for, and its data row."""
    unseen = ~np.isin(y, classes)
    if not unseen.any():
        return
    first = np.flatnonzero(unseen)[0]
    label, where = y[first], f" (data row {table.row_numbers[rows[first]]})"
    raise ValueError(f"{table.source}: target {target!r} holds {label.item()!r}{where}, a class the "
                     f"model never saw in training; it knows {', '.join(map(repr, classes.tolist()))}")


def command_summary(args) -> int:
    """``backprop summary``."""
    model, pre = load_cli_model(args.model)
    print(model.summary())
    if "seed" in model.metadata:
        print(f"trained with --seed {model.metadata['seed']} (the same command with it trains the same model)")
    ensemble = model.metadata.get("ensemble")
    if isinstance(ensemble, dict) and "members" in ensemble:
        print(f"an ensemble of {ensemble['members']} networks saved as one: each hidden layer holds their units "
              "side by side, the output averages theirs (--ensemble)")
    print("\nPreprocessing (fitted on the training rows):")
    print(pre.describe())
    return 0


def command_export(args) -> int:
    """``backprop export``: the model and its preprocessing as one ONNX graph, checked against
    ``predict`` (on rows made from the model's metadata, hostile spellings of them, and the
    training file's or ``--data``'s rows) before anything is written."""
    from ..export.table_graph import export_table_model, input_kind

    if args.output == "-":
        raise ValueError("output: an ONNX model is a binary file; give a file path, not standard output ('-')")
    check_output(args.output, "output", inputs=[args.model] + ([args.data] if args.data else []))
    table_model = TableModel.load(args.model)
    proto = export_table_model(table_model, args.output, data=args.data)
    inputs = ", ".join(f"{spec['name']} ({input_kind(spec)})" for spec in table_model.preprocessing.columns)
    outputs = ", ".join(output.name for output in proto.graph.output)
    print(f"ONNX graph written to {args.output}: inputs {inputs}; outputs {outputs}")
    return 0
