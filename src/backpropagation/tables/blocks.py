"""A table file as blocks of rows, each read on its own: what streaming and the external shuffle read.

A plain CSV file is cut into byte ranges of about :data:`BLOCK_BYTES`, moved to record starts (as
``--distributed`` reads a rank's part). A Parquet file is cut along its row groups and an Arrow
IPC file along its record batches, a large group into slices of about ``block_bytes``: a group is
decoded whole (neither format can start mid-group), so the last decoded group is kept and its
slices read from it, and :meth:`Blocks.order` visits a group's slices together. A compressed CSV
(``.gz``, ...) is decompressed once into a temporary file, removed with the :class:`Blocks`
(a compressed stream cannot start mid-file: every block would decompress it from the start). An
Arrow IPC stream or Feather v1 file has no random access and is one block.

The file is read again for every epoch: each read checks that it is the file the first read saw
(size and modification time), and says so by name when it is not.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import weakref

import numpy as np

from .csv_source import PLAIN, TextFormat, is_compressed, pyarrow
from .readers import Table, format_of, read_file

#: Bytes of the file a block holds: small, so that a pool holds many blocks (a sorted file mixes),
#: large enough that a read is worth it.
BLOCK_BYTES = 2 << 20


class Blocks:
    """A table file as ``count`` blocks of rows (see the module docstring).

    Attributes
    ----------
    source : str
        The file as the user named it (in every message).
    count : int
        Blocks in the file.
    first_rows : ndarray or None
        Each block's first data row in the file (0-based), once known: from the file's metadata
        (Parquet, Arrow) or from the first pass that reads every block in order
        (:meth:`record_rows`). Row numbers in messages are the file's from then on.
    """

    def __init__(self, path, fmt: TextFormat = PLAIN, text_columns=(), block_bytes: int | None = None) -> None:
        self.source, self.fmt, self.text_columns = os.fspath(path), fmt, list(text_columns)
        self.path, self.format = self.source, format_of(self.source)
        self.fingerprint = _fingerprint(self.source)
        if self.fingerprint is None:
            read_file(self.source)          # (not a regular file: the reader says why, in its words)
            raise ValueError(f"{self.source}: is not a regular file: streaming reads the file again every "
                             "epoch, which a pipe cannot give; save the data to a file first")
        if is_compressed(self.source):
            self.path = _decompressed(self.source, fmt)
            weakref.finalize(self, _remove, self.path)
        block_bytes = block_bytes or BLOCK_BYTES
        self.slices = _group_slices(self.path, self.format, os.path.getsize(self.path), block_bytes)
        self.count = len(self.slices) if self.slices else \
            (1 if self.format == "feather" else max(1, math.ceil(os.path.getsize(self.path) / block_bytes)))
        self._decoded = (None, None)                                # (group, its rows as Arrow)
        self.first_rows = None
        if self.slices:
            self.first_rows = _slice_first_rows(self.slices)

    def record_rows(self, counts) -> None:
        """Each block's row count, from a pass that read every block: the file's row numbers."""
        self.first_rows = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)

    def read(self, k: int, as_text: bool = False) -> Table:
        """Block ``k`` (of :attr:`count`), its rows numbered as in the file once that is known."""
        self.check_unchanged()
        pa, _ = pyarrow()
        try:
            table = self._read(k, as_text)
        except (ValueError, OSError, pa.ArrowException) as error:
            self.check_unchanged()
            if isinstance(error, FileNotFoundError):
                raise
            message = str(error).replace(self.path, self.source)
            if not message.startswith(self.source):
                message = f"{self.source}: not a readable {self.format.upper()} file: {message}"
            raise ValueError(message) from None
        table.source = self.source
        if self.first_rows is not None:
            table.row_numbers = self.first_rows[k] + np.arange(1, len(table) + 1)
        return table

    def _read(self, k: int, as_text: bool) -> Table:
        if not self.slices:
            return read_file(self.path, part=None if self.count == 1 else (k, self.count),
                              file_format=self.format, text_columns=self.text_columns, fmt=self.fmt,
                              as_text=as_text, unit="block")
        group, start, stop = self.slices[k]
        if self._decoded[0] != group:
            self._decoded = (None, None)                            # (free the last group first)
            self._decoded = (group, _read_group(self.path, self.format, group))
        pa, _ = pyarrow()
        # A copy of the slice, not a view: the decoded group is then held by this cache alone,
        # and freed before the next group is decoded (never two groups in memory).
        rows = self._decoded[1].take(pa.array(np.arange(start, stop)))
        return Table.from_arrow(rows, self.source, 0, self.fmt)

    def check_unchanged(self) -> None:
        """ValueError naming the file if it is not the file the first read saw."""
        now = _fingerprint(self.source)
        if now != self.fingerprint:
            what = "was removed" if now is None else (
                f"changed size from {self.fingerprint[0]} to {now[0]} bytes" if now[0] != self.fingerprint[0]
                else "was rewritten (its modification time changed)")
            raise ValueError(f"{self.source}: the file {what} since training began reading it; streaming "
                             "reads it again every epoch, so it must stay as it is until training ends "
                             "(train on a copy, or wait for whatever writes it to finish)")

    def order(self, rng: np.random.Generator) -> np.ndarray:
        """An epoch's block order: a permutation; for Parquet and Arrow the groups in a random
        order, each group's slices shuffled among themselves (a group is decoded once an epoch)."""
        if not self.slices:
            return rng.permutation(self.count)
        groups = np.array([group for group, _, _ in self.slices])
        parts = [rng.permutation(np.flatnonzero(groups == g)) for g in rng.permutation(np.unique(groups))]
        return np.concatenate(parts)


def _fingerprint(path: str):
    """Size and modification time of a regular file (None otherwise)."""
    import stat

    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_size, status.st_mtime_ns) if stat.S_ISREG(status.st_mode) else None


def _decompressed(source: str, fmt: TextFormat) -> str:
    """A temporary plain copy of a compressed CSV file (in the system's temporary folder)."""
    pa, _ = pyarrow()
    handle, path = tempfile.mkstemp(prefix="backprop-stream-", suffix=".csv")
    try:
        with os.fdopen(handle, "wb") as out, pa.input_stream(source, compression="detect") as stream:
            shutil.copyfileobj(stream, out, 16 << 20)
    except BaseException as error:
        _remove(path)
        if isinstance(error, (OSError, pa.ArrowException)):
            raise ValueError(f"{source}: cannot decompress it to stream it: {error}") from None
        raise
    return path


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _group_row_counts(path: str, file_format: str) -> list[int] | None:
    """Rows of each Parquet row group or Arrow IPC record batch (None for other files)."""
    pa, _ = pyarrow()
    try:
        if file_format == "parquet":
            import pyarrow.parquet as pq

            with pq.ParquetFile(path) as file:
                return [file.metadata.row_group(i).num_rows for i in range(file.num_row_groups)]
        if file_format == "feather" and _arrow_file(path):
            with pa.OSFile(path) as opened:
                reader = pa.ipc.open_file(opened)
                return [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
    except (OSError, pa.ArrowException):     # (not readable as such: the reader says why, in its words)
        return None
    return None


def _arrow_file(path: str) -> bool:
    with open(path, "rb") as opened:
        return opened.read(6) == b"ARROW1"


def _group_slices(path: str, file_format: str, size: int, block_bytes: int) -> list | None:
    """Blocks along a file's row groups or record batches (None for other files): a group of
    more rows than about ``block_bytes`` hold is sliced."""
    rows = _group_row_counts(path, file_format)
    if not rows:
        return None
    per_slice = max(1, int(block_bytes * sum(rows) / max(size, 1)))
    cuts = [np.linspace(0, n, math.ceil(n / per_slice) + 1).astype(int) for n in rows]   # (equal slices)
    return [(group, int(a), int(b)) for group, edges in enumerate(cuts) for a, b in zip(edges[:-1], edges[1:])
            if b > a] or None


def _slice_first_rows(slices: list) -> np.ndarray:
    """Each slice's first row in the file, from its group's place and its own."""
    group_rows = {}
    for group, _, stop in slices:
        group_rows[group] = max(group_rows.get(group, 0), stop)
    firsts = dict(zip(group_rows, np.cumsum([0] + list(group_rows.values()))[:-1].tolist()))
    return np.array([firsts[group] + start for group, start, _ in slices], dtype=np.int64)


def _read_group(path: str, file_format: str, group: int):
    """Row group (Parquet) or record batch (Arrow) ``group`` as a pyarrow Table."""
    pa, _ = pyarrow()
    if file_format == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as file:
            # Column by column: decoding a whole group at once holds every column's buffers at
            # the same time (about 1.5x the group's size more at the peak).
            names = file.schema_arrow.names
            return pa.table({name: file.read_row_group(group, columns=[name], use_threads=False).column(0)
                             for name in names})
    with pa.OSFile(path) as opened:
        return pa.Table.from_batches([pa.ipc.open_file(opened).get_batch(group)])


def read_ahead(blocks: Blocks, order, as_text: bool = False):
    """``(k, table)`` for each block ``k`` of ``order``, the next block read by a thread while
    this one is used (pyarrow reads without holding the interpreter, so reading overlaps work)."""
    from concurrent.futures import ThreadPoolExecutor

    order = [int(k) for k in order]
    with ThreadPoolExecutor(1, thread_name_prefix="backprop-reader") as reader:
        pending = reader.submit(blocks.read, order[0], as_text) if order else None
        for i, k in enumerate(order):
            table = pending.result()
            pending = reader.submit(blocks.read, order[i + 1], as_text) if i + 1 < len(order) else None
            yield k, table
