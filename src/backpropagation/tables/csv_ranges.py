"""Where rank k's rows of a CSV file begin and end: byte ranges moved to record starts, with the
quotes before a position counted (their parity tells a line break inside a quoted field from one
that ends a record) and remembered per file version, so a file read block by block counts each
stretch once. :mod:`.csv_source` reads the ranges."""

from __future__ import annotations

import io
import os


def holds_quotes(source: str, start: int, stop: int, block: int = 1 << 24) -> bool:
    """Whether bytes ``start:stop`` of a plain file hold a double quote (a field that may hold a
    line break); read in blocks, never the whole file in memory."""
    with open(source, "rb") as handle:
        handle.seek(start)
        while start < stop:
            chunk = handle.read(min(block, stop - start))
            if not chunk:
                return False
            if b'"' in chunk:
                return True
            start += len(chunk)
    return False


def byte_range(handle, body_start: int, k: int, n: int) -> tuple[int, int]:
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
        quotes = count_quotes(handle, body_start, position - 1)
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


#: Quotes counted from a file's first record up to byte positions, per file version: a file read
#: block by block (streaming, a rank's part) counts each stretch once, not once per block.
_QUOTES_BEFORE: dict = {}


def count_quotes(handle, start: int, stop: int, block: int = 1 << 24) -> int:
    """Quotes in bytes ``start .. stop`` of ``handle`` (``start`` the first record's offset),
    continued from the nearest position counted before in the same file."""
    try:
        status = os.fstat(handle.fileno())
        key = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, start)
    except (AttributeError, OSError, io.UnsupportedOperation):
        key = None
    known = _QUOTES_BEFORE.setdefault(key, {}) if key is not None else {}
    if len(_QUOTES_BEFORE) > 64:                     # (a long-lived process reading many files)
        _QUOTES_BEFORE.clear()
        known = _QUOTES_BEFORE.setdefault(key, {}) if key is not None else {}
    below = max((p for p in known if p <= stop), default=None)
    count = 0 if below is None else known[below]
    count += count_bytes(handle, b'"', start if below is None else below, stop, block)
    known[stop] = count
    return count


def count_bytes(handle, byte: bytes, start: int, stop: int, block: int = 1 << 24) -> int:
    """How often ``byte`` occurs in bytes ``start:stop`` of ``handle`` (read in blocks)."""
    handle.seek(start)
    count = 0
    while start < stop:
        chunk = handle.read(min(block, stop - start))
        if not chunk:
            break
        count += chunk.count(byte)
        start += len(chunk)
    return count
