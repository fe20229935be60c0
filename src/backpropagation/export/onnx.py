"""The network as an ONNX graph: standard operators only, checked against ``predict`` before it is written.

:func:`to_onnx` writes a trained :class:`~backpropagation.NeuralNetwork` with standard operators
only (opset :data:`OPSET`): a ``Gemm`` (or ``MatMul`` without biases) per layer and each built-in
activation; regression outputs ``values`` in the targets' own units, classification ``label``
(the original labels) and ``probabilities`` (columns ordered like ``classes_``). An output keeps
its name unless an input (a column) has it: then it is ``label_output`` and so on. The graph's
own values have names no input can take. :mod:`.table_graph` puts the command line's
preprocessing in front. Before anything is written the graph runs on rows and must give
``predict``'s numbers (onnxruntime when installed, else ONNX's reference evaluator). Needs the
``onnx`` extra.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..nn.input_layers import TWO_PI
from ..nn.layers import Embedding

#: The ONNX opset the graphs use (20: ``RegexFullMatch``, for the table graph's text cells).
OPSET = 20
#: Activations by class name: (ONNX operator, attribute names read from the activation).
#: (ONNX's LeakyRelu and Elu take alpha as a float32 attribute, and onnxruntime has no double
#: Elu: those three are written out with constants of the graph's dtype.)
ACTIVATIONS = {"ReLU": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Linear": None, "Softmax": "Softmax",
               "LeakyReLU": "LeakyReLU", "ELU": "ELU", "Softplus": "Softplus", "Swish": "Swish"}


def onnx_module():
    """The ``onnx`` package, or ImportError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs onnx: pip install \"backpropagation[onnx]\"") from None
    return onnx


class Graph:
    """Nodes and constants of a graph under construction, with fresh names none of which is one of
    ``taken`` (the inputs' names, which come from a table's columns)."""

    def __init__(self, dtype, taken=()) -> None:
        self.onnx = onnx_module()
        self.dtype = np.dtype(dtype)
        self.elem = self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes, self.constants, self.count = [], [], itertools.count()
        self.taken = set(taken)

    def name(self, stem: str) -> str:
        """A name used nowhere else in the graph (``stem_N``, skipping any an input has)."""
        while True:
            name = f"{stem}_{next(self.count)}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def output_name(self, wanted: str) -> str:
        """``wanted`` as an output's name, or ``wanted_output`` (then ``_2``, ...) when an input has it."""
        name, n = wanted, 1
        while name in self.taken:
            n += 1
            name = f"{wanted}_output" if n == 2 else f"{wanted}_output_{n - 1}"
        self.taken.add(name)
        return name

    def constant(self, value, stem: str = "c") -> str:
        array = np.asarray(value)
        array = array.astype(self.dtype) if array.dtype.kind == "f" else array
        name = self.name(stem)
        self.constants.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], domain: str = "", **attributes) -> str:
        out = self.name(op.lower())
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], domain=domain, **attributes))
        return out

    def model(self, inputs: list, outputs: list):
        """The checked ``ModelProto`` of the nodes built (``onnx.checker``, full check)."""
        helper = self.onnx.helper
        graph = helper.make_graph(self.nodes, "backpropagation", inputs, outputs, self.constants)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="backpropagation")
        self.onnx.checker.check_model(model, full_check=True)
        return model


def _activation(graph: Graph, layer, x: str) -> str:
    kind = type(layer.activation).__name__
    if kind not in ACTIVATIONS:
        raise ValueError(f"ONNX export: the activation {kind} is not a built-in one; only built-in "
                         f"activations ({', '.join(ACTIVATIONS)}) have an ONNX form")
    op = ACTIVATIONS[kind]
    if op is None:
        return x
    if op == "Swish":                                          # x · σ(x)
        return graph.node("Mul", [x, graph.node("Sigmoid", [x])])
    if op == "Softmax":
        return graph.node("Softmax", [x], axis=-1)
    positive = graph.node("Greater", [x, graph.constant(0.0)])
    if op == "LeakyReLU":                                      # x > 0 ? x : α x
        return graph.node("Where", [positive, x, graph.node("Mul", [x, graph.constant(layer.activation.alpha)])])
    if op == "ELU":                                            # x > 0 ? x : α (eˣ - 1)
        below = graph.node("Sub", [graph.node("Exp", [graph.node("Min", [x, graph.constant(0.0)])]),
                                   graph.constant(1.0)])
        return graph.node("Where", [positive, x, graph.node("Mul", [below, graph.constant(layer.activation.alpha)])])
    if op == "Softplus":                                       # max(x, 0) + log(1 + e^-|x|), stable
        tail = graph.node("Log", [graph.node("Add", [graph.constant(1.0), graph.node(
            "Exp", [graph.node("Neg", [graph.node("Abs", [x])])])])])
        return graph.node("Add", [graph.node("Relu", [x]), tail])
    return graph.node(op, [x])


def _embedded(graph: Graph, model, x: str) -> str:
    """``x`` with each code column replaced by its embedding row (a Gather on the table), each
    periodic column by ``[x, cos(2π x w + b) V + c]``, then times the input scale."""
    pieces, periodic = [], model.periodic
    for column, layer, _ in model.embedded_input.pieces:
        part = graph.node("Slice", [x, graph.constant(np.array([column], np.int64)),
                                    graph.constant(np.array([column + 1], np.int64)),
                                    graph.constant(np.array([1], np.int64))])
        if isinstance(layer, Embedding):
            codes = graph.node("Cast", [graph.node("Squeeze", [part, graph.constant(np.array([1], np.int64))])],
                               to=graph.onnx.TensorProto.INT64)
            part = graph.node("Gather", [graph.constant(layer.table(), "E"), codes], axis=0)
        elif layer is not None:                                # (n, 1) @ (1, k): the phases u = 2π x w + b
            j = periodic.columns.index(column)
            phases = graph.node("Add", [graph.node("MatMul", [part, graph.constant(TWO_PI * periodic.w[j][None, :],
                                                                                  "w")]),
                                        graph.constant(periodic.b[j], "b")])
            features = graph.node("Add", [graph.node("MatMul", [graph.node("Cos", [phases]),
                                                                graph.constant(periodic.V[j], "V")]),
                                          graph.constant(periodic.c[j], "c")])
            part = graph.node("Concat", [part, features], axis=1)
        pieces.append(part)
    embedded = graph.node("Concat", pieces, axis=1)
    scale = model.embedded_input.scale
    return embedded if scale is None else graph.node("Mul", [embedded, graph.constant(scale.s, "scale")])


def network_outputs(graph: Graph, model, x: str, scale=None) -> list:
    """Append ``model``'s layers to ``graph`` from the tensor ``x``; the graph's output values.
    ``scale`` ``(std, mean)`` turns a regression output into the targets' units once more (models
    whose preprocessing standardised the target)."""
    helper = graph.onnx.helper
    if model.embedded_input is not None:
        x = _embedded(graph, model, x)
    for layer in model.layers:
        W = graph.constant(layer.W, "W")
        x = graph.node("Gemm", [x, W, graph.constant(layer.b, "b")]) if layer.b is not None else \
            graph.node("MatMul", [x, W])
        x = _activation(graph, layer, x)
    task = model.task_
    if not task.is_classifier:
        if task.target_mean_ is not None:                      # back to the targets' units
            x = graph.node("Add", [graph.node("Mul", [x, graph.constant(task.target_scale_)]),
                                   graph.constant(task.target_mean_)])
        if scale is not None:
            x = graph.node("Add", [graph.node("Mul", [x, graph.constant([[scale[0]]])]), graph.constant([[scale[1]]])])
        if task.target_range_ is not None:                     # within the training targets' range
            x = graph.node("Min", [graph.node("Max", [x, graph.constant(task.target_range_[0])]),
                                   graph.constant(task.target_range_[1])])
        values = graph.output_name("values")
        graph.nodes.append(helper.make_node("Identity", [x], [values]))
        return [helper.make_tensor_value_info(values, graph.elem, [None, model.layer_sizes[-1]])]
    if model.layer_sizes[-1] == 1:                             # sigmoid: [1 - p, p]
        x = graph.node("Concat", [graph.node("Sub", [graph.constant([[1.0]]), x]), x], axis=1)
    label, probabilities = graph.output_name("label"), graph.output_name("probabilities")
    graph.nodes.append(helper.make_node("Identity", [x], [probabilities]))
    index = graph.node("ArgMax", [probabilities], axis=1, keepdims=0)
    classes = model.classes_
    labels = classes.astype(object) if classes.dtype.kind in "USO" else classes
    graph.nodes.append(helper.make_node("Gather", [graph.constant(labels, "classes"), index], [label], axis=0))
    label_type = graph.onnx.TensorProto.STRING if classes.dtype.kind in "USO" else \
        helper.np_dtype_to_tensor_dtype(classes.dtype)
    return [helper.make_tensor_value_info(label, label_type, [None]),
            helper.make_tensor_value_info(probabilities, graph.elem, [None, len(classes)])]


def to_onnx(model, path=None, dtype=None):
    """``model`` (trained) as an ONNX ``ModelProto``, written to ``path`` when given.

    The input is ``X`` (rows of ``n_features`` numbers of the model's dtype, or ``dtype``); a
    model fitted on a DataFrame takes one input per column instead, named as the column, of
    shape ``(rows, 1)``. Custom building blocks have no ONNX form and are refused, naming the
    block. Before ``path`` is written, the graph runs on random rows and must give ``predict``'s
    numbers (ValueError otherwise; nothing written).
    """
    if model.task_.is_classifier and not model.task_.fitted:
        raise ValueError("ONNX export: fit the classifier first (its labels go into the graph)")
    names = None if model.feature_names_in_ is None else [str(name) for name in model.feature_names_in_]
    graph = Graph(dtype or model.dtype, names or ["X"])
    helper = graph.onnx.helper
    if names is None:
        inputs, x = [helper.make_tensor_value_info("X", graph.elem, [None, model.layer_sizes[0]])], "X"
    else:
        inputs = [helper.make_tensor_value_info(name, graph.elem, [None, 1]) for name in names]
        x = graph.node("Concat", names, axis=1)
    proto = graph.model(inputs, network_outputs(graph, model, x))
    check_network(proto, model, graph.dtype, names)
    if path is not None:
        write(proto, path)
    return proto


def probe_inputs(model, rows: int = 64, seed: int = 0) -> np.ndarray:
    """Rows to run a network's graph on: standard normal inputs (a spread the weights expect), and
    valid category codes in the columns an embedding reads."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, model.layer_sizes[0]))
    for embedding in model.embeddings:
        X[:, embedding.column] = rng.integers(0, embedding.n_categories, rows)
    return X


def check_network(proto, model, dtype, names=None) -> None:
    """Run the graph on :func:`probe_inputs` and compare with ``predict``; ValueError saying where
    they differ (nothing is written then)."""
    X = probe_inputs(model).astype(dtype)
    feeds = {"X": X} if names is None else {name: X[:, [j]] for j, name in enumerate(names)}
    got = run_graph(proto, feeds)
    compare(got, model.predict(X), model.predict_proba(X) if model.task_.is_classifier else None, dtype,
            "random rows")


def run_graph(proto, feeds: dict) -> list:
    """The graph's outputs on ``feeds``: by onnxruntime when it is installed (what serving runs),
    else by ONNX's reference evaluator."""
    try:
        import onnxruntime
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        return ReferenceEvaluator(proto).run(None, feeds)
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def compare(got: list, expected, probabilities, dtype, what: str) -> None:
    """ValueError unless the graph's outputs ``got`` are ``predict``'s (``expected``: labels, or
    values) and ``predict_proba``'s, to the dtype's precision: relative to each value, and a tenth
    of that relative to the largest of them (a regression's small values are the difference of
    numbers of the targets' size: in float32, 16.8545 against 16.8564 where targets run to 35,000)."""
    tolerance = 1e-9 if np.dtype(dtype) == np.float64 else 1e-4
    if probabilities is not None:
        labels, got = np.asarray(got[0]).tolist(), np.asarray(got[1], dtype=np.float64)
        wrong = [i for i, (a, b) in enumerate(zip(labels, np.asarray(expected).tolist())) if a != b]
        if wrong:
            raise ValueError(f"ONNX export: on {what} the graph's label {labels[wrong[0]]!r} differs from predict's "
                             f"{np.asarray(expected).tolist()[wrong[0]]!r} (row {wrong[0]}); nothing written")
        expected = probabilities
    else:
        got = np.asarray(got[0], dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64).reshape(got.shape)
    size = max(1.0, float(np.max(np.abs(expected), initial=0.0, where=np.isfinite(expected))))
    if not np.allclose(got, expected, rtol=tolerance, atol=max(tolerance, tolerance / 10 * size), equal_nan=False):
        row = int(np.argmax(np.abs(got - expected).max(axis=tuple(range(1, got.ndim))) if got.ndim > 1
                            else np.abs(got - expected)))
        raise ValueError(f"ONNX export: on {what} the graph's outputs differ from predict's by up to "
                         f"{np.nanmax(np.abs(got - expected)):.3g} (first at row {row}); nothing written")


def write(proto, path) -> None:
    """``proto`` to ``path``, atomically (a whole file or none)."""
    from ..files import write_atomically

    write_atomically(path, lambda handle: handle.write(proto.SerializeToString()))
