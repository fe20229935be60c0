"""Robust scaling with a smooth clip: an outlier stays near the rest, the order of values is kept, and
every path (in memory, streamed, TableModel, the saved model, ONNX) scales alike."""

import numpy as np
import pytest

from backpropagation import TableModel, read_table
from backpropagation.cli import main as backprop
from backpropagation.tables.preprocessing import TabularPreprocessor
from backpropagation.tables.readers import read_file

pd = pytest.importorskip("pandas")


def fitted(tmp_path, text: str, **options) -> TabularPreprocessor:
    (tmp_path / "t.csv").write_text(text)
    return TabularPreprocessor("y", **options).fit(read_file(tmp_path / "t.csv"))


def test_an_outlier_is_bent_towards_three_and_keeps_its_place(tmp_path):
    rows = "".join(f"{x},{i % 2}\n" for i, x in enumerate([1, 2, 3, 4, 5, 1000]))
    pre = fitted(tmp_path, "x,y\n" + rows)
    X, _, _ = pre.transform(read_file(tmp_path / "t.csv"))
    spec = pre.columns[0]
    assert (spec["center"], spec["spread"]) == (3.5, 5 - 2)         # median; quartiles at rows 1 and 4 of 0..5
    z = (np.array([1, 2, 3, 4, 5, 1000]) - 3.5) / 3
    np.testing.assert_allclose(X[:, 0], z / np.sqrt(1 + (z / 5) ** 2), rtol=1e-15)
    assert 4.99 < X[5, 0] < 5 and np.all(np.diff(X[:, 0]) > 0)       # bent, never reordered
    standard = fitted(tmp_path, "x,y\n" + rows, scaling="standard")
    assert standard.transform(read_file(tmp_path / "t.csv"))[0][5, 0] > 2.2   # z ≈ 2.24 unbent
    assert "robust (median 3.5, quartile spread 3, smooth clip at ±5)" in pre.describe()
    assert "standardised (mean" in standard.describe()


def test_a_long_tail_goes_through_asinh_before_the_clip(tmp_path):
    # 100 rows: 80 of 1..8 and a tail of 20 (the 95% point is row 94) from 100 to 10^6.
    tail = np.geomspace(100, 1e6, 20)
    values = np.concatenate([np.arange(80) % 8 + 1, tail])
    pre = fitted(tmp_path, "x,y\n" + "".join(f"{float(x)!r},{i % 2}\n" for i, x in enumerate(values)))
    spec = pre.columns[0]
    assert spec["tail"] == "asinh" and (spec["center"], spec["spread"]) == (5.5, 8.0 - 3.0)
    X, _, _ = pre.transform(read_file(tmp_path / "t.csv"))
    z = np.arcsinh((values - 5.5) / 5.0)
    np.testing.assert_allclose(X[:, 0], z / np.sqrt(1 + (z / 5) ** 2), rtol=1e-15)
    tail_out = X[80:, 0]                                          # the clip alone: within [4.83, 5)
    assert np.all(np.diff(tail_out) > 0) and tail_out[-1] - tail_out[0] > 0.5 and tail_out[-1] < 5
    assert "asinh on its long tail" in pre.describe()
    # The same values without their tail, or a tail of a few rows only (an outlier): the clip alone.
    for short in (values[:80], np.concatenate([values[:80], np.arange(16) % 8 + 1, [1e6] * 4])):
        pre = fitted(tmp_path, "x,y\n" + "".join(f"{float(x)!r},{i % 2}\n" for i, x in enumerate(short)))
        assert "tail" not in pre.columns[0]
    # A long tail on the left: the same rule.
    pre = fitted(tmp_path, "x,y\n" + "".join(f"{-float(x)!r},{i % 2}\n" for i, x in enumerate(values)))
    assert pre.columns[0]["tail"] == "asinh"


@pytest.mark.parametrize("ranks", [2, 3])
def test_a_long_tail_is_found_alike_over_ranks(tmp_path, ranks):
    from threaded_comm import run_ranks

    rng = np.random.default_rng(3)
    votes = np.round(rng.lognormal(3, 3, 400))
    (tmp_path / "t.csv").write_text("votes,y\n" + "".join(f"{float(v)!r},{i % 2}\n" for i, v in enumerate(votes)))
    table = read_file(tmp_path / "t.csv")
    whole = TabularPreprocessor("y").fit(table).columns[0]

    def fit_part(comm):
        k, n = comm.Get_rank(), comm.Get_size()
        return TabularPreprocessor("y").fit(table.subset(np.arange(k * 400 // n, (k + 1) * 400 // n)), comm).columns[0]

    assert whole["tail"] == "asinh"
    for merged in run_ranks(ranks, fit_part):
        assert merged.keys() == whole.keys()
        assert {k: merged[k] for k in merged if k not in ("mean", "std")} == \
            {k: whole[k] for k in whole if k not in ("mean", "std")}            # order statistics exact


def test_a_column_whose_quartiles_tie_takes_half_its_range(tmp_path):
    values = [0] * 18 + [4, 8]                                          # mostly zeros, as counts often are
    pre = fitted(tmp_path, "x,y\n" + "".join(f"{x},{i % 2}\n" for i, x in enumerate(values)))
    assert pre.columns[0]["spread"] == 4.0
    constant = fitted(tmp_path, "x,y\n" + "".join(f"7,{i % 2}\n" for i in range(6)))
    assert constant.columns[0]["spread"] == 1.0


def test_unknown_scaling_is_refused_everywhere(tmp_path):
    with pytest.raises(ValueError, match="scaling: expected one of 'robust', 'standard', got 'minmax'"):
        TabularPreprocessor("y", scaling="minmax")
    (tmp_path / "t.csv").write_text("x,y\n1,2\n")
    with pytest.raises(ValueError, match="scaling"):
        read_table(tmp_path / "t.csv", target="y", scaling="quantile")
    pre = fitted(tmp_path, "x,y\n1,0\n2,1\n3,0\n").to_dict()
    pre["columns"][0]["scaling"] = "log"
    with pytest.raises(ValueError, match="unknown scaling 'log'"):
        TabularPreprocessor.from_dict(pre)
    pre["columns"][0].update(scaling="robust", spread=0.0)
    with pytest.raises(ValueError, match="'spread' and 'clip' must be positive"):
        TabularPreprocessor.from_dict(pre)
    pre["columns"][0].update(spread=1.0, tail="log")
    with pytest.raises(ValueError, match="unknown tail 'log'"):
        TabularPreprocessor.from_dict(pre)


@pytest.fixture
def skewed(tmp_path):
    rng = np.random.default_rng(1)
    n = 600
    votes = np.round(rng.lognormal(3, 3, n))                  # a long tail: film votes
    budget = rng.lognormal(14, 1.5, n)
    budget[rng.random(n) < 0.5] = np.nan
    frame = pd.DataFrame({"votes": votes, "budget": budget, "genre": rng.choice(["a", "b", "c"], n)})
    frame["rating"] = np.log1p(votes) + rng.normal(0, 0.3, n)
    frame.to_csv(tmp_path / "films.csv", index=False)
    frame.to_parquet(tmp_path / "films.parquet", row_group_size=64)
    return tmp_path, frame


def test_streamed_and_in_memory_paths_scale_alike(skewed):
    where, frame = skewed
    in_memory = TabularPreprocessor("rating").fit(read_file(where / "films.csv"))
    X, _, _ = in_memory.transform(read_file(where / "films.csv"))
    for name in ("films.csv", "films.parquet"):
        streamed = read_table(where / name, target="rating")      # (the sample is the whole file here)
        for mine, theirs in zip(streamed.preprocessing.columns, in_memory.columns):
            for key in ("scaling", "center", "spread", "clip", "median", "tail"):
                assert mine.get(key) == theirs.get(key), (name, mine["name"], key)
        rows = np.concatenate([X for X, _ in streamed])
        np.testing.assert_allclose(np.sort(rows, axis=0), np.sort(X, axis=0), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_saved_model_table_model_and_onnx_scale_alike(skewed, capsys, dtype):
    where, frame = skewed
    model = where / "m.npz"
    assert backprop(["train", str(where / "films.csv"), "--target", "rating", "--epochs", "5", "--seed", "0",
                     *(["--float32"] if dtype == "float32" else []), "--quiet", "--output", str(model)]) == 0
    capsys.readouterr()
    table_model = TableModel.load(model)
    assert [c.get("tail") for c in table_model.preprocessing.columns[:2]] == ["asinh", None]   # votes, budget
    rows = frame.drop(columns="rating").iloc[:50].copy()
    rows.loc[0, "votes"], rows.loc[1, "votes"] = 1e30, -1e30            # far beyond the clip: near ±5
    expected = table_model.predict(rows)
    assert backprop(["export", str(model), str(where / "m.onnx")]) == 0
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(where / "m.onnx"))
    feeds = {"votes": rows[["votes"]].to_numpy(dtype), "budget": rows[["budget"]].to_numpy(dtype),
             "genre": rows[["genre"]].to_numpy(object)}
    tolerance = 1e-4 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(session.run(None, feeds)[0].ravel(), expected.ravel(), rtol=tolerance, atol=tolerance)
