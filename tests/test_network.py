"""The NeuralNetwork API: construction, tasks and labels, weights, determinism, dtypes, training state."""

import numpy as np
import pytest

from backpropagation import Activation, DivergenceError, Loss, NeuralNetwork, NotFittedError, activations


def blobs(n=60, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(n_classes) / n_classes
    centers = 5 * np.column_stack([np.cos(angles), np.sin(angles)])  # well separated
    labels = np.arange(n) % n_classes
    return centers[labels] + rng.normal(size=(n, 2)), labels


def test_layer_sizes_build_dense_layers_with_the_documented_shapes():
    model = NeuralNetwork([3, 16, 8, 2])
    shapes = [(W.shape, b.shape) for W, b in model.get_weights()]
    assert shapes == [((3, 16), (16,)), ((16, 8), (8,)), ((8, 2), (2,))]
    assert model.n_parameters == 3 * 16 + 16 + 16 * 8 + 8 + 8 * 2 + 2


def test_names_of_components_read_in_any_case_with_hyphens_or_spaces(own_names):
    from backpropagation import optimizers

    net = NeuralNetwork([2, 3, 1], hidden_activation="Leaky-ReLU", optimizer="AdamW", loss="MSE")
    assert isinstance(net.layers[0].activation, activations.LeakyReLU)
    assert isinstance(net.optimizer, optimizers.AdamW)

    @optimizers.register("Plain Step")
    class PlainStep(optimizers.SGD):
        pass
    assert PlainStep.name == "plain_step" and isinstance(optimizers.get("plain-step"), PlainStep)
    with pytest.raises(ValueError, match="already registered"):
        optimizers.register("PLAIN_STEP", optimizers.SGD)      # the same name, spelled otherwise
    with pytest.raises(ValueError, match="unknown optimizer 'plainstep'"):
        optimizers.get("plainstep")


def test_weights_are_views_into_one_flat_parameter_vector():
    model = NeuralNetwork([3, 4, 2], random_state=0)
    model.parameters[...] = np.arange(model.n_parameters)
    W1, b1 = model.layers[0].W, model.layers[0].b
    assert W1[0, 0] == 0 and W1[-1, -1] == 11          # weights first...
    assert model.layers[1].W[0, 0] == 12
    assert b1[0] == 12 + 8                               # ...then biases
    assert np.shares_memory(W1, model.parameters) and np.shares_memory(model.layers[1].db, model.gradients)


def test_auto_initializer_is_glorot_for_classification_and_pytorchs_for_regression():
    regression = NeuralNetwork([400, 300, 300, 1], hidden_activation=["relu", "tanh"], random_state=0)
    for layer in regression.layers:                            # fan_in_uniform: U(±1/√fan_in)
        bound = 1 / np.sqrt(layer.fan_in)
        assert np.abs(layer.W).max() <= bound and layer.W.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    classifier = NeuralNetwork([400, 300, 300, 3], task="classification", random_state=0)
    for layer in classifier.layers:                            # glorot_uniform: U(±√(6/(fan_in+fan_out)))
        bound = np.sqrt(6 / (layer.fan_in + layer.fan_out))
        assert np.abs(layer.W).max() <= bound and layer.W.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    assert all(not layer.b.any() for layer in regression.layers + classifier.layers)


def test_summary_lists_layers_shapes_and_parameter_counts():
    text = NeuralNetwork([4, 16, 3], task="multiclass", optimizer="adam").summary()
    assert "dense_1" in text and "(None, 16)" in text and "ReLU" in text and "Softmax" in text
    assert "80" in text and "51" in text and "Total params: 131" in text
    assert "task=multiclass" in text and "categorical_crossentropy" in text


def test_string_labels_come_back_from_predict_and_proba_follows_classes():
    X, labels = blobs()
    y = np.array(["setosa", "versicolor", "virginica"])[labels]
    model = NeuralNetwork([2, 16, 3], task="classification", optimizer="adam", learning_rate=0.05,
                          random_state=0)
    model.fit(X, y, epochs=100, batch_size=16, verbose=0)
    assert model.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert model.predict(X).dtype.kind == "U" and model.score(X, y) > 0.9
    proba = model.predict_proba(X)
    assert proba.shape == (60, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X))


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_binary_labels_of_any_type_with_one_sigmoid_or_two_softmax_outputs(n_outputs):
    X, labels = blobs(n_classes=2)
    y = labels.astype(bool)
    model = NeuralNetwork([2, 8, n_outputs], task="binary", optimizer="adam", learning_rate=0.05,
                          random_state=0)
    model.fit(X, y, epochs=50, verbose=0)
    assert model.classes_.tolist() == [False, True]
    assert model.predict(X).dtype == bool
    assert model.predict_proba(X).shape == (60, 2)
    assert model.score(X, y) > 0.9
    assert type(model.layers[-1].activation).__name__ == ("Sigmoid" if n_outputs == 1 else "Softmax")


def test_one_hot_targets_are_accepted_for_softmax_outputs():
    X, labels = blobs()
    model = NeuralNetwork([2, 8, 3], task="multiclass", random_state=0)
    model.fit(X, np.eye(3)[labels], epochs=2, verbose=0)
    assert model.classes_.tolist() == [0, 1, 2]


def test_regression_predict_keeps_the_rank_of_y():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    one = NeuralNetwork([3, 4, 1], random_state=0)
    one.fit(X, X.sum(axis=1), epochs=2, verbose=0)
    assert one.predict(X).shape == (20,)
    column = NeuralNetwork([3, 4, 1], random_state=0)
    column.fit(X, X.sum(axis=1, keepdims=True), epochs=2, verbose=0)
    assert column.predict(X).shape == (20, 1)
    two = NeuralNetwork([3, 4, 2], random_state=0)
    two.fit(X, X[:, :2], epochs=2, verbose=0)
    assert two.predict(X).shape == (20, 2)
    assert set(two.evaluate(X, X[:, :2])) == {"loss", "mse", "mae", "r2"}


def test_lists_and_dataframes_are_accepted():
    pd = pytest.importorskip("pandas")
    X, labels = blobs()
    frame = pd.DataFrame(X, columns=["a", "b"])
    model = NeuralNetwork([2, 4, 3], task="classification", random_state=0)
    model.fit(frame, pd.Series(labels), epochs=2, verbose=0)
    np.testing.assert_array_equal(model.predict(frame), model.predict(X.tolist()))


def test_same_random_state_gives_bit_identical_training():
    X, labels = blobs()

    def train(seed):
        model = NeuralNetwork([2, 8, 3], task="classification", optimizer="adam", random_state=seed)
        history = model.fit(X, labels, epochs=5, batch_size=7, validation_split=0.2, verbose=0)
        return model.parameters.copy(), history.history

    (p1, h1), (p2, h2), (p3, _) = train(42), train(42), train(43)
    assert p1.tobytes() == p2.tobytes() and h1 == h2
    assert p1.tobytes() != p3.tobytes()


def test_float32_is_kept_end_to_end():
    X, labels = blobs()
    model = NeuralNetwork([2, 8, 3], task="classification", optimizer="adam", dtype="float32",
                          random_state=0, engine="numpy")        # (the reference's layer caches)
    model.fit(X, labels, epochs=3, verbose=0)
    assert model.parameters.dtype == np.float32 and model.gradients.dtype == np.float32
    assert all(layer.A.dtype == np.float32 and layer.Z.dtype == np.float32 for layer in model.layers)
    assert model.predict_proba(X).dtype == np.float32
    assert model.optimizer.m.dtype == np.float32 and model.optimizer.v.dtype == np.float32


def test_calling_fit_again_continues_with_the_optimizer_state():
    X, labels = blobs()
    model = NeuralNetwork([2, 8, 3], task="classification", optimizer="adam", random_state=0)
    first = model.fit(X, labels, epochs=5, batch_size=10, verbose=0)
    assert model.optimizer.iterations == 30
    second = model.fit(X, labels, epochs=5, batch_size=10, verbose=0)
    assert model.optimizer.iterations == 60
    assert second.history["loss"][0] < first.history["loss"][0]


def test_split_training_equals_one_long_run():
    X, labels = blobs()
    once = NeuralNetwork([2, 8, 3], task="classification", optimizer="adam", random_state=5)
    once.fit(X, labels, epochs=6, batch_size=8, verbose=0)
    twice = NeuralNetwork([2, 8, 3], task="classification", optimizer="adam", random_state=5)
    twice.fit(X, labels, epochs=3, batch_size=8, verbose=0)
    twice.fit(X, labels, epochs=3, batch_size=8, verbose=0)
    assert once.parameters.tobytes() == twice.parameters.tobytes()


def test_history_loss_is_the_sample_weighted_mean_of_batch_losses():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 2)), rng.normal(size=10)
    model = NeuralNetwork([2, 3, 1], optimizer="sgd", learning_rate=0.1, standardize_target=False,
                          random_state=0)
    start = model.parameters.copy()
    history = model.fit(X, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    replay = NeuralNetwork([2, 3, 1], optimizer="sgd", learning_rate=0.1, standardize_target=False,
                           random_state=0)
    replay.parameters[...] = start
    batch_losses = []
    for rows in (slice(0, 4), slice(4, 8), slice(8, 10)):   # batches of 4, 4 and 2
        batch_losses.append(replay.evaluate(X[rows], y[rows])["loss"])
        replay.fit(X[rows], y[rows], epochs=1, batch_size=None, verbose=0)
    expected = (4 * batch_losses[0] + 4 * batch_losses[1] + 2 * batch_losses[2]) / 10
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-12)


def test_set_weights_round_trips_and_supports_networks_without_bias():
    model = NeuralNetwork([3, 2, 1], use_bias=False, random_state=0)
    weights = model.get_weights()
    assert all(b is None for _, b in weights)
    new = [(W + 1.0, None) for W, _ in weights]
    model.set_weights(new)
    for (W, _), (expected, _) in zip(model.get_weights(), new):
        np.testing.assert_array_equal(W, expected)


def test_l2_penalty_is_added_to_the_loss_and_shrinks_weights():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)), rng.normal(size=50)
    plain = NeuralNetwork([3, 8, 1], random_state=0)
    penalised = NeuralNetwork([3, 8, 1], l2=0.1, random_state=0)
    weights = penalised.parameters[: 3 * 8 + 8]
    expected = plain.evaluate(X, y)["loss"] + 0.05 * float(weights @ weights)
    assert penalised.evaluate(X, y)["loss"] == pytest.approx(expected, rel=1e-12)
    plain.fit(X, y, epochs=30, verbose=0)
    penalised.fit(X, y, epochs=30, verbose=0)
    assert np.linalg.norm(penalised.layers[0].W) < np.linalg.norm(plain.layers[0].W)


def test_divergence_stops_with_a_clear_error_and_finite_weights():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)) * 100, rng.normal(size=40) * 1e3
    model = NeuralNetwork([3, 16, 1], optimizer="sgd", learning_rate=10.0, standardize_target=False,
                          random_state=0)
    with pytest.raises(DivergenceError, match="smaller learning_rate") as caught:
        model.fit(X, y, epochs=50, batch_size=4, verbose=0)
    assert np.isfinite(model.parameters).all()
    assert caught.value.history is model.history_
    assert model.history_.stop_reason.startswith("diverged")


def test_classifier_methods_before_fit_raise_not_fitted():
    model = NeuralNetwork([2, 3], task="multiclass")
    for method in (model.predict, model.predict_proba):
        with pytest.raises(NotFittedError, match="call fit first"):
            method([[0.0, 1.0]])


def test_untrained_regression_network_can_predict():
    assert NeuralNetwork([2, 3, 1], random_state=0).predict([[0.0, 1.0]]).shape == (1,)


def test_predict_proba_is_refused_for_regression():
    with pytest.raises(ValueError, match="only classification"):
        NeuralNetwork([2, 1]).predict_proba([[0.0, 1.0]])


def test_a_custom_activation_subclass_trains():
    class Cube(Activation):
        """f(z) = z³ / 3, f'(z) = z²"""

        def forward(self, Z):
            return Z**3 / 3

        def backward(self, Z, A, dA):
            return dA * Z * Z

    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 3))
    model = NeuralNetwork([3, 4, 1], hidden_activation=Cube(), random_state=0)
    assert model.gradient_check(X, rng.normal(size=8)) < 1e-6
    history = model.fit(X, X.sum(axis=1), epochs=30, batch_size=None, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_registered_activation_names_resolve(own_names):

    @activations.register("test_square")
    class Square(Activation):
        def forward(self, Z):
            return Z * Z

        def backward(self, Z, A, dA):
            return 2 * Z * dA

    model = NeuralNetwork([2, 3, 1], hidden_activation="test_square")
    assert isinstance(model.layers[0].activation, Square)
    with pytest.raises(ValueError, match="already registered"):
        activations.register("test_square")(Square)


def test_unit_sample_weights_change_nothing():
    X, labels = blobs()
    plain = NeuralNetwork([2, 8, 3], task="classification", optimizer="adam", random_state=0)
    weighted = NeuralNetwork([2, 8, 3], task="classification", optimizer="adam", random_state=0)
    h1 = plain.fit(X, labels, epochs=3, batch_size=8, verbose=0)
    h2 = weighted.fit(X, labels, epochs=3, batch_size=8, verbose=0, sample_weight=np.ones(60))
    np.testing.assert_allclose(weighted.parameters, plain.parameters, rtol=1e-12)
    np.testing.assert_allclose(h2.history["loss"], h1.history["loss"], rtol=1e-12)


def test_integer_weights_equal_repeated_samples_in_full_batch_training():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 3)), rng.normal(size=12)
    counts = rng.integers(0, 4, size=12)
    weighted = NeuralNetwork([3, 5, 1], optimizer="adam", random_state=0)
    repeated = NeuralNetwork([3, 5, 1], optimizer="adam", random_state=0)
    h1 = weighted.fit(X, y, epochs=20, batch_size=None, verbose=0, sample_weight=counts)
    h2 = repeated.fit(np.repeat(X, counts, axis=0), np.repeat(y, counts), epochs=20, batch_size=None,
                      verbose=0, shuffle=False)
    np.testing.assert_allclose(weighted.parameters, repeated.parameters, rtol=1e-10)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-10)


def test_batches_whose_weights_are_all_zero_are_skipped():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 2)), rng.normal(size=8)
    model = NeuralNetwork([2, 1], random_state=0)
    model.fit(X, y, epochs=1, batch_size=4, shuffle=False, verbose=0,
              sample_weight=[0, 0, 0, 0, 1, 1, 1, 1])
    assert model.optimizer.iterations == 1


def test_pickle_round_trip_keeps_the_flat_parameter_views():
    import pickle

    X, labels = blobs()
    model = NeuralNetwork([2, 8, 3], task="classification", optimizer="adam", random_state=0)
    model.fit(X, labels, epochs=2, verbose=0)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict_proba(X), model.predict_proba(X))
    assert np.shares_memory(clone.layers[1].W, clone.parameters)
    assert np.shares_memory(clone.layers[0].dW, clone.gradients)
    model.fit(X, labels, epochs=2, verbose=0)
    clone.fit(X, labels, epochs=2, verbose=0)
    assert clone.parameters.tobytes() == model.parameters.tobytes()


def test_epoch_metric_is_sample_weighted_over_the_rows_trained_on():
    # Zero-weight rows (and all-zero batches of them) must count for nothing: training with
    # weights 0/1 at batch size 1 is training on the rows of weight 1 alone.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    for task, y, n_out in (("classification", (X[:, 0] > 0).astype(int), 2), ("regression", X.sum(axis=1), 1)):
        weights = np.where(np.arange(40) % 3 == 0, 0.0, 1.0)
        fit = dict(epochs=3, batch_size=1, shuffle=False, verbose=0)
        weighted = NeuralNetwork([3, 4, n_out], task=task, random_state=0).fit(X, y, sample_weight=weights, **fit)
        alone = NeuralNetwork([3, 4, n_out], task=task, random_state=0).fit(X[weights > 0], y[weights > 0], **fit)
        assert weighted.history.keys() == alone.history.keys()
        for name, values in alone.history.items():      # (sums over other lengths: last-digit rounding)
            assert weighted.history[name] == pytest.approx(values, rel=1e-12, abs=1e-15), name


def test_epoch_metric_weights_rows_by_their_sample_weight():
    X = np.arange(8.0).reshape(4, 2)
    y = np.array([0, 1, 0, 1])
    model = NeuralNetwork([2, 2], task="classification", learning_rate=1e-12, random_state=0)
    weights = np.array([3.0, 1.0, 1.0, 1.0])
    history = model.fit(X, y, epochs=1, batch_size=None, sample_weight=weights, verbose=0)
    correct = model.predict(X) == y                          # the weights barely move
    assert history.history["accuracy"][0] == pytest.approx(np.average(correct, weights=weights))


class ForwardOnlyMSE(Loss):
    """A custom loss written with forward and backward only."""

    def forward(self, Y, A):
        return float(np.mean((A - Y) ** 2))

    def backward(self, Y, A):
        return 2 * (A - Y) / A.size


def test_a_custom_loss_with_forward_and_backward_trains_with_sample_weights():
    rng = np.random.default_rng(1)
    X, weights = rng.normal(size=(12, 2)), rng.uniform(0.5, 2.0, size=12)
    y = X.sum(axis=1)
    custom = NeuralNetwork([2, 3, 1], loss=ForwardOnlyMSE(), random_state=0)
    builtin = NeuralNetwork([2, 3, 1], loss="mse", random_state=0)
    h1 = custom.fit(X, y, epochs=2, batch_size=4, sample_weight=weights, verbose=0)
    h2 = builtin.fit(X, y, epochs=2, batch_size=4, sample_weight=weights, verbose=0)
    np.testing.assert_allclose(custom.parameters, builtin.parameters, rtol=1e-12)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-12)


def test_a_network_can_be_built_from_layer_objects_and_saved(tmp_path):
    from backpropagation import Dense

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), np.arange(30) % 3
    model = NeuralNetwork([Dense(4, 16, activation="tanh"), Dense(16, 3)], task="classification", random_state=0)
    same = NeuralNetwork([4, 16, 3], task="classification", hidden_activation="tanh", random_state=0)
    assert model.summary() == same.summary() and model.parameters.tobytes() == same.parameters.tobytes()
    model.fit(X, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    assert NeuralNetwork.load(tmp_path / "m.npz").predict(X).tolist() == model.predict(X).tolist()
    sigmoid_out = NeuralNetwork([Dense(2, 4), Dense(4, 1, activation="sigmoid")], random_state=0)
    assert type(sigmoid_out.layers[-1].activation).__name__ == "Sigmoid"
    with pytest.raises(ValueError, match="widths must chain"):
        NeuralNetwork([Dense(4, 16), Dense(8, 3)])


@pytest.mark.parametrize("task,n_out", [("regression", 2), ("multiclass", 3), ("binary", 1)])
def test_the_objective_in_passes_equals_one_pass_and_fills_the_outputs(task, n_out):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 4))
    model = NeuralNetwork([4, 8, n_out], task=task, l2=0.01, random_state=0)
    y = rng.normal(size=(5000, n_out)) if task == "regression" else rng.integers(0, max(n_out, 2), 5000)
    model.fit(X[:50], y[:50], epochs=1, verbose=0)
    Y = model.task_.encode(y, model.dtype)
    whole, outputs = model.backprop.objective(X, Y, rows_per_pass=10**9), np.empty_like(Y)
    assert model.backprop.objective(X, Y, outputs, rows_per_pass=777) == pytest.approx(whole, rel=1e-12)
    np.testing.assert_allclose(model.evaluate(X, y)["loss"], whole, rtol=1e-12)
    if task == "regression":
        np.testing.assert_allclose(model.task_.to_user_units(outputs), model.predict(X), rtol=1e-12)
    else:
        np.testing.assert_allclose(model.task_.probabilities(outputs), model.predict_proba(X), rtol=1e-12)


def test_predicting_from_another_thread_while_fit_runs_changes_nothing_in_training():
    # A callback, a web server or a notebook's background thread may call predict mid-fit.
    import threading

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)

    def trained(with_reader):
        model = NeuralNetwork([6, 32, 2], task="classification", engine="numpy", random_state=0)
        model.fit(X, y, epochs=1, batch_size=4, verbose=0)          # fitted: predict may be called
        stop, errors = threading.Event(), []

        def read():
            while not stop.is_set():
                try:
                    model.predict_proba(X[:50])
                    model.evaluate(X[:50], y[:50])
                except Exception as error:  # noqa: BLE001 - the reader's failures are the test's
                    errors.append(error)

        reader = threading.Thread(target=read) if with_reader else None
        if reader:
            reader.start()
        try:
            model.fit(X, y, epochs=15, batch_size=4, verbose=0)
        finally:
            stop.set()
            if reader:
                reader.join()
        assert not errors, errors[:1]
        return model.parameters.copy()

    np.testing.assert_array_equal(trained(with_reader=True), trained(with_reader=False))
