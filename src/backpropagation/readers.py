"""Table files to columns: CSV, Parquet and Arrow/Feather through pyarrow, for the command line.

:func:`read_table` picks the reader by the file's extension (``.parquet``/``.pq``, ``.feather``/
``.arrow``/``.ipc``, anything else is CSV; ``.tsv`` is tab-separated). CSV files are parsed by
pyarrow's multi-threaded C++ reader with every column as text, so cells keep their spelling; each
column is then decoded once, in vectorised passes, into a :class:`Column`: the number each cell
holds, which cells are missing, and the trimmed text for columns that turn out to be categories.

A cell is missing when, stripped of surrounding whitespace and lower-cased, it is one of
:data:`MISSING`. A number is what Python's ``float`` reads (``12``, ``-3.5``, ``1e-3``); ``inf``
and ``1e999`` parse but are not finite, so they count as text.

With ``part=(k, n)`` only the k-th of n contiguous slices of the rows is read, for MPI rank k:
CSV files by byte ranges moved to record starts (as Dask's reader does, and also past line breaks
inside quoted fields), Parquet files by row groups, Arrow files by record batches.
"""

from __future__ import annotations

import csv
import itertools
import os
from dataclasses import dataclass

import numpy as np

#: Cell values read as "missing" (compared after stripping whitespace and lower-casing).
MISSING = ("", "na", "n/a", "nan", "null", "none", "?", "-")

#: Every upper/lower-case spelling of the missing-value tokens, for pyarrow's parser.
NULL_SPELLINGS = sorted({"".join(letters) for token in MISSING
                         for letters in itertools.product(*[(c.lower(), c.upper()) for c in token])})

_NUMBER = r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])$"


def pyarrow():
    """The pyarrow modules the readers use; ImportError naming the package if it is absent."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        raise ImportError("reading table files needs pyarrow: pip install pyarrow") from None
    return pa, pc


def release_memory_promptly() -> None:
    """Have pyarrow hand freed memory back to the system at once (jemalloc, no decay), so that
    parsing a large file leaves no retained peak behind; a no-op where jemalloc is absent.
    Process-wide: the command line calls it, the library does not."""
    pa, _ = pyarrow()
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, pa.ArrowException):
        pass


def is_missing(value: str) -> bool:
    """Whether one cell's text counts as a missing value."""
    return value.strip().lower() in MISSING


@dataclass
class Column:
    """One column, decoded: ``numbers`` (float64; NaN where missing or text, ±inf kept),
    ``missing`` (bool) and ``raw``, the cells as read (a pyarrow array)."""

    numbers: np.ndarray
    missing: np.ndarray
    raw: object
    _text: object = None

    @classmethod
    def decode(cls, raw) -> "Column":
        """Decode a pyarrow array: numeric types directly, anything else through its text."""
        pa, pc = pyarrow()
        if isinstance(raw, pa.ChunkedArray):
            raw = raw.combine_chunks()
        if pa.types.is_dictionary(raw.type):
            raw = raw.dictionary_decode()
        if pa.types.is_null(raw.type):
            raw = raw.cast(pa.string())
        if pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type) or pa.types.is_decimal(raw.type):
            numbers = pc.cast(raw, pa.float64()).to_numpy(zero_copy_only=False)
            return cls(numbers, np.isnan(numbers), raw)
        if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)):
            raw = pc.cast(raw, pa.string())
        return cls._decode_text(raw)

    @classmethod
    def _decode_text(cls, raw) -> "Column":
        pa, pc = pyarrow()
        try:                                   # the common case: every cell a number
            if len(raw) > 1000:                # (a failed cast costs a pass: try a sample first)
                pc.cast(raw.slice(0, 1000), pa.float64())
            numbers = pc.cast(raw, pa.float64()).to_numpy(zero_copy_only=False)
            return cls(numbers, np.isnan(numbers), raw)
        except pa.ArrowInvalid:
            pass
        text = pc.utf8_trim_whitespace(raw)
        missing = pc.fill_null(pc.is_in(pc.utf8_lower(text), value_set=pa.array(MISSING)), True)
        missing = missing.to_numpy(zero_copy_only=False) | text.is_null().to_numpy(zero_copy_only=False)
        present = pc.filter(text, pa.array(~missing))
        numbers = np.full(len(raw), np.nan)
        try:                                   # numbers with gaps or padding
            if len(present) > 1000:
                pc.cast(present.slice(0, 1000), pa.float64())
            numbers[~missing] = pc.cast(present, pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:                # some text: decide per distinct value
            encoded = pc.dictionary_encode(present)
            distinct = encoded.dictionary
            looks = pc.match_substring_regex(distinct, _NUMBER).to_numpy(zero_copy_only=False)
            values = np.full(len(distinct), np.nan)
            values[looks] = pc.cast(pc.filter(distinct, pa.array(looks)), pa.float64()).to_numpy(zero_copy_only=False)
            numbers[~missing] = values[encoded.indices.to_numpy(zero_copy_only=False)]
        return cls(numbers, missing, raw, text)

    def __len__(self) -> int:
        return len(self.numbers)

    @property
    def is_number(self) -> np.ndarray:
        """Which cells hold a finite number."""
        return np.isfinite(self.numbers)

    @property
    def text(self):
        """The cells as trimmed text (a pyarrow string array)."""
        if self._text is None:
            pa, pc = pyarrow()
            raw = self.raw if pa.types.is_string(self.raw.type) else pc.cast(self.raw, pa.string())
            self._text = pc.utf8_trim_whitespace(raw)
        return self._text

    def cell(self, i: int) -> str:
        """Row ``i``'s cell as trimmed text."""
        value = self.text[int(i)].as_py()
        return "" if value is None else value

    def labels(self) -> np.ndarray:
        """The trimmed text of every cell, as a NumPy array of str."""
        return np.asarray(self.text.to_numpy(zero_copy_only=False), dtype=str)

    def take(self, rows: np.ndarray) -> "Column":
        """The column at row positions ``rows``."""
        _, pc = pyarrow()
        rows = np.asarray(rows, dtype=np.int64)
        text = None if self._text is None else pc.take(self._text, rows)
        return Column(self.numbers[rows], self.missing[rows], pc.take(self.raw, rows), text)


@dataclass
class Table:
    """A table's header, decoded columns and the file's data row number (1-based) of each row."""

    header: list[str]
    columns: dict
    source: str
    row_numbers: np.ndarray

    def __len__(self) -> int:
        return len(self.row_numbers)

    def column(self, name: str) -> Column:
        """Column ``name``; ValueError listing the columns if absent."""
        if name not in self.columns:
            raise ValueError(f"{self.source}: no column named {name!r}; columns: {', '.join(self.header)}")
        return self.columns[name]

    def subset(self, rows) -> "Table":
        """A table with the rows at positions ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        return Table(self.header, {name: c.take(rows) for name, c in self.columns.items()},
                     self.source, self.row_numbers[rows])

    def raw_table(self):
        """The cells as read, as a pyarrow Table (for writing the rows back out)."""
        pa, _ = pyarrow()
        return pa.table({name: self.columns[name].raw for name in self.header})

    @classmethod
    def from_arrow(cls, arrow, source: str, first_row: int = 0) -> "Table":
        """Decode every column of a pyarrow Table; pandas' stored index columns are left out."""
        header = [name.strip() for name in arrow.column_names]
        check_header(header, source)
        pa, _ = pyarrow()
        columns = {}
        for i, name in enumerate(header):
            if name.startswith("__index_level_"):
                continue
            try:
                columns[name] = Column.decode(arrow.column(i))
            except pa.ArrowException:
                raise ValueError(f"{source}: column {name!r} holds {arrow.schema.field(i).type} values; "
                                 "expected numbers or text (leave it out of the file)") from None
        header = [name for name in header if name in columns]
        return cls(header, columns, source, np.arange(first_row + 1, first_row + arrow.num_rows + 1))


def check_header(header: list[str], source: str) -> None:
    """ValueError if the header is data, has a nameless column or repeats a name."""
    if all(_is_number(name) for name in header):
        raise ValueError(f"{source}: the first row ({','.join(header[:5])}...) looks like data; "
                         "the file needs a header row naming the columns")
    if "" in header:
        raise ValueError(f"{source}: column {header.index('') + 1} of the header has no name")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{source}: column names repeat: {', '.join(repeated)}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: File formats by extension; any other extension is read as CSV.
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".feather": "feather", ".arrow": "feather",
           ".ipc": "feather", ".tsv": "tsv", ".csv": "csv"}


def read_table(path, part: tuple[int, int] | None = None, file_format: str | None = None,
               as_text: bool = False, text_columns=()) -> Table:
    """Read a CSV, Parquet or Arrow/Feather file (by extension) with a header of column names.

    Parameters
    ----------
    path : str or path-like
    file_format : {"csv", "tsv", "parquet", "feather"}, optional
        Read the file as this format whatever its extension.
    as_text : bool
        Keep every CSV cell's spelling (``007`` stays ``007``), for writing rows back out;
        decoding is slower.
    text_columns : sequence of str
        CSV columns whose spelling matters even when they hold numbers (a target whose
        labels are kept as written: ``1e19`` stays ``1e19``).
    part : (k, n), optional
        Read only the k-th of n contiguous, near-equal slices of the rows (0-based; MPI rank k
        of n). Row numbers in messages stay those of the whole file once
        :func:`number_rows_across` has run.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is empty or unreadable, has no header (the first row is all numbers), repeats a
        column name, or has a row with the wrong number of fields (the message gives the line).
    """
    source = os.fspath(path)
    if not os.path.exists(source):
        raise FileNotFoundError(f"{source}: no such file")
    if os.path.isdir(source):
        raise ValueError(f"{source}: is a directory, expected a table file")
    pa, _ = pyarrow()
    file_format = file_format or FORMATS.get(os.path.splitext(source)[1].lower(), "csv")
    try:
        if file_format == "parquet":
            arrow, first = _read_parquet(source, part)
        elif file_format == "feather":
            arrow, first = _read_feather(source, part)
        else:
            arrow, first = _read_csv(source, part, "\t" if file_format == "tsv" else ",", as_text, text_columns)
    except (pa.ArrowException, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{source}: not a readable {file_format.upper()} file: {error}") from None
    table = Table.from_arrow(arrow, source, first)
    if not len(table):
        if part is not None:
            raise ValueError(f"{source}: slice {part[0] + 1} of {part[1]} holds no data rows; "
                             "use fewer processes than the file has rows")
        raise ValueError(f"{source}: the file has a header but no data rows")
    return table


def read_csv(path, part=None) -> Table:
    """:func:`read_table` for a CSV file whatever its extension."""
    return read_table(path, part, "csv")


def _read_csv(source: str, part, delimiter: str, as_text: bool = False, text_columns=()):
    """The rows of a CSV file (or of one byte range of it) as a pyarrow Table: numeric columns
    as numbers (all columns as text with ``as_text``)."""
    import pyarrow.csv as pcsv

    with open(source, "rb") as handle:
        header_bytes, lines_before_body = handle.readline(), 1
        if header_bytes.startswith(b"\xef\xbb\xbf"):
            header_bytes = header_bytes[3:]
        while header_bytes and not header_bytes.strip():      # blank lines before the header
            header_bytes, lines_before_body = handle.readline(), lines_before_body + 1
        body_start = handle.tell()
        if not header_bytes.strip():
            raise ValueError(f"{source}: the file is empty; expected a header row and data rows")
        names = _header_names(header_bytes, delimiter, source)
        start, stop = _byte_range(handle, body_start, *(part or (0, 1)))
    pa, _ = pyarrow()
    if stop - start < 4096 and not _bytes(source, start, stop).strip():
        return pa.table({name: pa.array([], pa.string()) for name in names}), 0
    if part is None:        # the parser reads the file block by block
        def body():
            return pa.OSFile(source)
    else:                   # this rank's rows only
        rows = pa.py_buffer(_bytes(source, start, stop))

        def body():
            return pa.BufferReader(rows)
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    read = pcsv.ReadOptions(column_names=names, use_threads=True,
                            skip_rows=lines_before_body if part is None else 0)
    try:
        as_string = [name for name in names if as_text or name in text_columns]
        arrow = _parse(pcsv, body, read, parse, dict.fromkeys(as_string, "string"), keep_spelling=as_text)
        pa, pc = pyarrow()
        odd = [field.name for field in arrow.schema if not _plain(pa, field.type) or
               (pa.types.is_floating(field.type) and pc.any(pc.is_inf(arrow.column(field.name))).as_py())]
        if odd:   # booleans, dates, times, infinities: kept as written, as text
            arrow = _parse(pcsv, body, read, parse, dict.fromkeys(odd + as_string, "string"), as_text)
    except Exception as error:       # find the line a user can look at, then say what is wrong
        if "Expected" in str(error) and part is None:
            _refuse_ragged_line(source, delimiter)
        if "Expected" in str(error):
            raise ValueError(f"{source}: slice {part[0] + 1} of {part[1]} of the rows does not parse "
                             f"({error}); a row has the wrong number of fields (train without "
                             "--distributed to see its line number)") from None
        if "invalid utf" in str(error).lower() or "utf8" in str(error).lower():
            raise ValueError(f"{source}: not a readable CSV file: the text is not UTF-8") from None
        raise
    return arrow, 0


def _plain(pa, data_type) -> bool:
    return (pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_null(data_type)
            or pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def _parse(pcsv, body, read, parse, column_types: dict, keep_spelling: bool = False):
    """pyarrow's multi-threaded parse: numbers typed (missing tokens as nulls), the rest text
    (with ``keep_spelling``, text cells stay as written, missing tokens included). ``body()``
    opens the rows' bytes."""
    convert = pcsv.ConvertOptions(column_types=column_types, null_values=NULL_SPELLINGS,
                                  strings_can_be_null=not keep_spelling, quoted_strings_can_be_null=False)
    with body() as stream:
        return pcsv.read_csv(stream, read_options=read, parse_options=parse, convert_options=convert)


def _bytes(source: str, start: int, stop: int) -> bytes:
    with open(source, "rb") as handle:
        handle.seek(start)
        return handle.read(stop - start)


def _header_names(line: bytes, delimiter: str, source: str) -> list[str]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{source}: not a readable CSV file: the header is not UTF-8 text") from None
    try:
        names = [name.strip() for name in next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter))]
    except csv.Error as error:
        raise ValueError(f"{source}: not a readable CSV file: header row: {error}") from None
    check_header(names, source)
    return names


def _byte_range(handle, body_start: int, k: int, n: int) -> tuple[int, int]:
    """(start, stop) byte offsets of rank k's rows: the k-th of n near-equal ranges of the
    rows' bytes, each moved to the start of a record.

    A record starts after a line break outside quotes: the quotes before a candidate are
    counted (an escaped quote is doubled, so the parity tells inside from outside), and a line
    break inside a quoted field is passed over, so fields holding line breaks split correctly.
    """
    size = handle.seek(0, os.SEEK_END)

    def record_start(position: int) -> int:
        if position <= body_start:
            return body_start
        if position >= size:
            return size
        quotes = _count_quotes(handle, body_start, position - 1)
        handle.seek(position - 1)
        while True:                     # the rest of the line holding byte position - 1, and on
            line = handle.readline()
            if not line:
                return size
            quotes += line.count(b'"')
            if quotes % 2 == 0:
                return handle.tell()

    span = size - body_start
    start = record_start(body_start + k * span // n)
    return start, max(record_start(body_start + (k + 1) * span // n), start)


def _count_quotes(handle, start: int, stop: int, block: int = 1 << 24) -> int:
    handle.seek(start)
    count = 0
    while start < stop:
        chunk = handle.read(min(block, stop - start))
        if not chunk:
            break
        count += chunk.count(b'"')
        start += len(chunk)
    return count


def _refuse_ragged_line(source: str, delimiter: str) -> None:
    """ValueError naming the first line whose field count differs from the header's."""
    with open(source, newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        width = None
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise ValueError(f"{source}: line {reader.line_num} has {len(row)} fields, "
                                 f"the header has {width}")


def _slice_bounds(n_rows: int, part) -> tuple[int, int]:
    if part is None:
        return 0, n_rows
    k, n = part
    return k * n_rows // n, (k + 1) * n_rows // n


def _read_parquet(source: str, part):
    """A Parquet file's rows (or rank k's slice, reading only the row groups that hold it)."""
    import pyarrow.parquet as pq

    pa, _ = pyarrow()
    with pq.ParquetFile(source) as file:
        sizes = [file.metadata.row_group(i).num_rows for i in range(file.num_row_groups)]
        start, stop = _slice_bounds(sum(sizes), part)
        ends = np.cumsum([0] + sizes)
        groups = [i for i in range(len(sizes)) if ends[i] < stop and ends[i + 1] > start]
        arrow = file.read_row_groups(groups) if groups else file.schema_arrow.empty_table()
        if groups:
            arrow = arrow.slice(start - ends[groups[0]], stop - start)
    return arrow, start


def _read_feather(source: str, part):
    """An Arrow IPC (Feather v2) file's rows, memory-mapped (or rank k's slice of them)."""
    import pyarrow.feather as feather

    arrow = feather.read_table(source, memory_map=True)
    start, stop = _slice_bounds(arrow.num_rows, part)
    return arrow.slice(start, stop - start), start


def number_rows_across(table: Table, comm) -> Table:
    """Give an MPI rank's slice of a file the whole file's row numbers (a collective call)."""
    counts = comm.allgather(len(table))
    table.row_numbers = np.arange(1, len(table) + 1) + sum(counts[: comm.Get_rank()])
    return table
