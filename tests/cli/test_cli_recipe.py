"""The defaults for a table: what backprop train chooses, says, saves and exports, and that the
estimators given the same raw table choose the same."""

import json

import numpy as np
import pytest

from backpropagation import NeuralNetwork, TableModel, read_table
from backpropagation.cli import main as backprop
from backpropagation.sklearn import BackpropRegressor

pd = pytest.importorskip("pandas")


@pytest.fixture
def houses(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    area = rng.lognormal(7.3, 0.3, n)
    frame = pd.DataFrame({"area": area, "rooms": rng.integers(1, 6, n).astype(float),
                          "town": rng.choice(["north", "south", None], n)})
    frame["price"] = 100 * area + 5000 * (frame["town"] == "north") + rng.normal(0, 1000, n)
    frame["sold"] = np.where(frame["price"] > frame["price"].median(), "fast", "slow")
    frame.to_csv(tmp_path / "houses.csv", index=False)
    return tmp_path, frame


def train(where, *options, capsys):
    assert backprop(["train", str(where / "houses.csv"), "--seed", "0", "--epochs", "20", "--json",
                     "--output", str(where / "m.npz"), *options]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_report_says_what_the_defaults_chose_and_the_model_holds_it(houses, capsys):
    where, frame = houses
    report = train(where, "--target", "price", "--drop", "sold", capsys=capsys)
    model = NeuralNetwork.load(where / "m.npz")
    low, high = frame["price"].min(), frame["price"].max()
    assert report["recipe"][:4] == [
        "numeric columns: 2 of 2 robust-scaled (median, quartile spread, smooth clip at ±5)",
        "periodic embeddings on 2 numeric column(s) (16 frequencies starting at spread 0.1, 3 features each)",
        "a learned scale on each input of the first layer",
        "swish hidden units, z σ(z) (--activation relu for ReLU's hinge)"]
    assert report["recipe"][4].startswith("predictions kept within the training targets' range [")
    relu = train(where, "--target", "price", "--drop", "sold", "--activation", "relu", capsys=capsys)
    assert not [line for line in relu["recipe"] if "swish" in line]
    assert model.periodic.columns == [0, 1] and model.input_scale and model.clip_predictions
    trained_low, trained_high = model.task_.target_range_[:, 0]
    assert low <= trained_low < trained_high <= high                   # (the training rows' range)
    far = pd.DataFrame({"area": [1e6, 1.0], "rooms": [3.0, 3.0], "town": ["north", "south"]})
    assert np.all((TableModel.load(where / "m.npz").predict(far) >= trained_low) &
                  (TableModel.load(where / "m.npz").predict(far) <= trained_high))


def test_the_report_names_the_columns_whose_long_tail_goes_through_asinh(houses, capsys):
    where, frame = houses
    frame["views"] = np.round(np.random.default_rng(1).lognormal(3, 3, len(frame)))      # a long tail
    frame.to_csv(where / "houses.csv", index=False)
    report = train(where, "--target", "price", "--drop", "sold", capsys=capsys)
    assert ("long tails (5% of rows beyond 10 quartile spreads) through asinh before the clip: 'views'"
            in report["recipe"])
    columns = TableModel.load(where / "m.npz").preprocessing.columns
    assert [c.get("tail") for c in columns if c["kind"] == "numeric"] == [None, None, "asinh"]


def test_a_whole_number_target_trained_as_classes_says_so_and_how_to_predict_the_number(houses, capsys):
    where, frame = houses
    report = train(where, "--target", "rooms", "--drop", "sold", capsys=capsys)
    assert report["task"] == "multiclass"
    assert ("target 'rooms': 5 distinct whole numbers (1 to 5), so classes (at most 10 are); --task regression "
            "predicts it as a number") in report["recipe"]
    for task in ("multiclass", "regression"):                 # asked for: nothing to explain
        report = train(where, "--target", "rooms", "--drop", "sold", "--task", task, capsys=capsys)
        assert not any(line.startswith("target ") for line in report["recipe"])


def test_each_default_can_be_turned_off(houses, capsys):
    where, _ = houses
    report = train(where, "--target", "sold", "--drop", "price", "--label-smoothing", "0", "--no-periodic",
                   "--no-input-scale", "--scaling", "standard", "--activation", "relu", capsys=capsys)
    assert report["recipe"] == ["numeric columns: 2 standardised (mean, std)"]
    model = NeuralNetwork.load(where / "m.npz")
    assert model.periodic is None and not model.input_scale and model.loss.get_config() == {"label_smoothing": 0.0}
    report = train(where, "--target", "sold", "--drop", "price", capsys=capsys)
    assert "label smoothing 0.1: targets (1 - 0.1) y + 0.1 / classes" in report["recipe"]
    assert NeuralNetwork.load(where / "m.npz").loss.label_smoothing == 0.1


def test_more_numeric_columns_than_the_limit_get_no_periodic_embeddings_and_the_report_says_why(tmp_path, capsys):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(60, 201)), columns=[f"x{i}" for i in range(201)])
    frame["y"] = rng.integers(0, 2, 60)
    frame.to_csv(tmp_path / "wide.csv", index=False)
    assert backprop(["train", str(tmp_path / "wide.csv"), "--target", "y", "--epochs", "2", "--json",
                     "--output", str(tmp_path / "m.npz")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "no periodic embeddings: 201 numeric columns is more than 200 (each would add 3 inputs to the first " \
           "layer)" in report["recipe"]
    assert NeuralNetwork.load(tmp_path / "m.npz").periodic is None


def test_periodic_sigma_starts_fast_waves_beside_slow_ones_and_the_model_and_report_keep_it(houses, capsys):
    where, frame = houses
    report = train(where, "--target", "price", "--drop", "sold", "--periodic-sigma", "0.1,3", capsys=capsys)
    assert "periodic embeddings on 2 numeric column(s) (16 frequencies starting at spread 0.1 to 3, 3 features " \
           "each)" in report["recipe"]
    model = NeuralNetwork.load(where / "m.npz")
    assert model.periodic.sigma == (0.1, 3.0)
    one = train(where, "--target", "price", "--drop", "sold", "--periodic-sigma", "0.5", capsys=capsys)
    assert NeuralNetwork.load(where / "m.npz").periodic.sigma == 0.5 and one["recipe"] != report["recipe"]
    estimator = BackpropRegressor(periodic=(0.1, 3.0), epochs=2, random_state=0).fit(frame.drop(columns=["price",
                                                                                                      "sold"]),
                                                                                     frame["price"])
    assert estimator.model_.periodic.sigma == (0.1, 3.0)


@pytest.mark.parametrize("target, drop, loss", [("price", "sold", "mse"), ("sold", "price", "log_loss")])
def test_periodic_sigma_auto_keeps_the_spread_of_lower_validation_loss(houses, capsys, target, drop, loss):
    where, _ = houses
    runs = {}
    for spread in ("0.1", "0.1,3"):
        report = train(where, "--target", target, "--drop", drop, "--periodic-sigma", spread, capsys=capsys)
        runs[spread] = (report["validation"][loss], NeuralNetwork.load(where / "m.npz").parameters)
    report = train(where, "--target", target, "--drop", drop, "--periodic-sigma", "AUTO", capsys=capsys)
    model = NeuralNetwork.load(where / "m.npz")
    chosen = min(runs, key=lambda spread: runs[spread][0])
    np.testing.assert_array_equal(model.parameters, runs[chosen][1])     # that run's network, bit for bit
    choice = model.metadata["periodic_choice"]
    assert choice["chosen"] == chosen and choice["loss"] == loss
    assert choice["validation_loss"] == pytest.approx([runs["0.1"][0], runs["0.1,3"][0]], rel=1e-12)
    assert report["validation"][loss] == pytest.approx(runs[chosen][0], rel=1e-12)
    said = f"periodic spread {chosen} chosen by the validation {loss}"
    assert any(line.startswith(said) for line in report["recipe"])
    assert model.periodic.sigma == {"0.1": 0.1, "0.1,3": (0.1, 3.0)}[chosen]


def test_periodic_sigma_auto_gives_an_ensemble_s_members_the_spread_it_chose(houses, capsys, monkeypatch):
    from backpropagation.cli import train as train_module

    where, _ = houses
    spreads, fit = [], train_module.fit_network
    monkeypatch.setattr(train_module, "fit_network", lambda *args, **kw: spreads.append(kw.get("sigma")) or
                        fit(*args, **kw))
    monkeypatch.setattr(train_module, "AUTO_SPREADS", (0.5, (0.1, 3.0)))
    train(where, "--target", "price", "--drop", "sold", "--periodic-sigma", "auto", "--ensemble", "3", capsys=capsys)
    saved = NeuralNetwork.load(where / "m.npz")
    chosen = saved.metadata["periodic_choice"]["chosen"]
    assert spreads[:2] == [0.5, (0.1, 3.0)] and spreads[2:] == [{"0.5": 0.5, "0.1,3": (0.1, 3.0)}[chosen]] * 2
    assert saved.metadata["ensemble"]["members"] == 3


def test_periodic_sigma_auto_keeps_the_first_network_where_ctrl_c_stops_the_second(houses, capsys, ctrl_c_at_fit):
    where, _ = houses
    ctrl_c_at_fit(2)
    code = backprop(["train", str(where / "houses.csv"), "--target", "price", "--seed", "0", "--epochs", "5",
                     "--periodic-sigma", "auto", "--json", "--output", str(where / "m.npz")])
    report = json.loads(capsys.readouterr().out)
    assert code == 130 and report["interrupted"]
    saved = NeuralNetwork.load(where / "m.npz")
    assert saved.periodic.sigma == 0.1 and "periodic_choice" not in saved.metadata


@pytest.mark.parametrize("options, message", [
    (["--periodic-sigma", "auto", "--validation-split", "0"], "--periodic-sigma auto: chooses the spread by the "
                                                              "validation loss, and --validation-split 0"),
    (["--periodic-sigma", "auto", "--no-periodic"], "--periodic-sigma auto: there are no periodic embeddings"),
    (["--periodic-sigma", "auto", "--stream"], "--periodic-sigma auto: trains its networks one after another"),
    (["--periodic-sigma", "autoo"], "expected a spread (0.1), LOW,HIGH (0.1,3) or auto, got 'autoo'"),
    (["--periodic-sigma", "0.1,fast"], "expected a spread (0.1), LOW,HIGH (0.1,3) or auto, got '0.1,fast'"),
    (["--periodic-sigma", "3,0.1"], "expected one spread or LOW,HIGH with LOW <= HIGH, got '3,0.1'"),
    (["--periodic-sigma", "0"], "expected a number > 0, got '0'"),
    (["--periodic-sigma", "0.1,1,2"], "expected one spread or LOW,HIGH"),
    (["--no-periodic", "--periodic-sigma", "2"], "--periodic-sigma 2: there are no periodic embeddings to start"),
])
def test_a_periodic_sigma_that_cannot_be_says_why(houses, capsys, options, message):
    where, _ = houses
    try:
        code = backprop(["train", str(where / "houses.csv"), "--target", "price", "--output", str(where / "m.npz"),
                         *options])
    except SystemExit as stop:          # (argparse's usage errors)
        code = stop.code
    assert code == 2 and message in capsys.readouterr().err
    assert not (where / "m.npz").exists()


def test_a_streamed_table_clips_to_the_same_range_as_in_memory(houses):
    where, frame = houses
    table = read_table(where / "houses.csv", target="price", drop=["sold"])
    model = NeuralNetwork([table.n_features, 8, 1], clip_predictions=True, random_state=0)
    model.fit(table, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.task_.target_range_[:, 0], [frame["price"].min(), frame["price"].max()])
    in_memory = NeuralNetwork([table.n_features, 8, 1], clip_predictions=True, random_state=0)
    in_memory.fit(np.concatenate([X for X, _ in table]), np.concatenate([y for _, y in table]), epochs=1, verbose=0)
    np.testing.assert_array_equal(in_memory.task_.target_range_, model.task_.target_range_)


def test_the_exported_graph_clips_as_predict_does(houses, capsys):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    where, _ = houses
    train(where, "--target", "price", "--drop", "sold", capsys=capsys)
    assert backprop(["export", str(where / "m.npz"), str(where / "m.onnx")]) == 0
    capsys.readouterr()
    session = ort.InferenceSession(str(where / "m.onnx"))
    feeds = {"area": np.array([[1e6], [1.0], [1500.0]]), "rooms": np.array([[3.0], [3.0], [2.0]]),
             "town": np.array([["north"], ["south"], [""]], dtype=object)}
    expected = TableModel.load(where / "m.npz").predict(
        pd.DataFrame({"area": [1e6, 1.0, 1500.0], "rooms": [3.0, 3.0, 2.0], "town": ["north", "south", None]}))
    np.testing.assert_allclose(session.run(None, feeds)[0].ravel(), expected, rtol=1e-9)


def test_estimators_on_a_raw_table_choose_what_the_command_chooses(houses, capsys):
    pytest.importorskip("sklearn")
    from backpropagation.sklearn import BackpropClassifier, BackpropRegressor

    where, frame = houses
    for target, Estimator, drop in (("sold", BackpropClassifier, "price"), ("price", BackpropRegressor, "sold")):
        report = train(where, "--target", target, "--drop", drop, capsys=capsys)
        command = NeuralNetwork.load(where / "m.npz")
        estimator = Estimator(random_state=0).fit(frame.drop(columns=[target, drop]), frame[target])
        model = estimator.model_
        assert model.layer_sizes == command.layer_sizes
        hidden = {type(layer.activation).__name__ for layer in [*model.layers[:-1], *command.layers[:-1]]}
        assert hidden == {"Swish"}
        assert model.periodic.config() == command.periodic.config()
        assert model.input_scale == command.input_scale and model.loss.get_config() == command.loss.get_config()
        assert model.clip_predictions == command.clip_predictions
        assert (model.learning_rate, model.l2) == (command.learning_rate, command.l2) == (0.003, 1e-4)
        assert len(estimator.validation_loss_curve_) == estimator.n_iter_ <= 100       # (0.2 held out, stopping)
        stopping, stopped = estimator._stopping(), report["early_stopping"]
        assert (stopping.patience, stopping.min_delta) == (stopped["patience"], stopped["min_delta"]) == (10, 0.001)
        scaled = [c.get("scaling") for c in estimator.table_encoder_.preprocessing_.columns if c["kind"] == "numeric"]
        assert scaled == ["robust", "robust"]
    numbers = BackpropRegressor(random_state=0, epochs=2).fit(np.random.default_rng(0).random((20, 3)), np.arange(20.0))
    assert numbers.model_.layer_sizes == (3, 100, 1) and numbers.model_.periodic is None      # (MLP conventions)
    assert type(numbers.model_.layers[0].activation).__name__ == "ReLU"
    chosen = BackpropRegressor(activation="relu", random_state=0, epochs=2).fit(frame.drop(columns=["price"]),
                                                                               frame["price"])
    assert type(chosen.model_.layers[0].activation).__name__ == "ReLU"
    assert (numbers.model_.learning_rate, numbers.model_.l2) == (0.001, 0.0)


def test_engine_numba_trains_the_default_recipe_as_the_reference_engine_does(houses, capsys):
    # Periodic embeddings, the input scale and smoothed labels: the compiled kernels run them all.
    pytest.importorskip("numba")
    where, _ = houses
    weights = {}
    for engine in ("numpy", "numba"):
        report = train(where, "--target", "sold", "--drop", "price", "--engine", engine, capsys=capsys)
        model = NeuralNetwork.load(where / "m.npz")
        assert model.periodic is not None and model.input_scale and model.loss.label_smoothing == 0.1
        assert report["engine"] == engine
        weights[engine] = model.parameters.copy()
    np.testing.assert_allclose(weights["numba"], weights["numpy"], rtol=1e-9, atol=1e-12)


def test_an_estimator_with_plain_sgd_on_a_raw_table_steps_as_the_command_does(houses, capsys):
    pytest.importorskip("sklearn")
    from backpropagation.sklearn import BackpropClassifier

    where, frame = houses
    train(where, "--target", "sold", "--drop", "price", "--optimizer", "sgd", capsys=capsys)
    command = NeuralNetwork.load(where / "m.npz")
    estimator = BackpropClassifier(optimizer="sgd", epochs=2, random_state=0).fit(
        frame.drop(columns=["sold", "price"]), frame["sold"])
    assert estimator.model_.learning_rate == command.learning_rate == 0.01



def test_a_large_table_trains_in_larger_batches_and_the_estimators_take_the_same(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from backpropagation.sklearn import BackpropRegressor

    rng = np.random.default_rng(0)
    n = 21_000          # 16,800 training rows after the 0.2 held out (streamed: hashed, within a few dozen)
    frame = pd.DataFrame({"x": rng.normal(size=n), "kind": rng.choice(["a", "b", None], n)})
    frame["y"] = frame["x"] * 2 + (frame["kind"] == "a")
    frame.to_csv(tmp_path / "big.csv", index=False)
    reports = []
    for options in ((), ("--batch-size", "32"), ("--stream",)):
        assert backprop(["train", str(tmp_path / "big.csv"), "--target", "y", "--epochs", "1", "--json", "--seed", "0",
                         "--output", str(tmp_path / "m.npz"), *options]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert [report["batch_size"] for report in reports] == [64, 32, 64] and reports[0]["rows_train"] == 16_800
    said = [line for line in reports[0]["recipe"] if line.startswith("batches of")]
    assert said == ["batches of 64 rows: 32, doubled while an epoch keeps 256 steps (--batch-size sets it)"]
    assert not any(line.startswith("batches of") for line in reports[1]["recipe"])    # (the user's choice)
    estimator = BackpropRegressor(random_state=0, epochs=1).fit(frame.drop(columns=["y"]), frame["y"])
    assert estimator.batch_size_ == 64
    estimator.partial_fit(frame.drop(columns=["y"]).head(100), frame["y"].head(100))
    assert estimator.batch_size_ == 64                      # later fits keep the first fit's batch
    small = BackpropRegressor(random_state=0, epochs=1).fit(frame.drop(columns=["y"]).head(500), frame["y"].head(500))
    assert small.batch_size_ == 32


def test_more_epochs_are_suggested_only_where_the_loss_still_falls_by_a_thousandth():
    # (a fit near perfect, 1 - R² falling by millionths in its last epochs, needs no more of them:
    # the report once suggested doubling them)
    from types import SimpleNamespace

    from backpropagation.cli.report import still_improving

    def run(losses, reason="completed"):
        return SimpleNamespace(history={"val_loss": list(losses)}, interrupted=False, stop_reason=reason)

    falling = np.linspace(0.5, 0.3, 40)
    assert still_improving(run(falling))
    assert not still_improving(run(1e-5 + np.linspace(1e-5, 0, 40)))           # (1 - R² from 2e-5 to 1e-5)
    assert not still_improving(run(falling, reason="early stopping"))
    assert not still_improving(run(np.r_[falling, np.full(10, 0.31)]))           # (the best came earlier)


def test_a_wide_one_hot_text_column_makes_the_hidden_units_relu_in_the_command_and_the_estimators(tmp_path, capsys):
    # Swish lost or tied on every table with a text column of more than 255 categories one-hot;
    # such a table gets ReLU, said in the recipe, unless the column is embedded or --activation says.
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"shop": [f"s{i}" for i in rng.integers(0, 300, 1500)], "x": rng.normal(size=1500)})
    frame["y"] = frame["x"] + frame["shop"].str[1:].astype(int) % 7
    frame.to_csv(tmp_path / "shops.csv", index=False)

    def hidden(*options):
        assert backprop(["train", str(tmp_path / "shops.csv"), "--target", "y", "--epochs", "1", "--seed", "0",
                         "--json", "--output", str(tmp_path / "m.npz"), *options]) == 0
        report = json.loads(capsys.readouterr().out)
        kinds = {type(layer.activation).__name__ for layer in NeuralNetwork.load(tmp_path / "m.npz").layers[:-1]}
        return kinds, [line for line in report["recipe"] if "hidden units" in line]

    assert hidden() == ({"ReLU"}, ["ReLU hidden units, not swish: 'shop' one-hot with more than 255 categories, "
                                   "where swish measured no better (--activation swish)"])
    assert hidden("--activation", "swish")[0] == {"Swish"}
    assert hidden("--embed", "shop")[0] == {"Swish"}
    assert hidden("--max-categories", "100")[0] == {"Swish"}
    pytest.importorskip("sklearn")
    from backpropagation.sklearn import BackpropRegressor

    estimator = BackpropRegressor(epochs=1, random_state=0).fit(frame.drop(columns="y"), frame["y"])
    assert type(estimator.model_.layers[0].activation).__name__ == "ReLU"
