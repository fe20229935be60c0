"""Bad input at every public entry point raises ValueError/TypeError naming the argument."""

import numpy as np
import pytest

from scipy import sparse

from backpropagation import History, Loss, NeuralNetwork

X3 = np.arange(12.0).reshape(4, 3)
Y_REG = np.arange(4.0)
LABELS = np.array([0, 1, 0, 1])


def reg():
    return NeuralNetwork([3, 4, 1], random_state=0)


def clf(n_out=1):
    return NeuralNetwork([3, 4, n_out], task="classification", random_state=0)


def fitted_clf():
    model = clf()
    model.fit(X3, LABELS, epochs=1, verbose=0)
    return model


CASES = {
    # construction
    "layer sizes not a list": (lambda: NeuralNetwork(5), TypeError, "layer_sizes"),
    "one layer size": (lambda: NeuralNetwork([3]), ValueError, "at least an input and an output"),
    "zero width": (lambda: NeuralNetwork([3, 0, 1]), ValueError, r"layer_sizes\[1\]"),
    "negative width": (lambda: NeuralNetwork([3, -2, 1]), ValueError, r"layer_sizes\[1\]"),
    "float width": (lambda: NeuralNetwork([3, 2.5, 1]), ValueError, r"layer_sizes\[1\]"),
    "unknown task": (lambda: NeuralNetwork([3, 1], task="ranking"), ValueError, "task"),
    "unknown activation": (lambda: NeuralNetwork([3, 2, 1], hidden_activation="gelu2"), ValueError,
                           "hidden_activation: unknown activation 'gelu2'; expected one of"),
    "activation list length": (lambda: NeuralNetwork([3, 2, 2, 1], hidden_activation=["relu"]),
                               ValueError, "one activation per hidden layer"),
    "activation wrong type": (lambda: NeuralNetwork([3, 2, 1], hidden_activation=3), TypeError,
                              "hidden_activation"),
    "unknown loss": (lambda: NeuralNetwork([3, 1], loss="hinge"), ValueError, "unknown loss 'hinge'"),
    "unknown optimizer": (lambda: NeuralNetwork([3, 1], optimizer="lbfgs"), ValueError, "unknown optimizer"),
    "unknown initializer": (lambda: NeuralNetwork([3, 1], initializer="orthogonal"), ValueError,
                            "unknown initializer"),
    "zero learning rate": (lambda: NeuralNetwork([3, 1], learning_rate=0), ValueError, "learning_rate"),
    "negative learning rate": (lambda: NeuralNetwork([3, 1], learning_rate=-1), ValueError, "learning_rate"),
    "nan learning rate": (lambda: NeuralNetwork([3, 1], learning_rate=float("nan")), ValueError,
                          "learning_rate"),
    "negative l2": (lambda: NeuralNetwork([3, 1], l2=-0.1), ValueError, "l2"),
    "bad dtype": (lambda: NeuralNetwork([3, 1], dtype="float16"), ValueError, "dtype"),
    "bad random_state": (lambda: NeuralNetwork([3, 1], random_state="seed"), ValueError, "random_state"),
    "multiclass with one output": (lambda: NeuralNetwork([3, 1], task="multiclass"), ValueError,
                                   "task='binary'"),
    "binary with three outputs": (lambda: NeuralNetwork([3, 3], task="binary"), ValueError,
                                  "size 1 .sigmoid. or 2 .softmax."),
    # fit: X
    "1-D X": (lambda: reg().fit(np.arange(4.0), Y_REG, verbose=0), ValueError, r"X.reshape\(-1, 1\)"),
    "3-D X": (lambda: reg().fit(np.zeros((4, 3, 1)), Y_REG, verbose=0), ValueError, "2-D array"),
    "empty X": (lambda: reg().fit(np.zeros((0, 3)), [], verbose=0), ValueError, "at least one sample"),
    "wrong feature count": (lambda: reg().fit(np.zeros((4, 2)), Y_REG, verbose=0), ValueError,
                            "expected 3 features"),
    "ragged X": (lambda: reg().fit([[1, 2, 3], [1, 2]], [1, 2], verbose=0), ValueError, "ragged"),
    "text in X": (lambda: reg().fit([[1, 2, "a"], [1, 2, 3]], [1, 2], verbose=0), TypeError,
                  "'a' at row 0, column 2"),
    "NaN in X": (lambda: reg().fit(np.where(X3 == 5, np.nan, X3), Y_REG, verbose=0), ValueError,
                 "NaN at row 1, column 2"),
    "inf in X": (lambda: reg().fit(np.where(X3 == 0, np.inf, X3), Y_REG, verbose=0), ValueError,
                 "non-finite"),
    "integer too large for a float in X": (lambda: reg().fit([[1, 2, 3], [4, 10**400, 6]], [1, 2], verbose=0),
                                           ValueError, r"row 1, column 1 \(401 digits\) is too large"),
    "integer too large for a float in y": (lambda: reg().fit(X3[:2], [1, -10**400], verbose=0), ValueError,
                                           "y: the value at row 1"),
    "complex X": (lambda: reg().fit(X3 + 1j, Y_REG, verbose=0), TypeError, "complex"),
    "dates in X": (lambda: reg().fit(np.arange(12).reshape(4, 3).astype("datetime64[D]"), Y_REG, verbose=0),
                   TypeError, r"got datetime64\[D\] values; a date or duration"),
    "durations in X": (lambda: reg().fit(np.arange(12).reshape(4, 3).astype("timedelta64[s]"), Y_REG,
                                         verbose=0), TypeError, r"got timedelta64\[s\] values"),
    "X None": (lambda: reg().fit(None, Y_REG, verbose=0), TypeError, "X: expected an array-like"),
    # fit: y
    "length mismatch": (lambda: reg().fit(X3, Y_REG[:3], verbose=0), ValueError,
                        "same number of samples, got 4 and 3"),
    "NaN in regression y": (lambda: reg().fit(X3, [1, np.nan, 2, 3], verbose=0), ValueError,
                            "non-finite target values .first at row 1"),
    "text regression y": (lambda: reg().fit(X3, ["a", "b", "c", "d"], verbose=0), TypeError,
                          "task='classification'"),
    "regression y too wide": (lambda: reg().fit(X3, np.zeros((4, 2)), verbose=0), ValueError,
                              "output layer's 1 unit"),
    "one class": (lambda: clf().fit(X3, [1, 1, 1, 1], verbose=0), ValueError, "single class"),
    "three classes, sigmoid": (lambda: clf().fit(X3, [0, 1, 2, 0], verbose=0), ValueError,
                               "use an output size of 3"),
    "two classes, four softmax units": (lambda: clf(4).fit(X3, LABELS, verbose=0), ValueError,
                                        r"output size of 2 \(softmax\) or 1 \(sigmoid\)"),
    "NaN label": (lambda: clf().fit(X3, [0.0, np.nan, 1.0, 0.0], verbose=0), ValueError, "NaN labels"),
    "mixed label types": (lambda: clf().fit(X3, np.array([0, "a", 1, "b"], dtype=object), verbose=0),
                          TypeError, "one type"),
    "bad one-hot": (lambda: clf(2).fit(X3, [[1, 1], [0, 1], [1, 0], [0, 1]], verbose=0), ValueError,
                    "one-hot"),
    # fit: arguments
    "zero epochs": (lambda: reg().fit(X3, Y_REG, epochs=0, verbose=0), ValueError, "epochs"),
    "float epochs": (lambda: reg().fit(X3, Y_REG, epochs=2.5, verbose=0), TypeError, "epochs"),
    "zero batch size": (lambda: reg().fit(X3, Y_REG, batch_size=0, verbose=0), ValueError, "batch_size"),
    "bad verbose": (lambda: reg().fit(X3, Y_REG, verbose=3), ValueError, "verbose"),
    "validation split 1": (lambda: reg().fit(X3, Y_REG, validation_split=1.0, verbose=0), ValueError,
                           "validation_split"),
    "validation split empty": (lambda: reg().fit(X3, Y_REG, validation_split=0.01, verbose=0), ValueError,
                               r"0.01 of 4 rows rounds to 0 held out, leaving 4 row\(s\) for training "
                               r"and 0 for validation"),
    "validation data not a pair": (lambda: reg().fit(X3, Y_REG, validation_data=X3, verbose=0), TypeError,
                                   "validation_data"),
    "validation data wrong width": (lambda: reg().fit(X3, Y_REG, validation_data=(X3[:, :2], Y_REG),
                                                      verbose=0), ValueError, r"validation_data\[0\]"),
    "early stopping wrong type": (lambda: reg().fit(X3, Y_REG, early_stopping="yes", verbose=0), TypeError,
                                  "early_stopping"),
    "callbacks wrong type": (lambda: reg().fit(X3, Y_REG, callbacks=[print], verbose=0), TypeError,
                             r"callbacks\[0\]"),
    "sample_weight wrong length": (lambda: reg().fit(X3, Y_REG, sample_weight=[1, 2], verbose=0), ValueError,
                                   r"sample_weight: expected shape \(4,\)"),
    "sample_weight negative": (lambda: reg().fit(X3, Y_REG, sample_weight=[1, -1, 1, 1], verbose=0),
                               ValueError, ">= 0"),
    "sample_weight all zero": (lambda: reg().fit(X3, Y_REG, sample_weight=[0, 0, 0, 0], verbose=0),
                               ValueError, "all weights are zero"),
    "sample_weight text": (lambda: reg().fit(X3, Y_REG, sample_weight=["a"] * 4, verbose=0), TypeError,
                           "sample_weight: expected numbers"),
    # after fit
    "unseen label": (lambda: fitted_clf().score(X3, [0, 1, 2, 1]), ValueError, "label 2 was not seen"),
    "predict wrong width": (lambda: fitted_clf().predict(np.zeros((2, 4))), ValueError, "expected 3 features"),
    "set_weights count": (lambda: reg().set_weights([]), ValueError, "expected 2"),
    "set_weights shape": (lambda: reg().set_weights([(np.zeros((3, 5)), np.zeros(4)), (np.zeros((4, 1)), np.zeros(1))]),
                          ValueError, r"weights\[0\]\[0\]: expected shape \(3, 4\), got \(3, 5\)"),
    "set_weights bias without bias": (lambda: NeuralNetwork([3, 1], use_bias=False).set_weights(
        [(np.zeros((3, 1)), np.zeros(1))]), ValueError, "pass None"),
    "set_weights NaN": (lambda: NeuralNetwork([3, 1]).set_weights([(np.full((3, 1), np.nan), np.zeros(1))]),
                        ValueError, "non-finite"),
    # Arguments of the wrong kind: the message names the argument and the remedy.
    "lr_schedule returns text": (lambda: reg().fit(X3, Y_REG, lr_schedule=lambda e, lr: "x", verbose=0),
                                 TypeError, "lr_schedule: expected the function to return a number"),
    "lr_schedule wrong signature": (lambda: reg().fit(X3, Y_REG, lr_schedule=lambda e: 0.1, verbose=0),
                                    TypeError, r"lr_schedule: calling it as f\(epoch, lr\)"),
    "callbacks not a list": (lambda: reg().fit(X3, Y_REG, callbacks=History(), verbose=0), TypeError,
                             r"callbacks: .*wrap it in a list"),
    "y a scalar": (lambda: reg().fit(X3, 5, verbose=0), TypeError, "y: expected an array-like .* single int"),
    "comm not a communicator": (lambda: reg().fit(X3, Y_REG, comm=object(), verbose=0), TypeError,
                                "comm: expected an mpi4py communicator"),
    "sparse sample_weight": (lambda: reg().fit(X3, Y_REG, verbose=0, sample_weight=sparse.csr_matrix(np.ones(4))),
                             TypeError, r"sample_weight: got a sparse matrix"),
    "generator X": (lambda: reg().fit((row for row in X3), Y_REG, verbose=0), TypeError,
                    r"X: .*generator; materialise it"),
    "generator y": (lambda: reg().fit(X3, (v for v in Y_REG), verbose=0), TypeError, "y: .*generator"),
    "dict X": (lambda: reg().fit({"a": [1, 2]}, Y_REG, verbose=0), TypeError, "X: .*got a dict"),
    "shuffle not a bool": (lambda: reg().fit(X3, Y_REG, shuffle="no", verbose=0), TypeError, "shuffle"),
    "cross-entropy on regression": (lambda: NeuralNetwork([3, 1], loss="binary_crossentropy"), ValueError,
                                    "loss: .*'mse', 'mae' or 'huber'"),
    "categorical cross-entropy on one sigmoid": (
        lambda: NeuralNetwork([3, 1], task="binary", loss="categorical_crossentropy"), ValueError,
        "loss: .*one output unit per class"),
    "loss without backward": (lambda: NeuralNetwork([3, 1], loss=NoBackward()), TypeError,
                              "loss: NoBackward must define backward"),
    # Labels that could not be stored in a model file are refused by fit, not by load.
    "labels mixing numbers and text": (lambda: clf().fit(X3, [1, "a", 2, "b"], verbose=0), TypeError,
                                       "one type, found int and text .*row 1"),
    "NaN label in an object array": (lambda: clf().fit(X3, np.array(["a", np.nan, "b", "a"], dtype=object),
                                                       verbose=0), ValueError, "missing labels .*row 1"),
    "None label": (lambda: clf().fit(X3, ["a", None, "b", "a"], verbose=0), ValueError, "missing labels"),
    "infinite label": (lambda: clf().fit(X3, [0.0, np.inf, 1.0, 0.0], verbose=0), ValueError, "infinite"),
    "datetime labels": (lambda: clf().fit(X3, np.array(["2020-01-01", "2020-01-02"] * 2, "datetime64[D]"),
                                          verbose=0), TypeError, "cannot be stored in a model file"),
    "tuple labels": (lambda: clf().fit(X3, np.array([(1,), (2,), (1,), (2,)] + [None], dtype=object)[:4],
                                       verbose=0), TypeError, "labels of type tuple"),
    "labels beyond 64 bits": (lambda: clf().fit(X3, np.array([10**30, 1, 10**30, 1], dtype=object),
                                                verbose=0), ValueError, "beyond 64 bits"),
}


class NoBackward(Loss):
    def forward(self, Y, A):
        return float(np.mean((A - Y) ** 2))


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_a_clear_error(case):
    call, error, message = CASES[case]
    with pytest.raises(error, match=message):
        call()


def test_failed_set_weights_changes_nothing():
    model = reg()
    before = model.parameters.copy()
    with pytest.raises(ValueError):
        model.set_weights([(np.ones((3, 4)), np.ones(4)), (np.ones((5, 1)), np.ones(1))])
    np.testing.assert_array_equal(model.parameters, before)


def sk_classifier():
    from backpropagation.sklearn import BackpropClassifier

    return BackpropClassifier(hidden_layer_sizes=(4,), epochs=1)


def sk_regressor():
    from backpropagation.sklearn import BackpropRegressor

    return BackpropRegressor(hidden_layer_sizes=(4,), epochs=1)


SKLEARN_CASES = {
    "estimator: text in X": (lambda: sk_classifier().fit([["a", 1], ["b", 2]], [0, 1]), ValueError,
                             "could not convert"),
    "estimator: NaN in X": (lambda: sk_regressor().fit([[np.nan, 1], [1, 2]], [0, 1]), ValueError, "NaN"),
    "estimator: one class": (lambda: sk_classifier().fit(X3, [1, 1, 1, 1]), ValueError, "1 class"),
    "estimator: regression y as text": (lambda: sk_regressor().fit(X3, ["a", "b", "c", "d"]), TypeError,
                                         "regression targets must be numbers"),
    "estimator: empty X": (lambda: sk_regressor().fit(np.zeros((0, 3)), []), ValueError, "0 sample"),
    "estimator: 3-D X": (lambda: sk_regressor().fit(np.zeros((4, 3, 2)), Y_REG), ValueError, "dim 3"),
    "estimator: wrong width at predict": (lambda: sk_regressor().fit(X3, Y_REG).predict(np.zeros((2, 5))),
                                          ValueError, "5 features"),
    "estimator: unknown activation": (lambda: sk_regressor().set_params(activation="nope").fit(X3, Y_REG),
                                      ValueError, "unknown activation 'nope'"),
    "estimator: negative epochs": (lambda: sk_regressor().set_params(epochs=-1).fit(X3, Y_REG), ValueError,
                                   "epochs"),
}


@pytest.mark.parametrize("case", sorted(SKLEARN_CASES))
def test_bad_input_to_the_scikit_learn_estimators(case):
    pytest.importorskip("sklearn")
    call, error, message = SKLEARN_CASES[case]
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("X", [
    np.ones((4, 3), dtype=np.float16),
    np.ones((4, 3), dtype=bool),
    np.ones((4, 3), dtype=np.int64),
    np.array([[1, 2, 3]] * 4, dtype=object),
])
def test_unusual_but_valid_inputs_work(X):
    model = reg()
    model.fit(X, Y_REG, epochs=1, verbose=0)
    as_floats = np.asarray(X, dtype=np.float64)
    assert model.predict(X).dtype == np.float64
    np.testing.assert_array_equal(model.predict(X), model.predict(as_floats))   # read as the same numbers


def test_one_sample_and_one_feature_train_and_predict():
    one_sample = reg()
    one_sample.fit(X3[:1], Y_REG[:1], epochs=2, verbose=0)
    assert one_sample.predict(X3[:1]).shape == (1,)
    one_feature = NeuralNetwork([1, 3, 1], random_state=0)
    one_feature.fit(X3[:, :1], Y_REG, epochs=2, verbose=0)
    assert one_feature.predict(X3[:, :1]).shape == (4,)


def test_batch_larger_than_the_data_is_full_batch():
    model = reg()
    model.fit(X3, Y_REG, epochs=1, batch_size=1000, verbose=0, shuffle=False)
    assert model.optimizer.iterations == 1


@pytest.mark.parametrize("dtype,scale", [("float64", 1e160), ("float32", 1e16)])
def test_features_whose_squares_overflow_are_refused_naming_the_column(dtype, scale):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    X[:, 2] *= scale
    with pytest.raises(ValueError, match=r"X, column 2: values as large as .* too large to train on or standardise"):
        NeuralNetwork([3, 4, 1], dtype=dtype, random_state=0).fit(X, y, epochs=1, verbose=0)


def test_targets_whose_squares_overflow_are_called_too_large_not_non_finite():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    with pytest.raises(ValueError, match="too large to train on or standardise") as caught:
        NeuralNetwork([2, 4, 1], random_state=0).fit(X, rng.normal(size=30) * 1e200, epochs=1, verbose=0)
    assert "non-finite" not in str(caught.value)


def test_save_refuses_what_load_would_refuse(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    model = NeuralNetwork([2, 4, 1], random_state=0)
    model.fit(X, X.sum(axis=1), epochs=1, verbose=0)
    model.optimizer.v[0] = np.inf                    # what an overflowing square leaves in Adam's state
    with pytest.raises(ValueError, match="cannot save the model: optimizer state 'v'"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_a_sparse_matrix_trains_and_predicts_as_its_dense_twin():
    dense = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 1.0], [3.0, 1.0, 0.0], [0.0, 2.0, 0.0]])
    models = [reg(), reg()]
    models[0].fit(dense, Y_REG, epochs=3, verbose=0)
    models[1].fit(sparse.csr_matrix(dense), Y_REG, epochs=3, verbose=0)
    np.testing.assert_array_equal(models[0].parameters, models[1].parameters)
    np.testing.assert_array_equal(models[1].predict(sparse.csc_matrix(dense)), models[0].predict(dense))
