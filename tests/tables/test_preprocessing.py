"""CSV reading and preprocessing: types, categories, scaling, missing values, unseen values."""

import numpy as np
import pytest

from backpropagation.tables.readers import read_csv, read_file
from backpropagation.tables.preprocessing import TabularPreprocessor


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


CSV = """age,city,income,label
30,Paris,1000,yes
40,Rome,NA,no
,Paris,3000,yes
50,Oslo,4000,no
60,Rome,5000,
"""


def test_columns_are_typed_encoded_and_missing_values_filled(tmp_path):
    table = read_csv(write(tmp_path, CSV))
    pre = TabularPreprocessor("label", scaling="standard").fit(table)
    X, y, report = pre.transform(table)
    assert pre.feature_names == ["age", "age (missing)", "city=Oslo", "city=Paris", "city=Rome", "income",
                                 "income (missing)"]                  # a gap in training: an indicator
    assert y.tolist() == ["yes", "no", "yes", "no"]                 # the row without a label is dropped
    assert report.rows_dropped == 1 and report.imputed == {"age": 1, "income": 1}
    ages = np.array([30, 40, 40, 50.0])                               # missing age -> median of 30, 40, 50
    np.testing.assert_allclose(X[:, 0], (ages - ages.mean()) / ages.std())
    np.testing.assert_array_equal(X[:, 1], [0, 0, 1, 0])             # the row whose age was missing
    np.testing.assert_array_equal(X[:, 2:5], [[0, 1, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(X[:, 6], [0, 1, 0, 0])


def test_gaps_in_a_text_column_are_a_level_of_their_own_not_the_most_frequent_category(tmp_path):
    table = read_csv(write(tmp_path, "feature,y\nShed,1\n,0\n,0\n,1\nGarage,0\n"))
    pre = TabularPreprocessor("y").fit(table)
    assert pre.feature_names == ["feature=Garage", "feature=Shed", "feature=(missing)"]
    X, _, _ = pre.transform(table)
    np.testing.assert_array_equal(X, [[0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1], [1, 0, 0]])
    unseen_gap = pre.transform(read_csv(write(tmp_path, "feature,y\nNA,1\nBarn,0\n", "new.csv")))[0]
    np.testing.assert_array_equal(unseen_gap, [[0, 0, 1], [0, 0, 0]])     # a gap; an unseen category
    complete = TabularPreprocessor("y").fit(read_csv(write(tmp_path, "f,y\na,1\nb,0\n", "c.csv")))
    assert complete.feature_names == ["f=a", "f=b"]                      # no gaps in training: no level
    old = TabularPreprocessor.from_dict({**pre.to_dict(), "columns": [{k: v for k, v in pre.columns[0].items()
                                                                       if k != "missing_level"}]})
    assert old.feature_names == ["feature=Garage", "feature=Shed"]       # a model file from before: as it was
    assert pre.resolved_task == "classification"


def test_statistics_come_from_the_training_rows_only(tmp_path):
    table = read_csv(write(tmp_path, "x,y\n1,a\n2,b\n3,a\n1000,b\n"))
    pre = TabularPreprocessor("y", scaling="standard").fit(table.subset([0, 1, 2]))
    X, _, _ = pre.transform(table)
    assert pre.columns[0]["mean"] == 2.0
    assert X[3, 0] == pytest.approx((1000 - 2) / np.std([1, 2, 3]))


def test_unseen_categories_encode_as_zeros_and_are_counted(tmp_path):
    pre = TabularPreprocessor("y").fit(read_csv(write(tmp_path, "c,y\nred,1\nblue,0\n")))
    X, _, report = pre.transform(read_csv(write(tmp_path, "c,y\ngreen,1\nred,0\n", "new.csv")))
    np.testing.assert_array_equal(X, [[0, 0], [0, 1]])
    assert report.unseen == {"c": 1}
    assert "unseen in training (encoded as zeros)" in report.lines()[0]


def test_an_embedded_column_s_unseen_categories_take_the_unseen_row_and_the_report_says_so(tmp_path):
    pre = TabularPreprocessor("y", embed={"c": 2}).fit(read_csv(write(tmp_path, "c,y\nred,1\nblue,0\n")))
    X, _, report = pre.transform(read_csv(write(tmp_path, "c,y\ngreen,1\nred,0\n", "new.csv")))
    np.testing.assert_array_equal(X[:, 0], [2, 1])          # (blue 0, red 1; 2: the table's unseen row)
    assert report.unseen == {"c": 1} and report.embedded == {"c"}
    assert report.lines() == ["1 value(s) of 'c' were categories unseen in training (given the mean of the known "
                              "categories' vectors)"]


def test_many_row_blocks_encode_and_count_as_one_pass_would(tmp_path):
    """Large tables are encoded in row blocks: gaps, unseen categories and a bad cell in late
    blocks are filled, counted and reported as for one block."""
    rng = np.random.default_rng(0)
    n = 200_000                                        # (several blocks of rows)
    a, colours = rng.normal(size=n).round(3), rng.choice(["red", "blue"], n)
    train = "a,c,y\n" + "\n".join(f"{x},{c},{i % 2}" for i, (x, c) in enumerate(zip(a, colours))) + "\n"
    pre = TabularPreprocessor("y").fit(read_csv(write(tmp_path, train)))
    gaps, unseen = [5, 150_000, 199_999], [7, 120_000]
    cells = [[str(x), c] for x, c in zip(a, colours)]
    for i in gaps:
        cells[i][0] = "NA"
    for i in unseen:
        cells[i][1] = "green"
    new = write(tmp_path, "a,c\n" + "\n".join(",".join(row) for row in cells) + "\n", "new.csv")
    X, _, report = pre.transform(read_csv(new))
    assert report.imputed == {"a": 3} and report.unseen == {"c": 2}
    spec, present = pre.columns[0], np.sort(a)
    assert spec["center"] == np.median(a)
    assert spec["spread"] == present[round(0.75 * (n - 1))] - present[round(0.25 * (n - 1))]
    filled = a.copy()
    filled[gaps] = spec["median"]
    z = (filled - spec["center"]) / spec["spread"]
    np.testing.assert_allclose(X[:, 0], z / np.sqrt(1 + (z / 5) ** 2), rtol=1e-14, atol=1e-15)
    one_hot = np.stack([colours == "blue", colours == "red"], axis=1).astype(float)
    one_hot[unseen] = 0
    np.testing.assert_array_equal(X[:, 1:], one_hot)
    cells[180_000][0] = "oops"
    cells[190_000][0] = "rotary"
    X, _, report = pre.transform(read_csv(write(tmp_path, "a,c\n" + "\n".join(",".join(r) for r in cells) + "\n",
                                                "bad.csv")))
    assert report.stray == {"a": [2, 180_001, "oops"]}
    assert X[180_000, 0] == (spec["median"] - spec["center"]) / spec["spread"] == 0      # the median: the centre


def test_target_may_be_absent_at_prediction_time(tmp_path):
    pre = TabularPreprocessor("y").fit(read_csv(write(tmp_path, "a,y\n1,2.5\n2,3.5\n3,1.25\n")))
    X, y, _ = pre.transform(read_csv(write(tmp_path, "a\n7\n", "new.csv")))
    assert y is None and X.shape == (1, 1)


@pytest.mark.parametrize("values,kind,task", [
    (["1.5", "2.25", "3"], "numeric", "regression"),
    (["0", "1", "0", "1"], "integer-labels", "classification"),
    ([str(i) for i in range(50)], "numeric", "regression"),          # many whole numbers: a quantity
    (["cat", "dog", "cat"], "labels", "classification"),
])
def test_auto_task_detection(tmp_path, values, kind, task):
    text = "x,t\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))
    pre = TabularPreprocessor("t").fit(read_csv(write(tmp_path, text)))
    assert (pre.target_kind, pre.resolved_task) == (kind, task)


def test_the_network_scales_the_target_and_models_that_scaled_it_in_the_preprocessing_still_load(tmp_path):
    pre = TabularPreprocessor("t").fit(read_csv(write(tmp_path, "x,t\n1,10.5\n2,20.5\n3,30.5\n")))
    y = np.array([10.5, 20.5, 30.5])
    assert pre.target_mean == pytest.approx(20.5) and (pre.scale_target(y) == y).all()   # the head scales it
    old = pre.to_dict()
    del old["scales_target"]                     # a model file written before the head scaled targets
    older = TabularPreprocessor.from_dict(old)
    scaled = older.scale_target(y)
    assert scaled.mean() == pytest.approx(0) and scaled.std() == pytest.approx(1)
    np.testing.assert_allclose(older.unscale_target(scaled), y)


def test_state_survives_json(tmp_path):
    import json

    table = read_csv(write(tmp_path, CSV))
    pre = TabularPreprocessor("label").fit(table)
    again = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again.transform(table)[0], pre.transform(table)[0])


@pytest.mark.parametrize("text,encoding", [
    ("\ufeffa,b,y\n1,2,x\n3,4,z\n", "utf-8"),               # byte-order mark
    ("a,b,y\r\n1,2,x\r\n3,4,z\r\n", "utf-8"),              # Windows line endings
    ('a,b,y\n1,2,"x, the first"\n3,4,z\n', "utf-8"),       # quoted comma
    ("a,b,y\n1,2,x\n\n3,4,z\n\n", "utf-8"),                # blank lines
])
def test_csv_dialect_details_are_handled(tmp_path, text, encoding):
    table = read_csv(write(tmp_path, text, encoding=encoding))
    assert table.header == ["a", "b", "y"] and len(table) == 2
    assert [table.column(name).cell(1) for name in table.header] == ["3", "4", "z"]


@pytest.mark.parametrize("text,message", [
    ("", "the file is empty"),
    ("1,2,3\n4,5,6\n", "needs a header row"),
    ("a,b\n", "no data rows"),
    ("a,a\n1,2\n", "column names repeat: a"),
    ("a,b\n1,2\n3\n", "line 3 has 1 fields, the header has 2"),
])
def test_broken_csv_files_are_refused_with_the_reason(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_csv(write(tmp_path, text))


def test_missing_target_column_names_the_columns(tmp_path):
    with pytest.raises(ValueError, match="no column named 'price'; columns: a, b"):
        TabularPreprocessor("price").fit(read_csv(write(tmp_path, "a,b\n1,2\n")))


def test_the_bundled_penguins_table(tmp_path):
    from backpropagation.cli import demo_data_path

    table = read_csv(demo_data_path())
    pre = TabularPreprocessor("species").fit(table)
    X, y, report = pre.transform(table)
    assert X.shape == (344, 15) and sorted(set(y)) == ["Adelie", "Chinstrap", "Gentoo"]
    assert report.imputed["sex"] == 11 and np.isfinite(X).all()


def test_identifier_and_constant_columns_are_flagged(tmp_path):
    rows = "".join(f"id{i},same,{i % 2},{i % 3}\n" for i in range(40))
    pre = TabularPreprocessor("y").fit(read_csv(write(tmp_path, "id,const,x,y\n" + rows)))
    assert any("'id' looks like an identifier" in w and "--drop 'id'" in w for w in pre.warnings)
    assert any("'const' is constant" in w for w in pre.warnings)
    assert not any("'x'" in w for w in pre.warnings)


def test_a_one_hot_column_of_more_than_a_thousand_categories_draws_the_advice_to_embed_it(tmp_path):
    rows = "".join(f"shop{i % 1001},{i % 3}\n" for i in range(4004))       # (four rows a shop: no identifier)
    path = write(tmp_path, "shop,y\n" + rows)
    advice = "'shop': 1001 categories, one input of the first layer each (one-hot); --embed 'shop' learns"
    assert any(advice in w for w in TabularPreprocessor("y").fit(read_csv(path)).warnings)
    for quiet in (TabularPreprocessor("y", embed={"shop": 4}), TabularPreprocessor("y", max_categories=50)):
        assert not any("one input of the first layer" in w for w in quiet.fit(read_csv(path)).warnings)
    fewer = "".join(f"shop{i % 1000},{i % 3}\n" for i in range(4000))
    assert not TabularPreprocessor("y").fit(read_csv(write(tmp_path, "shop,y\n" + fewer, "fewer.csv"))).warnings


def test_text_in_a_numeric_column_at_predict_time_is_missing_and_named_not_fatal(tmp_path):
    table = read_csv(write(tmp_path, "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(8)) + "oops,1\n"))
    pre = TabularPreprocessor("y").fit(table.subset(range(8)))
    X, _, report = pre.transform(table.subset([3, 8]))
    spec = pre.columns[0]
    assert X[1, 0] == (spec["median"] - spec["mean"]) / spec["std"]
    assert report.lines() == ["1 cell(s) of the numeric column 'a' hold text, read as missing "
                              "(first: data row 9 holds 'oops')"]


def test_a_column_s_kind_counts_the_whole_file_and_can_be_forced(tmp_path):
    rows = "".join(f"{i},{i % 2},0{i % 5 + 1}\n" for i in range(92)) + "rotary,1,01\n"
    table = read_file(write(tmp_path, "a,y,zip\n" + rows), text_columns=["zip"])   # (as the CLI reads it)
    with pytest.raises(ValueError, match="92 of 93 values are numbers, but data row 93 holds 'rotary'.*--numeric 'a'"):
        TabularPreprocessor("y").fit(table, rows=np.arange(70))       # (counts cover every row, not the 70)
    pre = TabularPreprocessor("y", numeric=["a"], text=["zip"]).fit(table, rows=np.arange(70))
    assert [c["kind"] for c in pre.columns] == ["numeric", "text"] and pre.columns[1]["categories"][0] == "01"
    _, _, report = pre.transform(table)
    assert "1 cell(s) of the numeric column 'a' hold text" in report.lines()[0]
    with pytest.raises(ValueError, match="cannot be both"):
        TabularPreprocessor("y", numeric=["a"], text=["a"])


@pytest.mark.parametrize("ranks", [2, 3, 5])
def test_statistics_merged_over_ranks_equal_those_of_the_whole(ranks):
    from threaded_comm import run_ranks

    from backpropagation.cli import demo_data_path

    table = read_csv(demo_data_path())
    whole = TabularPreprocessor("species").fit(table)

    def fit_part(comm):
        k, n = comm.Get_rank(), comm.Get_size()
        part = table.subset(np.arange(k * 344 // n, (k + 1) * 344 // n))
        return TabularPreprocessor("species").fit(part, comm).to_dict()

    for merged in run_ranks(ranks, fit_part):
        for mine, theirs in zip(merged["columns"], whole.to_dict()["columns"]):
            assert mine.keys() == theirs.keys() and mine["name"] == theirs["name"]
            for key in mine:
                if key in ("mean", "std"):
                    assert mine[key] == pytest.approx(theirs[key], rel=1e-14)
                else:
                    assert mine[key] == theirs[key]                   # medians and categories exact
    cells = table.column("bill_length_mm").numbers
    values = cells[~np.isnan(cells)]
    column = next(c for c in whole.columns if c["name"] == "bill_length_mm")
    assert column["median"] == np.median(values)                        # median of the present values
    filled = np.concatenate([values, np.full(len(cells) - len(values), column["median"])])
    np.testing.assert_allclose([column["mean"], column["std"]], [filled.mean(), filled.std()], rtol=1e-13)


@pytest.mark.parametrize("task,values,before,after", [
    ("auto", "1.5,2.5,3.5,4.5", [], []),                       # numbers: a regression target
    ("regression", "1,2,1,2", [], []),
    ("classification", "1.50,2.50,1.50,2.50", ["y"], ["y"]),  # labels: read as written
    ("classification", "1,2,1,2", ["y"], []),                 # whole numbers: class codes
    ("auto", "a,b,a,b", [], ["y"]),                           # text: labels
])
def test_the_target_is_read_as_written_only_when_its_classes_are_labels(tmp_path, task, values, before, after):
    pre = TabularPreprocessor("y", task)
    assert pre.spelled_columns == before
    rows = "".join(f"{i},{v}\n" for i, v in enumerate(values.split(",")))
    pre.fit(read_file(write(tmp_path, "x,y\n" + rows), text_columns=before))
    assert pre.spelled_columns == after


def test_max_categories_keeps_the_frequent_ones_and_one_other_level(tmp_path):
    from backpropagation.tables.preprocessing import OTHER

    rows = "".join(f"{['a', 'a', 'a', 'b', 'b', 'c', 'd', 'e'][i % 8]},{i % 2}\n" for i in range(80))
    table = read_csv(write(tmp_path, "kind,y\n" + rows))
    pre = TabularPreprocessor("y", max_categories=3).fit(table)
    assert pre.columns[0]["categories"] == ["a", "b", OTHER] and pre.columns[0]["other"]
    assert any("5 categories; the 2 most frequent kept" in w for w in pre.warnings)
    X, _, report = pre.transform(read_csv(write(tmp_path, "kind,y\na,0\nc,1\nzebra,0\n", "new.csv")))
    np.testing.assert_array_equal(X, [[1, 0, 0], [0, 0, 1], [0, 0, 1]])       # rare and unseen: '(other)'
    assert not report.unseen
    again = TabularPreprocessor.from_dict(pre.to_dict())
    zebra = read_csv(write(tmp_path, "kind,y\nzebra,0\n", "z.csv"))
    np.testing.assert_array_equal(again.transform(zebra)[0], [[0, 0, 1]])


def test_a_column_that_rises_with_every_row_is_flagged_as_a_possible_leak(tmp_path):
    rows = "".join(f"{i + 1},{np.sin(i):.3f},{i // 10}\n" for i in range(60))
    pre = TabularPreprocessor("y").fit(read_csv(write(tmp_path, "rownames,x,y\n" + rows)))
    assert [w for w in pre.warnings if "like a row number" in w] and "--drop 'rownames'" in " ".join(pre.warnings)
    assert not any("'x'" in w for w in pre.warnings)
