"""Periodic embeddings and the input scale: backward passes equal autograd's, the network's gradient
checks, and the pieces survive saving, explanations, ONNX and the engine choice."""

import numpy as np
import pytest

from backpropagation import NeuralNetwork
from backpropagation.explain.gradients import input_gradients
from backpropagation.nn.input_layers import InputScale, PeriodicEmbedding


def bound(layer, rng):
    params, grads = np.zeros(layer.n_weights), np.zeros(layer.n_weights)
    layer.bind_flat(params, grads)
    layer.initialize(rng)
    return params, grads


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[:, 1] = rng.integers(0, 5, n)                              # a code column, for an embedding
    y = (np.sin(3 * X[:, 0]) + X[:, 2] > 0).astype(int)
    return X, y


def network(**options):
    return NeuralNetwork([4, 8, 1], task="binary", embeddings={1: (5, 2)}, periodic=[0, 2, 3], input_scale=True,
                         hidden_activation="tanh", random_state=0, **options)


def test_periodic_backward_equals_pytorch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    layer = PeriodicEmbedding([4, 1], n_frequencies=5, dim=2, sigma=0.7)
    bound(layer, rng)
    x, upstream = rng.normal(size=(7, 2)), rng.normal(size=(7, 2, 3))
    out = layer.forward(x)
    dx = layer.backward(upstream)
    w, b, V, c, tx = (torch.tensor(a.copy(), requires_grad=True) for a in (layer.w, layer.b, layer.V, layer.c, x))
    reference = torch.stack([torch.cat([tx[:, j:j + 1], torch.cos(2 * torch.pi * tx[:, j:j + 1] * w[j] + b[j])
                                        @ V[j] + c[j]], dim=1) for j in range(2)], dim=1)       # column by column
    (reference * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out, reference.detach().numpy(), rtol=1e-13, atol=1e-14)
    for mine, theirs in ((layer.dw, w), (layer.db, b), (layer.dV, V), (layer.dc, c), (dx, tx)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(layer.input_gradient(x, upstream), tx.grad.numpy(), rtol=1e-12, atol=1e-13)


def test_input_scale_backward_equals_pytorch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    layer = InputScale(4)
    bound(layer, rng)
    layer.s[...] = rng.normal(size=4)
    a, upstream = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    da = layer.backward(upstream) if layer.forward(a) is not None else None
    s, ta = torch.tensor(layer.s.copy(), requires_grad=True), torch.tensor(a, requires_grad=True)
    ((ta * s) * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(layer.ds, s.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(da, ta.grad.numpy(), rtol=1e-13)


def test_a_network_with_periodic_embeddings_and_an_input_scale_passes_the_gradient_check():
    X, y = data(25)
    model = network(l2=0.01)
    model.fit(X, y, epochs=3, verbose=0)
    assert model.gradient_check(X, y) < 1e-6
    assert model.layers[0].fan_in == 2 + 3 * (1 + 3) and model.n_parameters == \
        5 * 2 + 3 * (2 * 16 + 16 * 3 + 3) + 14 + 14 * 8 + 8 + 8 + 1


def test_the_pieces_learn_what_a_plain_network_of_the_same_width_learns_slowly():
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, size=(600, 1))
    y = (np.sin(4 * X[:, 0]) > 0).astype(int)                    # many switches along one number
    scores = {}
    for periodic in (None, [0]):
        model = NeuralNetwork([1, 16, 1], task="binary", periodic=periodic, learning_rate=0.01, random_state=0)
        model.fit(X[:400], y[:400], epochs=60, verbose=0)
        scores[bool(periodic)] = model.score(X[400:], y[400:])
    assert scores[True] > 0.9 and scores[True] > scores[False] + 0.1, scores


def test_saved_and_loaded_the_network_predicts_the_same(tmp_path):
    X, y = data()
    model = network()
    model.fit(X, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    again = NeuralNetwork.load(tmp_path / "m.npz")
    assert again.periodic.config() == model.periodic.config() == [[0, 2, 3], 16, 3, 0.1] and again.input_scale
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    weights = model.get_weights()
    assert [w.shape for w, _ in weights[:3]] == [(5, 2), (3 * 83,), (14,)]
    again.set_weights(weights)
    np.testing.assert_array_equal(again.parameters, model.parameters)


def test_input_gradients_follow_the_chain_through_the_periodic_features():
    X, y = data()
    model = network()
    model.fit(X, y, epochs=5, verbose=0)
    gradients = input_gradients(model, X[:5])
    for column in (0, 2, 3):
        step = np.zeros_like(X[:5])
        step[:, column] = 1e-6
        numeric = (model.predict_proba(X[:5] + step)[:, 1] - model.predict_proba(X[:5] - step)[:, 1]) / 2e-6
        np.testing.assert_allclose(gradients[:, column], numeric, rtol=1e-5, atol=1e-9)
    assert np.all(gradients[:, 1] == 0)                        # a code column has no derivative


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_onnx_graph_equals_predict(tmp_path, dtype):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X, y = data()
    model = network(dtype=dtype)
    model.fit(X, y, epochs=3, verbose=0)
    model.to_onnx(tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    probabilities = session.run(None, {"X": X.astype(dtype)})[1]
    np.testing.assert_allclose(probabilities[:, -1], model.predict_proba(X)[:, -1],
                               rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6 if dtype == "float32" else 1e-14)


def test_trace_and_summary_name_the_pieces():
    X, y = data(3)
    model = network()
    model.fit(X, y, epochs=1, verbose=0)
    text = str(model.trace(X[:2], y[:2]))
    assert "columns 0, 2, 3 by [x, cos(2π x w + b) V + c] (periodic), times the input scale s" in text
    assert "periodic (3 columns, 16 frequencies)  Cos         (None, 3×4)" in model.summary()
    assert "input scale" in model.summary()


@pytest.mark.parametrize("periodic, message", [
    ([1], "hold numbers"), ([4], "below 4"), ([0, 0], "distinct"), ([-1], "column must be a whole number >= 0"),
    ("0", "expected input columns"), (["a"], "column must be a whole number"),
])
def test_bad_periodic_arguments_say_what_is_wrong(periodic, message):
    with pytest.raises(ValueError, match=message):
        NeuralNetwork([4, 8, 1], task="binary", embeddings={1: (5, 2)}, periodic=periodic)


@pytest.mark.parametrize("options, message", [
    (dict(n_frequencies=0), "n_frequencies must be a whole number >= 1"), (dict(dim=1.5), "dim must be"),
    (dict(sigma=-1.0), "sigma must be a positive number"), (dict(sigma=True), "sigma must be"),
])
def test_bad_periodic_sizes_say_which(options, message):
    with pytest.raises(ValueError, match=message):
        PeriodicEmbedding([0], **options)


def test_a_pair_of_spreads_starts_each_frequency_at_its_own_log_spaced_spread_and_survives_saving(tmp_path):
    layer = PeriodicEmbedding([0, 1], n_frequencies=5, sigma=(0.1, 10))
    bound(layer, np.random.default_rng(3))
    draws = np.random.default_rng(3).normal(size=(2, 5))
    np.testing.assert_allclose(layer.w, draws * [0.1, 10**-0.5, 1.0, 10**0.5, 10.0], rtol=1e-12)
    single = PeriodicEmbedding([0, 1], n_frequencies=5, sigma=0.2)
    bound(single, np.random.default_rng(3))
    np.testing.assert_array_equal(single.w, np.random.default_rng(3).normal(0.0, 0.2, (2, 5)))
    X, y = data()
    model = NeuralNetwork([4, 8, 1], task="binary", embeddings={1: (5, 2)},
                          periodic=PeriodicEmbedding([0, 2], sigma=(0.1, 3)), random_state=0)
    model.fit(X, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = NeuralNetwork.load(tmp_path / "m.npz")
    assert loaded.periodic.sigma == (0.1, 3.0)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("sigma", [(3, 0.1), (0.1,), (0.1, 1, 2), (0.0, 1), (0.1, np.inf), "0.1", [0.1, True]])
def test_a_bad_pair_of_spreads_says_what_is_expected(sigma):
    with pytest.raises(ValueError, match="sigma must be a positive number or a pair \\(low, high\\)"):
        PeriodicEmbedding([0], sigma=sigma)


def test_the_trace_shows_the_input_stage_numbers_of_the_real_step():
    X, y = data(4)
    model = network()
    model.fit(X, y, epochs=1, verbose=0)
    trace = model.trace(X[:2], y[:2])
    model.backprop.loss_and_gradients(X[:2], model.task_.encode(y[:2], model.dtype))
    lines = dict(trace.input_backward)
    np.testing.assert_array_equal(lines["∂L/∂V (column 2) = hᵀ ∂L/∂e"], model.periodic.dV[1])
    np.testing.assert_array_equal(lines["∂L/∂s = Σ a ⊙ ∂L/∂(a s)"], model.embedded_input.scale.ds)
    forward = dict(trace.input_forward)
    np.testing.assert_allclose(np.cos(forward["u (column 0) = 2π x w + b"]), forward["h (column 0) = cos(u)"])
    text = str(trace)
    assert "on into the input stage, from ∂L/∂a⁰ = δ¹ (W¹)ᵀ:" in text and "e (column 3) = h V + c" in text
