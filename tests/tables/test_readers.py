"""Table files to decoded columns: CSV (whole or by byte ranges), Parquet, Feather; cells as users write them."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")

from backpropagation.tables.readers import likely_meant, read_csv, read_file, stream_table  # noqa: E402
from table_files import write_arrow  # noqa: E402


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def same_table(a, b):
    assert a.header == b.header and len(a) == len(b)
    np.testing.assert_array_equal(a.row_numbers, b.row_numbers)
    for name in a.header:
        np.testing.assert_array_equal(a.column(name).numbers, b.column(name).numbers)
        np.testing.assert_array_equal(a.column(name).missing, b.column(name).missing)
        assert a.column(name).labels().tolist() == b.column(name).labels().tolist(), name


def test_missing_tokens_in_any_case_and_padding_are_missing(tmp_path):
    table = read_csv(write(tmp_path, "a,b\n1,x\n NA ,y\nnan,N/A\n4,\n?,-\nNULL,None\n"))
    assert table.column("a").missing.tolist() == [False, True, True, False, True, True]
    # In a column of text, "-" and "None" are words (an airbag column's "none"); NA, N/A, "" are gaps.
    assert table.column("b").missing.tolist() == [False, False, True, True, False, False]
    assert table.column("b").labels().tolist() == ["x", "y", "", "", "-", "None"]
    assert table.column("a").numbers[[0, 3]].tolist() == [1.0, 4.0]


def test_na_values_add_tokens_read_as_missing_in_every_column(tmp_path):
    from backpropagation.tables.csv_source import TextFormat

    path = write(tmp_path, "airbag,speed\nnone,30\nfront,n/d\nnone,45\nside,unknown\n")
    plain = read_file(path)
    assert plain.column("airbag").missing.tolist() == [False] * 4
    assert plain.column("speed").missing.tolist() == [False] * 4        # 'n/d', 'unknown': text, unless told
    told = read_file(path, fmt=TextFormat(na_values=("None", " N/D", "unknown")))
    assert told.column("airbag").missing.tolist() == [True, False, True, False]
    assert told.column("speed").missing.tolist() == [False, True, False, True]
    assert told.column("speed").numbers[[0, 2]].tolist() == [30.0, 45.0]


def test_text_columns_are_coded_by_trimmed_text_across_chunks():
    from backpropagation.tables.readers import Column

    cells = [[" Oslo", "Rome", None, "na "], ["Oslo ", "7", "Rome", " N/A"], ["Lima", "Oslo"]]
    column = Column.decode(pa.chunked_array(cells))
    flat = [cell for chunk in cells for cell in chunk]
    categories = column.categories.to_pylist()
    named = [categories[code] if code >= 0 else None for code in column.codes]
    assert named == [None if c is None or c.strip().lower() in ("na", "n/a") else c.strip() for c in flat]
    assert column.missing.tolist() == [c is None or c.strip().lower() in ("na", "n/a") for c in flat]
    assert np.isnan(column.numbers[column.codes != categories.index("7")]).all()
    assert column.numbers[5] == 7.0 and column.labels().tolist()[0] == "Oslo"
    taken = column.take(np.array([4, 0, 8]))
    assert [taken.categories.to_pylist()[code] for code in taken.codes] == ["Oslo", "Oslo", "Lima"]


def test_numbers_are_read_as_python_reads_them_and_infinities_are_text(tmp_path):
    table = read_csv(write(tmp_path, "a,b,c\n 1.5 ,inf,.5\n-2e3,1e999,+7\n"))
    assert table.column("a").numbers.tolist() == [1.5, -2000.0]
    assert not table.column("b").is_number.any()
    assert [table.column("b").cell(i) for i in range(2)] == ["inf", "1e999"]    # as written
    assert table.column("c").numbers.tolist() == [0.5, 7.0]


def test_dates_and_booleans_keep_their_spelling(tmp_path):
    table = read_csv(write(tmp_path, "d,f,y\n2024-01-02,True,1\n2024-03-04,false,2\n"))
    assert table.column("d").labels().tolist() == ["2024-01-02", "2024-03-04"]
    assert table.column("f").labels().tolist() == ["True", "false"]


def test_text_columns_and_as_text_keep_the_spelling_of_numbers(tmp_path):
    path = write(tmp_path, "a,y\n007,1e19\n8,2e19\n")
    assert read_file(path, text_columns=["y"]).column("y").labels().tolist() == ["1e19", "2e19"]
    assert read_file(path, as_text=True).column("a").raw.to_pylist() == ["007", "8"]
    assert read_file(path).column("a").numbers.tolist() == [7.0, 8.0]


@pytest.mark.parametrize("suffix", [".parquet", ".feather", ".arrow", ".tsv"])
def test_every_format_reads_like_the_csv(tmp_path, suffix):
    import pyarrow.csv as pcsv
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    from backpropagation.cli import demo_data_path

    arrow = pcsv.read_csv(demo_data_path(), convert_options=pcsv.ConvertOptions(strings_can_be_null=True))
    path = tmp_path / f"penguins{suffix}"
    if suffix == ".parquet":
        pq.write_table(arrow, path, row_group_size=64)
    elif suffix == ".tsv":
        pcsv.write_csv(arrow, path, pcsv.WriteOptions(delimiter="\t", quoting_style="none"))
    else:
        feather.write_feather(arrow, path)
    same_table(read_file(path), read_csv(demo_data_path()))


def test_pandas_index_columns_are_left_out_of_parquet(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "frame.parquet"
    pd.DataFrame({"a": [1.0, 2.0], "y": ["p", "q"]}, index=[10, 20]).to_parquet(path)
    assert read_file(path).header == ["a", "y"]


LINES = st.lists(st.tuples(st.sampled_from(["1", "2.5", "", "NA", "x", '"q,r"', " 7 ", '"two\nlines"',
                                            '"say ""hi""\n,ok"']),
                           st.sampled_from(["a", "b", "3"])), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None)
@given(lines=LINES, newline=st.sampled_from(["\n", "\r\n"]), blank=st.booleans(), end=st.booleans())
def test_byte_ranges_of_a_csv_add_up_to_the_whole_file(tmp_path_factory, lines, newline, blank, end):
    rows = [f"{a},{b}" for a, b in lines]
    if blank:
        rows.insert(len(rows) // 2, "")
    text = "\ufeffa,b" + newline + newline.join(rows) + (newline if end else "")
    path = write(tmp_path_factory.mktemp("parts"), text)
    whole = read_csv(path)
    for n in (2, 3, 5):
        parts = []
        for k in range(n):
            try:
                parts.append(read_csv(path, part=(k, n)))
            except ValueError as error:             # a slice with no rows says so
                assert "holds no data rows" in str(error)
        cells = [[p.column(name).cell(i) for name in p.header] for p in parts for i in range(len(p))]
        assert cells == [[whole.column(name).cell(i) for name in whole.header] for i in range(len(whole))]


@pytest.mark.parametrize("first", [0, 300_000])
def test_line_breaks_inside_quotes_in_a_large_file_stay_in_their_cells(tmp_path, first):
    rows = [f"{i},{i % 7}" for i in range(400_000)]     # several of the parser's blocks
    quoted = range(first, len(rows))                   # (so some block boundary falls in quotes)
    for at in quoted:
        rows[at] = f'{at},"two\nlines"'
    table = read_csv(write(tmp_path, "a,b\n" + "\n".join(rows) + "\n"))
    assert len(table) == len(rows) and table.column("a").numbers.tolist() == list(range(len(rows)))
    assert [table.column("b").cell(at) for at in quoted] == ["two\nlines"] * len(quoted)


def test_parquet_slices_read_only_their_rows(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": np.arange(100.0), "y": ["p", "q"] * 50}), path, row_group_size=7)
    parts = [read_file(path, part=(k, 3)) for k in range(3)]
    assert np.concatenate([p.column("a").numbers for p in parts]).tolist() == list(np.arange(100.0))
    assert [p.row_numbers[0] for p in parts] == [1, 34, 67]           # the whole file's row numbers


@pytest.mark.parametrize("text,message", [
    ("a,b\n1,2\n3\n", "line 3 has 1 fields, the header has 2"),
    ("a,b\n\xff\xfe,1\n", "not UTF-8"),
    # (pandas' writer leaves a cell holding a lone \r unquoted, as in dslabs' trump_tweets)
    ("a,b\n1,2\n3,x\ry\n4,z\n", r"line 4 has 1 fields, the header has 2; line 3 holds a carriage return \(\\r\) "
                              "inside a row, which ends the row for a CSV reader"),
    ("a,b\r\n1,2\r\n3\r\n", r"line 3 has 1 fields, the header has 2$"),          # (CRLF lines: no hint)
])
def test_unreadable_csv_names_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=message):
        read_csv(path)


def test_a_directory_or_a_corrupt_parquet_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        read_file(tmp_path)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match="not a readable PARQUET file"):
        read_file(bad)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".feather", ".feather-v1", ".arrow-stream"])
def test_streamed_chunks_add_up_to_the_whole_file(tmp_path, suffix):
    import pyarrow.csv as pcsv

    from backpropagation.cli import demo_data_path
    from backpropagation.tables.readers import stream_table

    path = tmp_path / f"penguins{suffix.split('-')[0]}"
    if suffix == ".csv":
        path.write_bytes(open(demo_data_path(), "rb").read())
    else:
        arrow = pcsv.read_csv(demo_data_path(), convert_options=pcsv.ConvertOptions(strings_can_be_null=True))
        write_arrow(arrow, path, suffix.split("-")[-1].lstrip("."))
    whole = read_file(path, as_text=True)
    chunks = list(stream_table(path, rows=50))
    assert max(len(c) for c in chunks) == 50 and sum(len(c) for c in chunks) == 344
    assert np.concatenate([c.row_numbers for c in chunks]).tolist() == whole.row_numbers.tolist()
    for name in whole.header:
        assert [c.column(name).cell(i) for c in chunks for i in range(len(c))] == \
            [whole.column(name).cell(i) for i in range(len(whole))]


def test_a_stream_of_a_broken_file_says_why(tmp_path):
    from backpropagation.tables.readers import stream_table

    with pytest.raises(ValueError, match="line 4 has 1 fields, the header has 2"):
        list(stream_table(write(tmp_path, "a,b\n1,2\n3,4\n5\n")))
    with pytest.raises(ValueError, match="no data rows"):
        list(stream_table(write(tmp_path, "a,b\n", "empty.csv")))


@pytest.mark.parametrize("compression", ["gzip", "bz2"])
def test_compressed_csv_reads_like_the_plain_file_whole_in_slices_and_streamed(tmp_path, compression):
    import bz2
    import gzip

    from backpropagation.cli import demo_data_path
    from backpropagation.tables.readers import stream_table

    plain = open(demo_data_path(), "rb").read()
    path = tmp_path / ("penguins.csv.gz" if compression == "gzip" else "penguins.csv.bz2")
    path.write_bytes(gzip.compress(plain) if compression == "gzip" else bz2.compress(plain))
    whole = read_csv(demo_data_path())
    same_table(read_file(path), whole)
    parts = [read_file(path, part=(k, 3)) for k in range(3)]
    assert sum(len(p) for p in parts) == len(whole)
    assert [p.column("island").cell(0) for p in parts] == [whole.column("island").cell(i) for i in (0, 114, 229)]
    assert sum(len(chunk) for chunk in stream_table(path, rows=100)) == len(whole)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_a_header_without_commas_names_its_delimiter(tmp_path, delimiter):
    text = f"a{delimiter}b{delimiter}y\nx,5{delimiter}2{delimiter}p\n3{delimiter}4{delimiter}q\n"
    table = read_csv(write(tmp_path, text))
    assert table.header == ["a", "b", "y"]
    assert table.column("a").cell(0) == "x,5" and table.column("b").numbers.tolist() == [2.0, 4.0]


def test_a_ragged_line_in_a_compressed_file_is_named(tmp_path):
    import gzip

    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n3\n"))
    with pytest.raises(ValueError, match="line 3 has 1 fields, the header has 2"):
        read_file(path)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.floats(allow_nan=False, width=64)), max_size=40),
       start=st.integers(0, 5), kind=st.sampled_from(["double", "int64", "bool", "string"]))
def test_arrow_and_numpy_conversions_keep_values_nulls_and_offsets(values, start, kind):
    from backpropagation.tables.csv_source import arrow_of, numpy_of

    if kind == "int64":
        values = [None if v is None else int(max(min(v, 1e15), -1e15)) for v in values]
    elif kind == "bool":
        values = [None if v is None else v > 0 for v in values]
    elif kind == "string":
        values = [None if v is None else f"{v:.3g}é" for v in values]
    array = pa.array(values, type={"double": pa.float64(), "int64": pa.int64(), "bool": pa.bool_(),
                                   "string": pa.string()}[kind]).slice(min(start, len(values)))
    expected = array.to_pylist()
    got = numpy_of(array).tolist()
    fill = {"double": None, "int64": None, "bool": False, "string": ""}[kind]
    for mine, theirs in zip(got, expected, strict=True):
        if theirs is None:
            assert mine == fill or (fill is None and mine != mine)            # NaN for numbers
        else:
            assert mine == theirs
    if kind in ("bool", "int64") and None not in expected:
        assert arrow_of(np.array(expected, dtype=bool if kind == "bool" else np.int64)).to_pylist() == expected
    if kind == "string" and None not in expected:
        assert arrow_of(expected).to_pylist() == expected


@pytest.mark.parametrize("streamed", [False, True])
def test_a_pipe_reads_like_the_file(tmp_path, streamed):
    import os
    import threading

    from backpropagation.cli import demo_data_path
    from backpropagation.tables.readers import stream_table

    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    content = open(demo_data_path(), "rb").read()

    def feed():
        with open(fifo, "wb") as pipe:
            pipe.write(content)

    writer = threading.Thread(target=feed)
    writer.start()
    table = read_csv(fifo) if not streamed else list(stream_table(fifo, rows=1000))[0]
    writer.join()
    whole = read_csv(demo_data_path())
    assert table.header == whole.header and len(table) == len(whole)
    assert [table.column("island").cell(i) for i in (0, 343)] == [whole.column("island").cell(i) for i in (0, 343)]


def test_a_file_that_cannot_be_memory_mapped_is_read_as_usual(tmp_path, monkeypatch):
    import mmap

    def refuse(*args, **kwargs):
        raise OSError("no memory maps here")

    path = write(tmp_path, 'a,b\n1,"x\ny"\n2,z\n')
    monkeypatch.setattr(pa, "memory_map", refuse)
    monkeypatch.setattr(mmap, "mmap", refuse)
    table = read_csv(path)
    assert table.column("a").numbers.tolist() == [1.0, 2.0] and table.column("b").cell(0) == "x\ny"
    assert [p.column("a").numbers.tolist() for p in (read_csv(path, part=(k, 2)) for k in range(2))] == [[1.0], [2.0]]


GERMAN_EXCEL = "Datum;Preis;Menge;Umsatz\n2024-01-02;3,46;8;27,68\n2024-01-03;8,22;15;123,30\n" \
               "2024-01-04;15,13;2;30,26\n2024-01-05;1.204,50;1;1.204,50\n"


@pytest.mark.parametrize("text,option", [
    ("a;y\n3,46;1\n8,22;2\n15,13;3\n", "--decimal ,"),
    ('a,y\n"12,345",1\n"1,234,567",2\n7,3\n', "--thousands ,"),
    ('a,y\n"12,345",1\n"3,141",2\n', "--decimal , if the comma is a decimal mark, or --thousands ,"),
])
def test_numbers_written_with_commas_are_named_with_the_option_that_reads_them(tmp_path, text, option):
    table = read_csv(write(tmp_path, text))
    with pytest.raises(ValueError, match=f"column 'a' holds numbers written with a comma .*add {option}"):
        table.column("a")


def test_a_german_excel_export_reads_as_numbers_with_its_format(tmp_path):
    from backpropagation.tables.csv_source import TextFormat

    path = write(tmp_path, "sep=;\n" + GERMAN_EXCEL)
    table = read_file(path, fmt=TextFormat(decimal=",", thousands="."))
    assert table.header == ["Datum", "Preis", "Menge", "Umsatz"]
    assert table.column("Preis").numbers.tolist() == [3.46, 8.22, 15.13, 1204.5]
    assert table.column("Umsatz").numbers.tolist() == [27.68, 123.3, 30.26, 1204.5]
    streamed = next(stream_table(path, fmt=TextFormat(decimal=",", thousands=".")))
    assert streamed.column("Umsatz").numbers.tolist() == [27.68, 123.3, 30.26, 1204.5]
    assert read_file(path).header == ["Datum", "Preis", "Menge", "Umsatz"]   # sep=; honoured anyway


@pytest.mark.parametrize("content,message", [
    (b"PK\x03\x04rest of a workbook", "is a zip archive, such as an Excel .xlsx workbook, not a CSV file"),
    (b"\xd0\xcf\x11\xe0rest", "old Excel .xls workbook"),
    (b"a,b\r1,2\r3,4\r", "end in a carriage return alone"),
])
def test_files_that_are_not_csv_as_expected_get_one_clear_sentence(tmp_path, content, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_file(path)


def _truncating(path, size, real):
    """``real``, after cutting ``path`` down to ``size`` bytes (a writer racing the reader)."""
    def cut_then_call(*args, **kwargs):
        with open(path, "r+b") as handle:
            handle.truncate(size)
        return real(*args, **kwargs)
    return cut_then_call


def test_a_file_truncated_while_it_is_read_is_named_never_a_signal(tmp_path, monkeypatch):
    import pyarrow.csv as pcsv

    path = write(tmp_path, "a,b,y\n" + "".join(f"{i},{i % 7},{i * 2}\n" for i in range(20_000)))
    monkeypatch.setattr(pcsv, "read_csv", _truncating(path, 1000, pcsv.read_csv))     # a writer races the parser
    with pytest.raises(ValueError, match=r"data.csv: the file changed while it was being read \(its size "
                                         r"went from \d+ to 1000 bytes\)"):
        read_file(path)


def test_a_file_truncated_between_streamed_chunks_is_named(tmp_path):
    path = write(tmp_path, "a,y\n" + "".join(f"{i},{i * 2}\n" for i in range(5_000)))
    chunks = stream_table(path, rows=100)
    next(chunks)
    with open(path, "r+b") as handle:
        handle.truncate(500)
    with pytest.raises(ValueError, match="data.csv: the file changed while it was being read"):
        list(chunks)



@pytest.mark.parametrize("layout", ["parquet", "file", "v1", "stream"])
def test_a_table_read_stays_valid_after_its_file_is_truncated(tmp_path, layout):
    """A memory-mapped table reads its file for as long as it is used: truncating the file then
    kills the process with SIGBUS, hence the child process."""
    import subprocess
    import sys

    path = tmp_path / ("d.parquet" if layout == "parquet" else "d.feather")
    write_arrow(pa.table({"a": np.arange(200_000.0), "y": np.arange(200_000.0) * 2}), path, layout)
    child = f"""
import os, warnings
warnings.simplefilter("ignore")
from backpropagation.tables.readers import read_file
table = read_file({str(path)!r})
os.truncate({str(path)!r}, 0)
print(sum(float(table.column(name).numbers.sum()) for name in table.header))
"""
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert float(done.stdout) == 3 * 199_999 * 200_000 / 2


def test_reading_a_csv_in_many_parts_scans_it_for_quotes_once(tmp_path, monkeypatch):
    from backpropagation.tables import csv_source

    rows = [f'{i},"a ""quoted"" text, with a comma",{i % 3}' for i in range(40_000)]
    rows[1234] = '1234,"a field over\ntwo lines",0'
    path = tmp_path / "quoted.csv"
    path.write_text("id,text,y\n" + "\n".join(rows) + "\n")
    scanned = []

    class Counted(io.FileIO):                   # the bytes the reader reads through Python's files
        def readinto(self, buffer):
            scanned.append(super().readinto(buffer))
            return scanned[-1]

    def counting_open(name, mode="r", *args, **kwargs):
        return io.BufferedReader(Counted(name, "rb")) if mode == "rb" else open(name, mode, *args, **kwargs)

    monkeypatch.setattr(csv_source, "open", counting_open, raising=False)
    parts = [read_file(path, part=(k, 40), text_columns=["text"]) for k in range(40)]
    assert sum(scanned) <= 4 * path.stat().st_size                   # about once in all (not once per part)
    ids = np.concatenate([part.column("id").numbers for part in parts]).astype(int)
    assert ids.tolist() == list(range(40_000))                           # every record once, in order
    texts = [t for part in parts for t in part.column("text").labels().tolist()]
    assert texts[1234] == "a field over\ntwo lines"


def test_a_header_of_numbers_is_refused_unless_the_format_says_it_names_the_columns(tmp_path):
    from backpropagation.tables.csv_source import TextFormat

    path = tmp_path / "years.csv"
    path.write_text("2019,2020,2021\n1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="looks like data.*--numeric-header"):
        read_file(path)
    years = TextFormat(numeric_names=True)
    assert read_file(path, fmt=years).header == ["2019", "2020", "2021"]
    assert next(stream_table(path, fmt=years)).header == ["2019", "2020", "2021"]
    assert TextFormat.from_dict(years.to_dict()) == years
    assert TextFormat.from_dict({"delimiter": None, "decimal": ".", "thousands": None}) == TextFormat()  # (older)
    with pytest.raises(ValueError, match="numeric_names"):
        TextFormat(numeric_names="yes")


def test_a_parquet_or_feather_schema_may_name_its_columns_by_numbers(tmp_path):
    # (a schema names its columns; only a CSV's first row of numbers may be data)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"2019": [1.0, 2.0, 3.0], "2020": [4.0, 5.0, 6.0]})
    for name, write_frame in (("y.parquet", frame.to_parquet), ("y.feather", frame.to_feather)):
        write_frame(tmp_path / name)
        assert read_file(tmp_path / name).header == ["2019", "2020"]
        assert next(stream_table(tmp_path / name)).header == ["2019", "2020"]


@pytest.mark.parametrize("asked, meant", [("Island", "island"), ("bill length mm", "bill_length_mm"),
                                          ("BILL-LENGTH-MM", "bill_length_mm"), ("speces", "species"),
                                          ("flavour", None), ("mm", None)])
def test_a_missing_column_names_the_one_likely_meant(asked, meant):
    assert likely_meant(asked, ["species", "island", "bill_length_mm", "bill_depth_mm"]) == meant
