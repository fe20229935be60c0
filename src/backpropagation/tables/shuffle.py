"""``--shuffle-once``: a copy of a table file with its rows in a uniformly random order, made in
bounded memory (an external shuffle), for files sorted or grouped by their target.

One read of the file deals every row to one of ``B`` temporary bucket files at random; each
bucket is then read, its rows permuted, and appended to the copy. The file is read through
:class:`~backpropagation.tables.streaming.Blocks`, as streaming reads it.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time

import numpy as np

from .csv_source import pyarrow
from .blocks import Blocks, read_ahead


#: File bytes of each temporary bucket of :func:`shuffle_file` (a bucket is shuffled in memory).
BUCKET_BYTES = 32 << 20
#: Most buckets (each an open file while the rows are dealt): a larger file gets larger buckets.
MAX_BUCKETS = 256


def shuffled_name(path) -> str:
    """Where ``--shuffle-once`` writes by default: ``rows.csv.gz`` → ``rows.shuffled.csv``."""
    directory, name = os.path.split(os.fspath(path))
    for suffix in (".gz", ".bz2", ".zst", ".lz4"):
        name = name.removesuffix(suffix)
    stem, ext = os.path.splitext(name)
    return os.path.join(directory, f"{stem}.shuffled{ext or '.csv'}")


def shuffle_file(blocks: Blocks, destination, seed: int, bucket_bytes: int = BUCKET_BYTES) -> dict:
    """A copy of ``blocks``' file with its rows in a uniformly random order, in bounded memory.

    One read of the file deals every row to one of ``B`` temporary bucket files at random
    (``B`` = file size / ``bucket_bytes``, at most :data:`MAX_BUCKETS` open files); each bucket is
    then read, its rows permuted, and
    appended to ``destination`` (written through a temporary name: a failure leaves no partial
    copy). Cells keep their spelling (CSV) or type (Parquet, Arrow). Returns what it did.
    """
    import shutil
    import tempfile

    pa, _ = pyarrow()
    rng, started = np.random.default_rng([seed, 11]), time.perf_counter()
    n_buckets = max(1, min(MAX_BUCKETS, math.ceil(os.path.getsize(blocks.path) / bucket_bytes)))
    scratch = tempfile.mkdtemp(prefix="backprop-shuffle-", dir=os.path.dirname(os.path.abspath(destination)))
    try:
        writers, rows, schema = [None] * n_buckets, 0, None
        for _, table in read_ahead(blocks, range(blocks.count), as_text=True):
            arrow = pa.table({name: table.raw(name) for name in table.header})
            schema = schema or arrow.schema          # (a block whose column is all empty reads as nulls)
            arrow = arrow.cast(schema)
            rows += arrow.num_rows
            bucket = rng.integers(n_buckets, size=arrow.num_rows)
            for b in np.unique(bucket):
                if writers[b] is None:
                    writers[b] = pa.ipc.new_stream(os.path.join(scratch, f"{b}.arrow"), schema)
                writers[b].write_table(arrow.take(pa.array(np.flatnonzero(bucket == b))))
        for writer in writers:
            if writer is not None:
                writer.close()
        partial = os.path.join(scratch, "copy")
        with TableWriter(partial, destination, schema, _delimiter(blocks)) as write:
            for b in range(n_buckets):
                if writers[b] is not None:
                    bucket_table = pa.ipc.open_stream(os.path.join(scratch, f"{b}.arrow")).read_all()
                    write(bucket_table.take(pa.array(rng.permutation(bucket_table.num_rows))))
                    os.remove(os.path.join(scratch, f"{b}.arrow"))
        os.replace(partial, destination)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"copy": os.fspath(destination), "rows": rows, "buckets": n_buckets,
            "seconds": round(time.perf_counter() - started, 3)}


def _delimiter(blocks: Blocks) -> str:
    """The delimiter the file was read with (given, or found in its header), for the copy."""
    from .csv_source import csv_header

    if blocks.format not in ("csv", "tsv"):
        return ","
    if blocks.fmt.delimiter or blocks.format == "tsv":
        return blocks.fmt.delimiter or "\t"
    return csv_header(blocks.path, numeric_names=blocks.fmt.numeric_names)[3]


class TableWriter:
    """Appends Arrow tables to ``path`` in the format ``like``'s extension names (Parquet, Arrow
    IPC, else CSV separated by ``delimiter``, with cells quoted only where needed)."""

    def __init__(self, path, like, schema, delimiter: str = ",") -> None:
        self.path, self.like, self.schema, self.delimiter = path, os.fspath(like), schema, delimiter

    def __enter__(self):
        pa, _ = pyarrow()
        if self.like.endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            self.writer = pq.ParquetWriter(self.path, self.schema)
            return lambda table: self.writer.write_table(table, row_group_size=64 * 1024)
        if self.like.endswith((".feather", ".arrow", ".ipc")):
            self.writer = pa.ipc.new_file(self.path, self.schema)
            return lambda table: self.writer.write_table(table, max_chunksize=64 * 1024)
        import pyarrow.csv as pcsv

        self.sink = pa.OSFile(self.path, "wb")
        header = io.StringIO()
        csv.writer(header, delimiter=self.delimiter, lineterminator="\n").writerow(self.schema.names)
        self.sink.write(header.getvalue().encode("utf-8"))     # (names quoted only where needed, as cells)
        self.writer = pcsv.CSVWriter(self.sink, self.schema, write_options=pcsv.WriteOptions(
            delimiter=self.delimiter, quoting_style="needed", include_header=False))
        return self.writer.write_table

    def __exit__(self, *exc):
        self.writer.close()
        if getattr(self, "sink", None) is not None:
            self.sink.close()
        return False
