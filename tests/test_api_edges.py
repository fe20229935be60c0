"""Edges of the Python API a user meets: raw frames, names, unfitted networks, one row, extreme rates."""

import numpy as np
import pytest

from backpropagation import Dense, Dropout, Embedding, NeuralNetwork, NotFittedError, TableModel
from backpropagation.cli import main

pd = pytest.importorskip("pandas")


@pytest.fixture
def cli_model(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"size": rng.normal(100, 10, 200), "kind": rng.choice(["a", "b"], 200)})
    frame["price"] = frame["size"] * 2 + (frame.kind == "a") * 10
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert main(["train", str(tmp_path / "t.csv"), "--target", "price", "--epochs", "3", "--quiet",
                 "--output", str(tmp_path / "m.npz")]) == 0
    return tmp_path / "m.npz", frame


def test_table_model_reads_text_in_a_numeric_column_as_missing_with_a_note(cli_model):
    path, frame = cli_model
    model = TableModel.load(path)
    rows = frame.head(3).astype({"size": object})
    rows.loc[rows.index[1], "size"] = "about 90"
    with pytest.warns(UserWarning, match="numeric column 'size' hold text, read as missing"):
        predicted = model.predict(rows)
    assert np.isfinite(predicted).all()
    assert "hold text, read as missing" in " ".join(model.report.lines())


@pytest.mark.parametrize("method", ["predict", "transform", "feature_importance"])
def test_table_model_warns_of_what_it_read_otherwise_than_written_as_backprop_predict_notes_it(cli_model, method):
    import warnings

    path, frame = cli_model
    model = TableModel.load(path)
    rows = frame.head(4).copy()
    rows.loc[rows.index[2], "kind"] = "c"                         # a category training never met
    with pytest.warns(UserWarning, match=r"TableModel: 1 value\(s\) of 'kind' were categories unseen") as caught:
        getattr(model, method)(rows)
    assert caught[0].filename == __file__                         # (pointing at the caller's line)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                            # rows as the training rows, gaps too: no news
        getattr(model, method)(frame.head(4).assign(size=[np.nan, 1.0, 2.0, 3.0]))


def test_a_command_line_model_loaded_as_a_network_says_where_raw_rows_go(cli_model):
    path, frame = cli_model
    with pytest.raises(TypeError, match=r"TableModel.load\(path\).predict\(frame\) reads raw rows"):
        NeuralNetwork.load(path).predict(frame.drop(columns="price"))
    network = NeuralNetwork.load(path)                      # in the target's units, as TableModel predicts
    X = TableModel.load(path).transform(frame.head(5))
    np.testing.assert_allclose(network.predict(X), TableModel.load(path).predict(frame.head(5)))


def test_an_estimator_fitted_on_a_frame_with_integer_column_names_predicts():
    from backpropagation.sklearn import BackpropClassifier

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({0: rng.normal(size=60), 1: rng.choice(["x", "y"], 60)})
    target = np.where(frame[0] > 0, "up", "down")
    estimator = BackpropClassifier(hidden_layer_sizes=(4,), epochs=3, random_state=0).fit(frame, target)
    assert estimator.predict(frame).shape == (60,)


def test_an_estimator_says_when_gaps_alone_switch_it_to_the_table_encoding():
    from backpropagation.sklearn import BackpropRegressor

    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0] * 10, "b": np.arange(40.0)})
    with pytest.warns(UserWarning, match="missing values in numeric columns only"):
        BackpropRegressor(hidden_layer_sizes=(3,), epochs=2, random_state=0).fit(frame, np.arange(40.0))


def test_unfitted_networks_refuse_explanations():
    model = NeuralNetwork([3, 4, 1], random_state=0)
    with pytest.raises(NotFittedError, match="input_gradients"):
        model.input_gradients(np.zeros((2, 3)))
    with pytest.raises(NotFittedError, match="feature_importance"):
        model.feature_importance(np.zeros((2, 3)), np.zeros(2))


def test_permutation_importance_on_one_row_is_refused():
    model = NeuralNetwork([3, 4, 1], random_state=0)
    model.fit(np.random.default_rng(0).normal(size=(20, 3)), np.arange(20.0), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="1 row cannot be shuffled"):
        model.feature_importance(np.zeros((1, 3)), [1.0])


@pytest.mark.parametrize("start, end", [(1e-300, 1e308), (1e-20, 1.0), (1e-3, 1e9)])
def test_lr_find_refuses_rates_no_network_trains_at(start, end):
    model = NeuralNetwork([3, 4, 1], random_state=0)
    with pytest.raises(ValueError, match="learning rates from 1e-12 to 1e6"):
        model.lr_find(np.zeros((40, 3)), np.zeros(40), start=start, end=end)


def test_class_weights_that_all_weigh_nothing_are_refused():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="every class of the training rows weighs 0"):
        NeuralNetwork([2, 1], task="classification").fit(X, ["a", "b"] * 10, class_weight={"a": 0, "b": 0}, verbose=0)


def test_embedding_layers_in_the_layer_list_build_the_same_network_as_embeddings():
    listed = NeuralNetwork([Embedding(column=1, n_categories=10, dim=3), Dense(5, 8, "tanh"), Dropout(0.1),
                            Dense(8, 1)], random_state=0)
    given = NeuralNetwork([3, 8, 1], embeddings={1: (10, 3)}, hidden_activation="tanh", dropout=0.1, random_state=0)
    assert listed.layer_sizes == given.layer_sizes == (3, 8, 1)
    np.testing.assert_array_equal(listed.parameters, given.parameters)
    with pytest.raises(ValueError, match="Embedding layers come first"):
        NeuralNetwork([Dense(5, 8), Embedding(1, 10, 3), Dense(8, 1)])
    with pytest.raises(ValueError, match="in the layer list or as embeddings=, not both"):
        NeuralNetwork([Embedding(1, 10, 3), Dense(5, 8), Dense(8, 1)], embeddings={2: (4, 2)})


def test_summary_shows_the_dropout_rates():
    text = NeuralNetwork([3, 8, 4, 1], dropout=[0.3, 0.1]).summary()
    assert "dropout_1 (rate 0.3)" in text and "dropout_2 (rate 0.1)" in text
