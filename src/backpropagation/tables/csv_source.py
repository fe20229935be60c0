"""CSV bytes to Arrow tables: the header, record-aligned byte ranges, pyarrow's parser, streaming.

What :mod:`backpropagation.tables.readers` needs from a CSV file, kept apart from the column decoding:
the header is read and checked here (a BOM and blank lines before it are skipped), the rows are
parsed by pyarrow's multi-threaded C++ reader (numbers typed, missing tokens as nulls, other
columns as text; with ``as_text`` every cell as written), one MPI rank's byte range starts at
a record boundary, and :func:`stream_csv_arrow` yields record batches of bounded size.
"""

from __future__ import annotations

import collections
import csv
import io
import itertools
import os
import re
from dataclasses import dataclass

from .csv_ranges import byte_range, count_bytes, holds_quotes

#: Cell values read as "missing" in any column (compared after stripping whitespace and
#: lower-casing).
MISSING = ("", "na", "n/a", "nan", "null")
#: Tokens that mean "missing" in a column of numbers but are words in a column of text ("none"
#: is a category of an airbag column): missing only where every other cell is a number, or
#: where ``--na-values`` says so.
AMBIGUOUS_MISSING = ("none", "?", "-")

#: The characters trimmed from both ends of a cell before it is compared (Unicode's White_Space:
#: tab, line breaks, space, no-break spaces, the typographic spaces): spelled out, so that the
#: ONNX graph of a model (:mod:`backpropagation.export`) trims exactly these.
WHITESPACE = ("\t\n\v\f\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B))
              + "\u2028\u2029\u202f\u205f\u3000")

#: Every upper/lower-case spelling of the missing-value tokens, for pyarrow's parser (which
#: applies them to the columns it types as numbers only).
NULL_SPELLINGS = sorted({"".join(letters) for token in MISSING + AMBIGUOUS_MISSING
                         for letters in itertools.product(*[(c.lower(), c.upper()) for c in token])})



@dataclass(frozen=True)
class TextFormat:
    """How a table spells its fields and numbers: ``--delimiter``, ``--decimal``, ``--thousands``.

    Parameters
    ----------
    delimiter : str, optional
        The field separator of a CSV file; None: the first of :data:`DELIMITERS` its header holds
        (or the one an Excel ``sep=`` first line names).
    decimal : {".", ","}
        The decimal mark of numbers written as text (``3,46`` with ``","``).
    thousands : str, optional
        A digit-group separator to ignore in numbers written as text (``12,345`` with ``","``).
    na_values : tuple of str
        More cell values to read as missing in every column (``--na-values``), compared after
        stripping whitespace and lower-casing.
    numeric_names : bool
        The first row names the columns even where every name is a number, as years can
        (``--numeric-header``); otherwise such a row is data and the file is refused.
    """

    delimiter: str | None = None
    decimal: str = "."
    thousands: str | None = None
    na_values: tuple = ()
    numeric_names: bool = False

    def __post_init__(self) -> None:
        if self.delimiter is not None and (len(self.delimiter) != 1 or self.delimiter in '"\r\n'):
            raise ValueError(f"--delimiter: expected one character such as ';' or a tab, got {self.delimiter!r}")
        if self.decimal not in (".", ","):
            raise ValueError(f"--decimal: expected '.' or ',', got {self.decimal!r}")
        if self.thousands is not None and (len(self.thousands) != 1 or self.thousands == self.decimal
                                           or self.thousands.isdigit()):
            raise ValueError(f"--thousands: expected one character other than the decimal mark "
                             f"{self.decimal!r} (such as ',', '.', ' ' or \"'\"), got {self.thousands!r}")
        if not isinstance(self.numeric_names, bool):
            raise ValueError(f"numeric_names: expected true or false, got {self.numeric_names!r}")
        if not isinstance(self.na_values, tuple) or not all(isinstance(v, str) for v in self.na_values):
            raise ValueError(f"--na-values: expected text tokens, got {self.na_values!r}")
        object.__setattr__(self, "na_values", tuple(sorted({v.strip().lower() for v in self.na_values})))

    @property
    def plain(self) -> bool:
        """Whether numbers are spelled as Python spells them (no options given)."""
        return self.decimal == "." and self.thousands is None

    def python_spelling(self, texts):
        """A pyarrow string array with digit groups removed and ``.`` as the decimal mark."""
        _, pc = pyarrow()
        if self.thousands is not None:
            texts = pc.replace_substring(texts, self.thousands, "")
        return texts if self.decimal == "." else pc.replace_substring(texts, self.decimal, ".")

    def to_dict(self) -> dict:
        return {"delimiter": self.delimiter, "decimal": self.decimal, "thousands": self.thousands,
                "na_values": list(self.na_values), "numeric_names": self.numeric_names}

    @classmethod
    def from_dict(cls, state) -> "TextFormat":
        """A format saved with :meth:`to_dict` (ValueError for anything else; ``na_values`` may be
        absent, as in models saved before it existed; so may ``numeric_names``)."""
        keys = {"delimiter", "decimal", "thousands"}
        if not isinstance(state, dict) or not keys <= set(state) <= keys | {"na_values", "numeric_names"} or \
                not all(state[k] is None or isinstance(state[k], str) for k in keys) or \
                not isinstance(state.get("na_values", []), list):
            raise ValueError(f"text format: expected delimiter, decimal, thousands and na_values, got {state!r}")
        return cls(**{**state, "na_values": tuple(state.get("na_values", []))})


PLAIN = TextFormat()


def pyarrow():
    """The pyarrow modules the readers use; ImportError naming the package if it is absent."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        raise ImportError("reading table files needs pyarrow: pip install pyarrow") from None
    return pa, pc


def numpy_of(array, fill=None):
    """A pyarrow array (or chunked array) of numbers, booleans or text as a NumPy array, read
    from its buffers. Nulls become ``fill``: by default NaN (numbers), False (booleans) or ""
    (text).

    pyarrow's own ``to_numpy`` (like ``pa.array`` and ``pa.scalar``) imports pandas on first
    use, which costs the command line more than converting a million-row column.
    """
    import numpy as np

    pa, pc = pyarrow()
    if isinstance(array, pa.ChunkedArray):
        plain = not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type))
        if plain and array.num_chunks > 1:      # one NumPy copy, not an Arrow one and a view
            return np.concatenate([numpy_of(chunk, fill) for chunk in array.chunks])
        array = array.combine_chunks()
    kind, n, offset = array.type, len(array), array.offset
    valid = None
    if array.null_count:
        valid = np.unpackbits(np.frombuffer(array.buffers()[0], dtype=np.uint8),
                              bitorder="little")[offset:offset + n].astype(bool)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        encoded = pc.dictionary_encode(array)
        labels = np.array(encoded.dictionary.to_pylist() + ["" if fill is None else fill], dtype=str)
        return labels[numpy_of(encoded.indices, fill=len(labels) - 1)]
    if pa.types.is_boolean(kind):
        values = np.unpackbits(np.frombuffer(array.buffers()[1], dtype=np.uint8),
                               bitorder="little")[offset:offset + n].astype(bool)
    else:
        dtype = np.dtype({"double": "float64", "float": "float32", "halffloat": "float16"}.get(str(kind), str(kind)))
        values = np.frombuffer(array.buffers()[1], dtype=dtype, count=n, offset=offset * dtype.itemsize)
    if valid is None:
        return values
    if fill is None and values.dtype.kind in "iu":
        values = values.astype(np.float64)
    values = values.copy()
    values[~valid] = (False if values.dtype == bool else np.nan) if fill is None else fill
    return values


def arrow_of(values, missing=None):
    """A pyarrow array built on buffers from a NumPy array of booleans, integers or float64
    (sharing its memory; nulls where ``missing``), or from a list of str (``pa.array`` would
    import pandas first, which costs the command line more than the conversion)."""
    import numpy as np

    pa, _ = pyarrow()
    if getattr(values, "dtype", None) == np.float64:
        nulls = None if missing is None or not missing.any() else \
            pa.py_buffer(np.packbits(~np.asarray(missing), bitorder="little"))
        return pa.Array.from_buffers(pa.float64(), len(values), [nulls, pa.py_buffer(np.ascontiguousarray(values))])
    if isinstance(values, (list, tuple)):
        encoded = [value.encode("utf-8") for value in values]
        offsets = np.cumsum([0] + [len(value) for value in encoded], dtype=np.int32)
        return pa.Array.from_buffers(pa.string(), len(encoded),
                                     [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])
    values = np.ascontiguousarray(values)
    if values.dtype == bool:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    values = values.astype(np.int64, copy=False)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def check_header(header: list[str], source: str, names_may_be_numbers: bool = False) -> None:
    """ValueError if the header is data (unless ``names_may_be_numbers``: a schema's, or a CSV
    header the user says names its columns), has a nameless column or repeats a name."""
    if not names_may_be_numbers and all(is_number_text(name) for name in header):
        raise ValueError(f"{source}: the first row ({','.join(header[:5])}...) looks like data; the file "
                         "needs a header row naming the columns (if that row names them, as years can, "
                         "pass --numeric-header)")
    repeated = sorted(name for name, count in collections.Counter(header).items() if count > 1)
    if repeated:
        raise ValueError(f"{source}: column names repeat: {', '.join(repeated)}")


def is_number_text(text: str) -> bool:
    """Whether Python reads ``text`` as a float at all (``inf`` and ``nan`` included)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_csv_arrow(source: str, part, fmt: TextFormat = PLAIN, as_text: bool = False, text_columns=(),
                   unit: str = "slice"):
    """The rows of a CSV file (or of one byte range of it, ``part=(k, n)``: a ``unit`` of the rows,
    an MPI rank's slice or a streamed block) as a pyarrow Table: numeric columns as numbers (all
    columns as text with ``as_text``), spelled as ``fmt`` says."""
    import pyarrow.csv as pcsv

    pa, _ = pyarrow()
    # Plain files are read with ordinary reads, never memory-mapped: a file truncated while a
    # map is read kills the process with SIGBUS; a read sees the short file, and the reader
    # compares the file before and after (see readers.unchanged_while_read).
    plain = is_plain_file(source)
    with _opened(source) as handle:
        names, lines_before_body, body_start, delimiter = _header(handle, fmt.delimiter, source, fmt.numeric_names)
        start, stop = byte_range(handle, body_start, *(part or (0, 1)))
        handle.seek(start)
        data = None if plain else handle.read(stop - start)
    if not plain and (not data or data.isspace()) or plain and stop - start < 4096 and \
            not _bytes(source, start, stop).strip():
        return pa.table({name: arrow_of([]) for name in names}), 0
    in_place = plain and part is None  # (the parser skips the header lines itself)

    def body():
        if not plain:
            return pa.BufferReader(pa.py_buffer(data))
        opened = pa.OSFile(source)
        if in_place:
            return opened
        opened.seek(start)
        return pa.BufferReader(opened.read_buffer(stop - start))
    quoted = holds_quotes(source, start, stop) if plain else b'"' in data
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted)  # (slower: only if needed)
    read = pcsv.ReadOptions(column_names=names, use_threads=True, skip_rows=lines_before_body if in_place else 0)
    try:
        as_string = [name for name in names if as_text or name in text_columns]
        arrow = _parse(pcsv, body, read, parse, dict.fromkeys(as_string, "string"), keep_spelling=as_text,
                       decimal=fmt.decimal)
        pa, pc = pyarrow()
        odd = [field.name for field in arrow.schema if not _plain(pa, field.type) or
               (pa.types.is_floating(field.type) and pc.any(pc.is_inf(arrow.column(field.name))).as_py())]
        if odd:   # booleans, dates, times, infinities: kept as written, as text
            arrow = _parse(pcsv, body, read, parse, dict.fromkeys(odd + as_string, "string"), as_text,
                           decimal=fmt.decimal)
    except pa.ArrowException as error:       # find the line a user can look at, then say what is wrong
        if "Expected" in str(error):
            _refuse_ragged_line(source, delimiter, start if part else 0, stop if part else None)
            where = "the rows do not" if part is None else f"{unit} {part[0] + 1} of {part[1]} of the rows does not"
            raise ValueError(f"{source}: {where} parse ({error}); a row has the wrong number of fields") from None
        if "invalid utf" in str(error).lower() or "utf8" in str(error).lower():
            raise ValueError(f"{source}: not a readable CSV file: the text is not UTF-8") from None
        raise ValueError(f"{source}: not a readable CSV file: {error}") from None
    return arrow, 0


#: Compressed CSV files, read whole into memory (decompressed) by pyarrow.
COMPRESSIONS = (".gz", ".bz2", ".zst", ".lz4")
#: Delimiters tried, in order, when the header row holds no comma.
DELIMITERS = (",", "\t", ";", "|")


def is_compressed(source: str) -> bool:
    return source.lower().endswith(COMPRESSIONS)


def is_plain_file(source: str) -> bool:
    """A regular, uncompressed file: one that can be read in place, twice, at any offset (not
    a pipe, a FIFO or ``/dev/stdin``)."""
    return os.path.isfile(source) and not is_compressed(source)


def _opened(source: str):
    """A binary handle on the CSV's bytes: the file itself, or (compressed, or a pipe that can
    be read only once) its whole content in memory."""
    if is_plain_file(source):
        return open(source, "rb")
    if not is_compressed(source):
        with open(source, "rb") as pipe:
            return io.BytesIO(pipe.read())
    pa, _ = pyarrow()
    with pa.input_stream(source, compression="detect") as stream:
        return io.BytesIO(stream.read())


def csv_header(source: str, delimiter: str | None = None,
               numeric_names: bool = False) -> tuple[list[str], int, int, str]:
    """The column names, the number of lines up to and including the header, the byte offset
    where the rows start (in the decompressed bytes), and the delimiter (``None``: the first of
    :data:`DELIMITERS` the header holds). ValueError for an empty file or a bad header (one of
    numbers only, unless ``numeric_names``)."""
    with _opened(source) as handle:
        return _header(handle, delimiter, source, numeric_names)


def _header(handle, delimiter, source: str, numeric_names: bool = False):
    header_bytes, lines_before_body = handle.readline(), 1
    if header_bytes.startswith(b"\xef\xbb\xbf"):
        header_bytes = header_bytes[3:]
    while header_bytes and not header_bytes.strip():      # blank lines before the header
        header_bytes, lines_before_body = handle.readline(), lines_before_body + 1
    if not header_bytes.strip():
        raise ValueError(f"{source}: the file is empty; expected a header row and data rows")
    if b"\r" in header_bytes.rstrip(b"\r\n"):
        raise ValueError(f"{source}: its lines end in a carriage return alone (old Mac or Excel for Mac line "
                         "endings), which this reader does not split; convert them first, e.g. "
                         f"tr '\\r' '\\n' < {source} > fixed.csv")
    excel = EXCEL_SEPARATOR.match(header_bytes)
    if excel:                   # Excel's "sep=;" first line: a hint, not the header
        delimiter = delimiter or excel.group(1).decode()
        header_bytes, lines_before_body = handle.readline(), lines_before_body + 1
    if delimiter is None:
        delimiter = next((d for d in DELIMITERS if d.encode() in header_bytes), ",")
    return _header_names(header_bytes, delimiter, source, numeric_names), lines_before_body, handle.tell(), delimiter


#: Excel's first line naming the delimiter (``sep=;``).
EXCEL_SEPARATOR = re.compile(rb"^sep=([^\r\n])\s*$")


def stream_csv_arrow(source: str, delimiter: str | None = None, block_bytes: int = 1 << 24,
                     numeric_names: bool = False):
    """Yield the rows of a CSV file as pyarrow Tables of about ``block_bytes`` of text each,
    every cell as written (text), so that a file larger than memory can be scored."""
    import pyarrow.csv as pcsv

    pa, _ = pyarrow()
    if is_plain_file(source) or is_compressed(source):
        names, skip, _, delimiter = csv_header(source, delimiter, numeric_names)
        stream = pa.input_stream(source, compression="detect")
    else:                       # a pipe: read once, into memory
        with _opened(source) as handle:
            names, _, body_start, delimiter = _header(handle, delimiter, source, numeric_names)
            stream, skip = pa.BufferReader(pa.py_buffer(handle.getvalue()[body_start:])), 0
    read = pcsv.ReadOptions(column_names=names, skip_rows=skip, block_size=block_bytes)
    convert = pcsv.ConvertOptions(column_types=dict.fromkeys(names, "string"), strings_can_be_null=False,
                                  quoted_strings_can_be_null=False)
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        with pcsv.open_csv(stream, read_options=read, parse_options=parse,
                           convert_options=convert) as reader:
            for batch in reader:
                yield pa.Table.from_batches([batch])
    except pa.ArrowInvalid as error:
        if "Expected" in str(error):
            _refuse_ragged_line(source, delimiter)
        if "utf" in str(error).lower():
            raise ValueError(f"{source}: not a readable CSV file: the text is not UTF-8") from None
        raise ValueError(f"{source}: not a readable CSV file: {error}") from None


def _plain(pa, data_type) -> bool:
    return (pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_null(data_type)
            or pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def _parse(pcsv, body, read, parse, column_types: dict, keep_spelling: bool = False, decimal: str = "."):
    """pyarrow's multi-threaded parse: numbers typed (missing tokens as nulls), the rest text
    (with ``keep_spelling``, text cells stay as written, missing tokens included). ``body()``
    opens the rows' bytes. ``decimal``: the decimal mark pyarrow accepts (numbers with digit
    groups stay text, for the readers to read with the groups removed)."""
    # Text columns keep every cell as written: whether "none" is missing there is decided when
    # the column is decoded (see readers.Column), not here.
    convert = pcsv.ConvertOptions(column_types=column_types, null_values=NULL_SPELLINGS,
                                  strings_can_be_null=False, quoted_strings_can_be_null=False,
                                  decimal_point=decimal)
    pa, _ = pyarrow()
    block = read.block_size
    while True:            # a row longer than pyarrow's block (a cell of megabytes) needs a larger one
        read.block_size = block
        try:
            with body() as stream:
                return pcsv.read_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as error:
            if "straddling" not in str(error) or block >= MAX_BLOCK_BYTES:
                raise
            block *= 8


#: The largest parsing block :func:`_parse` tries for a file of very long rows.
MAX_BLOCK_BYTES = 1 << 30


def _bytes(source: str, start: int, stop: int) -> bytes:
    with open(source, "rb") as handle:
        handle.seek(start)
        return handle.read(stop - start)


def _header_names(line: bytes, delimiter: str, source: str, numeric_names: bool = False) -> list[str]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{source}: not a readable CSV file: the header is not UTF-8 text") from None
    try:
        names = named([name.strip() for name in next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter))])
    except csv.Error as error:
        raise ValueError(f"{source}: not a readable CSV file: header row: {error}") from None
    check_header(names, source, numeric_names)
    return names


def named(header: list[str]) -> list[str]:
    """A header whose nameless columns are called as pandas reads them back, ``Unnamed: k``
    (``k`` the column's place, from 0), so that ``--drop`` can name them: a CSV written by pandas
    with its index has one."""
    return [name or f"Unnamed: {k}" for k, name in enumerate(header)]


def _refuse_ragged_line(source: str, delimiter: str, start: int = 0, stop: int | None = None) -> None:
    """ValueError naming the first line (of the file, or of its bytes ``start:stop``, which begin
    a record) whose field count differs from the header's."""
    with _opened(source) as raw:
        header = _header_names(_first_header_line(raw), delimiter, source, numeric_names=True)   # (read before)
        line = 1 + (count_bytes(raw, b"\n", 0, start) if start else 0)
        raw.seek(start)
        data = raw.read() if stop is None else raw.read(stop - start)
        reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace", newline=""),
                            delimiter=delimiter)
        width = None if not start else len(header)
        for row in reader:
            if not row:                 # an empty line (pyarrow skips those too)
                continue
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise ValueError(f"{source}: line {line - 1 + reader.line_num} has {len(row)} fields, "
                                 f"the header has {width}{_carriage_returns(data, line)}")


def _carriage_returns(data: bytes, first_line: int) -> str:
    """A hint where ``data`` (the file from its line ``first_line`` on) holds a carriage return
    that ends no line: in an unquoted cell it ends the row for a CSV reader (pandas' writer leaves
    such cells unquoted)."""
    found = re.search(rb"\r(?!\n)", data)
    if found is None:
        return ""
    line = first_line + data.count(b"\n", 0, found.start())
    return (f"; line {line} holds a carriage return (\\r) inside a row, which ends the row for a CSV reader: "
            "quote the cells that hold one, or remove them (e.g. tr -d '\\r')")


def _first_header_line(handle) -> bytes:
    """The header's line of a file (after a BOM, blank lines and Excel's ``sep=`` line)."""
    handle.seek(0)
    line = handle.readline().removeprefix(b"\xef\xbb\xbf")
    while line and not line.strip():
        line = handle.readline()
    return handle.readline() if EXCEL_SEPARATOR.match(line) else line
