"""Arrow's own files: Parquet by row groups, Arrow IPC (Feather v2, streams) and Feather v1, read
whole or as rank k's contiguous slice of the rows, never memory-mapped. :mod:`.readers` turns
what these return into columns."""

from __future__ import annotations

import numpy as np

from .csv_source import pyarrow


def slice_bounds(n_rows: int, part) -> tuple[int, int]:
    """Rows ``start, stop`` of rank k's contiguous slice for ``part=(k, n)`` (all rows for None)."""
    if part is None:
        return 0, n_rows
    k, n = part
    return k * n_rows // n, (k + 1) * n_rows // n


def read_parquet(source: str, part):
    """A Parquet file's rows (or rank k's slice, reading only the row groups that hold it)."""
    import pyarrow.parquet as pq

    pa, _ = pyarrow()
    with pq.ParquetFile(source) as file:
        sizes = [file.metadata.row_group(i).num_rows for i in range(file.num_row_groups)]
        start, stop = slice_bounds(sum(sizes), part)
        ends = np.cumsum([0] + sizes)
        groups = [i for i in range(len(sizes)) if ends[i] < stop and ends[i + 1] > start]
        arrow = file.read_row_groups(groups) if groups else file.schema_arrow.empty_table()
        if groups:
            arrow = arrow.slice(start - ends[groups[0]], stop - start)
    return arrow, start


def read_feather(source: str, part):
    """An Arrow IPC (Feather v2) file's rows (or rank k's slice of them), read into memory: a
    memory-mapped table would read the file for as long as it is used, and a file truncated
    meanwhile kills the process with SIGBUS."""
    import pyarrow.feather as feather

    pa, _ = pyarrow()
    if arrow_layout(source) == "stream":
        with pa.OSFile(source) as opened:
            arrow = pa.ipc.open_stream(opened).read_all()
    else:
        arrow = feather.read_table(source, memory_map=False)
    start, stop = slice_bounds(arrow.num_rows, part)
    return arrow.slice(start, stop - start), start


def arrow_layout(source: str) -> str:
    """``"file"`` (Arrow IPC file, Feather v2), ``"v1"`` (Feather v1) or ``"stream"`` (Arrow IPC
    stream), by the file's first bytes: each needs its own reader."""
    with open(source, "rb") as opened:
        magic = opened.read(6)
    return "file" if magic == b"ARROW1" else "v1" if magic[:4] == b"FEA1" else "stream"


def feather_chunks(source: str):
    """An Arrow/Feather file's record batches as tables (not memory-mapped: see :func:`read_feather`);
    Feather v1 has no record batches and is read whole."""
    pa, _ = pyarrow()
    layout = arrow_layout(source)
    if layout == "v1":
        yield read_feather(source, None)[0]
        return
    with pa.OSFile(source) as opened:
        if layout == "stream":
            yield from (pa.Table.from_batches([batch]) for batch in pa.ipc.open_stream(opened))
            return
        reader = pa.ipc.open_file(opened)
        for i in range(reader.num_record_batches):
            yield pa.Table.from_batches([reader.get_batch(i)])
