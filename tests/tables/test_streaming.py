"""backprop train --stream: a table read in blocks trains as the whole table does."""

import json

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")

from backpropagation import NeuralNetwork  # noqa: E402
from backpropagation.tables import blocks as table_blocks, file_summary, shuffle as external_shuffle  # noqa: E402
from backpropagation.tables.csv_source import TextFormat  # noqa: E402
from backpropagation.tables.readers import read_file  # noqa: E402
from backpropagation.cli import main as backprop  # noqa: E402


@pytest.fixture
def sorted_table(tmp_path, monkeypatch):
    """A Parquet table sorted by its binary target, in many small row groups (and blocks)."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    n = 20_000
    X = rng.normal(size=(n, 3))
    kind = rng.choice(["red", "green", "blue"], n)
    y = ((X[:, 0] + 0.5 * X[:, 1] + (kind == "red")) > 0.3).astype(int)
    order = np.argsort(y, kind="stable")
    path = tmp_path / "sorted.parquet"
    pq.write_table(pa.table({"a": X[order, 0], "b": X[order, 1], "c": X[order, 2], "kind": kind[order],
                             "y": y[order]}), path, row_group_size=1000)
    monkeypatch.setattr(table_blocks, "BLOCK_BYTES", path.stat().st_size // 20)     # about 20 blocks
    return path


def train(path, *options, epochs=4):
    return ["train", str(path), "--target", "y", "--epochs", str(epochs), "--seed", "0", "--json", *options]


def test_a_streamed_sorted_table_trains_as_well_as_the_whole_table(sorted_table, tmp_path, capsys):
    assert backprop(train(sorted_table, "--stream", "--shuffle-rows", "4000", "--output",
                          str(tmp_path / "s.npz"))) == 0
    streamed = json.loads(capsys.readouterr().out)
    assert backprop(train(sorted_table, "--output", str(tmp_path / "m.npz"))) == 0
    whole = json.loads(capsys.readouterr().out)
    assert streamed["streamed"]["blocks"] >= 10 and streamed["rows_validation"] > 3000
    assert streamed["validation"]["accuracy"] > whole["validation"]["accuracy"] - 0.02
    assert NeuralNetwork.load(tmp_path / "s.npz").classes_.tolist() == [0, 1]


def test_a_streamed_run_is_reproduced_by_its_seed(sorted_table, tmp_path, capsys):
    for name in ("one", "two"):
        assert backprop(train(sorted_table, "--stream", "--shuffle-rows", "4000", "--output",
                              str(tmp_path / f"{name}.npz"))) == 0
    capsys.readouterr()
    np.testing.assert_array_equal(NeuralNetwork.load(tmp_path / "one.npz").parameters,
                                  NeuralNetwork.load(tmp_path / "two.npz").parameters)


def test_the_exact_pass_gives_the_whole_file_s_means_and_every_category(sorted_table):
    from backpropagation.tables.preprocessing import TabularPreprocessor

    blocks = table_blocks.Blocks(sorted_table)
    pre = TabularPreprocessor("y").fit(file_summary.sample_table(blocks, 0, rows=500))
    seen = file_summary.summarize(pre, blocks, 0, 0.0)                # no validation rows: every row
    whole = TabularPreprocessor("y").fit(read_file(sorted_table))
    for mine, theirs in zip(pre.columns, whole.columns):
        if mine["kind"] == "numeric":
            assert mine["mean"] == pytest.approx(theirs["mean"], rel=1e-9, abs=1e-12)
            assert mine["std"] == pytest.approx(theirs["std"], rel=1e-9)
        else:
            assert mine["categories"] == theirs["categories"] and mine["mode"] == theirs["mode"]
    assert seen.rows == seen.train_rows == 20_000 and seen.classes == [0, 1]


def test_a_streamed_run_draws_its_loss_curve_and_validation_predictions(sorted_table, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert backprop(train(sorted_table, "--stream", "--plots", str(tmp_path / "p"), "--output",
                          str(tmp_path / "m.npz"), epochs=2)) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(p.rsplit("/", 1)[-1] for p in report["plots"]) == ["loss_curve.png", "predictions.png"]
    assert all((tmp_path / "p" / name).read_bytes().startswith(b"\x89PNG") for name in ("loss_curve.png",
                                                                                        "predictions.png"))
    assert backprop(train(sorted_table, "--stream", "--plots", str(tmp_path / "q"), "--validation-split", "0",
                          "--output", str(tmp_path / "m.npz"))) == 2
    assert "draws its predictions on the validation rows" in capsys.readouterr().err


def test_a_target_sorted_in_the_file_is_reported(sorted_table, tmp_path, capsys):
    assert backprop(train(sorted_table, "--stream", "--output", str(tmp_path / "m.npz"), epochs=1)) == 0
    assert any("is sorted or clustered in the file" in w for w in json.loads(capsys.readouterr().out)["warnings"])


def test_a_shuffled_file_is_not_reported_as_sorted():
    from backpropagation.statistics import Moments

    moments = Moments.of(np.arange(4.0))
    assert not file_summary.clustered([0.49, 0.52, 0.5, 0.47, 0.51], "integer-labels", moments)
    assert file_summary.clustered([0.0, 0.0, 1.0, 1.0, 1.0], "integer-labels", moments)


def test_a_file_over_the_memory_budget_streams_by_itself_and_says_why(sorted_table, tmp_path, capsys):
    assert backprop(train(sorted_table, "--memory", "1M", "--output", str(tmp_path / "m.npz"), epochs=1)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["streamed"]["why"].startswith("the file would need about") and "--memory" in report["streamed"]["why"]
    with pytest.raises(SystemExit):
        backprop(train(sorted_table, "--memory", "lots", "--output", str(tmp_path / "m.npz")))
    assert "expected a size such as 500M or 4G" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["rows.csv", "rows.parquet", "rows.feather"])
def test_shuffle_once_writes_every_row_once_in_a_random_order(tmp_path, monkeypatch, name):
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    n = 5000
    table = pa.table({"id": np.arange(n), "code": [f"{i % 7:03d}" for i in range(n)],
                      "y": np.repeat([0, 1], n // 2)})                       # sorted by the target
    source = tmp_path / name
    lines = "".join(f"{i},{i % 7:03d},{i >= n // 2:d}\n" for i in range(n))
    {"rows.csv": lambda: source.write_text("id,code,y\n" + lines),
     "rows.parquet": lambda: pq.write_table(table, source, row_group_size=500),
     "rows.feather": lambda: feather.write_feather(table, source)}[name]()
    monkeypatch.setattr(table_blocks, "BLOCK_BYTES", max(1, source.stat().st_size // 8))
    blocks = table_blocks.Blocks(source, TextFormat(), ["code"])
    copy = tmp_path / external_shuffle.shuffled_name(source).rsplit("/", 1)[-1]
    done = external_shuffle.shuffle_file(blocks, copy, seed=3, bucket_bytes=max(1, source.stat().st_size // 4))
    assert done["rows"] == n and done["buckets"] >= 4 and copy.exists()
    shuffled = read_file(copy, text_columns=["code"])
    ids = shuffled.column("id").numbers.astype(int)
    assert sorted(ids.tolist()) == list(range(n))                           # every row once
    assert abs(np.corrcoef(ids, np.arange(n))[0, 1]) < 0.1                  # in no particular order
    assert shuffled.column("code").labels()[np.argsort(ids)][:8].tolist() == ["000", "001", "002", "003",
                                                                              "004", "005", "006", "000"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("backprop-shuffle-")]   # scratch removed


def test_train_shuffle_once_trains_on_a_copy_no_longer_sorted(sorted_table, tmp_path, capsys):
    copy = tmp_path / "copy.parquet"
    assert backprop(train(sorted_table, "--stream", "--shuffle-once", str(copy), "--output",
                          str(tmp_path / "s.npz"))) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["shuffled_copy"]["copy"] == str(copy) and report["shuffled_copy"]["rows"] == 20_000
    assert report["data"] == str(copy) and not any("sorted or clustered" in w for w in report["warnings"])
    assert backprop(train(sorted_table, "--shuffle-once", "--output", str(tmp_path / "t.npz"))) == 0
    assert (tmp_path / "sorted.shuffled.parquet").exists()


def test_a_failed_shuffle_leaves_no_copy(sorted_table, tmp_path, monkeypatch):
    real = external_shuffle.TableWriter.__enter__

    def enter(self):                       # the copy's first write fails, as on a full disk
        real(self)

        def write(table):
            raise OSError("No space left on device")
        return write

    monkeypatch.setattr(external_shuffle.TableWriter, "__enter__", enter)
    blocks = table_blocks.Blocks(sorted_table)
    with pytest.raises(OSError, match="No space left"):
        external_shuffle.shuffle_file(blocks, tmp_path / "copy.parquet", seed=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sorted.parquet"]


def test_shuffle_once_refuses_to_overwrite_its_input(sorted_table, tmp_path, capsys):
    assert backprop(train(sorted_table, "--shuffle-once", str(sorted_table), "--output", str(tmp_path / "m.npz"))) == 2
    assert "--shuffle-once" in capsys.readouterr().err


def test_a_streamed_report_gives_the_last_epoch_s_training_metrics_and_says_how(sorted_table, tmp_path, capsys):
    assert backprop(train(sorted_table, "--stream", "--output", str(tmp_path / "s.npz"), epochs=2)) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["train"]) == {"loss", "accuracy"} and 0.5 < report["train"]["accuracy"] <= 1
    assert "no second pass" in report["streamed"]["train_metrics"]


def test_a_parquet_file_of_large_row_groups_is_sliced_and_each_group_decoded_once_a_pass(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    n = 30_000
    path = tmp_path / "big_groups.parquet"
    pq.write_table(pa.table({"id": np.arange(n), "y": np.arange(n) % 2}), path, row_group_size=10_000)
    blocks = table_blocks.Blocks(path, block_bytes=path.stat().st_size // 30)
    assert blocks.count >= 20 and {group for group, _, _ in blocks.slices} == {0, 1, 2}
    decoded = []
    real = pq.ParquetFile.read_row_group
    monkeypatch.setattr(pq.ParquetFile, "read_row_group",
                        lambda self, group, **options: decoded.append(group) or real(self, group, **options))
    order = blocks.order(np.random.default_rng(0))
    ids = np.concatenate([table.column("id").numbers for _, table in table_blocks.read_ahead(blocks, order)])
    assert sorted(ids.astype(int).tolist()) == list(range(n))            # every row once
    assert sorted(decoded) == [0, 0, 1, 1, 2, 2]              # each group decoded once (column by column)
    firsts = [table.row_numbers[0] for _, table in table_blocks.read_ahead(blocks, range(3))]
    assert firsts == [blocks.slices[k][1] + 1 for k in range(3)]          # the file's data row numbers


def test_a_block_whose_rows_all_lack_the_target_adds_nothing_and_stops_nothing(tmp_path, monkeypatch, capsys):
    lines = ["x,y"] + [f"{i / 100},{i % 2 if not 300 <= i < 700 else ''}" for i in range(2000)]
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(table_blocks, "BLOCK_BYTES", 2000)                   # blocks of about 200 rows
    assert backprop(train(path, "--stream", "--output", str(tmp_path / "m.npz"), epochs=2)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows_train"] + report["rows_validation"] == 1600


def test_shuffle_once_holds_at_most_max_buckets_open_files(tmp_path, monkeypatch):
    monkeypatch.setattr(external_shuffle, "MAX_BUCKETS", 3)
    source = tmp_path / "rows.csv"
    source.write_text("id,y\n" + "".join(f"{i},{i % 2}\n" for i in range(4000)))
    done = external_shuffle.shuffle_file(table_blocks.Blocks(source), tmp_path / "copy.csv", seed=0, bucket_bytes=100)
    assert done["buckets"] == 3 and done["rows"] == 4000


def test_a_column_of_group_codes_is_read_as_categories_streamed_and_in_memory_and_said_so(tmp_path, capsys):
    rng = np.random.default_rng(1)
    trees = rng.permutation(np.repeat(np.arange(1, 51), 4))
    path = tmp_path / "panel.csv"
    path.write_text("tree,x,y\n" + "".join(f"{t},{rng.normal():.3f},{t % 7 + rng.normal():.3f}\n" for t in trees))
    for stream in ([], ["--stream"]):
        assert backprop(["train", str(path), "--target", "y", "--epochs", "2", "--json", "--seed", "0", "-o",
                         str(tmp_path / "m.npz"), *stream]) == 0
        report = json.loads(capsys.readouterr().out)
        codes = NeuralNetwork.load(tmp_path / "m.npz").metadata["preprocessing"]["columns"][0]
        assert codes["codes"] and len(codes["categories"]) >= 48          # (a tree's 4 rows may all be held out)
        assert report["features"] == len(codes["categories"]) + 1 and not report["warnings"], (stream, report)
        assert [line for line in report["recipe"] if "'tree' read as the codes of 50 groups (1 to 50" in line
                and "--numeric 'tree' keeps them numbers" in line], (stream, report["recipe"])
        assert backprop(["predict", str(tmp_path / "m.npz"), str(path), "-o", str(tmp_path / "p.csv")]) == 0
        assert backprop(["export", str(tmp_path / "m.npz"), str(tmp_path / "m.onnx")]) == 0
        assert "inputs tree (number), x (number)" in capsys.readouterr().out
