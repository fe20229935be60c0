"""``read_table(path, target=...)`` and ``NeuralNetwork.fit`` on it: a table streamed from its file."""

import numpy as np
import pytest

from backpropagation import EarlyStopping, ModelCheckpoint, NeuralNetwork, read_table
from backpropagation.tables import blocks as table_blocks
from backpropagation.tables.table_model import TableModel

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")


def frame(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(4)})
    data["colour"] = rng.choice(["red", "green", "blue"], n)
    data.loc[rng.choice(n, 50, replace=False), "x2"] = np.nan
    data["label"] = np.where(data.x0 + 0.5 * data.x1 + (data.colour == "red") > 0.3, "yes", "no")
    data["amount"] = 3 * data.x0 - data.x1 + 10 + 0.1 * rng.normal(size=n)
    return data.sort_values("label", kind="stable")          # sorted by the target: blocks must be mixed


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setattr(table_blocks, "BLOCK_BYTES", 64 << 10)    # many small blocks
    data = frame()
    data.to_parquet(tmp_path / "t.parquet", row_group_size=1000)
    data.to_csv(tmp_path / "t.csv", index=False)
    return data, tmp_path


def network(table, **options):
    return NeuralNetwork([table.n_features, 16, 1], task=table.task, random_state=0, **options)


@pytest.mark.parametrize("name", ["t.parquet", "t.csv"])
def test_a_sorted_file_trains_as_well_as_shuffled_rows_in_memory(files, name):
    data, where = files
    table = read_table(where / name, target="label", drop=["amount"], pool_rows=3000, validation_split=0.1)
    assert table.rows == len(data) and table.classes == ["no", "yes"] and table.blocks.count > 10
    model = network(table)
    history = model.fit(table, epochs=8, early_stopping=EarlyStopping(patience=3))
    encoded = np.concatenate([X for X, _ in table])
    labels = np.concatenate([y for _, y in table])
    memory = network(table)
    memory.fit(encoded, labels, epochs=8, validation_split=0.1, verbose=0, early_stopping=EarlyStopping(patience=3))
    X_val, y_val = table.validation()
    assert model.score(X_val, y_val) > memory.history_.history["val_accuracy"][-1] - 0.01
    assert sorted(history.history) == sorted(memory.history_.history)


def test_the_same_random_state_trains_the_same_model(files):
    _, where = files
    table = read_table(where / "t.parquet", target="label", drop=["amount"], validation_split=0.1)
    first, second = network(table), network(table)
    for model in (first, second):
        model.fit(table, epochs=2, validation_split=0.1, verbose=0)
    np.testing.assert_array_equal(first.parameters, second.parameters)


def test_iterating_gives_every_row_encoded_as_the_preprocessing_does(files):
    data, where = files
    table = read_table(where / "t.parquet", target="label", scaling="standard")
    X = np.concatenate([X for X, _ in table])
    assert X.shape == (len(data), table.n_features) and not np.isnan(X).any()
    assert [name for name in table.feature_names if name.startswith("colour=")] == \
        ["colour=blue", "colour=green", "colour=red"]
    assert abs(X[:, table.feature_names.index("x0")].mean()) < 1e-9      # exact statistics: standardised


def test_a_saved_model_predicts_raw_rows_in_the_target_s_units(files, tmp_path):
    data, where = files
    table = read_table(where / "t.csv", target="amount", drop=["label"], validation_split=0.1)
    model = network(table, learning_rate=0.01)
    model.fit(table, epochs=3, early_stopping=True)
    model.save(tmp_path / "m.npz")
    rows = data.drop(columns=["label"]).head(500)
    predicted = TableModel.load(tmp_path / "m.npz").predict(rows)
    assert np.corrcoef(predicted, rows["amount"])[0, 1] > 0.99
    assert abs(predicted.mean() - rows["amount"].mean()) < 0.5                   # units, not standardised


def test_what_does_not_apply_to_a_streamed_table_is_refused_by_name(files):
    _, where = files
    table = read_table(where / "t.parquet", target="label", drop=["amount"])
    model = network(table)
    with pytest.raises(ValueError, match="y: not available when X is a streamed table"):
        model.fit(table, np.zeros(3))
    with pytest.raises(ValueError, match="sample_weight: not available when X is a streamed table"):
        model.fit(table, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"validation_split: this table holds out 0.0 of its rows.*"
                                         r"read_table\(..., validation_split=0.2\)"):
        model.fit(table, validation_split=0.2)
    with pytest.raises(ValueError, match=r"has 8 encoded features \(table.n_features\) but the network's input "):
        NeuralNetwork([3, 1], task="binary").fit(table)
    with pytest.raises(ValueError, match="the network's task is 'regression'"):
        NeuralNetwork([table.n_features, 1]).fit(table)
    with pytest.raises(TypeError, match="y .* is required, unless X is a streamed table"):
        model.fit(np.zeros((3, 7)))


def test_balanced_class_weights_come_from_the_whole_file(files):
    _, where = files
    table = read_table(where / "t.parquet", target="label", drop=["amount"], pool_rows=3000)
    total = sum(table.class_counts.values())
    weights = {c: total / (2 * n) for c, n in table.class_counts.items()}
    balanced, explicit = network(table), network(table)
    balanced.fit(table, epochs=1, class_weight="balanced", verbose=0)
    explicit.fit(table, epochs=1, class_weight=weights, verbose=0)       # the same weights, given
    np.testing.assert_allclose(balanced.parameters, explicit.parameters, rtol=1e-12)
    plain = network(table)
    plain.fit(table, epochs=1, verbose=0)
    assert np.abs(plain.parameters - balanced.parameters).max() > 1e-6     # (and they change training)


def test_checkpoints_and_early_stopping_callbacks_run_every_epoch(files, tmp_path):
    _, where = files
    table = read_table(where / "t.parquet", target="label", drop=["amount"], pool_rows=3000, validation_split=0.1)
    model = network(table)
    seen, weights = [], []

    class Spy(EarlyStopping):
        def on_epoch_end(self, epoch, logs):
            seen.append(sorted(logs))
            weights.append((logs["val_loss"], self.model.parameters.copy()))
            super().on_epoch_end(epoch, logs)

    history = model.fit(table, epochs=3, callbacks=[ModelCheckpoint(tmp_path / "best.npz"), Spy(patience=5)])
    assert seen == [["accuracy", "loss", "lr", "val_accuracy", "val_loss"]] * 3 and len(history.epoch) == 3
    best_loss, best_weights = min(weights, key=lambda pair: pair[0])
    np.testing.assert_array_equal(NeuralNetwork.load(tmp_path / "best.npz").parameters, best_weights)
