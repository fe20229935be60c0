"""Table files to columns: CSV, Parquet and Arrow/Feather through pyarrow, for the command line.

:func:`read_file` picks the reader by the file's extension (``.parquet``/``.pq``, ``.feather``/
``.arrow``/``.ipc``, anything else is CSV; ``.tsv`` is tab-separated; a compression suffix such
as ``.gz`` is looked past and the file decompressed). CSV files are parsed by
pyarrow's multi-threaded C++ reader with every column as text, so cells keep their spelling; each
column is then decoded once, in vectorised passes, into a :class:`Column`: the number each cell
holds, which cells are missing, and the trimmed text for columns that turn out to be categories.

A cell is missing when, stripped of surrounding whitespace and lower-cased, it is one of
:data:`MISSING` (or of the format's ``na_values``), or one of :data:`AMBIGUOUS_MISSING` (``none``,
``?``, ``-``) in a column whose other cells are all numbers: in a column of text those are words.
A number is what Python's ``float`` reads (``12``, ``-3.5``, ``1e-3``); ``inf``
and ``1e999`` parse but are not finite, so they count as text.

With ``part=(k, n)`` only the k-th of n contiguous slices of the rows is read, for MPI rank k:
CSV files by byte ranges moved to record starts (as Dask's reader does, and also past line breaks
inside quoted fields), Parquet files by row groups, Arrow files by record batches.
"""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from . import arrow_files
from .csv_source import (AMBIGUOUS_MISSING, COMPRESSIONS, MISSING, PLAIN, WHITESPACE, TextFormat, arrow_of,
                         check_header, named,
                         numpy_of, pyarrow, read_csv_arrow, stream_csv_arrow)
from .dates import days_of_dates
from .number_text import MisspelledNumbers, numbers_of_texts, refuse_misspelled_numbers



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


@dataclass
class Column:
    """One column, decoded: ``numbers`` (float64; NaN where missing or text, ±inf kept),
    ``missing`` (bool) and ``raw``, the cells as read (a pyarrow array).

    A column read as text also knows its distinct cells: ``codes`` gives each row's position in
    ``categories`` (the distinct trimmed texts, a pyarrow array), -1 where the cell is missing.
    Work on categories (counting, one-hot encoding) then runs on integer codes, once per
    distinct text rather than once per cell.

    An ISO date (``2012-01-31``, ``2012-01-31 08:30``; a Parquet file's or a frame's date columns
    read as such text) is a number, its days since 1970-01-01; ``dates``: the column held one.
    """

    numbers: np.ndarray
    missing: np.ndarray
    raw: object
    _text: object = None
    _codes: np.ndarray | None = None
    _categories: object = None
    #: Each cell's position in ``categories`` with missing spellings kept (-1 for a null), and per
    #: category whether it is a missing token (1), one of :data:`AMBIGUOUS_MISSING` (2) or text (0).
    _cell_codes: np.ndarray | None = None
    _tokens: np.ndarray | None = None
    dates: bool = False

    @classmethod
    def decode(cls, raw, fmt: TextFormat = PLAIN) -> "Column":
        """Decode a pyarrow array: numeric types directly, anything else through its text (numbers
        in text spelled as ``fmt`` says)."""
        pa, pc = pyarrow()
        if pa.types.is_dictionary(raw.type):
            raw = raw.dictionary_decode() if isinstance(raw, pa.Array) else \
                pa.chunked_array([chunk.dictionary_decode() for chunk in raw.chunks], raw.type.value_type)
        if pa.types.is_null(raw.type):
            raw = raw.cast(pa.string())
        if pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type) or pa.types.is_decimal(raw.type):
            # (unsafe: integers beyond 2^53, such as 64-bit IDs, become the nearest float64)
            numbers = numpy_of(pc.cast(raw, pa.float64(), safe=False))
            missing = np.isnan(numbers)
            if pa.types.is_float64(raw.type):   # (raw shares the numbers' memory: no second copy)
                raw = arrow_of(numbers, missing)
            return cls(numbers, missing, raw)
        if pa.types.is_timestamp(raw.type) and raw.type.tz is None:
            raw = timestamp_text(raw)
        if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)):
            raw = pc.cast(raw, pa.string())
        return cls._decode_text(raw, fmt)

    @classmethod
    def _decode_text(cls, raw, fmt: TextFormat) -> "Column":
        pa, pc = pyarrow()
        spelled = raw if fmt.plain else fmt.python_spelling(raw)
        try:                                   # the common case: every cell a number
            if len(raw) > 1000:                # (a failed cast costs a pass: try a sample first)
                pc.cast(spelled.slice(0, 1000), pa.float64())
            numbers = numpy_of(pc.cast(spelled, pa.float64()))
            return cls(numbers, np.isnan(numbers), raw)
        except pa.ArrowInvalid:
            pass
        codes, categories = _codes_and_categories(raw)
        lowered = pc.utf8_lower(categories)
        values = numbers_of_texts(categories if fmt.plain else fmt.python_spelling(categories))
        days = days_of_dates(categories)
        dated = ~np.isnan(days)
        values = np.where(dated, days, values)
        missing = numpy_of(pc.is_in(lowered, value_set=arrow_of(MISSING + fmt.na_values)))
        ambiguous = numpy_of(pc.is_in(lowered, value_set=arrow_of(AMBIGUOUS_MISSING)))
        tokens = np.where(missing, 1, np.where(ambiguous, 2, 0)).astype(np.int8)
        if not (~missing & ~ambiguous & ~np.isfinite(values)).any():   # otherwise numbers: "none" is a gap
            missing |= ambiguous
        is_missing = np.append(missing, True)
        cell_codes = codes.copy()
        codes[is_missing[codes]] = -1          # (code -1 reads the appended True)
        if fmt.plain:
            refuse_misspelled_numbers(categories, values, is_missing[:-1])
        return cls(np.append(values, np.nan)[codes], codes < 0, raw, None, codes, categories, cell_codes, tokens,
                   bool(dated.any()))

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
            self._text = pc.utf8_trim(raw, characters=WHITESPACE)
            if isinstance(self._text, pa.ChunkedArray):
                self._text = self._text.combine_chunks()
            if self.missing.any():     # a missing cell reads as "" whatever its spelling ("NA", "null")
                self._text = pc.if_else(arrow_of(self.missing), "", self._text)
        return self._text

    @property
    def codes(self) -> np.ndarray:
        """Each row's position in :attr:`categories` (int64), -1 where the cell is missing."""
        self._code_cells()
        return self._codes

    @property
    def categories(self):
        """The distinct trimmed texts that :attr:`codes` point into (a pyarrow string array)."""
        self._code_cells()
        return self._categories

    def _code_cells(self) -> None:
        """Codes and categories for a column decoded as numbers (text columns have them)."""
        if self._codes is None:
            codes, self._categories = _codes_and_categories(self.text)
            self._codes = np.where(self.missing, -1, codes)

    @property
    def spelled_codes(self) -> tuple[np.ndarray, object, np.ndarray]:
        """Each cell's position among the distinct trimmed texts, missing spellings kept (-1 only
        for a null), those texts, and per text whether it is a missing token (1), one of
        ``none``/``?``/``-`` (2) or text (0): what a model that knows the column's categories
        decides with, row by row, whatever the other cells hold."""
        if self._cell_codes is None:
            self._code_cells()
            return self._codes, self._categories, np.zeros(len(self._categories), dtype=np.int8)
        return self._cell_codes, self._categories, self._tokens

    def cell(self, i: int) -> str:
        """Row ``i``'s cell as trimmed text."""
        value = self.text[int(i)].as_py()
        return "" if value is None else value

    def labels(self) -> np.ndarray:
        """The trimmed text of every cell, as a NumPy array of str ("" where missing)."""
        return numpy_of(self.text)

    def take(self, rows: np.ndarray) -> "Column":
        """The column at row positions ``rows``."""
        _, pc = pyarrow()
        rows = np.asarray(rows, dtype=np.int64)
        text = None if self._text is None else pc.take(self._text, arrow_of(rows))
        codes = None if self._codes is None else self._codes[rows]
        cell_codes = None if self._cell_codes is None else self._cell_codes[rows]
        return Column(self.numbers[rows], self.missing[rows], pc.take(self.raw, arrow_of(rows)), text,
                      codes, self._categories, cell_codes, self._tokens, self.dates)


def _codes_and_categories(raw) -> tuple[np.ndarray, object]:
    """Each cell's position among the distinct trimmed texts of ``raw`` (-1 for a null), and
    those texts. Trimming runs over the distinct cells only (`` Oslo`` and ``Oslo`` meet)."""
    pa, pc = pyarrow()
    encoded = pc.dictionary_encode(raw)        # (one dictionary shared by all chunks)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    distinct = chunks[0].dictionary if chunks else arrow_of([])
    indices = [numpy_of(chunk.indices, fill=-1).astype(np.int64) for chunk in chunks]
    codes = np.concatenate(indices) if indices else np.empty(0, np.int64)
    trimmed = pc.dictionary_encode(pc.utf8_trim(distinct, characters=WHITESPACE))
    merged = np.append(numpy_of(trimmed.indices).astype(np.int64), -1)
    return merged[codes], trimmed.dictionary


def likely_meant(name: str, names: list[str]) -> str | None:
    """The one of ``names`` that ``name`` most likely meant: the same letters in another case or
    with other spaces, underscores, hyphens or dots (``Island`` for ``island``, ``bill length``
    for ``bill_length``), else the closest within a typo or two; None when none is close."""
    import difflib

    def folded(text: str) -> str:
        return "".join(character for character in str(text).lower() if character.isalnum())
    same = [other for other in names if folded(other) == folded(name)]
    close = same or difflib.get_close_matches(str(name), [str(other) for other in names], n=1, cutoff=0.8)
    return close[0] if close else None


@dataclass
class Table:
    """A table's header, its columns and the file's data row number (1-based) of each row.

    ``columns`` maps each name to the column as read (a pyarrow array) until :meth:`column`
    first asks for it, and to the decoded :class:`Column` from then on: a column nobody uses
    (one the user drops, one a model does not know) is never decoded, whatever it holds.
    """

    header: list[str]
    columns: dict
    source: str
    row_numbers: np.ndarray
    fmt: TextFormat = PLAIN

    def __len__(self) -> int:
        return len(self.row_numbers)

    def require(self, name: str) -> None:
        """ValueError listing the columns if there is no column ``name`` (and naming the one it
        likely meant: the same name in another case or spacing, or one a typo away)."""
        if name not in self.columns:
            meant = likely_meant(name, self.header)
            hint = f" (did you mean {meant!r}?)" if meant else ""
            raise ValueError(f"{self.source}: no column named {name!r}{hint}; columns: {', '.join(self.header)}")

    def column(self, name: str) -> Column:
        """Column ``name``, decoded; ValueError listing the columns if absent, or naming the
        column if it holds values that are neither numbers nor text."""
        self.require(name)
        found = self.columns[name]
        if not isinstance(found, Column):
            pa, _ = pyarrow()
            try:
                found = self.columns[name] = Column.decode(found, self.fmt)
            except MisspelledNumbers as error:
                raise ValueError(f"{self.source}: column {name!r} {error} (or --drop {name})") from None
            except pa.ArrowException:
                raise ValueError(f"{self.source}: column {name!r} holds {found.type} values; expected numbers "
                                 f"or text (--drop {name}, or leave it out of the file)") from None
        return found

    def raw(self, name: str):
        """Column ``name``'s cells as read (a pyarrow array), without decoding them."""
        found = self.columns[name]
        return found.raw if isinstance(found, Column) else found

    def subset(self, rows) -> "Table":
        """A table with the rows at positions ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        _, pc = pyarrow()
        return Table(self.header, {name: c.take(rows) if isinstance(c, Column) else pc.take(c, arrow_of(rows))
                                   for name, c in self.columns.items()}, self.source, self.row_numbers[rows], self.fmt)

    @classmethod
    def from_arrow(cls, arrow, source: str, first_row: int = 0, fmt: TextFormat = PLAIN) -> "Table":
        """A table over a pyarrow Table's columns (decoded when used, numbers in text spelled as
        ``fmt`` says); pandas' stored index columns are left out. Its names may be numbers: a
        Parquet, Feather or frame schema names its columns, and a CSV header of numbers only was
        refused as data when it was read (unless ``--numeric-header``)."""
        header = named([name.strip() for name in arrow.column_names])
        check_header(header, source, names_may_be_numbers=True)
        columns = {name: arrow.column(i) for i, name in enumerate(header) if not name.startswith("__index_level_")}
        header = [name for name in header if name in columns]
        return cls(header, columns, source, np.arange(first_row + 1, first_row + arrow.num_rows + 1), fmt)


def timestamp_text(raw):
    """A pyarrow column of (time-zone-free) timestamps as the text a CSV file holds them in, as
    pandas writes them: ``2017-01-01`` where every one falls at midnight, ``2017-01-01 10:30:00``
    where none has a fraction of a second (else pyarrow's own spelling), so that a date column
    parsed into a frame reads as the same categories as the file's cells it came from."""
    pa, pc = pyarrow()
    per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[raw.type.unit]
    ticks = numpy_of(pc.cast(raw, pa.int64()), fill=0).astype(np.int64)
    if not (ticks % (86_400 * per_second)).any():
        return pc.strftime(raw, format="%Y-%m-%d")
    if not (ticks % per_second).any():
        return pc.strftime(pc.cast(raw, pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S")
    return raw


#: File formats by extension; any other extension is read as CSV.
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".feather": "feather", ".arrow": "feather",
           ".ipc": "feather", ".tsv": "tsv", ".csv": "csv"}


def format_of(source: str) -> str:
    """The format a file's extension names (a compression suffix such as ``.gz`` looked past)."""
    name = source.lower()
    for suffix in COMPRESSIONS:
        name = name.removesuffix(suffix)
    return FORMATS.get(os.path.splitext(name)[1], "csv")


def read_file(path, part: tuple[int, int] | None = None, file_format: str | None = None,
               as_text: bool = False, text_columns=(), fmt: TextFormat = PLAIN, unit: str = "slice") -> Table:
    """Read a CSV, Parquet or Arrow/Feather file (by extension) with a header of column names.

    Parameters
    ----------
    path : str or path-like
        ``-`` reads standard input (as CSV).
    file_format : {"csv", "tsv", "parquet", "feather"}, optional
        Read the file as this format whatever its extension.
    fmt : TextFormat
        The CSV's delimiter, and how numbers written as text spell the decimal mark and digit
        groups (default: detected delimiter, ``.``, no groups; a column of numbers with decimal
        commas is then refused, saying which option reads it).
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
    unit : {"slice", "block"}
        What a part is called in messages: an MPI rank's ``"slice"`` (one without rows is
        refused), or a streamed ``"block"`` (one without rows is an empty table).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is empty or unreadable, has no header (the first row is all numbers), repeats a
        column name, or has a row with the wrong number of fields (the message gives the line).
    """
    source, file_format = _checked(path, file_format)
    if part is not None and not os.path.isfile(source):
        raise ValueError(f"{source}: is not a regular file (a pipe, FIFO or device such as /dev/stdin): "
                         "under --distributed every process opens the file and reads its own slice of the "
                         "rows, which a stream cannot give; save the data to a file first")
    with _unreadable_as_value_error(source, file_format), unchanged_while_read(source):
        if file_format == "parquet":
            arrow, first = arrow_files.read_parquet(source, part)
        elif file_format == "feather":
            arrow, first = arrow_files.read_feather(source, part)
        else:
            arrow, first = read_csv_arrow(source, part, _csv_format(fmt, file_format), as_text, text_columns,
                                          unit)
    table = Table.from_arrow(arrow, source, first, fmt)
    if not len(table) and not (part is not None and unit == "block"):
        if part is not None:
            raise ValueError(f"{source}: slice {part[0] + 1} of {part[1]} holds no data rows; "
                             "use fewer processes than the file has rows")
        raise ValueError(f"{source}: the file has a header but no data rows")
    return table


def _csv_format(fmt: TextFormat, file_format: str) -> TextFormat:
    """``fmt`` with a TSV file's tab as its delimiter (unless one was given)."""
    return replace(fmt, delimiter="\t") if file_format == "tsv" and fmt.delimiter is None else fmt


#: How the files a table reader cannot read begin, and what they are.
FOREIGN = ((b"PK\x03\x04", "a zip archive, such as an Excel .xlsx workbook"),
           (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook (or another OLE document)"))


def _checked(path, file_format: str | None) -> tuple[str, str]:
    """The path as a string and its format; FileNotFoundError or ValueError for no file, a
    directory, or a workbook given as CSV. ``-`` is standard input."""
    source = os.fspath(path)
    if source == "-":
        source = "/dev/stdin"
    if not os.path.exists(source):
        raise FileNotFoundError(f"{source}: no such file")
    if os.path.isdir(source):
        raise ValueError(f"{source}: is a directory, expected a table file")
    file_format = file_format or format_of(source)
    if file_format in ("csv", "tsv") and os.path.isfile(source) and not source.lower().endswith(COMPRESSIONS):
        with open(source, "rb") as handle:
            start = handle.read(4)
        for magic, what in FOREIGN:
            if start == magic:
                raise ValueError(f"{source}: is {what}, not a CSV file; save the sheet as CSV (or Parquet) "
                                 "and give that file")
    return source, file_format


@contextmanager
def _unreadable_as_value_error(source: str, file_format: str):
    """pyarrow's and the system's complaints about a file's content as one ValueError naming it."""
    pa, _ = pyarrow()
    try:
        yield
    except (pa.ArrowException, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{source}: not a readable {file_format.upper()} file: {error}") from None


def _fingerprint(source: str):
    """Size and modification time of a regular file (None for a pipe or device)."""
    try:
        status = os.stat(source)
    except OSError:
        return None
    return (status.st_size, status.st_mtime_ns) if stat.S_ISREG(status.st_mode) else None


@contextmanager
def unchanged_while_read(source: str):
    """Raise ValueError naming ``source`` if the file was rewritten or truncated while the block
    read it (rows read from a changing file are not the file's rows)."""
    before = _fingerprint(source)
    try:
        yield
    except ValueError:
        if before is not None and _fingerprint(source) != before:
            raise _changed(source, before) from None
        raise
    if before is not None and _fingerprint(source) != before:
        raise _changed(source, before)


def _changed(source: str, before) -> ValueError:
    after = _fingerprint(source)
    size = "" if after is None or after[0] == before[0] else f" (its size went from {before[0]} to {after[0]} bytes)"
    return ValueError(f"{source}: the file changed while it was being read{size}; read it again once "
                      "whatever writes it has finished")


def read_csv(path, part=None) -> Table:
    """:func:`read_file` for a CSV file whatever its extension."""
    return read_file(path, part, "csv")


def stream_table(path, rows: int = 100_000, file_format: str | None = None, fmt: TextFormat = PLAIN):
    """Yield a table file's rows as :class:`Table` chunks of bounded size, for work that needs
    one pass and not the whole file in memory (``backprop predict``).

    CSV cells keep their spelling (as with ``read_file(..., as_text=True)``); Parquet is read
    batch by batch, Arrow/Feather record batch by record batch. Row numbers are
    the file's. Raises what :func:`read_file` raises, including for a file with no rows.
    """
    source, file_format = _checked(path, file_format)
    first = 0
    with _unreadable_as_value_error(source, file_format), unchanged_while_read(source):
        for arrow in _arrow_chunks(source, file_format, rows, _csv_format(fmt, file_format)):
            for start in range(0, arrow.num_rows, rows):
                piece = arrow.slice(start, rows)
                if piece.num_rows:
                    yield Table.from_arrow(piece, source, first, fmt)
                    first += piece.num_rows
    if not first:
        raise ValueError(f"{source}: the file has a header but no data rows")


def _arrow_chunks(source: str, file_format: str, rows: int, fmt: TextFormat):
    pa, _ = pyarrow()
    if file_format == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(source) as file:
            for batch in file.iter_batches(batch_size=rows):
                yield pa.Table.from_batches([batch])
    elif file_format == "feather":
        yield from arrow_files.feather_chunks(source)
    else:
        yield from stream_csv_arrow(source, fmt.delimiter, numeric_names=fmt.numeric_names)


def number_rows_across(table: Table, comm) -> Table:
    """Give an MPI rank's slice of a file the whole file's row numbers (a collective call)."""
    counts = comm.allgather(len(table))
    table.row_numbers = np.arange(1, len(table) + 1) + sum(counts[: comm.Get_rank()])
    return table
