"""scikit-learn estimators around :class:`~backpropagation.NeuralNetwork`.

``BackpropClassifier`` and ``BackpropRegressor`` follow scikit-learn's estimator contract:
hyper-parameters are stored by ``__init__`` and validated by ``fit``; fitted attributes end in an
underscore; they work in ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and ``clone``, and
pickle. Install the extra: ``pip install "backpropagation[sklearn]"``.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError('backpropagation.sklearn needs scikit-learn: pip install "backpropagation[sklearn]"') from None

from .training import table_defaults
from .training.callbacks import EarlyStopping
from .data import check_int, check_sample_weight
from .network import NeuralNetwork
from .tables.table_model import TableModel
from .tables.frames import column_medians, is_frame, numbers_read, raw_table_kind
from .nn.labels import storable_labels
from .tables.table_encoder import TableEncoder  # noqa: F401  (public here: backpropagation.sklearn.TableEncoder)


#: What ``"auto"`` means for numbers (arrays, numeric frames): scikit-learn's MLP conventions.
_ARRAY_DEFAULTS = dict(hidden_layer_sizes=(100,), activation="relu", epochs=200, validation_split=0.0,
                       early_stopping=False, periodic=False, input_scale=False, label_smoothing=0.0,
                       clip_predictions=False, learning_rate=0.001, l2=0.0)
#: What ``"auto"`` means for a raw table (text, categories or gaps): ``backprop train``'s defaults.
_TABLE_DEFAULTS = dict(hidden_layer_sizes=table_defaults.HIDDEN_LAYERS, epochs=table_defaults.EPOCHS,
                       validation_split=table_defaults.VALIDATION_SPLIT, early_stopping=True,
                       periodic=table_defaults.PERIODIC, input_scale=table_defaults.INPUT_SCALE,
                       label_smoothing=table_defaults.LABEL_SMOOTHING, clip_predictions=table_defaults.CLIP_PREDICTIONS,
                       learning_rate=table_defaults.LEARNING_RATE, l2=table_defaults.L2)


class _BackpropEstimator(BaseEstimator):
    """Shared parameters, fitting and prediction of the two estimators."""

    _task = "regression"

    def __init__(self, hidden_layer_sizes="auto", activation="auto", optimizer="adam", learning_rate="auto",
                 l2="auto", epochs="auto", batch_size="auto", shuffle=True, validation_split="auto",
                 early_stopping="auto", tol=1e-4, n_iter_no_change=10, lr_schedule=None, initializer="auto",
                 dtype="float64", standardize_target=True, warm_start=False, random_state=None, verbose=0,
                 engine="auto", class_weight=None, dropout=0.0, embed=None, scaling="robust", periodic="auto",
                 input_scale="auto", label_smoothing="auto", clip_predictions="auto"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.l2 = l2
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.lr_schedule = lr_schedule
        self.initializer = initializer
        self.dtype = dtype
        self.standardize_target = standardize_target
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.engine = engine
        self.class_weight = class_weight
        self.dropout = dropout
        self.embed = embed
        self.scaling = scaling
        self.periodic = periodic
        self.input_scale = input_scale
        self.label_smoothing = label_smoothing
        self.clip_predictions = clip_predictions

    def _setting(self, name: str):
        """The parameter ``name``, its ``"auto"`` resolved: ``backprop train``'s default for a raw
        table this estimator encodes itself, scikit-learn's MLP convention for numbers."""
        value = getattr(self, name)
        if not (isinstance(value, str) and value == "auto"):
            return value
        raw = getattr(self, "table_encoder_", None) is not None
        adaptive = not isinstance(self.optimizer, str) or self.optimizer.lower() in ("adam", "adamw", "rmsprop")
        if name == "learning_rate" and raw and not adaptive:
            return 0.01                          # (backprop train's step for SGD and momentum)
        if name == "activation" and raw:         # (swish, or ReLU beside a wide one-hot column)
            return table_defaults.activation(self.table_encoder_.preprocessing_.columns)
        return (_TABLE_DEFAULTS if raw else _ARRAY_DEFAULTS)[name]

    def to_onnx(self, path=None, dtype=None):
        """The trained network as an ONNX graph (see ``NeuralNetwork.to_onnx``); an estimator that
        encoded a raw DataFrame itself exports that encoding in front, one input per column
        (as ``backprop export`` does)."""
        check_is_fitted(self, "model_")
        encoder = getattr(self, "table_encoder_", None)
        if encoder is None:
            return self.model_.to_onnx(path, dtype)
        from .export.table_graph import export_table_model

        return export_table_model(TableModel(self.model_, encoder.preprocessing_), path)

    def feature_importance(self, X, y=None, method="permutation", n_repeats=5, random_state=None, scoring=None):
        """Importance of each column of ``X`` (see ``NeuralNetwork.feature_importance``); for a raw
        DataFrame the indicators of a text column count as that one column."""
        from .explain.importance import raw_column_groups

        check_is_fitted(self, "model_")
        encoder = getattr(self, "table_encoder_", None)
        groups = None if encoder is None else raw_column_groups(encoder.preprocessing_.columns)
        X = validate_data(self, self._encoded(X, fitting=False), reset=False, dtype=[np.float64, np.float32],
                          accept_sparse=True)
        if groups is None and getattr(self, "feature_names_in_", None) is not None:
            groups = {str(name): [j] for j, name in enumerate(self.feature_names_in_)}
        if callable(scoring) and encoder is None:       # (a scikit-learn scorer expects the estimator)
            scorer = scoring

            def scoring(model, X, y):
                return scorer(self, X, y)
        return self.model_.feature_importance(X, y, method, n_repeats, random_state, scoring, groups=groups)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True        # (made dense for the network: one-hot encoders' output)
        return tags

    # ---------------------------------------------------------------- fitting
    def fit(self, X, y, sample_weight=None):
        """Train on ``X``, ``y`` (a fresh network unless ``warm_start`` and already fitted).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or, for regression, (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, epochs=None, reset=not self.warm_start)

    def _fit(self, X, y, sample_weight, epochs, reset, classes=None):
        first = reset or not hasattr(self, "model_")
        X = self._encoded(X, fitting=first)
        epochs = self._setting("epochs") if epochs is None else epochs
        X, y = self._validate(X, y, reset=first)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        if first:
            self.model_ = self._build(X, y, classes)
            self.loss_curve_, self.validation_loss_curve_, self.n_iter_ = [], [], 0
        stop = self._stopping() if epochs > 1 else False   # partial_fit: one epoch, no verdict
        history = self.model_.fit(
            X, y, epochs=epochs, batch_size=self._batch_size(X.shape[0], first), verbose=self.verbose,
            shuffle=self.shuffle, validation_split=self._setting("validation_split") or 0.0,
            early_stopping=stop, lr_schedule=self.lr_schedule, sample_weight=sample_weight,
            class_weight=self.class_weight)
        self.loss_curve_ += history.history["loss"]
        self.validation_loss_curve_ += history.history.get("val_loss", [])
        self.n_iter_ += len(history.epoch)
        self.history_ = history
        if stop and stop.stopped_epoch is None and not history.interrupted:
            warnings.warn(f"{type(self).__name__}: the loss still improved by more than tol={self.tol} "
                          f"within the last {self.n_iter_no_change} of {epochs} epochs; raise epochs "
                          "(or tol) for a converged network", ConvergenceWarning, stacklevel=3)
        return self

    def _stopping(self) -> EarlyStopping:
        """scikit-learn's convergence rule: stop once the training loss (with early_stopping the
        validation loss, keeping the best weights) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs."""
        if isinstance(self.tol, bool) or not isinstance(self.tol, numbers.Real) or not self.tol >= 0:
            raise ValueError(f"tol: expected a number >= 0, got {self.tol!r}")
        patience = check_int("n_iter_no_change", self.n_iter_no_change, 1)
        if isinstance(self.early_stopping, str) and self._setting("early_stopping"):     # (backprop train's)
            return EarlyStopping(patience=table_defaults.PATIENCE, min_delta=table_defaults.MIN_DELTA)
        early = self._setting("early_stopping")
        return EarlyStopping(monitor="auto" if early else "loss", min_delta=float(self.tol), patience=patience,
                             restore_best_weights=bool(early))

    def _build(self, X, y, classes) -> NeuralNetwork:
        hidden = self._setting("hidden_layer_sizes")
        hidden = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
        classifier = self._task != "regression"
        return NeuralNetwork([X.shape[1], *hidden, self._n_outputs(y, classes)], task=self._task,
                             hidden_activation=self._setting("activation"), optimizer=self.optimizer,
                             learning_rate=self._setting("learning_rate"), l2=self._setting("l2"),
                             initializer=self.initializer, dtype=self.dtype, random_state=self.random_state,
                             standardize_target=self.standardize_target, engine=self.engine,
                             dropout=self.dropout, embeddings=self._embeddings(), periodic=self._periodic(X),
                             input_scale=self._setting("input_scale"),
                             label_smoothing=self._setting("label_smoothing") if classifier else 0.0,
                             clip_predictions=False if classifier else self._setting("clip_predictions"))

    def _periodic(self, X) -> list[int] | None:
        """The encoded columns that get periodic embeddings: a raw table's numeric columns (up to
        ``backprop train``'s limit), or every column of numbers."""
        encoder = getattr(self, "table_encoder_", None)
        columns = range(X.shape[1]) if encoder is None else encoder.preprocessing_.numeric_positions
        setting = self._setting("periodic")
        if isinstance(setting, (bool, np.bool_)):
            return table_defaults.periodic_embedding(list(columns), bool(setting))
        return table_defaults.periodic_embedding(list(columns), True, setting)     # (a spread: on, so started)

    def _embeddings(self) -> dict | None:
        """The network's ``embeddings`` for the embedded columns of a raw DataFrame's encoding."""
        encoder = getattr(self, "table_encoder_", None)
        if self.embed and encoder is None:
            raise ValueError("embed: embeddings learn a raw DataFrame's text columns; X holds numbers only")
        return None if encoder is None else encoder.preprocessing_.embeddings or None

    def _validate(self, X, y, reset):
        raise NotImplementedError

    def _encoded(self, X, fitting: bool):
        """A raw table (a DataFrame with text, categories or gaps) through the command line's
        preprocessing (:class:`TableEncoder`, fitted by the first ``fit``); numbers as they are."""
        if fitting:
            raw = raw_table_kind(X)
            if raw == "gaps":
                warnings.warn(f"{type(self).__name__}: X holds missing values in numeric columns only; they are "
                              "filled as backprop train fills them (the training median), and the columns "
                              "standardised, by the table encoding (TableEncoder)", UserWarning, stacklevel=4)
            self.table_encoder_ = TableEncoder(embed=self.embed, scaling=self.scaling).fit(X) if raw else None
            self.fill_values_ = column_medians(X) if not raw and is_frame(X) else None
        encoder = getattr(self, "table_encoder_", None)
        if encoder is None:
            return self._gaps_filled(X) if not fitting else X
        encoded = encoder.transform(X)
        if not fitting:
            self._say_surprises(encoder.report_)
        return encoded

    def _say_surprises(self, report) -> None:
        """A UserWarning for what encoding new rows read otherwise than written: categories unseen in
        training, text in a numeric column read as missing (what ``backprop predict`` reports)."""
        lines = report.surprises()
        if lines:
            warnings.warn(f"{type(self).__name__}: {'; '.join(lines)}", UserWarning, stacklevel=4)

    def _gaps_filled(self, X):
        """A frame like the training frame of numbers without gaps: its text cells read as numbers
        (missing tokens such as ``n/a`` as gaps; ValueError naming the column, row and cell for
        other text), its gaps filled with the training medians as ``backprop train`` fills a column
        that had none (UserWarning naming them)."""
        fill = getattr(self, "fill_values_", None)
        if fill is None or not is_frame(X) or len(fill) != X.shape[1]:
            return X
        X = numbers_read(X)
        if not bool(X.isna().to_numpy().any()):
            return X
        gaps = X.isna().sum()
        named = ", ".join(f"{name!r} ({count})" for name, count in gaps[gaps > 0].items())
        warnings.warn(f"{type(self).__name__}: X holds missing values where the training frame held none: {named}; "
                      "filled with the training medians, as backprop train fills them", UserWarning, stacklevel=4)
        return X.fillna(dict(zip(X.columns, fill)))

    #: What ``batch_size="auto"`` means for this estimator.
    _auto_batch_size = 32

    def _batch_size(self, n_rows: int, first: bool):
        """``batch_size``, or what "auto" means: on a raw table the default of its training rows
        (``n_rows`` less the validation split, at the first fit; as ``backprop train`` takes it),
        else :attr:`_auto_batch_size`. Kept as ``batch_size_``, which later partial fits reuse."""
        size = self.batch_size
        if isinstance(size, str) and size == "auto":
            if not first and hasattr(self, "batch_size_"):
                return self.batch_size_
            training_rows = n_rows - int(round((self._setting("validation_split") or 0.0) * n_rows))  # (as fit splits)
            size = table_defaults.batch_size(training_rows) if getattr(self, "table_encoder_", None) is not None \
                else self._auto_batch_size
        self.batch_size_ = size
        return size

    def _n_outputs(self, y, classes) -> int:
        raise NotImplementedError

    # ---------------------------------------------------------------- prediction
    def predict(self, X):
        """Predicted labels (classifier) or values (regressor) for ``X``."""
        check_is_fitted(self, "model_")
        X = validate_data(self, self._encoded(X, fitting=False), reset=False, dtype=[np.float64, np.float32],
                          accept_sparse=True)
        return self.model_.predict(X)


class BackpropClassifier(ClassifierMixin, _BackpropEstimator):
    """Feed-forward classifier trained by hand-written backpropagation.

    Parameters marked "auto" take ``backprop train``'s defaults when ``fit`` gets a raw table (a
    DataFrame holding text, categories or gaps, encoded by :class:`TableEncoder`), so that
    cross-validating the estimator predicts what the command does, and scikit-learn's MLP
    conventions for numbers (arrays, numeric frames); the values are named below as
    "table / numbers" (:mod:`backpropagation.training.table_defaults`).

    Parameters
    ----------
    hidden_layer_sizes : int, tuple of int or "auto", default "auto"
        Widths of the hidden layers: (32, 16) / (100,).
    activation : str, Activation or "auto", default "auto"
        Hidden activation: "swish" (ReLU where a text column of more than 255 categories is
        one-hot) / "relu".
    optimizer : str or Optimizer, default "adam"
    learning_rate : float or "auto", default "auto"
        0.003 / 0.001 (on a table with ``optimizer`` "sgd", "momentum" or "nesterov": 0.01, as
        ``backprop train``).
    l2 : float or "auto", default "auto"
        L2 penalty on the weights (``l2/2 · ΣW²`` added to the loss), as ``NeuralNetwork``'s:
        1e-4 / 0.
    epochs : int or "auto", default "auto"
        Most epochs per call to ``fit`` (scikit-learn's ``max_iter``): 100 / 200.
    batch_size : int, None or "auto", default "auto"
        Rows per step; None is full batch. ``"auto"`` is 32 for the classifier and 200 for the
        regressor (scikit-learn's ``min(200, n_samples)``): on small noisy regression sets
        (diabetes) fewer, larger steps overfit less, while classifiers need the steps
        (``bench/quality.py``). On a raw table, as ``backprop train``: 32, doubled while an
        epoch of its training rows keeps 256 steps, up to 256 (``batch_size_`` holds the size used).
    shuffle : bool, default True
    validation_split : float or "auto", default "auto"
        Held-out fraction of the training data for ``validation_loss_curve_`` and early stopping:
        0.2 / 0.
    early_stopping : bool or "auto", default "auto"
        Watch the validation loss (``validation_split`` of the data; without it, the
        training loss) instead of the training loss, and keep the best epoch's weights. "auto":
        on a table as ``backprop train`` does (patience 10 on the validation loss) / off.
    tol : float, default 1e-4
        Training stops once the watched loss has not improved by at least ``tol`` for
        ``n_iter_no_change`` consecutive epochs (scikit-learn's rule); if ``epochs`` run out
        first, ``fit`` warns with ``ConvergenceWarning``.
    n_iter_no_change : int, default 10
    lr_schedule : str or Schedule, optional
    initializer : str, default "auto"
    dtype : {"float64", "float32"}, default "float64"
    standardize_target : bool, default True
        Regression only: train on ``(y - mean) / std`` and undo it in ``predict`` (see
        :class:`~backpropagation.NeuralNetwork`).
    warm_start : bool, default False
        Continue training the current network on the next ``fit`` instead of starting anew.
    random_state : int, numpy Generator, numpy RandomState or None
    verbose : {0, 1, 2}, default 0
    engine : {"auto", "numpy", "numba"}, default "auto"
        What runs the training batches (see :class:`~backpropagation.NeuralNetwork`).
    class_weight : "balanced" or dict, optional
        Classification only: each row's weight times its class's (see ``NeuralNetwork.fit``);
        "balanced" weighs each class by ``n_rows / (n_classes · rows of the class)``.
    dropout : float or list of float, default 0.0
        Inverted dropout after each hidden layer while training (see ``NeuralNetwork``).
    embed : dict of str to int or None, optional
        A raw DataFrame's text columns to learn as embeddings (``{column: width}``; None: the
        default width), as ``backprop train --embed`` does (see :class:`TableEncoder`).
    scaling : {"robust", "standard"}, default "robust"
        A raw DataFrame's numeric columns (see :class:`TableEncoder`).
    periodic : bool, float, (float, float) or "auto", default "auto"
        Periodic embeddings of the numeric columns (a raw table's, up to 200; else every column):
        on / off, or on with this spread of the initial frequencies (one, or LOW and HIGH of
        log-spaced spreads: ``backprop train --periodic-sigma``; see
        :class:`~backpropagation.nn.input_layers.PeriodicEmbedding`).
    input_scale : bool or "auto", default "auto"
        A learned scale on each input of the first layer: on / off.
    label_smoothing : float or "auto", default "auto"
        Classifier: targets ``(1 - ε) y + ε / classes``: 0.1 / 0.
    clip_predictions : bool or "auto", default "auto"
        Regressor: predictions within the training targets' range: on / off.

    Attributes
    ----------
    classes_ : ndarray
    n_features_in_ : int
    feature_names_in_ : ndarray of str (when ``X`` had column names)
    loss_curve_, validation_loss_curve_ : list of float
        Loss per epoch, across all calls since the network was built.
    n_iter_ : int
        Epochs run since the network was built (fewer than ``epochs`` once converged).
    batch_size_ : int or None
        Rows per step of the last fit (what ``batch_size="auto"`` chose).
    model_ : NeuralNetwork
        The trained network.
    """

    _task = "classification"

    def _validate(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32], accept_sparse=True)
        check_classification_targets(y)
        return X, column_or_1d(y, warn=True)

    def _n_outputs(self, y, classes) -> int:
        n_classes = len(np.unique(storable_labels(np.asarray(y), "y") if classes is None
                                  else storable_labels(np.asarray(classes).ravel(), "classes")))
        if n_classes < 2:
            raise ValueError(f"y: classifier needs samples of at least 2 classes, got {n_classes} class")
        return 1 if n_classes == 2 else n_classes

    def _build(self, X, y, classes):
        model = super()._build(X, y, classes)
        if classes is not None:  # partial_fit: the labels of all batches are known up front
            model.task_.set_classes(classes)
        return model

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch on ``X``, ``y``; the first call needs ``classes`` (all labels to expect)."""
        if not hasattr(self, "model_") and classes is None:
            raise ValueError("classes: the first call to partial_fit needs the list of all classes")
        return self._fit(X, y, sample_weight, epochs=1, reset=False, classes=classes)

    @property
    def classes_(self) -> np.ndarray:
        """Sorted class labels."""
        check_is_fitted(self, "model_")
        return self.model_.classes_

    def predict_proba(self, X):
        """Class probabilities, columns ordered like ``classes_``."""
        check_is_fitted(self, "model_")
        X = validate_data(self, self._encoded(X, fitting=False), reset=False, dtype=[np.float64, np.float32],
                          accept_sparse=True)
        return self.model_.predict_proba(X)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


class BackpropRegressor(RegressorMixin, _BackpropEstimator):
    """Feed-forward regressor trained by hand-written backpropagation.

    Parameters and attributes are those of :class:`BackpropClassifier` (without ``classes_``);
    ``y`` may have several columns.
    """

    _auto_batch_size = 200

    def _validate(self, X, y, reset):
        return validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=True, accept_sparse=True,
                             dtype=[np.float64, np.float32])

    def _n_outputs(self, y, classes) -> int:
        return 1 if y.ndim == 1 else y.shape[1]

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch on ``X``, ``y``, continuing the current network."""
        return self._fit(X, y, sample_weight, epochs=1, reset=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
