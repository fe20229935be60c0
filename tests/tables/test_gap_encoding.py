"""Gaps encoded as a careful practitioner would, the same on every path: a numeric column with gaps
gets an indicator beside it, a one-hot text column's gaps are a level of their own, decided from the
training rows in memory and from the whole file when streamed, and exported to ONNX unchanged."""

import numpy as np
import pytest

from backpropagation import read_table
from backpropagation.cli import main as backprop
from backpropagation.tables.preprocessing import TabularPreprocessor
from backpropagation.tables.readers import read_file

pd = pytest.importorskip("pandas")


@pytest.fixture
def gappy(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    budget = rng.lognormal(10, 1, n)
    budget[rng.random(n) < 0.6] = np.nan                    # most films have no budget figure
    extra = np.where(rng.random(n) < 0.9, None, rng.choice(["Shed", "Pool"], n))
    frame = pd.DataFrame({"budget": budget, "votes": rng.normal(size=n), "extra": extra})
    frame["hit"] = np.where(np.isnan(budget), "no", "yes")  # the gap itself is what predicts
    frame.to_csv(tmp_path / "films.csv", index=False)
    frame.to_parquet(tmp_path / "films.parquet", row_group_size=100)
    return tmp_path


def flags(columns):
    return {c["name"]: (c.get("indicator", False), c.get("missing_level", False), c.get("categories")) for c in columns}


def test_in_memory_and_streamed_paths_decide_the_same_gap_encoding(gappy):
    in_memory = TabularPreprocessor("hit").fit(read_file(gappy / "films.csv"))
    assert in_memory.feature_names == ["budget", "budget (missing)", "votes", "extra=Pool", "extra=Shed",
                                       "extra=(missing)"]
    for name in ("films.csv", "films.parquet"):
        streamed = read_table(gappy / name, target="hit")
        assert flags(streamed.preprocessing.columns) == flags(in_memory.columns), name
        X, _ = next(iter(streamed))
        assert X.shape[1] == 6


def test_the_gap_itself_is_learned_and_exported_to_onnx_equal_to_predict(gappy, capsys):
    pytest.importorskip("onnx")
    model = gappy / "m.npz"
    assert backprop(["train", str(gappy / "films.csv"), "--target", "hit", "--epochs", "30", "--seed", "0",
                     "--json", "--output", str(model)]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["validation"]["accuracy"] > 0.97     # from the indicator
    assert backprop(["export", str(model), str(gappy / "m.onnx")]) == 0          # checked on the file's rows
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(gappy / "m.onnx"))
    rows = {"budget": np.array([[np.nan], [25000.0]]), "votes": np.array([[0.0], [0.0]]),
            "extra": np.array([[""], ["Shed"]], dtype=object)}
    labels = session.run(None, rows)[0].tolist()
    from backpropagation.tables.table_model import TableModel

    frame = pd.DataFrame({"budget": [np.nan, 25000.0], "votes": [0.0, 0.0], "extra": [None, "Shed"]})
    assert labels == TableModel.load(model).predict(frame).tolist() == ["no", "yes"]
