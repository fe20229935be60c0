"""A column's kind from all its labelled cells: a column that mixes numbers and a few codes (3+, K)
reads as categories alike in memory, streamed and over ranks; a typo among numbers is refused."""

import numpy as np
import pytest

from backpropagation.tables.preprocessing import TabularPreprocessor
from backpropagation.tables.readers import read_file


def table(path, cells, name="t.csv"):
    rng = np.random.default_rng(0)
    (path / name).write_text("kids,x,y\n" + "".join(f"{c},{rng.normal():.3f},{rng.normal():.3f}\n" for c in cells))
    return path / name


#: Living children as R's tables code them: 0, 1, 2, then '3+' for three or more.
KIDS = ["0", "1", "2", "3+"] * 30


def test_numbers_with_a_code_such_as_3_plus_read_as_categories_and_say_so(tmp_path):
    pre = TabularPreprocessor("y").fit(read_file(table(tmp_path, KIDS)))
    spec = pre.columns[0]
    assert spec["kind"] == "text" and spec["categories"] == ["0", "1", "2", "3+"]
    assert len(pre.warnings) == 1 and "'kids' mixes numbers and text in 4 distinct values ('3+' among them" in \
        pre.warnings[0] and "--numeric 'kids'" in pre.warnings[0]
    numbers = TabularPreprocessor("y", numeric=["kids"]).fit(read_file(tmp_path / "t.csv"))
    assert numbers.columns[0]["kind"] == "numeric" and not numbers.warnings


@pytest.mark.parametrize("cells, why", [
    (["1", "2", "3", "4", "5"] * 6 + ["three"], "one typo among numbers of a few values"),
    ([str(v) for v in range(25)] * 4 + ["n.a."] * 10 + ["K"] * 10, "text in a column of many values"),
])
def test_a_typo_among_numbers_is_refused_naming_the_cell(tmp_path, cells, why):
    with pytest.raises(ValueError, match="column 'kids' mixes numbers and text: .* holds"):
        TabularPreprocessor("y").fit(read_file(table(tmp_path, cells))), why


def test_the_streamed_file_and_ranks_decide_as_the_whole_table(tmp_path):
    from threaded_comm import run_ranks

    from backpropagation import read_table

    # (grades sorted: the first rank's rows hold only numbers, the second's the kindergarten 'K')
    grades = sorted(["K", "1", "2", "3"] * 40, key=lambda g: g == "K")
    path = table(tmp_path, grades)
    whole = TabularPreprocessor("y").fit(read_file(path))
    streamed = read_table(path, target="y").preprocessing
    assert whole.columns[0]["categories"] == streamed.columns[0]["categories"] == ["1", "2", "3", "K"]
    assert [w for w in streamed.warnings if "'kids' mixes numbers and text in 4 distinct values" in w]
    rows = read_file(path)

    def fit_part(comm):
        k = comm.Get_rank()
        return TabularPreprocessor("y").fit(rows.subset(np.arange(k * 80, (k + 1) * 80)), comm)

    for part in run_ranks(2, fit_part):
        assert part.columns[0] == whole.columns[0] and part.warnings == whole.warnings
