"""The feed-forward network: build, train by backpropagation, predict, inspect, save.

One training step, as the seeds describe it:

1. **forward pass** — each :class:`~backpropagation.nn.layers.Dense` layer computes
   ``Z = A_prev @ W + b`` and ``A = f(Z)``;
2. **loss** — :mod:`~backpropagation.nn.losses` compares the output with the targets;
3. **backward pass** — the loss gives ``δ`` of the output layer, and each layer, last to first,
   writes ``∂L/∂W`` and ``∂L/∂b`` and hands ``∂L/∂A_prev`` to the layer before it;
4. **update** — the optimizer moves the flat parameter vector against the flat gradient.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .nn import activations, losses, metrics, optimizers, tasks
from . import engines
from .training import loop, prepare
from .training import callbacks as cb
from .data import (as_array, check_bool, check_dtype, check_features, check_float, check_layer_sizes,
                   check_random_state, check_same_length, column_names)
from .training.reducers import MPIReducer
from .errors import NotFittedError
from .inspection import Inspection
from .interrupt import InterruptGuard
from .nn.input_layers import EmbeddedInput, periodic_layer
from .nn.layers import Dense, Dropout, Embedding, dropout_layers, embedding_layers, unpack_layers
from .nn.backprop import ROWS_PER_PASS, Backprop
from .nn.parameter_layout import FlatParameters
from .training.reducers import LocalReducer




def from_layer_list(layers: list, output_activation, embeddings):
    """``unpack_layers``' widths, activations, use_bias and dropout of a list of layers, with the
    Embedding layers it lists as ``embeddings`` (ValueError where ``embeddings`` is given too)."""
    sizes, hidden, output, use_bias, dropout, listed = unpack_layers(layers, output_activation)
    if listed and embeddings:
        raise ValueError("embeddings: give the Embedding layers in the layer list or as embeddings=, not both")
    return sizes, hidden, output, use_bias, dropout, embeddings or listed


class NeuralNetwork(Inspection, FlatParameters):
    """A feed-forward neural network trained by hand-written backpropagation.

    Parameters
    ----------
    layer_sizes : sequence of int, or of Dense layers
        Widths from input to output, e.g. ``[n_features, 16, 8, n_outputs]``, or the layers,
        e.g. ``[Dense(4, 16, activation="tanh"), Dropout(0.2), Dense(16, 3)]``
        (see ``layers.unpack_layers``).
    task : {"regression", "binary", "multiclass", "classification"}, default "regression"
        What the output means. ``"classification"`` picks a sigmoid output for an output size of
        1 and a softmax output otherwise.
    hidden_activation : str, Activation or list of them, default "relu"
        One for every hidden layer, or a list with one per hidden layer.
    output_activation : str or Activation, optional
        Default: the task's (linear, sigmoid or softmax).
    loss : str or Loss, optional
        Default: the task's (``mse``, ``binary_crossentropy`` or ``categorical_crossentropy``).
    optimizer : str or Optimizer, default "adam"
        ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"rmsprop"``, ``"adam"``, ``"adamw"`` or an
        :class:`~backpropagation.nn.optimizers.Optimizer` instance. Adam is the default because
        plain SGD at a fixed rate diverges on unscaled targets and under-trains classifiers in
        the same epochs (``bench/quality.py``).
    learning_rate : float, default 0.001
        Step size (> 0); schedules and callbacks may change it during ``fit``.
    l2 : float, default 0.0
        L2 penalty ``l2/2 · Σ W²`` on the weights (not the biases), added to the loss.
    initializer : str or Initializer, default "auto"
        ``"auto"`` uses ``glorot_uniform`` (Keras' default) for classification and
        ``fan_in_uniform`` (PyTorch's default, ``±1/√fan_in``) for regression, the best of the
        candidates ``bench/quality.py`` measures for each; He initialisation's larger spread
        overfits noisy regression targets. Biases start at zero.
    use_bias : bool, default True
    dtype : {"float64", "float32"}, default "float64"
        Floating type of parameters and computations, kept end to end.
    random_state : int, numpy Generator, numpy RandomState or None
        Seeds initialisation, shuffling and validation splits: the same value gives
        bit-identical training.
    standardize_target : bool, default True
        Regression only: learn ``(y - mean) / std`` per target column (statistics of the
        first ``fit``'s targets, saved with the model) and undo it in ``predict``, so targets in
        the thousands train as well as targets near one. ``evaluate()["loss"]`` and the history's
        losses are the objective on standardised targets; ``mse``, ``mae`` and predictions are
        in the targets' units. False trains on the raw targets, as the seeds' examples do.
    engine : {"auto", "numpy", "numba"}, default "auto"
        What runs the training batches: ``"numpy"``, the textbook reference; ``"numba"``,
        compiled kernels proven equal to it (built-in building blocks, one process; needs the
        ``fast`` extra), which split large batches by rows over numba's threads (results equal
        up to rounding; bit-identical for the same thread count); ``"auto"``, numba when it can
        run, measures faster, and the job is long enough to pay for loading it or this process
        has loaded it already (see :mod:`backpropagation.engines`). ``engine_`` names the last
        one used, ``engine_reason_`` why ``auto`` chose numpy, and ``engine_timing_`` the seconds
        per batch measured (see :mod:`backpropagation.engines.measure`; jobs of 2 s or more, where
        ``auto`` times both engines and the numpy engine its BLAS threads, and shorter ones once
        numba's kernels are loaded).
    embeddings : dict of int to (int, int), optional
        ``{column: (n_categories, dim)}``: input column ``column`` holds category codes
        ``0 .. n_categories - 1``, learned as ``dim`` numbers each (see
        :class:`~backpropagation.nn.layers.Embedding`) instead of as indicator columns.
    dropout : float or list of float, default 0.0
        Inverted dropout after every hidden layer (or one rate per hidden layer) while training;
        ``predict`` and the other inference methods never drop (see :class:`~backpropagation.nn.layers.Dropout`).
    periodic : list of int or PeriodicEmbedding, optional
        Numeric input columns to give periodic embeddings: each becomes ``[x, cos(2π w x + b) V + c]``
        (16 frequencies and 3 features by default; ``PeriodicEmbedding(columns, n_frequencies, dim,
        sigma)`` to choose; see :class:`~backpropagation.nn.input_layers.PeriodicEmbedding`).
    clip_predictions : bool, default False
        Regression: keep ``predict`` within the first ``fit``'s smallest and largest target (per
        column; saved with the model), as gradient-boosted trees do, instead of extrapolating.
    label_smoothing : float in [0, 1), default 0.0
        Classification: train on targets ``(1 - ε) y + ε / K`` instead of 0/1 (see
        :class:`~backpropagation.nn.losses.CategoricalCrossEntropy`); the loss then carries it
        (saved with the model).
    input_scale : bool, default False
        Multiply each input of the first layer by a learned factor starting at 1
        (:class:`~backpropagation.nn.input_layers.InputScale`).

    Attributes
    ----------
    task_ : Task
        What the output means (:mod:`backpropagation.nn.tasks`): how targets are encoded, the
        output activation and loss, the metric, and how outputs decode to labels or values;
        it holds what ``fit`` learns of the targets (``classes_``, the target's mean and spread).
    backprop : Backprop
        The training step's machinery (:mod:`backpropagation.nn.backprop`): forward pass, loss,
        backward pass, update; what the engines run.
    layers : list of Dense
    classes_ : ndarray
        Sorted class labels (classification, after ``fit``).
    history_ : History or None
        The history of the last call to ``fit``.
    metadata : dict
        JSON-ready information saved and loaded with the model.

    Examples
    --------
    >>> from backpropagation import NeuralNetwork
    >>> model = NeuralNetwork([2, 8, 1], task="binary", optimizer="adam", learning_rate=0.05,
    ...                       random_state=0)
    >>> history = model.fit([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0], epochs=500,
    ...                     batch_size=None, verbose=0)
    >>> model.predict([[0, 1]]).tolist()
    [1]
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        task: str = "regression",
        hidden_activation="relu",
        output_activation=None,
        loss=None,
        optimizer="adam",
        learning_rate: float = 0.001,
        l2: float = 0.0,
        initializer="auto",
        use_bias: bool = True,
        dtype="float64",
        random_state=None,
        standardize_target: bool = True,
        engine: str = "auto",
        dropout=0.0,
        embeddings=None,
        periodic=None,
        input_scale: bool = False,
        label_smoothing: float = 0.0,
        clip_predictions: bool = False,
    ) -> None:
        if isinstance(layer_sizes, (list, tuple)) and \
                all(isinstance(x, (Dense, Dropout, Embedding)) for x in layer_sizes or [0]):   # (a list of layers)
            layer_sizes, hidden_activation, output_activation, use_bias, dropout, embeddings = \
                from_layer_list(layer_sizes, output_activation, embeddings)
        self.layer_sizes = check_layer_sizes(layer_sizes)
        self._set_task(task, loss, standardize_target, clip_predictions, label_smoothing)
        hidden = activations.per_hidden_layer(hidden_activation, len(self.layer_sizes) - 2)
        output = activations.get(output_activation or self.task_.output_activation, "output_activation")
        self.optimizer = optimizers.get(optimizer)
        self.learning_rate = check_float("learning_rate", learning_rate, 0.0, strict=True)
        self.l2, self.initializer = check_float("l2", l2, 0.0), initializer
        self.use_bias, self.dtype = check_bool("use_bias", use_bias), check_dtype(dtype)
        self.engine, self.engine_, self.engine_reason_ = engines.check_engine(engine), None, None
        self.engine_timing_: dict = {}
        self.random_state = random_state
        #: The random generator behind initialisation, shuffling and validation splits (saved
        #: with the model, so that training continues exactly after a load).
        self.rng = check_random_state(random_state)
        self._build_input_stage(embeddings, periodic, input_scale)
        widths = [self.layer_sizes[0] if self.embedded_input is None else self.embedded_input.width,
                  *self.layer_sizes[1:]]
        self.layers = [Dense(fan_in, fan_out, act, self.use_bias) for fan_in, fan_out, act in
                       zip(widths[:-1], widths[1:], hidden + [output])]
        #: The Dropout after each layer while training (None: none; never after the output layer).
        self.dropouts = dropout_layers(dropout, len(self.layers) - 1) + [None]
        self._allocate_parameters()
        self._initialize_weights()
        #: Dropout's own generator (seeded from ``rng`` after the weights): masks never shift the
        #: shuffling, which MPI ranks must draw alike. None without dropout.
        self.dropout_rng = np.random.default_rng(self.rng.integers(2**63)) if any(self.dropouts) else None
        #: One training step's machinery: forward pass, loss, backward pass, update (what the engines run).
        self.backprop = Backprop(self)
        self.current_learning_rate = self.learning_rate
        self.history_: cb.History | None = None
        self.metadata: dict = {}  # JSON-ready, saved with the model (the CLI keeps its preprocessing here)
        self.stop_training, self.stop_reason = False, None
        self.feature_names_in_ = None  # the column names of the frame fit saw, if it had names

    def _set_task(self, task, loss, standardize_target, clip_predictions, label_smoothing) -> None:
        """The task (what the output means), its target handling and the loss, checked together."""
        self.task = task
        self.standardize_target = check_bool("standardize_target", standardize_target)
        self.clip_predictions = check_bool("clip_predictions", clip_predictions)
        self.task_ = tasks.get(task, self.layer_sizes[-1], self.standardize_target, self.clip_predictions)
        self.loss = losses.get(loss or self.task_.loss)
        self.task_.check_loss(self.loss)
        if label_smoothing:
            self.loss = losses.with_label_smoothing(self.loss, label_smoothing)

    def _build_input_stage(self, embeddings, periodic, input_scale) -> None:
        """What the network does to its input before the first Dense layer (:mod:`backpropagation.nn.input_layers`)."""
        #: The input's embedded code columns.
        self.embeddings = embedding_layers(embeddings, self.layer_sizes[0])
        #: The numeric columns' periodic embeddings, or None.
        self.periodic = periodic_layer(periodic, self.layer_sizes[0], [e.column for e in self.embeddings])
        self.input_scale = check_bool("input_scale", input_scale)
        #: The input with code columns embedded, periodic columns expanded and scaled (None without any).
        self.embedded_input = EmbeddedInput(self.layer_sizes[0], self.embeddings, self.periodic, self.input_scale) \
            if self.embeddings or self.periodic is not None or self.input_scale else None

    @property
    def classes_(self) -> np.ndarray:
        """Sorted class labels seen by ``fit`` (classification only)."""
        if not self.task_.is_classifier:
            raise AttributeError("classes_: only classification networks have classes")
        self._require_fitted("classes_")
        return self.task_.classes_

    # ------------------------------------------------------------------ training
    def fit(
        self,
        X,
        y=None,
        epochs: int = 100,
        batch_size: int | None = 32,
        verbose: int = 1,
        shuffle: bool = True,
        validation_split: float = 0.0,
        validation_data=None,
        early_stopping=False,
        lr_schedule=None,
        callbacks: Iterable[cb.Callback] | None = None,
        sample_weight=None,
        comm=None,
        class_weight=None,
    ) -> cb.History:
        """Train by mini-batch gradient descent with backpropagation (again: continue from the
        current weights and optimizer state).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a streamed table
            A table bigger than memory from :func:`backpropagation.read_table` streams: read in
            shuffled blocks every epoch and trained on pool by pool through the same loop (``y``
            None: the table holds the targets; its validation rows are those ``read_table`` held
            out; see :mod:`backpropagation.tables.streamed_table`).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Real targets (regression) or labels of any one type (classification); a one-hot
            matrix is accepted for softmax outputs.
        epochs : int, default 100
        batch_size : int or None, default 32
            Samples per gradient step; None (or more than the data) means full batch.
        verbose : {0, 1, 2}, default 1
            0 silent, 1 a progress bar per epoch, 2 one line per epoch (on stderr).
        shuffle : bool, default True
            Draw a new sample order every epoch.
        validation_split : float in [0, 1), default 0.0
            Fraction of the data held out for validation (stratified for classification).
        validation_data : tuple (X_val, y_val), optional
            Validation data; takes precedence over ``validation_split``.
        early_stopping : bool or EarlyStopping, default False
            True uses ``EarlyStopping()``: patience 10 on ``val_loss`` if there is validation
            data, else ``loss``, restoring the best weights.
        lr_schedule : str, Schedule, callable or Callback, optional
            ``"step"``, ``"exponential"``, ``"inverse_time"``, ``"cosine"``, ``"plateau"``, a
            :class:`~backpropagation.nn.schedules.Schedule`, a function ``f(epoch, lr) -> lr``, or
            a callback such as ``ReduceLROnPlateau(...)``.
        callbacks : list of Callback, optional
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weight of each training sample: each batch's loss becomes
            ``Σ w_i ℓ_i / Σ w_i`` (a batch whose weights are all zero is skipped).
        comm : mpi4py.MPI.Comm, optional
            Train data-parallel over MPI (:mod:`backpropagation.training.reducers`): ``X``, ``y`` and
            ``sample_weight`` are this rank's shard, ``batch_size`` counts all ranks' rows; equal
            to one process on the shards in rank order; rank 0 shows progress.
        class_weight : "balanced" or dict, optional
            Classification: each row's weight times its class's, ``{label: weight}`` or
            ``n_rows / (n_classes · rows of the class)`` for ``"balanced"`` (as scikit-learn).

        Returns
        -------
        History
            ``history.history`` maps ``loss``, the metric (``accuracy`` or ``r2``), their
            ``val_`` versions and ``lr`` to one value per epoch.

        Raises
        ------
        DivergenceError
            If the loss becomes NaN or infinite; the weights are left finite.

        Notes
        -----
        Ctrl-C stops training after the current batch: ``fit`` returns the complete epochs in
        ``history`` (``history.interrupted``), best weights restored under early stopping.
        """
        verbose, epochs, batch_size, shuffle = prepare.fit_options(verbose, epochs, batch_size, shuffle)
        reducer = LocalReducer() if comm is None else MPIReducer(comm)
        verbose = verbose if reducer.rank == 0 else 0
        # From here a Ctrl-C only asks training to stop (never mid-import or mid-update); under
        # MPI an error on one rank stops every rank rather than leaving the others waiting.
        with reducer.failing_together(), InterruptGuard(announce=verbose > 0) as interrupt:
            options = dict(sample_weight=sample_weight, validation_split=validation_split,
                           validation_data=validation_data, class_weight=class_weight, batch_size=batch_size,
                           shuffle=shuffle)
            # A streamed table (read_table) hands out its pools; arrays are one part an epoch.
            source, validation = X.training_source(self, reducer, y, **options) \
                if getattr(X, "streams_blocks", False) else prepare.in_memory(self, reducer, X, y, **options)
            callbacks = ([cb.ProgressBar(verbose)] if verbose else []) + \
                cb.for_fit(early_stopping, lr_schedule, callbacks)
            return loop.train(self, source, validation, reducer, epochs=epochs, callbacks=callbacks,
                              interrupt=interrupt)

    # ------------------------------------------------------------------ inference
    def _output(self, X) -> np.ndarray:
        X = self._features(X)
        return np.concatenate([self.backprop.infer(X[i:i + ROWS_PER_PASS])[1] for i in range(0, len(X), ROWS_PER_PASS)])

    def _require_fitted(self, what: str) -> None:
        if not self.task_.fitted:
            raise NotFittedError(f"{what}: this network has not been fitted yet; call fit first")

    def predict(self, X) -> np.ndarray:
        """Predictions: original class labels (classification) or values (regression).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or, for multi-output regression, (n_samples, n_outputs)
        """
        if self.task_.is_classifier:
            self._require_fitted("predict")
        return self.task_.decode(self._output(X)).copy()

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of shape (n_samples, n_classes), columns ordered like ``classes_``."""
        if not self.task_.is_classifier:
            raise ValueError("predict_proba: only classification networks give probabilities; "
                             "use predict for regression")
        self._require_fitted("predict_proba")
        return self.task_.probabilities(self._output(X)).copy()

    def evaluate(self, X, y) -> dict[str, float]:
        """Loss (the objective ``fit`` minimises, L2 included) and the task's metrics.

        Returns
        -------
        dict
            ``loss`` and ``accuracy`` for classification; ``loss``, ``mse``, ``mae`` and ``r2``
            for regression.
        """
        X, Y = self._checked_pair(X, y, "evaluate")
        A = np.empty_like(Y)
        result = {"loss": self.backprop.objective(X, Y, A)}
        if self.task_.is_classifier:
            result["accuracy"] = self.task_.score(Y, A)
        else:
            Y, A = self.task_.to_user_units(Y), self.task_.to_user_units(A)
            result.update(mse=metrics.mean_squared_error(Y, A), mae=metrics.mean_absolute_error(Y, A),
                          r2=metrics.r2_score(Y, A))
        return result

    def score(self, X, y) -> float:
        """Accuracy (classification) or R² (regression), as scikit-learn defines them."""
        X, Y = self._checked_pair(X, y, "score")
        A = np.empty_like(Y)
        self.backprop.objective(X, Y, A)   # (in passes: bounded memory for large X)
        return self.task_.score(Y, A)

    def _features(self, X) -> np.ndarray:
        """``X`` checked as the network's input; a command-line model given a raw table is told
        that :class:`~backpropagation.tables.table_model.TableModel` reads raw rows."""
        try:
            return check_features(X, self.dtype, "X", self.layer_sizes[0], 1, self.feature_names_in_)
        except (TypeError, ValueError) as error:
            if "preprocessing" not in self.metadata or column_names(X) is None:
                raise
            raise type(error)(f"{error}. This model was trained by 'backprop train': the network reads the table "
                              "as encoded (numbers standardised, text one-hot); TableModel.load(path).predict(frame) "
                              "reads raw rows") from None

    def _checked_pair(self, X, y, method: str):
        if self.task_.is_classifier:
            self._require_fitted(method)
        X = self._features(X)
        y = as_array(y, "y")
        check_same_length(X, y)
        return X, self.task_.encode(y, self.dtype)

    def __repr__(self) -> str:
        return f"NeuralNetwork({list(self.layer_sizes)}, task={self.task!r})"
