"""Numeric columns of group codes (1, 2, 3, ... numbering trees or firms) read as categories,
alike in memory, streamed, over ranks, saved and in the ONNX graph."""

import json
import warnings

import numpy as np
import pytest

from backpropagation.tables import file_summary, group_codes
from backpropagation.tables.preprocessing import TabularPreprocessor
from backpropagation.tables.readers import read_file


def panel(path, groups=40, per_group=3, seed=0, extra=""):
    """A panel table: ``groups`` trees numbered 1.. measured ``per_group`` times, in random order."""
    rng = np.random.default_rng(seed)
    trees = rng.permutation(np.repeat(np.arange(1, groups + 1), per_group))
    effect = rng.normal(scale=2, size=groups + 1)
    rows = "".join(f"{t},{x:.3f},{effect[t] + x:.3f}\n" for t, x in zip(trees, rng.normal(size=len(trees))))
    path.write_text("tree,x,y\n" + rows + extra)
    return path


def kinds(pre):
    return {c["name"]: "codes" if c.get("codes") else c["kind"] for c in pre.columns}


def test_trees_numbered_from_one_are_read_as_categories_in_the_codes_order(tmp_path):
    pre = TabularPreprocessor("y").fit(read_file(panel(tmp_path / "p.csv")))
    assert kinds(pre) == {"tree": "codes", "x": "numeric"}
    assert pre.feature_names[:3] == ["tree=1", "tree=2", "tree=3"] and pre.feature_names[39] == "tree=40"
    assert "tree: group codes read as categories, one-hot over 40 categories (1, 2, 3" in pre.describe()
    assert not pre.warnings
    kept = TabularPreprocessor("y", numeric=["tree"]).fit(read_file(tmp_path / "p.csv"))
    assert kinds(kept) == {"tree": "numeric", "x": "numeric"} and not kept.warnings


@pytest.mark.parametrize("column, why", [
    (np.repeat(np.arange(0, 40), 3), "a count from 0"),
    (np.repeat(np.arange(1, 21), 6), "20 values: too few to be groups"),
    (np.repeat(np.arange(1, 61), 2), "two rows a code: too few rows"),
    (np.repeat(np.arange(1, 41), 3) + 0.5, "fractions"),
    (np.repeat(np.r_[1, np.arange(10, 50)], 3), "a sixth of 1..max missing"),
    (np.tile(np.arange(18, 58), 3), "ages from 18"),
    (np.repeat(np.arange(1, 61), np.round(3 + 30 * np.exp(-((np.arange(1, 61) - 25) / 12.0) ** 2)).astype(int)),
     "years of experience: rows per value run as a histogram"),
])
def test_numbers_that_are_not_codes_stay_numbers(tmp_path, column, why):
    rng = np.random.default_rng(1)
    path = tmp_path / "t.csv"
    path.write_text("c,y\n" + "".join(f"{v},{rng.normal():.3f}\n" for v in rng.permutation(column)))
    assert kinds(TabularPreprocessor("y").fit(read_file(path))) == {"c": "numeric"}, why


def test_unbalanced_panels_are_codes_and_a_histogram_is_not():
    from backpropagation.tables.group_codes import are_codes, histogram_like

    rng = np.random.default_rng(4)
    households = np.r_[0, rng.integers(3, 40, 120)]                 # (rows per household 1..120)
    firms = np.r_[0, np.repeat([9, 8, 7], [50, 50, 40])]            # (firms numbered by their years)
    ages = np.r_[0, np.round(5 + 40 * np.exp(-((np.arange(1, 91) - 40) / 15.0) ** 2)).astype(int)]
    assert are_codes(households) and are_codes(firms) and not are_codes(ages)
    assert histogram_like(ages[1:]) and not histogram_like(households[1:]) and not histogram_like(firms[1:])
    assert not histogram_like(np.full(40, 6))                        # (a balanced panel)


@pytest.mark.parametrize("limit, value, says", [("MAX_CODES", 35, "more than 35 codes"),
                                                 ("CODES_BYTES", 30_000, "120 rows x 40 codes")])
def test_too_many_codes_stay_numbers_with_advice_naming_text_and_embed(tmp_path, monkeypatch, limit, value, says):
    # (more codes than the limit, or a one-hot block past the byte budget: a million rows of a
    # thousand firms would take 8 GB, where numbers took 8 MB)
    from backpropagation import read_table

    monkeypatch.setattr(group_codes, limit, value)
    path = panel(tmp_path / "p.csv")
    pre = TabularPreprocessor("y").fit(read_file(path))
    assert kinds(pre)["tree"] == "numeric"
    advice = [w for w in pre.warnings if "codes of groups" in w]
    assert len(advice) == 1 and "40 whole numbers from 1 to 40" in advice[0] and says in advice[0]
    assert "--text 'tree'" in advice[0] and "--embed 'tree'" in advice[0]
    assert kinds(read_table(path, target="y").preprocessing)["tree"] == "numeric"
    monkeypatch.setattr(file_summary, "SAMPLE_ROWS", 60)        # (a sample of 1.5 rows a tree: no codes)
    streamed = read_table(path, target="y").preprocessing
    assert kinds(streamed)["tree"] == "numeric" and [w for w in streamed.warnings if says in w and "--embed" in w]



def test_a_streamed_table_whose_sample_already_advised_on_many_codes_advises_once(tmp_path, monkeypatch):
    # (the sample holds the whole file: its preprocessor gives the advice, and the file's count,
    # which also finds too many codes, does not give it a second time)
    from backpropagation import read_table

    monkeypatch.setattr(group_codes, "MAX_CODES", 35)
    streamed = read_table(panel(tmp_path / "p.csv"), target="y").preprocessing
    assert len([w for w in streamed.warnings if "looks like the codes of groups" in w]) == 1

def test_a_cell_finds_its_code_by_number_however_it_is_spelled(tmp_path):
    pre = TabularPreprocessor("y").fit(read_file(panel(tmp_path / "p.csv")))
    odd = tmp_path / "odd.csv"
    odd.write_text("tree,x,y\n7,0,1\n7.0,0,1\n007,0,1\n 7 ,0,1\n41,0,1\n0,0,1\n7.5,0,1\n,0,1\n")
    X, _, report = pre.transform(read_file(odd))
    codes = X[:, :40]
    seven = pre.feature_names.index("tree=7")
    assert codes[:4, seven].tolist() == [1, 1, 1, 1] and codes[:4].sum() == 4
    assert codes[4:7].sum() == 0                              # a new code, 0, a fraction: unseen
    assert codes[7, pre.feature_names.index(f"tree={pre.columns[0]['mode']}")] == 1   # a gap: the mode
    assert report.unseen == {"tree": 3} and report.imputed == {"tree": 1}


def test_the_saved_description_round_trips_and_malformed_codes_are_refused(tmp_path):
    pre = TabularPreprocessor("y").fit(read_file(panel(tmp_path / "p.csv")))
    table = read_file(tmp_path / "p.csv")
    again = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again.transform(table)[0], pre.transform(table)[0])
    for bad in (["1", "x"], ["1", "²"], ["1", "99999999"]):
        state = pre.to_dict()
        state["columns"][0] = {**state["columns"][0], "categories": bad, "mode": "1"}
        with pytest.raises(ValueError, match="'codes' must be true or false, its categories whole numbers"):
            TabularPreprocessor.from_dict(state)


def test_ranks_decide_and_count_the_codes_of_the_whole_table():
    from threaded_comm import run_ranks

    import tempfile
    from pathlib import Path

    path = panel(Path(tempfile.mkdtemp()) / "p.csv", groups=45, per_group=4, seed=3)
    table = read_file(path)
    whole = TabularPreprocessor("y").fit(table).to_dict()

    def fit_part(comm):
        k, n = comm.Get_rank(), comm.Get_size()
        return TabularPreprocessor("y").fit(table.subset(np.arange(k * 180 // n, (k + 1) * 180 // n)), comm).to_dict()

    for merged in run_ranks(3, fit_part):
        assert merged["columns"][0] == whole["columns"][0] and merged["columns"][0]["codes"]


def test_the_streamed_file_decides_as_the_whole_table_even_where_its_sample_cannot(tmp_path, monkeypatch):
    from backpropagation import read_table

    # (a sample of 60 rows sees each of 50 trees about once: too few rows a code to call them
    # codes; the whole file's 400 rows, 8 a tree, decide, as the table in memory does)
    monkeypatch.setattr(file_summary, "SAMPLE_ROWS", 60)
    path = panel(tmp_path / "p.csv", groups=50, per_group=8)
    streamed = read_table(path, target="y", validation_split=0.2, seed=1)
    memory = TabularPreprocessor("y").fit(read_file(path), rows=np.flatnonzero(
        file_summary.validation_mask(1, 0, 400, 0.2) == 0))
    assert kinds(streamed.preprocessing) == kinds(memory) == {"tree": "codes", "x": "numeric"}
    assert streamed.preprocessing.columns[0] == memory.columns[0]          # the same codes, counts and mode
    X, _ = streamed.validation()
    rows = np.flatnonzero(file_summary.validation_mask(1, 0, 400, 0.2))
    np.testing.assert_array_equal(X[:, :50], memory.transform(read_file(path), rows=rows)[0][:, :50])


def test_a_code_column_the_sample_saw_but_the_file_breaks_is_numbers_streamed(tmp_path, monkeypatch):
    from backpropagation import read_table
    from backpropagation.tables.blocks import Blocks

    monkeypatch.setattr(file_summary, "SAMPLE_ROWS", 200)
    path = panel(tmp_path / "p.csv", groups=40, per_group=10, extra="0,0.5,1.0\n")   # (a tree 0, last)
    sample = TabularPreprocessor("y").fit(file_summary.sample_table(Blocks(path), 3))
    assert kinds(sample)["tree"] == "codes"                 # (seed 3's sample misses tree 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        streamed = read_table(path, target="y", seed=3)
    assert kinds(streamed.preprocessing) == kinds(TabularPreprocessor("y").fit(read_file(path))) == \
        {"tree": "numeric", "x": "numeric"}


def test_running_tallies_give_up_once_a_value_cannot_be_a_code():
    counts = group_codes.counted(np.zeros(0, np.int64), np.array([1.0, 3, 3]))
    assert counts.tolist() == [0, 1, 0, 2]
    assert group_codes.counted(counts, np.array([2.5])) is None
    assert group_codes.counted(counts, np.array([0.0])) is None
    assert group_codes.counted(counts, np.array([group_codes.HIGHEST_CODE + 1.0])) is None
    assert group_codes.merged_counts(counts, np.array([0, 0, 0, 0, 5])).tolist() == [0, 1, 0, 2, 5]
    assert group_codes.merged_counts(counts, None) is None
