"""A streamed table reads what the in-memory path reads, refuses what it refuses, and never runs out of memory
or reads silently: one decision from the whole file, on every path."""

import gzip
import json
import os

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

from backpropagation import EarlyStopping, LearningRateScheduler, NeuralNetwork, read_table  # noqa: E402
from backpropagation.cli import main  # noqa: E402
from backpropagation.tables import blocks as table_blocks  # noqa: E402


def run(*argv):
    return main([str(a) for a in argv])


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(table_blocks, "BLOCK_BYTES", 16 << 10)      # many blocks in a small file


def table_frame(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                          "colour": rng.choice(["red", "green", "blue"], n)})
    frame["y"] = np.where(frame.a + (frame.colour == "red") > 0.3, "yes", "no")
    return frame


def fit_streamed(path, **options):
    table = read_table(path, target="y", **options)
    model = NeuralNetwork([table.n_features, 8, 1], task="classification", random_state=0)
    return table, model


def test_a_file_replaced_between_epochs_is_named_not_trained_on(tmp_path):
    path = tmp_path / "t.csv"
    table_frame().to_csv(path, index=False)
    table, model = fit_streamed(path)

    class Replace(EarlyStopping):
        def on_epoch_end(self, epoch, logs):
            flipped = table_frame()
            flipped["y"] = np.where(flipped.y == "yes", "no", "yes")
            flipped.to_csv(path, index=False)
            os.utime(path, ns=(1, 1))                    # (a new modification time, whatever the clock)

    with pytest.raises(ValueError, match=r"t.csv: the file (changed size|was rewritten).* since training began"):
        model.fit(table, epochs=3, callbacks=[Replace()], verbose=0)
    assert len(model.history_.epoch) == 1


@pytest.mark.parametrize("damage", ["shorten", "corrupt"])
def test_a_damaged_parquet_file_is_named_without_a_raw_arrow_error(tmp_path, damage):
    path = tmp_path / "t.parquet"
    table_frame().to_parquet(path, row_group_size=500)
    table, model = fit_streamed(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "shorten" else data[:100] + b"\0" * (len(data) - 100))
    with pytest.raises(ValueError, match="t.parquet: the file") as caught:
        model.fit(table, epochs=1, verbose=0)
    assert "Arrow" not in type(caught.value).__name__


def test_a_truncated_csv_speaks_of_the_file_not_of_processes(tmp_path, capsys):
    path = tmp_path / "t.csv"
    table_frame().to_csv(path, index=False)
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 1000)
    assert run("train", path, "--target", "y", "--stream", "--epochs", "1", "--output", tmp_path / "m.npz",
               "--json") == 0
    capsys.readouterr()
    with open(path, "a") as handle:
        handle.write("1,2\n")                             # a ragged last line
    assert run("train", path, "--target", "y", "--stream", "--epochs", "1", "--output", tmp_path / "m.npz") == 2
    error = capsys.readouterr().err
    assert "line" in error and "fields" in error and "--distributed" not in error and "process" not in error


def test_a_class_whose_rows_are_all_held_out_is_still_a_class(tmp_path):
    frame = table_frame()
    rare = frame.index[:3]
    frame.loc[rare, "y"] = "rare"
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    table = read_table(path, target="y", validation_split=0.5, seed=3)
    assert table.classes == ["no", "rare", "yes"]
    model = NeuralNetwork([table.n_features, 8, 3], task="classification", random_state=0)
    model.fit(table, epochs=1, verbose=0)
    assert model.classes_.tolist() == ["no", "rare", "yes"]


@pytest.mark.parametrize("bad, error", [(1.0, ValueError), (-0.1, ValueError), (float("nan"), ValueError),
                                        ("a", TypeError)])
def test_validation_split_is_checked_as_fit_checks_it(tmp_path, bad, error):
    path = tmp_path / "t.csv"
    table_frame(600).to_csv(path, index=False)
    with pytest.raises(error, match="validation_split"):
        read_table(path, target="y", validation_split=bad)
    with pytest.raises(error, match="validation_split"):
        NeuralNetwork([2, 1]).fit(np.ones((10, 2)), np.ones(10), validation_split=bad, verbose=0)


@pytest.mark.parametrize("options", [["--task", "bogus"], []])
def test_read_table_refuses_bad_arguments_by_name(tmp_path, options):
    path = tmp_path / "t.csv"
    table_frame(600).to_csv(path, index=False)
    with pytest.raises(ValueError, match="task"):
        read_table(path, target="y", task="bogus")
    with pytest.raises(ValueError, match="dtype"):
        read_table(path, target="y", dtype="int32")
    with pytest.raises(ValueError, match="max_categories"):
        read_table(path, target="y", max_categories=0)
    with pytest.raises(ValueError, match="seed"):
        read_table(path, target="y", seed=-1)


def test_text_in_a_numeric_column_is_refused_streamed_as_in_memory_or_counted_with_numeric(tmp_path, capsys):
    frame = table_frame()
    frame["a"] = frame["a"].astype(object)
    frame.loc[5000, "a"] = "rotary"                        # far beyond the first blocks
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    messages = []
    for stream in ([], ["--stream"]):
        assert run("train", path, "--target", "y", *stream, "--epochs", "1", "--output", tmp_path / "m.npz") == 2
        messages.append(capsys.readouterr().err.strip())
    assert messages[0] == messages[1] and "data row 5001 holds 'rotary'" in messages[0]
    reports = []
    for stream in ([], ["--stream"]):
        assert run("train", path, "--target", "y", *stream, "--numeric", "a", "--epochs", "1", "--seed", "0",
                   "--validation-split", "0", "--output", tmp_path / "m.npz", "--json") == 0
        reports.append(json.loads(capsys.readouterr().out))
    for report in reports:
        assert any("1 cell(s) of the numeric column 'a' hold text" in line for line in report["preprocessing"])


def test_the_streamed_report_counts_what_the_in_memory_report_counts(tmp_path, capsys):
    frame = table_frame()
    frame.loc[frame.index[::20], "y"] = None              # 300 rows without a target
    frame.loc[frame.index[::7], "b"] = None                # gaps
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    reports = []
    for stream in ([], ["--stream"]):
        assert run("train", path, "--target", "y", *stream, "--epochs", "1", "--seed", "0", "--validation-split",
                   "0", "--output", tmp_path / "m.npz", "--json") == 0
        reports.append(json.loads(capsys.readouterr().out))
    memory, streamed = reports
    assert memory["rows_dropped_missing_target"] == streamed["rows_dropped_missing_target"] == 300
    assert memory["rows_train"] == streamed["rows_train"] == 5700
    assert memory["preprocessing"] == streamed["preprocessing"] and memory["preprocessing"]
    assert set(memory) == set(streamed)


def test_a_kind_decided_late_in_the_file_names_the_file_s_row(tmp_path, capsys):
    n = 30_000
    frame = pd.DataFrame({"a": np.arange(n) % 97 * 1.0, "y": np.arange(n) % 2})
    frame["a"] = frame["a"].astype(object)
    frame.loc[20_000, "a"] = "n.a."
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    assert run("train", path, "--target", "y", "--stream", "--output", tmp_path / "m.npz") == 2
    assert "data row 20001 holds 'n.a.'" in capsys.readouterr().err


def test_whole_number_targets_are_classes_or_measurements_by_the_whole_file(tmp_path):
    n = 20_000
    y = np.arange(n) % 10
    y[-1] = 10                                          # an 11th value, once, at the end
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": np.linspace(0, 1, n), "y": y}).to_csv(path, index=False)
    assert read_table(path, target="y").task == "regression"
    from backpropagation.tables.preprocessing import TabularPreprocessor
    from backpropagation.tables.readers import read_file
    assert TabularPreprocessor("y").fit(read_file(path)).resolved_task == "regression"


def test_csv_and_parquet_of_one_table_stream_to_the_same_decisions(tmp_path):
    frame = table_frame()
    frame.loc[frame.index[::11], "a"] = None
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet", row_group_size=700)
    csv, parquet = (read_table(tmp_path / name, target="y", validation_split=0.2) for name in ("t.csv", "t.parquet"))
    assert csv.blocks.count != parquet.blocks.count
    assert csv.validation_rows == parquet.validation_rows and csv.train_rows == parquet.train_rows
    assert csv.feature_names == parquet.feature_names and csv.class_counts == parquet.class_counts
    for mine, theirs in zip(csv.preprocessing.columns, parquet.preprocessing.columns):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert mine[key] == pytest.approx(theirs[key], rel=1e-12) if key in ("mean", "std") else \
                mine[key] == theirs[key] or key == "median"
    np.testing.assert_allclose(csv.validation()[0], parquet.validation()[0], rtol=1e-12, atol=1e-14)


def test_a_gzipped_csv_streams_as_the_plain_file_does(tmp_path):
    frame = table_frame()
    frame.to_csv(tmp_path / "t.csv", index=False)
    with gzip.open(tmp_path / "t.csv.gz", "wt") as handle:
        frame.to_csv(handle, index=False)
    plain, packed = (read_table(tmp_path / name, target="y", validation_split=0.1) for name in ("t.csv", "t.csv.gz"))
    assert packed.blocks.count > 1 and packed.blocks.source.endswith("t.csv.gz")
    models = []
    for table in (plain, packed):
        model = NeuralNetwork([table.n_features, 8, 1], task="classification", random_state=0)
        model.fit(table, epochs=2, verbose=0)
        models.append(model)
    np.testing.assert_array_equal(models[0].parameters, models[1].parameters)
    scratch = packed.blocks.path
    del packed, table
    import gc
    gc.collect()
    assert not os.path.exists(scratch)                  # the decompressed copy goes with the table


def test_a_cell_of_megabytes_in_a_dropped_column_reads(tmp_path):
    frame = table_frame(300)
    frame["notes"] = ""
    frame.loc[150, "notes"] = "x" * (3 << 20)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    table = read_table(path, target="y", drop=["notes"])
    assert table.rows == 300 and "notes" not in " ".join(table.feature_names)
    from backpropagation.tables.readers import read_file
    assert len(read_file(path)) == 300


def test_a_pool_too_wide_for_the_memory_budget_shrinks_or_is_refused_by_column(tmp_path):
    n = 20_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=n), "city": [f"c{i}" for i in rng.integers(0, 5000, n)],
                          "y": rng.integers(0, 2, n)})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    table = read_table(path, target="y", memory=300 << 20)
    assert table.pool_rows < 200_000 and "pools hold" in table.notes[0]
    with pytest.raises(MemoryError, match=r"'city' \(\d+ categories\).*--embed"):
        read_table(path, target="y", memory=1 << 20)
    embedded = read_table(path, target="y", memory=1 << 20, embed={"city": 4})
    n_categories = len(embedded.preprocessing.columns[1]["categories"])
    assert embedded.n_features == 2 and embedded.embeddings == {1: (n_categories + 1, 4, True)}


def test_statistics_are_exact_for_numbers_far_from_zero_streamed_and_in_memory(tmp_path):
    rng = np.random.default_rng(0)
    n = 20_000
    frame = pd.DataFrame({"offset": 1e8 + rng.normal(size=n), "huge": 1.7e9 + 20 * rng.standard_t(3, size=n),
                          "y": rng.integers(0, 2, n)})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, row_group_size=1000)
    from backpropagation.tables.preprocessing import TabularPreprocessor
    from backpropagation.tables.readers import read_file
    streamed = {c["name"]: c for c in read_table(path, target="y").preprocessing.columns}
    memory = {c["name"]: c for c in TabularPreprocessor("y").fit(read_file(path)).columns}
    for name in ("offset", "huge"):
        truth = frame[name].to_numpy()
        for columns in (streamed, memory):
            assert columns[name]["mean"] == pytest.approx(truth.mean(), rel=1e-12)
            assert columns[name]["std"] == pytest.approx(truth.std(), rel=1e-7)


def test_the_same_table_trains_streamed_and_in_memory_with_the_same_callbacks_schedule_and_class_weights(tmp_path):
    path = tmp_path / "t.csv"
    table_frame().to_csv(path, index=False)
    table = read_table(path, target="y", validation_split=0.2)
    X_val, y_val = table.validation()
    X = np.concatenate([X for X, _ in table])
    y = np.concatenate([y for _, y in table])
    options = dict(epochs=3, verbose=0, class_weight="balanced", lr_schedule="cosine",
                   callbacks=[EarlyStopping(patience=2)])
    streamed = NeuralNetwork([table.n_features, 8, 1], task="classification", random_state=0)
    streamed.fit(table, **options)
    memory = NeuralNetwork([table.n_features, 8, 1], task="classification", random_state=0)
    memory.fit(X, y, validation_data=(X_val, y_val), **{**options, "callbacks": [EarlyStopping(patience=2)]})
    assert streamed.history_.history.keys() == memory.history_.history.keys()
    assert streamed.history_.history["lr"] == memory.history_.history["lr"]
    assert streamed.history_.history["lr"][1] < streamed.history_.history["lr"][0]      # the schedule ran


def test_train_stream_honours_class_weight_and_lr_schedule(tmp_path, capsys):
    path = tmp_path / "t.csv"
    table_frame().to_csv(path, index=False)
    weights = {}
    for name, options in (("plain", []), ("weighted", ["--class-weight", "balanced"]),
                          ("scheduled", ["--lr-schedule", "cosine"])):
        assert run("train", path, "--target", "y", "--stream", "--epochs", "2", "--seed", "0", "--json",
                   "--output", tmp_path / f"{name}.npz", *options) == 0
        capsys.readouterr()
        weights[name] = NeuralNetwork.load(tmp_path / f"{name}.npz").parameters
    assert not np.array_equal(weights["plain"], weights["weighted"])
    assert not np.array_equal(weights["plain"], weights["scheduled"])


def test_shuffle_once_keeps_the_delimiter_it_read(tmp_path, capsys):
    frame = table_frame(3000).sort_values("y")
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False, sep=";")
    copy = tmp_path / "copy.csv"
    assert run("train", path, "--target", "y", "--delimiter", ";", "--shuffle-once", copy, "--epochs", "1",
               "--output", tmp_path / "m.npz", "--json") == 0
    capsys.readouterr()
    assert copy.read_text().splitlines()[0] == "a;b;colour;y"
    assert run("train", copy, "--target", "y", "--epochs", "1", "--output", tmp_path / "n.npz", "--json") == 0


def test_an_lr_scheduler_callback_trains_a_streamed_table(tmp_path):
    path = tmp_path / "t.csv"
    table_frame(2000).to_csv(path, index=False)
    table, model = fit_streamed(path)
    history = model.fit(table, epochs=2, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: lr / 2)])
    assert history.history["lr"] == [0.0005, 0.00025]
