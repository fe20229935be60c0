"""Input gradients, feature importance and the learning-rate range test (explain.py)."""

import numpy as np
import pytest

from backpropagation import NeuralNetwork
from backpropagation.explain.importance import FeatureImportance, raw_column_groups

torch = pytest.importorskip("torch")
from torch_reference import torch_activation, torch_parameters  # noqa: E402


def regression_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, 30 * X[:, 0] - 20 * X[:, 2] + 100 + rng.normal(size=n)


def trained(task, layers, X, y, activation="tanh", epochs=30, **options):
    model = NeuralNetwork(layers, task=task, hidden_activation=activation, learning_rate=0.01,
                          random_state=0, **options)
    model.fit(X, y, epochs=epochs, verbose=0)
    return model


def user_output(model, X):
    """ŷ as input_gradients defines it: values in the targets' units or class probabilities."""
    if model.task_.is_classifier:
        proba = model.predict_proba(X)
        return proba[:, 1:] if model.layer_sizes[-1] == 1 else proba
    out = model.predict(X)
    return out.reshape(len(X), -1)


CASES = {
    "regression": ("regression", [5, 8, 6, 1], "tanh"),
    "binary": ("binary", [5, 8, 1], "sigmoid"),
    "multiclass": ("classification", [5, 8, 6, 3], "elu"),
}


def case(name):
    task, layers, activation = CASES[name]
    X, y = regression_data()
    if task == "binary":
        y = (y > 100).astype(int)
    elif task != "regression":
        y = np.digitize(y, [80, 120])
    return trained(task, layers, X, y, activation), X[:7]


@pytest.mark.parametrize("name", CASES)
def test_input_gradients_equal_central_differences(name):
    model, X = case(name)
    G = model.input_gradients(X)
    n_out = user_output(model, X).shape[1]
    assert G.shape == ((len(X), 5) if n_out == 1 else (len(X), n_out, 5))
    G = G.reshape(len(X), n_out, 5)
    eps = 1e-6
    for j in range(5):
        step = np.zeros(5)
        step[j] = eps
        numeric = (user_output(model, X + step) - user_output(model, X - step)) / (2 * eps)
        scale = max(1.0, np.abs(numeric).max())
        assert np.allclose(G[:, :, j], numeric, atol=1e-6 * scale, rtol=1e-6), j


@pytest.mark.parametrize("name", CASES)
def test_input_gradients_equal_torch_autograd(name):
    torch.set_default_dtype(torch.float64)
    model, X = case(name)
    G = model.input_gradients(X).reshape(len(X), -1, 5)
    params = torch_parameters(model)
    x = torch.tensor(X, requires_grad=True)
    A = x
    for layer, (W, b) in zip(model.layers, params):
        A = torch_activation(layer.activation)(A @ W + b)
    scale = getattr(model.task_, "target_scale_", None)
    if scale is not None:
        A = A * torch.tensor(scale)
    for k in range(G.shape[1]):
        (expected,) = torch.autograd.grad(A[:, k].sum(), x, retain_graph=True)
        assert np.abs(G[:, k] - expected.numpy()).max() < 1e-10


def test_input_gradients_select_one_output_and_refuse_bad_ones():
    model, X = case("multiclass")
    assert np.array_equal(model.input_gradients(X, output=2), model.input_gradients(X)[:, 2])
    with pytest.raises(ValueError, match="output: the network has 3 output"):
        model.input_gradients(X, output=3)
    with pytest.raises(ValueError, match="X: expected 5 features"):
        model.input_gradients(X[:, :4])


def test_input_gradients_leave_the_training_caches_alone():
    model, X = case("regression")
    model.backprop.loss_and_gradients(X, model.task_.encode(np.zeros(len(X)), model.dtype))
    cached, gradients = model.layers[0].Z.copy(), model.gradients.copy()
    model.input_gradients(X[:3])
    assert np.array_equal(model.layers[0].Z, cached) and np.array_equal(model.gradients, gradients)


# ---------------------------------------------------------------------- permutation importance
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_permutation_importance_equals_scikit_learn(kind):
    from sklearn.inspection import permutation_importance

    from backpropagation.sklearn import BackpropClassifier, BackpropRegressor

    X, y = regression_data(200)
    if kind == "classifier":
        estimator = BackpropClassifier((8,), epochs=20, random_state=0).fit(X, y > 100)
        y = y > 100
    else:
        estimator = BackpropRegressor((8,), epochs=20, random_state=0).fit(X, y)
    theirs = permutation_importance(estimator, X, y, n_repeats=4, random_state=3)
    ours = estimator.feature_importance(X, y, n_repeats=4, random_state=3)
    assert np.allclose(ours.importances, theirs.importances, rtol=0, atol=1e-12)
    assert np.allclose(ours.importances_mean, theirs.importances_mean, atol=1e-12)
    assert np.allclose(ours.importances_std, theirs.importances_std, atol=1e-12)
    assert ours.names == ["x0", "x1", "x2", "x3", "x4"]
    assert ours.metric == ("accuracy" if kind == "classifier" else "r2")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_named_or_scikit_learn_scoring_gives_scikit_learn_s_numbers():
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import get_scorer

    from backpropagation.sklearn import BackpropRegressor

    X, y = regression_data(200)
    estimator = BackpropRegressor((8,), epochs=20, random_state=0).fit(X, y)
    theirs = permutation_importance(estimator, X, y, n_repeats=3, random_state=1, scoring="neg_mean_absolute_error")
    for scoring in ("neg_mean_absolute_error", get_scorer("neg_mean_absolute_error")):
        ours = estimator.feature_importance(X, y, n_repeats=3, random_state=1, scoring=scoring)
        assert np.allclose(ours["importances"], theirs["importances"], rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="scoring: expected None, one of 'r2', 'loss'"):
        estimator.feature_importance(X, y, scoring="accuracy")


def test_importance_ranks_the_columns_that_matter_first_by_both_methods():
    model, _ = case("regression")
    X, y = regression_data(400, seed=1)
    for method in ("permutation", "gradient"):
        ranking = [name for name, _, _ in model.feature_importance(X, y, method=method, random_state=0).ranking()]
        assert ranking[:2] == ["x0", "x2"], method


def raw_table(n=600, seed=0):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue", "grey"], n)
    frame = pd.DataFrame({"noise_a": rng.normal(size=n), "size": rng.normal(size=n), "colour": colour,
                          "noise_b": rng.normal(size=n), "kind": rng.choice(["p", "q", "r"], n)})
    frame.loc[rng.choice(n, 20, replace=False), "noise_a"] = np.nan
    y = 2 * frame["size"].to_numpy() + np.select([colour == "red", colour == "blue"], [3.0, -3.0], 0.0)
    return frame, y + 0.1 * rng.normal(size=n)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_importance_of_a_raw_table_is_per_column_with_the_text_column_among_the_first():
    from backpropagation.sklearn import BackpropRegressor

    frame, y = raw_table()
    estimator = BackpropRegressor((16,), epochs=60, random_state=0).fit(frame, y)
    for method in ("permutation", "gradient"):
        result = estimator.feature_importance(frame, y, method=method, random_state=0)
        assert sorted(result.names) == sorted(frame.columns)          # raw columns, not indicators
        assert {name for name, _, _ in result.ranking()[:2]} == {"size", "colour"}, method


def test_groups_shuffle_and_score_columns_together():
    model, _ = case("regression")
    X, y = regression_data(200, seed=2)
    single = model.feature_importance(X, method="gradient")
    grouped = model.feature_importance(X, method="gradient", groups={"first": [0, 1], "rest": [2, 3, 4]})
    contribution = np.abs(model.input_gradients(X) * X)
    assert np.allclose(grouped.importances_mean, [contribution[:, :2].sum(1).mean(), contribution[:, 2:].sum(1).mean()])
    assert np.allclose(single.importances_mean, contribution.mean(axis=0))
    together = model.feature_importance(X, y, groups={"both": [0, 2]}, n_repeats=2, random_state=0)
    alone = model.feature_importance(X, y, groups={"x0": [0]}, n_repeats=2, random_state=0)
    assert together.importances_mean[0] > alone.importances_mean[0]
    with pytest.raises(ValueError, match="column 1 is in two groups"):
        model.feature_importance(X, y, groups={"a": [0, 1], "b": [1]})
    with pytest.raises(ValueError, match=r"groups\['a'\]: expected column indices in \[0, 5\)"):
        model.feature_importance(X, y, groups={"a": [5]})


def test_importance_refuses_bad_arguments():
    model, _ = case("regression")
    X, y = regression_data(50)
    with pytest.raises(ValueError, match="method: expected one of 'permutation', 'gradient', got 'gradients'"):
        model.feature_importance(X, y, method="gradients")
    with pytest.raises(ValueError, match="y: permutation importance needs the targets"):
        model.feature_importance(X)
    with pytest.raises(ValueError, match="scoring"):
        model.feature_importance(X, y, scoring="f1")
    loss = model.feature_importance(X, y, scoring="loss", random_state=0)
    assert loss.metric == "loss" and loss.ranking()[0][0] == "x0"


def test_importance_result_prints_serialises_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    result = FeatureImportance(["a", "b"], "permutation", np.array([0.1, 0.3]), np.array([0.01, 0.02]),
                               np.zeros((2, 3)), 0.9, "accuracy")
    assert [row["feature"] for row in result.to_dict()["ranking"]] == ["b", "a"]
    assert str(result).splitlines()[2].startswith("b ")
    result.plot(tmp_path / "bars.png")
    assert (tmp_path / "bars.png").read_bytes().startswith(b"\x89PNG")


def test_raw_column_groups_follow_the_encoded_layout():
    columns = [{"name": "a", "kind": "numeric"}, {"name": "c", "kind": "text", "categories": ["x", "y", "z"]},
               {"name": "b", "kind": "numeric"}]
    assert raw_column_groups(columns) == {"a": [0], "c": [1, 2, 3], "b": [4]}


# ---------------------------------------------------------------------- learning-rate range test
def iris():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


def test_lr_find_leaves_the_model_unchanged():
    X, y = iris()
    model = NeuralNetwork([4, 16, 3], task="classification", random_state=0)
    model.fit(X, y, epochs=2, verbose=0)
    before = (model.parameters.copy(), {k: v.copy() for k, v in model.optimizer.get_state().items()},
              model.optimizer.iterations, model.rng.bit_generator.state)
    result = model.lr_find(X, y)
    assert np.array_equal(model.parameters, before[0]) and model.optimizer.iterations == before[2]
    assert all(np.array_equal(v, before[1][k]) for k, v in model.optimizer.get_state().items())
    assert model.rng.bit_generator.state == before[3]
    assert len(result.rates) == len(result.losses) == len(result.smoothed) >= 10
    assert np.all(np.diff(np.log(result.rates)) > 0)


def test_lr_find_stops_at_divergence_and_its_suggestion_trains():
    X, y = iris()
    model = NeuralNetwork([4, 16, 3], task="classification", optimizer="sgd", random_state=0)
    result = model.lr_find(X, y, start=1e-5, end=1e3, steps=200)
    assert "exceeded" in result.stopped or "became" in result.stopped
    assert result.rates[-1] < 1e3
    at = np.searchsorted(result.rates, result.suggestion)               # where the curve stands there:
    assert result.smoothed[at] < result.smoothed[0]                        # the loss already falls,
    assert result.suggestion < result.rates[-1] / 10                       # well before it exploded
    fresh = NeuralNetwork([4, 16, 3], task="classification", optimizer="sgd", random_state=0,
                          learning_rate=result.suggestion)
    history = fresh.fit(X, y, epochs=30, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_lr_find_is_reproducible_and_refuses_bad_ranges(tmp_path):
    X, y = iris()
    model = NeuralNetwork([4, 8, 3], task="classification", random_state=5)
    first, second = model.lr_find(X, y, steps=50), model.lr_find(X, y, steps=50)
    assert np.array_equal(first.losses, second.losses)
    with pytest.raises(ValueError, match="end: expected a rate above start"):
        model.lr_find(X, y, start=1.0, end=0.1)
    with pytest.raises(ValueError, match="smoothing"):
        model.lr_find(X, y, smoothing=1.0)
    pytest.importorskip("matplotlib")
    first.plot(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 0
    assert set(first.to_dict()) == {"suggestion", "rule", "stopped", "rates", "losses", "smoothed"}


def test_a_command_line_model_explains_a_raw_frame_as_backprop_explain_does(tmp_path, capsys):
    import json

    from backpropagation.cli import main
    from backpropagation.tables.table_model import TableModel

    frame, y = raw_table(300)
    frame["target"] = y
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert main(["train", str(tmp_path / "t.csv"), "--target", "target", "--epochs", "30", "--seed", "0",
                 "-o", str(tmp_path / "m.npz"), "--json"]) == 0
    capsys.readouterr()
    assert main(["explain", str(tmp_path / "m.npz"), str(tmp_path / "t.csv"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    result = TableModel.load(tmp_path / "m.npz").feature_importance(frame, random_state=0)
    assert [row["feature"] for row in shown["ranking"]] == [name for name, _, _ in result.ranking()]
    assert np.allclose([row["importance"] for row in shown["ranking"]], [m for _, m, _ in result.ranking()])
    assert {name for name, _, _ in result.ranking()[:2]} == {"size", "colour"}
    with pytest.raises(ValueError, match="needs the target column 'target'"):
        TableModel.load(tmp_path / "m.npz").feature_importance(frame.drop(columns="target"))
    gradient = TableModel.load(tmp_path / "m.npz").feature_importance(frame.drop(columns="target"), "gradient")
    assert {name for name, _, _ in gradient.ranking()[:2]} == {"size", "colour"}


def test_lr_find_ignores_a_minimum_among_the_first_noisy_averages():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)      # slow plain SGD: the first batches' mean can sit lowest
    model = NeuralNetwork([10, 32, 16, 1], optimizer="sgd", random_state=0)
    result = model.lr_find((X - X.mean(0)) / X.std(0), y)
    assert np.argmin(result.smoothed) < 10 and result.suggestion > 1e-3
    assert "after the first 10 steps" in result.rule
    fresh = NeuralNetwork([10, 32, 16, 1], optimizer="sgd", random_state=0, learning_rate=result.suggestion)
    history = fresh.fit((X - X.mean(0)) / X.std(0), y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
