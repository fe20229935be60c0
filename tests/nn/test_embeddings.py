"""Embedding: a learned vector per category of a code column; its backward pass, against
central differences and PyTorch's nn.Embedding, in a network, a file and the engines."""

import numpy as np
import pytest

from backpropagation import NeuralNetwork
from backpropagation.nn.layers import Embedding


def bound(n_categories=6, dim=3, seed=0):
    layer = Embedding(0, n_categories, dim)
    E = np.random.default_rng(seed).normal(size=(n_categories, dim))
    layer.bind(E, np.zeros_like(E))
    return layer


def test_forward_looks_up_and_backward_adds_each_row_to_its_code():
    layer = bound()
    codes = np.array([2.0, 0.0, 2.0, 5.0])
    np.testing.assert_array_equal(layer.forward(codes), layer.E[[2, 0, 2, 5]])
    dA = np.arange(12.0).reshape(4, 3)
    layer.backward(dA)
    expected = np.zeros((6, 3))
    expected[2] = dA[0] + dA[2]                      # a code seen twice gathers both rows' gradients
    expected[0], expected[5] = dA[1], dA[3]
    np.testing.assert_array_equal(layer.dE, expected)


def test_backward_equals_pytorch_nn_embedding():
    torch = pytest.importorskip("torch")
    layer = bound(50, 4, seed=1)
    codes = np.random.default_rng(2).integers(0, 50, 200)
    upstream = np.random.default_rng(3).normal(size=(200, 4))
    reference = torch.nn.Embedding(50, 4, dtype=torch.float64)
    reference.weight.data = torch.tensor(layer.E.copy())
    out = reference(torch.tensor(codes))
    (out * torch.tensor(upstream)).sum().backward()
    np.testing.assert_array_equal(layer.forward(codes.astype(float)), out.detach().numpy())
    layer.backward(upstream)
    assert np.abs(layer.dE - reference.weight.grad.numpy()).max() < 1e-12


@pytest.mark.parametrize("value, message", [(2.5, "got 2.5 in row 1"), (-1.0, "got -1.0 in row 1"),
                                            (6.0, "codes 0 to 5")])
def test_codes_that_are_not_categories_are_refused_by_column_and_row(value, message):
    with pytest.raises(ValueError, match=message):
        bound().forward(np.array([1.0, value]))


def data(n=400, n_categories=30, seed=0):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, n_categories, n)
    effect = np.random.default_rng(99).normal(size=n_categories)    # each category's effect, fixed
    x = rng.normal(size=n)
    X = np.column_stack([x, codes, rng.normal(size=n)])
    return X, 2 * x + 3 * effect[codes] + 0.1 * rng.normal(size=n)


def network(**options):
    return NeuralNetwork([3, 16, 1], embeddings={1: (30, 4)}, hidden_activation="tanh", random_state=0,
                         **options)


def test_a_network_with_an_embedding_passes_the_gradient_check():
    X, y = data(20)
    model = network(l2=0.01)
    model.fit(X, y, epochs=2, verbose=0)
    errors = model.gradient_check(X, y)
    assert errors < 1e-7
    assert model.layers[0].fan_in == 2 + 4 and model.n_parameters == 30 * 4 + 6 * 16 + 16 * 1 + 16 + 1


def test_a_network_with_an_embedding_equals_pytorch():
    torch = pytest.importorskip("torch")
    X, y = data(32)
    model = network()
    model.fit(X, y, epochs=1, verbose=0)
    (table, none), *dense = model.get_weights()
    assert none is None and table.shape == model.embeddings[0].E.shape          # the tables come first
    E = torch.tensor(table, requires_grad=True)
    (W1, b1), (W2, b2) = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
                          for W, b in dense]
    x = torch.tensor(X)
    embedded = torch.nn.functional.embedding(x[:, 1].long(), E)
    hidden = torch.tanh(torch.cat([x[:, :1], embedded, x[:, 2:]], dim=1) @ W1 + b1)
    Y = model.task_.encode(y, model.dtype)
    loss = torch.mean((hidden @ W2 + b2 - torch.tensor(Y)) ** 2)
    loss.backward()
    ours = model.backprop.loss_and_gradients(X, Y)
    assert abs(ours - loss.item()) < 1e-12
    np.testing.assert_allclose(model.embeddings[0].dE, E.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(model.layers[0].dW, W1.grad.numpy(), atol=1e-12)


def test_an_embedding_learns_per_category_effects_with_few_parameters():
    X, y = data(2000)
    X_test, y_test = data(1000, seed=1)
    model = network(learning_rate=0.01)
    model.fit(X, y, epochs=60, verbose=0)
    assert model.score(X_test, y_test) > 0.9
    one_hot = 2 + 30                        # the same column as indicators
    assert model.n_parameters < one_hot * 16 + 16 * 1 + 17 + 30 * 4


@pytest.mark.parametrize("column", [0, 1])
def test_the_model_file_keeps_the_embeddings(tmp_path, column):
    X, y = data(100)
    X[:, [0, 1]] = X[:, [1, 0]] if column == 0 else X[:, [0, 1]]
    model = NeuralNetwork([3, 16, 1], embeddings={column: (30, 4)}, random_state=0)
    model.fit(X, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = NeuralNetwork.load(tmp_path / "m.npz")
    assert repr(loaded.embeddings) == repr(model.embeddings)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert f"embedding (column {column})" in loaded.summary()


def test_engines_and_explanations_with_embeddings():
    X, y = data(200)
    try:                                   # (the compiled engine runs embeddings where numba is installed)
        network(engine="numba").fit(X, y, epochs=1, verbose=0)
    except ValueError as error:
        assert "not installed" in str(error)
    model = network(learning_rate=0.01)
    model.fit(X, y, epochs=30, verbose=0)
    assert "embeddings" not in (model.engine_reason_ or "")
    gradients = model.input_gradients(X[:5])
    assert np.all(gradients[:, 1] == 0) and np.all(gradients[:, 0] != 0)     # codes have no derivative
    ranking = [name for name, _, _ in model.feature_importance(X, method="gradient").ranking()]
    assert ranking[-1] == "x2"                                                # noise last
    assert ranking[0] == model.feature_importance(X, y, random_state=0).ranking()[0][0] == "x1"


@pytest.mark.parametrize("embeddings, message", [({3: (5, 2)}, "columns must be distinct inputs below 3"),
                                                 ({0: (0, 2)}, "n_categories must be a whole number >= 1"),
                                                 ({0: (5, 1.5)}, "dim must be a whole number >= 1")])
def test_bad_embeddings_are_refused(embeddings, message):
    with pytest.raises(ValueError, match=message):
        NeuralNetwork([3, 4, 1], embeddings=embeddings)


def test_the_onnx_graph_looks_the_embeddings_up():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X, y = data(100)
    model = network()
    model.fit(X, y, epochs=2, verbose=0)
    session = ort.InferenceSession(model.to_onnx().SerializeToString())
    (values,) = session.run(None, {"X": X})
    np.testing.assert_allclose(values.ravel(), model.predict(X), rtol=1e-12)


# ---------------------------------------------------------------------- the command line: --embed
def store_csv(path, n=3000, stores=400, seed=0, unseen=False):
    rng = np.random.default_rng(seed)
    effect = np.random.default_rng(7).normal(size=stores + 50)
    store = rng.integers(stores, stores + 50, n) if unseen else rng.integers(0, stores, n)
    x = rng.normal(size=n)
    sales = 2 * x + 3 * effect[store] + 0.1 * rng.normal(size=n)
    path.write_text("x,store,sales\n" + "".join(f"{a:.5f},S{s:04d},{b:.5f}\n" for a, s, b in zip(x, store, sales)))
    return path


def run(*argv):
    from backpropagation.cli import main

    return main([str(a) for a in argv])


def test_train_embeds_a_column_of_many_categories_and_every_command_reads_it(tmp_path, capsys):
    import json

    data, model = store_csv(tmp_path / "train.csv"), tmp_path / "m.npz"
    assert run("train", data, "--target", "sales", "--embed", "store:6", "--epochs", "60", "--seed", "0",
               "--learning-rate", "0.01", "-o", model, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["features"] == 2 and report["validation"]["r2"] > 0.8       # not 401 indicator columns
    network = NeuralNetwork.load(model)
    assert [(e.column, e.n_categories, e.dim) for e in network.embeddings] == [(1, 401, 6)]
    assert run("summary", model) == 0
    assert "store: text, embedded in 6 numbers over 400 categories" in capsys.readouterr().out
    new = store_csv(tmp_path / "new.csv", n=50, seed=1, unseen=True)            # stores never seen
    assert run("predict", model, new, "-o", tmp_path / "p.csv") == 0
    assert "unseen" in capsys.readouterr().err
    assert run("explain", model, data, "--json", "--repeats", "2") == 0
    ranking = [row["feature"] for row in json.loads(capsys.readouterr().out)["ranking"]]
    assert ranking == ["store", "x"]
    pytest.importorskip("onnxruntime")
    assert run("export", model, tmp_path / "m.onnx") == 0                        # checked against predict


def test_embed_refuses_what_it_cannot_use(tmp_path, capsys):
    data = store_csv(tmp_path / "train.csv", n=200)
    with pytest.raises(SystemExit):
        run("train", data, "--target", "sales", "--embed", "store:0")
    assert "expected an integer >= 1, got '0'" in capsys.readouterr().err
    assert run("train", data, "--target", "sales", "--embed", "shop", "-o", tmp_path / "m.npz") == 2
    assert "shop" in capsys.readouterr().err


def test_get_and_set_weights_carry_the_embedding_tables():
    model = network()
    weights = model.get_weights()
    assert len(weights) == 1 + len(model.layers) and weights[0][0].shape == model.embeddings[0].E.shape
    other = network()
    other.set_weights([(W + 1.0, None if b is None else b - 1.0) for W, b in weights])
    np.testing.assert_array_equal(other.embeddings[0].E, model.embeddings[0].E + 1.0)
    with pytest.raises(ValueError, match="no biases"):
        other.set_weights([(weights[0][0], np.zeros(3)), *weights[1:]])


def test_an_unseen_category_looks_up_the_mean_of_the_learned_rows_and_its_gradient_checks():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=20), rng.integers(0, 5, 20)]).astype(float)
    X[:3, 1] = 5                                   # the unseen code (the last row of a table of 6)
    model = NeuralNetwork([2, 4, 1], embeddings={1: (6, 3, True)}, hidden_activation="tanh", random_state=0)
    model.fit(X, X[:, 0] + X[:, 1], epochs=2, verbose=0)
    table = model.embeddings[0]
    np.testing.assert_allclose(model.embedded_input.forward(X[:1], training=False)[0, 1:],
                               table.E[:5].mean(axis=0))
    assert model.gradient_check(X, X[:, 0]) < 1e-6
    assert table.dE[-1].tolist() == [0.0, 0.0, 0.0]      # (its own row is never looked up)
