"""The backprop command on tables as they come: dialects, formats, pipes, odd cells and frames."""

import json
import re
import os
import subprocess
import sys

import numpy as np
import pytest

from backpropagation import NeuralNetwork
from backpropagation.cli import demo_data_path, main


def run(*argv):
    return main([str(a) for a in argv])


#: A small table: two numeric columns and a yes/no target.
ROWS = "".join(f"{i % 7},{(i * 3) % 5},{'yes' if i % 2 else 'no'}\n" for i in range(30))
PLAIN = "a,b,y\n" + ROWS
NUMERIC_ROWS = "".join(f"{i % 7},{(i * 3) % 5},{i * 1.5 + 0.25}\n" for i in range(50))


@pytest.mark.parametrize("text,message", [
    ("", "the file is empty"),
    ("1,2,3\n4,5,6\n", "needs a header row"),
    ("a,b,c\n" + ROWS, "no column named 'y'; columns: a, b, c"),
    ("a,b,y\n" + ROWS.replace("1,3,", "1,three,", 1), "column 'b' mixes numbers and text: 29 of 30 values are "
                                                      "numbers, but data row 2 holds 'three'"),
    ("a,b,y\n" + ROWS.replace("3,", "1e999,", 1), "holds '1e999' (not a finite number)"),
    ("a,b,y\n" + "".join(f"{i},{i},same\n" for i in range(10)), "single class"),
    ("a,b,y\n1,2,yes\n3\n", "line 3 has 1 fields, the header has 3"),
    ("a,b,y\n" + ",,yes\n" * 5 + ",,no\n" * 5, "no feature columns left"),
])
def test_broken_csv_files_exit_2_with_one_line(text, message, tmp_path, capsys):
    # (--validation-split 0: every row is a training row, so the message's counts are the file's)
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    assert run("train", path, "--target", "y", "--epochs", "1", "--validation-split", "0",
               "--output", tmp_path / "m.npz") == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "m.npz").exists()



@pytest.mark.parametrize("variant,plain", [
    ("\ufeff" + PLAIN, PLAIN),                                       # byte-order mark
    (PLAIN.replace("\n", "\r\n"), PLAIN),                            # Windows line endings
    (PLAIN.replace(",no\n", ',"no, not at all"\n'), PLAIN.replace(",no\n", ",no_not_at_all\n")),  # quoted commas
])
def test_csv_dialects_train_like_the_plain_file(variant, plain, tmp_path, capsys):
    paths = tmp_path / "variant.csv", tmp_path / "plain.csv"
    paths[0].write_bytes(variant.encode("utf-8"))
    paths[1].write_bytes(plain.encode("utf-8"))
    for path in paths:
        assert run("train", path, "--target", "y", "--epochs", "2", "--seed", "0", "--json",
                   "--output", path.with_suffix(".npz")) == 0
    capsys.readouterr()
    np.testing.assert_array_equal(NeuralNetwork.load(paths[0].with_suffix(".npz")).parameters,
                                  NeuralNetwork.load(paths[1].with_suffix(".npz")).parameters)



@pytest.mark.parametrize("text,message", [
    ("a,b,y\n" + NUMERIC_ROWS.replace(",3.25\n", ",n.a.\n", 1),
     "target 'y' mixes numbers and text: 49 of 50 values are numbers, but data row 3 holds 'n.a.'"),
    ("a,b,y\n" + NUMERIC_ROWS.replace(",3.25\n", ",1e999\n", 1), "holds '1e999' (not a finite number)"),
])
def test_a_numeric_target_with_stray_text_is_refused_like_a_feature_column(text, message, tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text(text)
    assert run("train", path, "--target", "y", "--epochs", "1", "--output", tmp_path / "m.npz") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()



def test_targets_too_large_for_int64_do_not_merge(tmp_path, capsys):
    path = tmp_path / "big.csv"
    path.write_text("a,y\n" + "".join(f"{i},{'1e19' if i % 2 else '2e19'}\n" for i in range(40)))
    assert run("train", path, "--target", "y", "--task", "classification", "--epochs", "1", "--json",
               "--output", tmp_path / "m.npz") == 0
    assert sorted(NeuralNetwork.load(tmp_path / "m.npz").classes_.tolist()) == ["1e19", "2e19"]
    capsys.readouterr()
    assert run("evaluate", tmp_path / "m.npz", path, "--json") == 0       # the labels read as written
    assert json.loads(capsys.readouterr().out)["rows"] == 40
    assert run("train", path, "--target", "y", "--epochs", "1", "--json", "--output", tmp_path / "r.npz") == 0
    assert NeuralNetwork.load(tmp_path / "r.npz").task == "regression"       # measurements, not codes



def test_the_same_table_as_parquet_trains_the_same_model_as_the_csv(tmp_path, capsys):
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    parquet = tmp_path / "penguins.parquet"
    pq.write_table(pcsv.read_csv(demo_data_path()), parquet, row_group_size=100)
    options = ["--target", "body_mass_g", "--epochs", "3", "--seed", "1", "--json"]
    assert run("train", demo_data_path(), *options, "--output", tmp_path / "csv.npz") == 0
    assert run("train", parquet, *options, "--output", tmp_path / "pq.npz") == 0
    csv_model, pq_model = (NeuralNetwork.load(tmp_path / name) for name in ("csv.npz", "pq.npz"))
    np.testing.assert_array_equal(csv_model.parameters, pq_model.parameters)
    assert csv_model.metadata["preprocessing"] == pq_model.metadata["preprocessing"]



def test_an_identifier_column_too_wide_to_encode_is_refused_naming_it(tmp_path, capsys):
    rows = 200_000                      # one feature per id: 160,000 x 160,000 floats cannot be made
    ids = "\n".join(f"u{i:07d},{i % 10},{i % 3}" for i in range(rows))
    data = tmp_path / "ids.csv"
    data.write_text("id,x,y\n" + ids + "\n")
    model = tmp_path / "model.npz"
    assert run("train", str(data), "--target", "y", "--epochs", "1", "--output", str(model)) == 2
    err = capsys.readouterr().err
    assert "out of memory" in err and re.search(r"'id' \(16000\d categories\)", err) and "--drop" in err
    assert "Traceback" not in err and not model.exists()



@pytest.mark.parametrize("column", ["a", "y"])
def test_the_cli_refuses_a_column_too_large_to_standardise_by_name(tmp_path, capsys, column):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(40, 3))
    rows[:, "aby".index(column)] *= 1e160
    data = tmp_path / "huge.csv"
    data.write_text("a,b,y\n" + "".join(f"{a},{b},{y}\n" for a, b, y in rows.tolist()))
    code = main(["train", str(data), "--target", "y", "--epochs", "2", "--output", str(tmp_path / "m.npz")])
    err = capsys.readouterr().err
    assert code == 2 and f"column {column!r}: values as large as" in err and "too large" in err
    assert not (tmp_path / "m.npz").exists()



def test_columns_the_model_does_not_use_are_never_decoded(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    table = pa.table({"id": pa.array(np.arange(60, dtype=np.int64) + 2**60), "x": x, "y": 2 * x})
    pq.write_table(table, tmp_path / "ids.parquet")
    extra = table.append_column("tags", pa.array([[1, 2]] * 60)).append_column(
        "big", pa.array(np.arange(60, dtype=np.uint64) + 2**63))
    pq.write_table(extra, tmp_path / "extra.parquet")
    # An int64 ID beyond 2^53 is a number (dropped here); a list column is refused only if used.
    assert run("train", tmp_path / "ids.parquet", "--target", "y", "--drop", "id", "--epochs", "2",
               "--output", tmp_path / "m.npz", "--json") == 0
    assert json.loads(capsys.readouterr().out)["features"] == 1
    assert run("train", tmp_path / "ids.parquet", "--target", "y", "--epochs", "2",
               "--output", tmp_path / "n.npz", "--json") == 0
    assert json.loads(capsys.readouterr().out)["features"] == 2
    assert run("predict", tmp_path / "m.npz", tmp_path / "extra.parquet", "--output", tmp_path / "p.csv") == 0
    assert (tmp_path / "p.csv").read_text().count("\n") == 61
    assert run("train", tmp_path / "extra.parquet", "--target", "y", "--epochs", "2",
               "--output", tmp_path / "o.npz") == 2
    assert "column 'tags' holds list<element: int64> values" in capsys.readouterr().err
    assert run("train", tmp_path / "extra.parquet", "--target", "y", "--drop", "tags", "--epochs", "2",
               "--output", tmp_path / "o.npz") == 0



def test_decimal_commas_train_with_their_options_and_predict_reads_alike(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 2000, size=60)
    lines = [f"{a:.2f};{2 * a + 1:.2f}".replace(".", ",") for a in x]
    data = tmp_path / "de.csv"
    data.write_text("sep=;\nx;y\n" + "\n".join(lines) + "\n")
    assert run("train", data, "--target", "y", "--output", tmp_path / "m.npz") == 2
    assert "column 'y' holds numbers written with a comma" in capsys.readouterr().err
    assert run("train", data, "--target", "y", "--decimal", ",", "--epochs", "3", "--json",
               "--output", tmp_path / "m.npz") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "regression" and report["features"] == 1
    assert run("predict", tmp_path / "m.npz", data, "-o", tmp_path / "p.csv") == 0   # the format is remembered
    assert (tmp_path / "p.csv").read_text().count("\n") == 61
    assert run("predict", tmp_path / "m.npz", data, "--decimal", ".", "-o", tmp_path / "q.csv") == 2



def test_a_dash_reads_standard_input_and_writes_standard_output(tmp_path):
    backprop = os.path.join(os.path.dirname(sys.executable), "backprop")
    rows = "a,b,y\n" + "".join(f"{i},{i % 3},{2 * i}\n" for i in range(30))
    done = subprocess.run([backprop, "train", "-", "--target", "y", "--epochs", "2", "--quiet",
                           "--output", str(tmp_path / "m.npz")], input=rows, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([backprop, "predict", str(tmp_path / "m.npz"), "-", "-o", "-"], input=rows,
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.splitlines()[0] == "a,b,y,predicted_y"
    assert len(done.stdout.splitlines()) == 31
    done = subprocess.run([backprop, "train", "-", "--target", "y", "-o", "-"], input=rows, capture_output=True,
                          text=True)
    assert done.returncode == 2 and "a model file cannot go to standard output" in done.stderr



@pytest.mark.parametrize("layout", ["v1", "stream"])
def test_every_arrow_layout_trains_predicts_and_evaluates(tmp_path, capsys, layout):
    pa = pytest.importorskip("pyarrow")
    from table_files import write_arrow

    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    data = tmp_path / "d.feather"
    write_arrow(pa.table({"x": x, "y": 2 * x + 1}), data, layout)
    assert run("train", data, "--target", "y", "--epochs", "2", "--output", tmp_path / "m.npz", "--quiet") == 0
    assert run("predict", tmp_path / "m.npz", data, "-o", tmp_path / "p.csv") == 0
    assert (tmp_path / "p.csv").read_text().count("\n") == 81
    assert run("evaluate", tmp_path / "m.npz", data) == 0
    assert "80 rows of" in capsys.readouterr().out



def test_none_is_a_category_in_a_text_column_unless_na_values_says_otherwise(tmp_path, capsys):
    rows = "".join(f"{['none', 'front', 'side'][i % 3]},{i % 7 if i % 11 else 'none'},{i % 2}\n" for i in range(66))
    data = tmp_path / "crash.csv"
    data.write_text("airbag,speed,y\n" + rows)
    assert run("train", data, "--target", "y", "--epochs", "1", "--json", "--output", tmp_path / "m.npz") == 0
    report = json.loads(capsys.readouterr().out)
    pre = NeuralNetwork.load(tmp_path / "m.npz").metadata["preprocessing"]
    airbag = next(c for c in pre["columns"] if c["name"] == "airbag")
    assert airbag["kind"] == "text" and "none" in airbag["categories"]          # a category, not a gap
    assert any("missing value(s) in 'speed'" in line for line in report["preprocessing"])   # a gap in numbers
    assert not any("'airbag'" in line for line in report["preprocessing"])
    assert run("train", data, "--target", "y", "--epochs", "1", "--json", "--na-values", "none",
               "--output", tmp_path / "told.npz") == 0
    report = json.loads(capsys.readouterr().out)
    model = NeuralNetwork.load(tmp_path / "told.npz")
    airbag = next(c for c in model.metadata["preprocessing"]["columns"] if c["name"] == "airbag")
    assert "none" not in airbag["categories"] and model.metadata["text_format"]["na_values"] == ["none"]
    assert any("missing value(s) in 'airbag'" in line for line in report["preprocessing"])
    assert run("predict", tmp_path / "told.npz", data, "-o", tmp_path / "p.csv") == 0   # read alike



def test_a_stray_cell_at_predict_time_is_missing_with_a_note_and_columns_can_be_forced(tmp_path, capsys):
    train_rows = "".join(f"{i},{i % 3:02d},{i % 2}\n" for i in range(40))
    data = tmp_path / "d.csv"
    data.write_text("a,code,y\n" + train_rows)
    assert run("train", data, "--target", "y", "--text", "code", "--epochs", "1", "--json",
               "--output", tmp_path / "m.npz") == 0
    capsys.readouterr()
    pre = NeuralNetwork.load(tmp_path / "m.npz").metadata["preprocessing"]
    code = next(c for c in pre["columns"] if c["name"] == "code")
    assert code["kind"] == "text" and code["categories"] == ["00", "01", "02"]          # zeros kept
    new = tmp_path / "new.csv"
    new.write_text("a,code\n3,01\nrotary,02\n5,00\n")
    assert run("predict", tmp_path / "m.npz", new, "-o", tmp_path / "p.csv") == 0        # not refused
    assert (tmp_path / "p.csv").read_text().count("\n") == 4
    assert "1 cell(s) of the numeric column 'a' hold text, read as missing (first: data row 2 holds 'rotary')" \
        in capsys.readouterr().err
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30)) + "n/d,1\n")
    assert run("train", mixed, "--target", "y", "--output", tmp_path / "x.npz") == 2
    assert "30 of 31 values are numbers" in capsys.readouterr().err
    assert run("train", mixed, "--target", "y", "--numeric", "a", "--epochs", "1", "--quiet",
               "--output", tmp_path / "x.npz") == 0



@pytest.mark.parametrize("target", ["species", "body_mass_g"])
def test_a_cli_model_predicts_a_raw_dataframe_as_backprop_predict_does(tmp_path, target):
    pd = pytest.importorskip("pandas")
    from backpropagation.tables.table_model import TableModel

    assert run("train", demo_data_path(), "--target", target, "--epochs", "3", "--seed", "0", "--quiet",
               "--output", tmp_path / "m.npz") == 0
    assert run("predict", tmp_path / "m.npz", demo_data_path(), "-o", tmp_path / "p.csv", "--proba") == 0
    written = pd.read_csv(tmp_path / "p.csv")
    frame = pd.read_csv(demo_data_path())                  # text, missing values and all
    model = TableModel.load(tmp_path / "m.npz")
    predicted = model.predict(frame.drop(columns=[target]))
    if target == "species":
        assert predicted.tolist() == written[f"predicted_{target}"].tolist()
        np.testing.assert_allclose(model.predict_proba(frame)[:, 0], written["proba_Adelie"], rtol=1e-12)
    else:
        np.testing.assert_allclose(predicted, written[f"predicted_{target}"], rtol=1e-12)
    assert any("filled" in line for line in model.report.lines())
    with pytest.raises(ValueError, match="not trained by 'backprop train'"):
        NeuralNetwork([2, 1]).save(tmp_path / "plain.npz") or TableModel.load(tmp_path / "plain.npz")


@pytest.mark.parametrize("true,false", [("True", "False"), ("TRUE", "FALSE"), ("true", "false")])
def test_truth_values_match_in_any_spelling_across_files_frames_and_the_onnx_graph(tmp_path, capsys, true, false):
    # pandas writes True, R writes TRUE, a frame's or a Parquet file's boolean column reads as true:
    # a model trained on one spelling must read the others as the same two categories.
    pd = pytest.importorskip("pandas")
    from backpropagation import TableModel

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "weekend": rng.random(200) < 0.3})
    frame["y"] = frame["x"] + 2 * frame["weekend"] + 0.1 * rng.normal(size=200)
    written = frame.assign(weekend=np.where(frame["weekend"], true, false))
    written.to_csv(tmp_path / "t.csv", index=False)
    assert run("train", tmp_path / "t.csv", "--target", "y", "--epochs", "3", "--seed", "0", "--quiet",
               "--output", tmp_path / "m.npz") == 0
    assert run("predict", tmp_path / "m.npz", tmp_path / "t.csv", "-o", tmp_path / "p.csv") == 0
    expected = pd.read_csv(tmp_path / "p.csv")["predicted_y"].to_numpy()
    model = TableModel.load(tmp_path / "m.npz")
    spellings = [frame.drop(columns="y"), written.assign(weekend=written["weekend"].str.upper()),
                 written.assign(weekend=written["weekend"].str.lower())]
    for other in spellings:
        np.testing.assert_allclose(model.predict(other), expected, rtol=1e-12)
        assert not model.report.unseen
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    assert run("export", tmp_path / "m.npz", tmp_path / "m.onnx") == 0
    capsys.readouterr()
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    kinds = {i.name: i.type for i in session.get_inputs()}
    for weekend in (np.where(frame["weekend"], "TRUE", "false"), np.where(frame["weekend"], "tRuE", "FALSE")):
        feeds = {"x": frame[["x"]].to_numpy(np.float64 if "double" in kinds["x"] else np.float32),
                 "weekend": weekend.astype(object).reshape(-1, 1)}
        np.testing.assert_allclose(session.run(None, feeds)[0].ravel(), expected, rtol=1e-5)


def test_a_date_column_parsed_into_a_frame_reads_as_the_file_s_cells(tmp_path, capsys):
    # pandas writes a datetime column as 2017-01-01 where every time is midnight, else with the
    # time to the second; a frame with the parsed column must meet the categories the file's
    # cells made, not pyarrow's 2017-01-01 00:00:00.000000.
    pd = pytest.importorskip("pandas")
    from backpropagation import TableModel

    rng = np.random.default_rng(1)
    days = pd.to_datetime("2017-01-01") + pd.to_timedelta(rng.integers(0, 5, 120), unit="D")
    frame = pd.DataFrame({"x": rng.normal(size=120), "day": days, "at": days + pd.to_timedelta(90, unit="min")})
    frame["y"] = frame["x"] + frame["day"].dt.day + 0.1 * rng.normal(size=120)
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert run("train", tmp_path / "t.csv", "--target", "y", "--text", "day", "--text", "at", "--epochs", "3",
               "--seed", "0", "--quiet", "--output", tmp_path / "m.npz") == 0
    assert run("predict", tmp_path / "m.npz", tmp_path / "t.csv", "-o", tmp_path / "p.csv") == 0
    capsys.readouterr()
    model = TableModel.load(tmp_path / "m.npz")
    np.testing.assert_allclose(model.predict(frame.drop(columns="y")),
                               pd.read_csv(tmp_path / "p.csv")["predicted_y"].to_numpy(), rtol=1e-12)
    assert not model.report.unseen
