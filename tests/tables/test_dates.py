"""Dates as numbers: an ISO date is its days since 1970-01-01, read alike from a CSV's text, a
Parquet file's date and timestamp columns and a DataFrame's datetime column, in memory and
streamed, by predict, TableModel and the ONNX graph's number input."""

import importlib.util
import json
import re

import numpy as np
import pytest

from backpropagation import NeuralNetwork, TableModel
from backpropagation.cli import main as backprop
from backpropagation.tables.dates import days_of_dates, phase_names, phase_width, phases

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")


def test_an_iso_date_is_its_days_since_1970_and_anything_else_is_not_a_date():
    texts = pa.array(["1970-01-02", "1969-12-31", "2012-01-01 12:00:00", "2012-01-01T06:00", "2012-01-01 10:30:00.5",
                      "2012-01-01T12:00:00Z", "2012-01-01 07:00:00-05:00", "2012-01-01 13:00:00.000000+0100",
                      "2012-02-30", "2012-13-01", "01/02/2012", "2012-01-01Z", "2012", "soon"])
    days = days_of_dates(texts)
    np.testing.assert_allclose(days[:8], [1.0, -1.0, 15340.5, 15340.25, 15340 + (10.5 * 3600 + 0.5) / 86400,
                                          15340.5, 15340.5, 15340.5])              # (a zone's time: in UTC)
    assert np.isnan(days[8:]).all()          # no such day, no such month, not ISO, a zone without a time, a year, text


def test_dates_written_year_first_with_slashes_or_with_the_month_s_name_are_the_iso_date_s_days():
    texts = pa.array(["2012/01/31", "2012/01/31 12:00", "Jan 31 2012", "Feb 1 2012", "Dec 09 1999", "2012-01/31",
                      "2012/1/31", "2012/02/30", "31/01/2012", "Feb 30 2012", "jan 31 2012", "January 31 2012",
                      "Jan 31, 2012", "Sept 5 2010"])
    days = days_of_dates(texts)
    np.testing.assert_array_equal(days[:5], [15370, 15370.5, 15370, 15371, 10934])
    assert np.isnan(days[5:]).all()        # mixed marks, one digit, no such day, day first, other spellings


def test_a_date_s_phases_turn_once_a_year_and_once_a_week_and_with_times_once_a_day():
    days = np.array([0.0, 365.2425 / 4, 7 / 2, 14610.25])
    year, week, day = (2 * np.pi * days / period for period in (365.2425, 7, 1))
    dates, times = {"name": "d", "date": True}, {"name": "d", "date": True, "times": True}
    assert (phase_width({"name": "d"}), phase_width(dates), phase_width(times)) == (0, 4, 6)
    # (angles of 10^5 radians; float32 days are to a minute or two, so a day's phase to about 0.01)
    for dtype, tolerance in ((np.float64, 1e-9), (np.float32, 1e-2)):
        out = np.empty((4, 6), dtype)
        phases(times, days, out)
        np.testing.assert_allclose(out, np.column_stack([np.sin(year), np.cos(year), np.sin(week), np.cos(week),
                                                         np.sin(day), np.cos(day)]), atol=tolerance)
        np.testing.assert_allclose(out[:2, :2], [[0, 1], [1, 0]], atol=tolerance)     # the year: a quarter turn
        np.testing.assert_allclose(out[2, 2:4], [0, -1], atol=tolerance)                # the week: half a turn
        np.testing.assert_allclose(out[3, 4:], [1, 0], atol=tolerance)                  # six in the morning
    assert phase_names(dates) == ["d (year sin)", "d (year cos)", "d (week sin)", "d (week cos)"]
    assert phase_names(times)[4:] == ["d (day sin)", "d (day cos)"]


def dated_table(n=400, seed=0):
    """Days across four years, a measurement, and a label that changed how it was kept on 2015-01-01
    (as Seattle's weather records did): only the date tells the two periods apart."""
    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 4 * 365, n), unit="D")
    x = rng.normal(size=n)
    before = day < pd.Timestamp("2015-01-01")
    label = np.where(before, np.where(x > 0, "drizzle", "fog"), np.where(x > 0, "rain", "sun"))
    return pd.DataFrame({"day": day, "x": x, "label": label})


def train(tmp_path, csv, *options):
    out = tmp_path / "m.npz"
    assert backprop(["train", str(csv), "--target", "label", "--epochs", "60", "--seed", "0", "--json",
                     "--output", str(out), *options]) == 0
    return out


def test_dates_train_as_numbers_that_tell_periods_apart_where_as_categories_they_cannot(tmp_path, capsys):
    frame = dated_table()
    frame.iloc[:300].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[300:].to_csv(tmp_path / "test.csv", index=False)            # days training mostly never saw
    scores = {}
    for how, options in (("dates", []), ("categories", ["--text", "day"])):
        model = train(tmp_path, tmp_path / "train.csv", *options)
        report = json.loads(capsys.readouterr().out)
        assert backprop(["evaluate", str(model), str(tmp_path / "test.csv"), "--json"]) == 0
        scores[how] = json.loads(capsys.readouterr().out)["accuracy"]
        spec = next(c for c in NeuralNetwork.load(model).metadata["preprocessing"]["columns"] if c["name"] == "day")
        assert (spec["kind"], spec.get("date", False)) == (("numeric", True) if how == "dates" else ("text", False))
        said = [line for line in report["recipe"] if "days since 1970-01-01" in line]
        assert said == (["dates read as numbers, days since 1970-01-01, beside their phases in the year and the "
                         "week (a sine and a cosine each): 'day' (--text 'day' reads them as categories)"]
                        if how == "dates" else [])
        assert not any("like a row number" in w for w in report["warnings"])
    assert scores["dates"] > 0.9 > scores["categories"] + 0.2, scores


def test_a_date_reads_alike_from_csv_text_parquet_frames_and_streamed_training(tmp_path, capsys):
    import pyarrow.parquet as pq

    frame = dated_table(seed=1)
    frame.assign(day=frame["day"].dt.strftime("%Y-%m-%d")).to_csv(tmp_path / "t.csv", index=False)
    model = train(tmp_path, tmp_path / "t.csv")
    capsys.readouterr()
    assert backprop(["predict", str(model), str(tmp_path / "t.csv"), "-o", str(tmp_path / "p.csv")]) == 0
    expected = pd.read_csv(tmp_path / "p.csv")["predicted_label"].to_numpy()
    table_model = TableModel.load(model)
    np.testing.assert_array_equal(table_model.predict(frame), expected)                    # datetime64
    stamps = pa.Table.from_pandas(frame, preserve_index=False)
    dates = stamps.set_column(0, "day", pa.array(frame["day"].dt.date, pa.date32()))
    for name, table in (("stamps.parquet", stamps), ("dates.parquet", dates)):
        pq.write_table(table, tmp_path / name)
        assert backprop(["predict", str(model), str(tmp_path / name), "-o", str(tmp_path / "q.csv")]) == 0
        np.testing.assert_array_equal(pd.read_csv(tmp_path / "q.csv")["predicted_label"].to_numpy(), expected)
    np.testing.assert_array_equal(table_model.predict(dates), expected)                     # an Arrow table
    eastern = frame.assign(day=frame["day"].dt.tz_localize("UTC").dt.tz_convert("US/Eastern"))
    np.testing.assert_array_equal(table_model.predict(eastern), expected)                   # the same instants
    assert table_model.preprocessing.feature_names[:5] == ["day", *phase_names({"name": "day", "date": True})]
    streamed = train(tmp_path, tmp_path / "t.csv", "--stream")
    spec = next(c for c in NeuralNetwork.load(streamed).metadata["preprocessing"]["columns"] if c["name"] == "day")
    assert spec["kind"] == "numeric" and spec["date"] is True


def test_a_cell_that_is_no_date_is_read_as_missing_at_prediction_and_refused_among_dates_in_training(tmp_path,
                                                                                                     capsys):
    frame = dated_table(seed=2)
    frame.to_csv(tmp_path / "t.csv", index=False)
    model = train(tmp_path, tmp_path / "t.csv")
    capsys.readouterr()
    typo = frame.head(5).astype({"day": str})
    typo.loc[2, "day"] = "2014-02-30"                          # no such day
    with pytest.warns(UserWarning, match="date column 'day' hold no date .*, read as missing .*'2014-02-30'"):
        TableModel.load(model).predict(typo)
    mixed = frame.astype({"day": str})
    mixed.loc[:150, "day"] = "unknown"
    mixed.to_csv(tmp_path / "mixed.csv", index=False)
    assert backprop(["train", str(tmp_path / "mixed.csv"), "--target", "label", "--epochs", "1", "--output",
                     str(tmp_path / "m2.npz")]) == 2
    assert "column 'day' mixes numbers and text" in capsys.readouterr().err


@pytest.mark.parametrize("streamed", [[], ["--stream"]])
def test_a_plain_number_among_dates_is_refused_in_training_and_read_as_missing_at_prediction(tmp_path, capsys,
                                                                                           streamed, monkeypatch):
    from backpropagation.tables import file_summary

    monkeypatch.setattr(file_summary, "SAMPLE_ROWS", 20)          # (streamed: the file's pass finds the cell)
    frame = dated_table(seed=3).astype({"day": str})
    frame.to_csv(tmp_path / "t.csv", index=False)
    model = train(tmp_path, tmp_path / "t.csv", *streamed)
    odd = frame.head(6).copy()
    odd.loc[[1, 2, 4], "day"] = ["2014", "20140105", "2014/1/5"]          # a year, digits, a short month
    odd.to_csv(tmp_path / "odd.csv", index=False)
    gaps = odd.assign(day=odd["day"].where(~odd.index.isin([1, 2, 4])))
    gaps.to_csv(tmp_path / "gaps.csv", index=False)
    capsys.readouterr()
    for table in ("odd", "gaps"):
        assert backprop(["predict", str(model), str(tmp_path / f"{table}.csv"), "-o",
                         str(tmp_path / f"{table}.out")]) == 0
    assert "3 cell(s) of the date column 'day' hold no date (ISO 8601, or year first with slashes), read as missing " \
           "(first: data row 2 holds '2014')" in capsys.readouterr().err
    predicted = [pd.read_csv(tmp_path / f"{table}.out")["predicted_label"].tolist() for table in ("odd", "gaps")]
    assert len(predicted[0]) == 6 and predicted[0] == predicted[1]
    with pytest.warns(UserWarning, match=r"3 cell\(s\) of the date column 'day' hold no date"):
        from_odd = TableModel.load(model).predict_proba(odd)
    np.testing.assert_array_equal(from_odd, TableModel.load(model).predict_proba(gaps))
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
        assert backprop(["export", str(model), str(tmp_path / "m.onnx"), "--data", str(tmp_path / "odd.csv")]) == 0
    for column, cell, said in (("day", "2014", "399 of 400 values are dates, but data row 5 holds a plain number, "
                                               "'2014'; write such cells as dates"),
                               ("x", "2014-05-01", "399 of 400 values are plain numbers, but data row 5 holds a "
                                                   "date, '2014-05-01'; write such cells as numbers")):
        mixed = frame.astype({column: object})
        mixed.loc[4, column] = cell
        mixed.to_csv(tmp_path / "mixed.csv", index=False)
        capsys.readouterr()
        assert backprop(["train", str(tmp_path / "mixed.csv"), "--target", "label", "--epochs", "1", *streamed,
                         "--seed", "0", "--output", str(tmp_path / "m2.npz")]) == 2     # (seed 0: a sample without it)
        assert f"column {column!r} mixes dates and plain numbers: {said}" in capsys.readouterr().err


def test_the_estimators_read_a_datetime_column_of_a_frame_as_dates():
    from backpropagation.sklearn import BackpropClassifier

    frame = dated_table()
    X, y = frame.drop(columns="label"), frame["label"]
    model = BackpropClassifier(random_state=0, epochs=60).fit(X.iloc[:300], y.iloc[:300])
    spec = next(c for c in model.table_encoder_.preprocessing_.columns if c["name"] == "day")
    assert spec["kind"] == "numeric" and spec["date"] is True
    assert model.score(X.iloc[300:], y.iloc[300:]) > 0.9


@pytest.mark.parametrize("streamed", [[], ["--stream"]])
def test_a_target_of_dates_is_predicted_as_days_and_the_report_says_so(tmp_path, capsys, streamed, monkeypatch):
    from backpropagation.tables import file_summary

    frame = dated_table(seed=3)
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert backprop(["train", str(tmp_path / "t.csv"), "--target", "day", "--epochs", "2", "--seed", "0", "--json",
                     "--output", str(tmp_path / "m.npz"), *streamed]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "regression"
    assert "the target 'day' holds dates: predicted as days since 1970-01-01" in report["warnings"]
    monkeypatch.setattr(file_summary, "SAMPLE_ROWS", 20)          # (streamed: the file's pass finds the cell)
    mixed = frame.astype({"day": str})
    mixed.loc[7, "day"] = "2014"
    mixed.to_csv(tmp_path / "mixed.csv", index=False)
    assert backprop(["train", str(tmp_path / "mixed.csv"), "--target", "day", "--epochs", "1", *streamed,
                     "--seed", "0", "--output", str(tmp_path / "m2.npz")]) == 2         # (seed 0: a sample without it)
    assert "target 'day' mixes dates and plain numbers: 399 of 400 values are dates, but data row 8 holds a plain " \
           "number, '2014'; write such cells as dates (2017-01-31) or make them empty (the row is then dropped)" \
           in capsys.readouterr().err


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_onnx_graph_takes_a_date_as_days_and_computes_its_phases_as_predict_does(tmp_path, capsys, dtype):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    frame = dated_table(seed=4)
    frame.loc[3, "day"] = pd.NaT                                  # a gap: the median's days and phases
    frame.to_csv(tmp_path / "t.csv", index=False)
    model = train(tmp_path, tmp_path / "t.csv", *(["--float32"] if dtype == "float32" else []))
    assert backprop(["export", str(model), str(tmp_path / "m.onnx")]) == 0    # (checked against predict)
    assert "day (number: days since 1970-01-01)" in capsys.readouterr().out
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    assert json.loads(session.get_modelmeta().custom_metadata_map["date_columns"]) == ["day"]
    days = ((frame["day"] - pd.Timestamp(0)) / pd.Timedelta(days=1)).to_numpy(dtype).reshape(-1, 1)
    label, _ = session.run(None, {"day": days, "x": frame[["x"]].to_numpy(dtype)})
    np.testing.assert_array_equal(label, TableModel.load(model).predict(frame))


def test_times_of_day_add_the_day_s_phases_which_tell_the_hours_apart(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    rng = np.random.default_rng(5)
    at = pd.Timestamp("2014-03-01") + pd.to_timedelta(rng.integers(0, 60 * 24 * 30, 600), unit="min")
    frame = pd.DataFrame({"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "x": rng.normal(size=600),
                          "busy": np.where((at.hour >= 9) & (at.hour < 17), "yes", "no")})   # office hours
    frame.iloc[:450].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[450:].to_csv(tmp_path / "test.csv", index=False)
    assert backprop(["train", str(tmp_path / "train.csv"), "--target", "busy", "--epochs", "80", "--seed", "0",
                     "--json", "--output", str(tmp_path / "m.npz")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert any(line.endswith("; and in the day, for the times of 'at'") for line in report["recipe"])
    pre = TableModel.load(tmp_path / "m.npz").preprocessing
    assert pre.feature_names[:7] == ["at", *phase_names({"name": "at", "date": True, "times": True})]
    assert backprop(["evaluate", str(tmp_path / "m.npz"), str(tmp_path / "test.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] > 0.9
    assert backprop(["export", str(tmp_path / "m.npz"), str(tmp_path / "m.onnx"), "--data",
                     str(tmp_path / "test.csv")]) == 0                       # (the graph's day phases = predict's)


def test_a_date_where_training_saw_numbers_is_text_read_as_missing_not_its_days(tmp_path, capsys):
    from backpropagation.sklearn import BackpropRegressor

    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"year": rng.integers(2000, 2020, 200).astype(float), "x": rng.normal(size=200)})
    frame["y"] = frame["x"] + 0.1 * frame["year"]
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert backprop(["train", str(tmp_path / "t.csv"), "--target", "y", "--epochs", "2", "--seed", "0", "--quiet",
                     "--output", str(tmp_path / "m.npz")]) == 0
    typo = frame.head(3).astype({"year": object})
    typo.loc[1, "year"] = "2014-05-01"                            # (its days, 16,191, would be a year)
    typo.to_csv(tmp_path / "typo.csv", index=False)
    capsys.readouterr()
    assert backprop(["predict", str(tmp_path / "m.npz"), str(tmp_path / "typo.csv"), "-o",
                     str(tmp_path / "p.csv")]) == 0
    said = "1 cell(s) of the numeric column 'year' hold text, read as missing (first: data row 2 holds '2014-05-01')"
    assert said in capsys.readouterr().err
    gap = typo.assign(year=[typo["year"][0], np.nan, typo["year"][2]]).astype({"year": float})
    with pytest.warns(UserWarning, match=re.escape(said)):
        np.testing.assert_array_equal(TableModel.load(tmp_path / "m.npz").predict(typo),
                                      TableModel.load(tmp_path / "m.npz").predict(gap))
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    assert backprop(["export", str(tmp_path / "m.npz"), str(tmp_path / "m.onnx"), "--data",
                     str(tmp_path / "typo.csv")]) == 0
    cells = pd.read_csv(tmp_path / "typo.csv", dtype=str)            # (as the serving recipe feeds them)
    feeds = {name: pd.to_numeric(cells[name], errors="coerce").to_numpy(np.float64).reshape(-1, 1)
             for name in ("year", "x")}
    served = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, feeds)
    np.testing.assert_allclose(served[0].ravel(), pd.read_csv(tmp_path / "p.csv")["predicted_y"], rtol=1e-9)
    numbers = BackpropRegressor(epochs=2, random_state=0).fit(frame[["year", "x"]], frame["y"])
    with pytest.raises(ValueError, match="X column 'year': row 1 holds '2014-05-01' where the training frame held"):
        numbers.predict(typo[["year", "x"]])


def test_the_serving_recipe_reads_dates_with_the_library_s_pattern():
    from pathlib import Path

    from backpropagation.tables.dates import ISO_DATE, NAMED

    recipe = (Path(__file__).parents[2] / "docs" / "onnx.md").read_text(encoding="utf-8")
    for name, pattern in (("DATE", ISO_DATE), ("NAMED", NAMED)):
        assert "^" + re.search(rf'^{name} = r"(.*?)"', recipe, flags=re.M).group(1) + "$" == pattern, name
