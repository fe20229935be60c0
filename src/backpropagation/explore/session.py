"""What ``backprop explore`` shows: a small network on 2-D data, stepped and trained for real.

:class:`Session` holds the network, the data and a cursor over the samples. Every number it
hands to the page comes from the library itself: a step is ``NeuralNetwork.trace`` on the next
sample (the very forward pass, backward pass and update ``fit`` runs), shown phase by phase and
applied only when the page asks (:meth:`Session.apply`); Train is ``NeuralNetwork.fit``. Your
turn (:mod:`.your_turn`), layer health (:mod:`.health`) and the optimizers' landscape
(:mod:`.landscape`) are computed here too. The page only draws.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DivergenceError
from ..explain.update_terms import keyed_terms
from ..network import NeuralNetwork
from ..nn import activations
from . import health, landscape, your_turn
from .datasets import DATASETS, checked_features, inputs, make_dataset, noisy, test_split

__all__ = ["DATASETS", "Session", "make_dataset"]

#: Decision-boundary grid: this many cells along each axis.
GRID = 48
#: Each hidden unit's picture over the plane: this many cells along each axis, for networks of
#: at most HEATMAP_UNITS hidden units (beyond, the pictures would crowd the page).
HEAT_GRID, HEATMAP_UNITS = 16, 64
#: Caps that keep a step's reply small and quick (every number of a step is sent to the page).
MAX_UNITS, MAX_LAYERS, MAX_PARAMETERS = 64, 10, 10_000
#: Optimizers the page offers: the seeds' plain step, and two that keep state per weight.
OPTIMIZERS = ("sgd", "momentum", "adam")
#: The nudge of a weight: its loss at w ± NUDGE, on the step's sample with the weights before it.
NUDGE = 1e-6
#: Initial weights the page offers: the library's choice for the activation, or a named one.
INITS = {"auto": "auto", "naive": None, "glorot": "glorot_uniform", "he": "he_normal"}


class Session:
    """One network and data set, stepped sample by sample or trained epoch by epoch.

    Parameters mirror ``backprop explore``'s options (``layers`` None: 2-4-3 and one output per
    class); the optimizer is plain SGD by default, so that the update shown is the seeds'
    ``W ← W - η ∂L/∂W``; ``"momentum"`` and ``"adam"`` show their state per weight.
    """

    #: What ``/api/reset`` and the page's address may set.
    SETTINGS = ("layers", "dataset", "activation", "learning_rate", "batch_size", "seed", "optimizer", "noise",
                "test_fraction", "l2", "features", "init")

    def __init__(self, layers=None, dataset="moons", activation="relu", learning_rate=0.1,
                 batch_size=10, seed=0, optimizer="sgd", noise=0.0, test_fraction=0.0, l2=0.0,
                 features=("x1", "x2"), init="auto", data=None) -> None:
        seed = _whole("seed", seed, 0, 2**32 - 1)
        if dataset == "uploaded":
            if data is None:
                raise ValueError("dataset: 'uploaded' needs a table: load a CSV file first")
            points, self.y = np.array(data["points"], dtype=float), np.array(data["labels"])
        else:
            points, self.y = make_dataset(dataset, seed=seed)
        self.data = data                                      # an uploaded table, kept across resets
        self.points, self.features = noisy(points, noise, seed), checked_features(features)
        self.X = inputs(self.points, self.features)           # what the network sees of each point
        self.train_rows, self.test_rows = test_split(len(self.X), test_fraction, seed)
        n_classes = int(self.y.max()) + 1
        layers = [len(self.features), 4, 3, n_classes] if layers is None else \
            _checked_layers(layers, dataset, n_classes, len(self.features))
        activations.get(activation, "activation")
        batch_size = _whole("batch_size", batch_size, 1, len(self.train_rows))
        if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not 0 <= l2 <= 1:
            raise ValueError(f"l2: expected a number from 0 to 1, got {l2!r}")
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or \
                not 0 < learning_rate <= 100:
            raise ValueError(f"learning_rate: expected a number above 0 and at most 100, got {learning_rate!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
        if init not in INITS:
            raise ValueError(f"init: expected one of {', '.join(INITS)}, got {init!r}")
        self.config = {"layers": layers, "dataset": dataset, "activation": activation,
                       "learning_rate": float(learning_rate), "batch_size": batch_size, "seed": seed,
                       "optimizer": optimizer, "noise": float(noise), "test_fraction": float(test_fraction),
                       "l2": float(l2), "features": self.features, "init": init}
        self.model = NeuralNetwork(layers, task="classification", hidden_activation=activation,
                                   optimizer=optimizer, learning_rate=learning_rate, l2=l2, random_state=seed,
                                   engine="numpy", initializer=INITS[init] or _naive())
        self.model.task_.fit_encode(self.y, self.model.dtype)   # the classes are known from the start
        self.order = self.train_rows[np.random.default_rng(seed).permutation(len(self.train_rows))]
        self.steps, self.epochs, self.losses, self.test_losses, self.accuracies = 0, 0, [], [], []
        self.health_history = []
        self.last = None          # (trace, samples, weights before the step) of the last step shown
        self.pending = None       # the samples of a step shown but not yet applied
        self.question = None      # what Your turn hid in the last step

    def step(self, rows=1, apply=True) -> dict:
        """A real training step on the next ``rows`` training samples (1 up to the batch size):
        every quantity of every layer, a row per sample. With ``apply=False`` the update is computed
        and shown but not made until :meth:`apply` (the page's Forward, Backward, Update)."""
        rows = _whole("rows", rows, 1, self.config["batch_size"])
        samples = self.order[(self.steps + np.arange(rows)) % len(self.order)]
        before = self.model.parameters.copy()
        try:   # (a step whose loss or update is not finite is not applied)
            trace = self.model.trace(self.X[samples], self.y[samples], apply=bool(apply))
        except DivergenceError as error:
            raise DivergenceError(f"samples {samples.tolist()}: {error} Then press New network.",
                                  error.history) from None
        self.last, self.question = (trace, samples, before), None
        self.pending = None if apply else samples
        if apply:
            self.steps += rows
        return self._step_reply(trace, samples, before, bool(apply))

    def apply(self) -> dict:
        """Make the update of the step on screen (taken with ``apply=False``); the new state."""
        if self.pending is None:
            raise ValueError("no step waiting for its update: press Forward (or Step) first")
        samples, self.pending = self.pending, None
        trace = self.model.trace(self.X[samples], self.y[samples], apply=True)    # the same numbers again
        self.last = (trace, samples, self.last[2])
        self.steps += len(samples)
        return {"applied": True, "state": self.state()}

    def _step_reply(self, trace, samples, before, applied: bool) -> dict:
        layers = []
        for s in trace.layers:
            dead, saturated = health.unit_kinds(self.model, s)
            layers.append({
                "number": s.number, "activation": s.activation, "a_prev": s.a_prev.tolist(),
                "W": s.W.tolist(), "b": _vector(s.b), "z": s.z.tolist(), "a": s.a.tolist(),
                "dA": None if s.dA is None else s.dA.tolist(), "delta": s.delta.tolist(),
                "fprime": None if s.fprime is None else s.fprime.tolist(),
                "dW": s.dW.tolist(), "db": _vector(s.db), "W_new": s.W_new.tolist(), "b_new": _vector(s.b_new),
                "W_change": (s.W_new - s.W).tolist(), "dead": dead, "saturated": saturated,
                "optimizer_state": {name: W_part.tolist() for name, (W_part, _) in (s.state or {}).items()},
                "update_terms": self._update_terms(trace, s)})
        return {"sample": int(samples[0]), "samples": samples.tolist(), "x": trace.x.tolist(), "y": trace.y.tolist(),
                "inputs": self._input_gradients(trace, samples, before),
                "label": int(self.y[samples[0]]), "labels": self.y[samples].tolist(),
                "loss": trace.loss, "loss_name": trace.loss_name, "fused": trace.fused,
                "learning_rate": trace.learning_rate, "optimizer": trace.optimizer, "update_rule": trace.update_rule,
                "t": trace.step_number, "applied": applied, "layers": layers, "state": self.state()}

    @staticmethod
    def _update_terms(trace, s) -> list:
        """The update of the layer's weights term by term (state before, each product, the new W)."""
        old = {name: W_part for name, (W_part, _) in (s.state_before or {}).items()}
        lines = keyed_terms(trace.optimizer_config, trace.step_number, trace.learning_rate, "W", s.W, s.dW, old)
        return [{"key": key, "formula": formula, "W": np.asarray(value).tolist()}
                for key, formula, value in lines or []]

    def _input_gradients(self, trace, samples: np.ndarray, before: np.ndarray) -> dict:
        """The chain one step further, to the inputs, with the weights the step started from:
        ``∂L/∂x = δ¹ (W¹)ᵀ`` per row, and ``∂ŷ_k/∂x`` of the first sample for every class ``k``."""
        first = trace.layers[0]
        after = self.model.parameters.copy()
        self.model.parameters[...] = before
        try:
            dy_dx = self.model.input_gradients(self.X[samples[:1]])[0]
        finally:
            self.model.parameters[...] = after
        return {"dL_dx": (first.delta @ first.W.T).tolist(), "dy_dx": dy_dx.tolist()}

    def weight(self, layer, row, col) -> dict:
        """The chain rule of one weight in the last Step, and its nudge.

        ``∂L/∂W^l[row, col] = Σ_samples a^(l-1)[row] · δ^l[col]`` (one term for one sample), with
        the first sample's ``δ^l[col]`` written out from the layer above (or the loss); the nudge
        is the central difference of the loss on the same samples with the weights before the
        step, moved by ±:data:`NUDGE` in this one weight.
        """
        if self.last is None:
            raise ValueError("no step to follow yet: press Step first")
        trace, samples, before = self.last
        layer = _whole("layer", layer, 1, len(trace.layers))
        step = trace.layers[layer - 1]
        row, col = _whole("row", row, 0, step.W.shape[0] - 1), _whole("col", col, 0, step.W.shape[1] - 1)
        terms = [{"a_prev": float(a), "delta": float(d)} for a, d in zip(step.a_prev[:, row], step.delta[:, col])]
        chain = {"layer": layer, "row": row, "col": col, "terms": terms, "rows": len(terms),
                 "a_prev": terms[0]["a_prev"], "delta": terms[0]["delta"],
                 "value": float(step.a_prev[:, row] @ step.delta[:, col]),
                 "dW": float(step.dW[row, col]), "fused": trace.fused and layer == len(trace.layers),
                 "dA": None if step.dA is None else float(step.dA[0, col]),
                 "fprime": None if step.fprime is None else float(step.fprime[0, col])}
        if layer < len(trace.layers):
            above = trace.layers[layer]
            chain["above"] = [{"delta": float(above.delta[0, k]), "W": float(above.W[col, k])}
                              for k in range(above.W.shape[1])]
        else:
            chain["y_hat"], chain["y"] = float(trace.y_hat[0, col]), float(trace.y[0, col])
        chain["nudge"] = self._nudge(samples, before, self.model.parameter_slices()[layer - 1][0].start
                                     + row * step.W.shape[1] + col)
        return chain

    def _nudge(self, samples: np.ndarray, before: np.ndarray, flat: int) -> dict:
        """Loss at the weight ``flat`` ± :data:`NUDGE` (weights before the step), and the slope."""
        model, now = self.model, self.model.parameters.copy()
        X = self.X[samples].astype(model.dtype)
        Y = model.task_.encode(self.y[samples], model.dtype)
        losses = []
        try:
            for sign in (1, -1):
                model.parameters[...] = before
                model.parameters[flat] += sign * NUDGE
                losses.append(float(model.backprop.objective(X, Y)))
        finally:
            model.parameters[...] = now
        return {"epsilon": NUDGE, "loss_plus": losses[0], "loss_minus": losses[1],
                "value": (losses[0] - losses[1]) / (2 * NUDGE)}

    def train(self, epochs: int = 1) -> dict:
        """``fit`` for a few epochs (continuing); the new state."""
        rows = self.train_rows
        try:
            history = self.model.fit(self.X[rows], self.y[rows], epochs=int(epochs),
                                     batch_size=self.config["batch_size"], verbose=0)
        except DivergenceError as error:   # fit left the weights finite; keep the epochs it completed
            self._record(error.history)
            raise DivergenceError(f"{error} Press New network to start again.", error.history) from None
        self._record(history)
        self.last = self.pending = self.question = None    # the weights moved on: no step describes them
        return self.state()

    def _record(self, history) -> None:
        self.epochs += len(history.epoch)
        self.losses.extend(float(v) for v in history.history["loss"])
        self.accuracies.extend(float(v) for v in history.history.get("accuracy", []))
        if len(history.epoch):
            rows = self.train_rows
            self.health_history.append({"epoch": self.epochs, "layers": health.summary(
                health.layer_health(self.model, self.X[rows], self.y[rows]))})
        if len(self.test_rows) and len(history.epoch):   # [epoch, test loss] after the last of them
            rows = self.test_rows
            loss = self.model.backprop.objective(self.X[rows], self.model.task_.encode(self.y[rows], self.model.dtype))
            self.test_losses.append([self.epochs, float(loss)])

    def state(self) -> dict:
        """Configuration, weights, data, loss curve and the decision boundary on a grid."""
        low, high = self.points.min(axis=0) - 0.3, self.points.max(axis=0) + 0.3
        proba = self.model.predict_proba(inputs(self._plane(low, high, GRID), self.features))
        test = np.zeros(len(self.X), dtype=bool)
        test[self.test_rows] = True
        return {"config": self.config, "steps": self.steps, "epochs": self.epochs, "losses": self.losses,
                "test_losses": self.test_losses, "accuracies": self.accuracies, "pending": self.pending is not None,
                "classes": None if self.data is None else self.data["classes"],
                "weights": [{"W": layer.W.tolist(), "b": _vector(layer.b)} for layer in self.model.layers],
                "points": self.points.tolist(), "labels": self.y.tolist(), "test": test.tolist(),
                "grid": {"x": [float(low[0]), float(high[0])], "y": [float(low[1]), float(high[1])],
                         "size": GRID, "class": proba.argmax(axis=1).tolist(),
                         "confidence": proba.max(axis=1).round(4).tolist()},
                "units": self._unit_pictures(low, high)}

    def your_turn(self, kinds=None) -> dict:
        """Hide one quantity of the last step for the learner to compute (:func:`.your_turn.pick`)."""
        if self.last is None:
            raise ValueError("no step to take a turn on: press Step first")
        if kinds is not None and (not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds)):
            raise ValueError(f"kinds: expected a list of quantity names, got {kinds!r}")
        rng = np.random.default_rng([self.config["seed"], self.steps, len(self.losses)])
        self.question = your_turn.pick(self.last[0], rng, kinds)
        return self.question

    def check(self, value) -> dict:
        """Judge the learner's number for the hidden quantity (:func:`.your_turn.judge`)."""
        if self.question is None:
            raise ValueError("nothing to check: turn on Your turn and take a step first")
        q = self.question
        return {**your_turn.judge(self.last[0], q["quantity"], q["layer"], q["row"], q["col"], value),
                "quantity": q["quantity"], "layer": q["layer"], "row": q["row"], "col": q["col"]}

    def health(self) -> dict:
        """Each layer's health over the training rows now, and per epoch of training so far."""
        rows = self.train_rows
        return {"layers": health.layer_health(self.model, self.X[rows], self.y[rows]), "history": self.health_history}

    def landscape(self, weights) -> dict:
        """The loss over two weights and the paths of SGD, momentum and Adam (:mod:`.landscape`)."""
        if not isinstance(weights, list) or len(weights) != 2 or not all(
                isinstance(w, list) and len(w) == 3 for w in weights):
            raise ValueError(f"weights: expected two [layer, row, col] (row and col from 0), got {weights!r}")
        chosen = [tuple(_whole("weights", v, 0, 10_000) for v in w) for w in weights]
        rows = self.train_rows
        Y = self.model.task_.encode(self.y[rows], self.model.dtype)
        return landscape.landscape(self.model, self.X[rows].astype(self.model.dtype), Y, chosen,
                                   self.config["learning_rate"])

    @staticmethod
    def _plane(low, high, size: int) -> np.ndarray:
        """A ``size`` × ``size`` grid of points over the plane, row by row from the bottom."""
        xs, ys = np.linspace(low[0], high[0], size), np.linspace(low[1], high[1], size)
        return np.array([[x, y] for y in ys for x in xs])

    def _unit_pictures(self, low, high) -> list | None:
        """Each hidden unit's activation over the plane (layer by layer, a list per unit, on a
        HEAT_GRID grid); None for networks with more than HEATMAP_UNITS hidden units."""
        if sum(layer.fan_out for layer in self.model.layers[:-1]) > HEATMAP_UNITS:
            return None
        A, pictures = inputs(self._plane(low, high, HEAT_GRID), self.features), []
        for layer in self.model.layers[:-1]:
            A = layer.output(A)
            pictures.append(A.T.round(3).tolist())
        return pictures


def _naive():
    """Weights from N(0, 0.1²): the naive start under which deep sigmoid networks stall."""
    from ..nn.initializers import Initializer

    class Naive(Initializer):
        def __call__(self, fan_in, fan_out, rng, dtype):
            return (0.1 * rng.standard_normal((fan_in, fan_out))).astype(dtype)
    return Naive()


def _vector(array) -> list | None:
    return None if array is None else np.asarray(array).tolist()


def _whole(name: str, value, low: int, high: int) -> int:
    """``value`` as a whole number from ``low`` to ``high``; ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or \
            value in (math.inf, -math.inf) or int(value) != value or not low <= value <= high:
        raise ValueError(f"{name}: expected a whole number from {low} to {high}, got {value!r}")
    return int(value)


def _checked_layers(layers, dataset: str, n_classes: int, n_features: int = 2) -> list[int]:
    """The layer sizes, within the explorer's caps and fitting the data set; ValueError otherwise."""
    if not isinstance(layers, (list, tuple)) or not all(
            isinstance(size, int) and not isinstance(size, bool) and size >= 1 for size in layers):
        raise ValueError(f"layers: expected whole numbers >= 1 such as 2,4,3,2, got {layers!r}")
    layers = list(layers)
    if len(layers) < 2 or layers[0] != n_features:
        raise ValueError(f"layers: the network sees {n_features} feature(s) of each point, so the input layer has "
                         f"{n_features} unit(s); got {layers}")
    if layers[-1] != n_classes and not (n_classes == 2 and layers[-1] == 1):
        raise ValueError(f"layers: {dataset} has {n_classes} classes, so the output layer needs "
                         f"{n_classes} units{' (or 1)' if n_classes == 2 else ''}; got {layers[-1]}")
    if len(layers) > MAX_LAYERS or max(layers) > MAX_UNITS:
        raise ValueError(f"layers: the explorer shows every number of a step, so it takes at most {MAX_LAYERS} "
                         f"layers of at most {MAX_UNITS} units; got {len(layers)} layers, the widest {max(layers)}")
    parameters = sum(a * b + b for a, b in zip(layers[:-1], layers[1:]))
    if parameters > MAX_PARAMETERS:
        raise ValueError(f"layers: {layers} has {parameters} weights and biases; the explorer takes at most "
                         f"{MAX_PARAMETERS}")
    return layers

