"""Writing one table in every file layout the readers take (shared by the table and command tests)."""

import warnings

import pyarrow as pa


def write_arrow(arrow, path, layout):
    """``arrow`` as Parquet, Feather v2 (Arrow IPC file), Feather v1 or an Arrow IPC stream."""
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    if layout == "parquet":
        pq.write_table(arrow, path)
    elif layout == "stream":
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, arrow.schema) as writer:
            writer.write_table(arrow, max_chunksize=64)
    else:
        with warnings.catch_warnings():  # v1 is deprecated, and still what older tools write
            warnings.simplefilter("ignore", DeprecationWarning)
            version = {"compression": "uncompressed"} if layout == "file" else {"version": 1}
            feather.write_feather(arrow, path, **version)  # (uncompressed: as zero-copy as a read can be)
