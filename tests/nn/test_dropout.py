"""Dropout in a network: gradient check with a fixed mask, equality with PyTorch's nn.Dropout,
reproducible masks, deterministic inference, engines and the model file."""

import numpy as np
import pytest

from backpropagation import Dense, Dropout, NeuralNetwork


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] - X[:, 1] > 0).astype(int)


def network(**options):
    options = {"task": "binary", "hidden_activation": "tanh", "random_state": 0, "dropout": 0.3, **options}
    return NeuralNetwork([4, 8, 6, 1], **options)


def test_gradient_check_passes_with_the_step_masks():
    X, y = data(16)
    model = network(dropout=[0.5, 0.2], l2=0.01)
    model.fit(X, y, epochs=1, verbose=0)
    assert model.gradient_check(X[:8], y[:8]) < 1e-7
    assert all(d.fixed_mask is None for d in model.dropouts if d is not None)   # (left as it was)


def test_gradient_check_catches_a_backward_pass_that_ignores_the_mask(monkeypatch):
    X, y = data(16)
    model = network(dropout=0.5)
    model.fit(X, y, epochs=1, verbose=0)
    monkeypatch.setattr(Dropout, "backward", lambda self, dA: dA)
    assert model.gradient_check(X[:8], y[:8]) > 1e-3


def test_equal_to_pytorch_nn_dropout_with_the_same_mask():
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    X, y = data(10)
    model = network(dropout=0.4)
    model.fit(X, y, epochs=2, verbose=0)
    (W1, b1), (W2, b2), (W3, b3) = model.get_weights()
    torch.manual_seed(7)                                 # the masks nn.Dropout draws next, in order
    masks = [torch.nn.Dropout(0.4)(torch.ones(10, width)) for width in (8, 6)]
    torch.manual_seed(7)
    params = [torch.tensor(a, requires_grad=True) for a in (W1, b1, W2, b2, W3, b3)]
    hidden = torch.nn.Dropout(0.4)(torch.tanh(torch.as_tensor(X) @ params[0] + params[1]))
    hidden = torch.nn.Dropout(0.4)(torch.tanh(hidden @ params[2] + params[3]))
    logits = hidden @ params[4] + params[5]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], torch.as_tensor(y, dtype=torch.float64))
    loss.backward()
    for dropout, mask in zip(model.dropouts, masks):
        dropout.fixed_mask = mask.numpy()
    ours = model.backprop.loss_and_gradients(X, y.reshape(-1, 1).astype(float))
    assert abs(ours - loss.item()) < 1e-12
    flat = np.concatenate([p.grad.numpy().ravel() for p in params[0::2]] + [p.grad.numpy() for p in params[1::2]])
    assert np.abs(model.gradients - flat).max() < 1e-12


def test_a_seed_reproduces_the_masks_and_training():
    X, y = data()
    first, second, other = network(), network(), network(random_state=1)
    for model in (first, second, other):
        model.fit(X, y, epochs=3, batch_size=8, verbose=0)
    assert np.array_equal(first.parameters, second.parameters)
    assert np.array_equal(first.dropouts[0].mask, second.dropouts[0].mask)
    assert not np.array_equal(first.dropouts[0].mask, other.dropouts[0].mask)


def test_inference_never_drops():
    X, y = data()
    model = network(dropout=0.5)
    model.fit(X, y, epochs=3, verbose=0)
    plain = NeuralNetwork([4, 8, 6, 1], task="binary", hidden_activation="tanh", random_state=0)
    plain.fit(X, y, epochs=1, verbose=0)
    plain.parameters[...] = model.parameters
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(model.predict_proba(X), plain.predict_proba(X))
    assert model.evaluate(X, y) == plain.evaluate(X, y)


def test_dropout_regularises_a_network_that_overfits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 30))                      # few noisy rows, a wide network
    y = np.sin(2 * X[:, 0]) + 0.8 * rng.normal(size=50)
    X_test = rng.normal(size=(2000, 30))
    scores = {}
    for rate in (0.0, 0.5):
        model = NeuralNetwork([30, 256, 256, 1], dropout=rate, random_state=0, learning_rate=0.003)
        model.fit(X, y, epochs=200, batch_size=10, verbose=0)
        scores[rate] = model.score(X_test, np.sin(2 * X_test[:, 0]))
    assert scores[0.5] > scores[0.0] + 0.05


def test_numba_refuses_dropout_and_auto_says_why():
    X, y = data()
    with pytest.raises(ValueError, match="engine='numba': .*(has dropout|not installed)"):
        network(engine="numba").fit(X, y, epochs=1, verbose=0)
    model = network(engine="auto")
    model.fit(np.tile(X, (200, 1)), np.tile(y, 200), epochs=30, verbose=0)
    assert model.engine_ == "numpy"
    assert "has dropout" in model.engine_reason_ or "not installed" in model.engine_reason_


def test_dropout_is_saved_and_built_from_blocks(tmp_path):
    X, y = data()
    model = NeuralNetwork([Dense(4, 8, "relu"), Dropout(0.25), Dense(8, 1)], task="binary", random_state=0)
    assert [repr(d) for d in model.dropouts] == ["Dropout(0.25)", "None"]
    model.fit(X, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = NeuralNetwork.load(tmp_path / "m.npz")
    assert [d and d.rate for d in loaded.dropouts] == [0.25, None]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(ValueError, match=r"dropout: expected one rate per hidden layer \(2\), got 3"):
        network(dropout=[0.1, 0.2, 0.3])


def test_the_scikit_learn_estimators_pass_dropout_on():
    pytest.importorskip("sklearn")
    from backpropagation.sklearn import BackpropClassifier

    X, y = data()
    estimator = BackpropClassifier((8,), dropout=0.2, epochs=2, random_state=0).fit(X, y)
    assert estimator.model_.dropouts[0].rate == 0.2


def test_the_trace_shows_each_mask_and_what_the_next_layer_sees():
    X, y = data(8)
    model = network(dropout=0.5)
    model.fit(X, y, epochs=1, verbose=0)
    trace = model.trace(X[:2], y[:2])
    first = trace.layers[0]
    np.testing.assert_array_equal(trace.layers[1].a_prev, first.a * first.mask)    # what layer 2 multiplied
    text = str(trace)
    assert "M¹ (dropout 0.5" in text and "z² = (a¹ ⊙ M¹) W² + b²" in text
    assert "∂L/∂a¹ = (δ² (W²)ᵀ) ⊙ M¹" in text and "∂L/∂W² = (a¹ ⊙ M¹)ᵀ δ²" in text


def test_onnx_export_of_a_dropout_network_predicts_without_dropping():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X, y = data()
    model = network(dropout=0.5)
    model.fit(X, y, epochs=3, verbose=0)
    session = ort.InferenceSession(model.to_onnx().SerializeToString())
    outputs = session.run(None, {session.get_inputs()[0].name: X})
    np.testing.assert_allclose(outputs[-1][:, -1], model.predict_proba(X)[:, 1], rtol=1e-12)


def test_masks_never_shift_the_shuffling_and_a_saved_model_continues_exactly(tmp_path):
    X, y = data()
    plain, dropped = network(dropout=0.0), network(dropout=0.5)
    for model in (plain, dropped):
        model.fit(X, y, epochs=3, batch_size=8, verbose=0)
    # the same draws for the shuffle (MPI ranks must agree on it), whatever the masks consumed
    assert plain.rng.bit_generator.state == dropped.rng.bit_generator.state
    dropped.save(tmp_path / "m.npz")
    loaded = NeuralNetwork.load(tmp_path / "m.npz")
    for model in (dropped, loaded):
        model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(loaded.parameters, dropped.parameters)
