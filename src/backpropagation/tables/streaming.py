"""Tables bigger than memory: each epoch reads the file's blocks, in a shuffled order, into pools.

A streamed table (:func:`backpropagation.read_table`, ``backprop train --stream``) is never held
whole:

1. :mod:`.blocks` cuts the file into blocks of rows, each read on its own;
2. :mod:`.file_summary` reads it once before training: kinds from an even sample, then exact
   statistics, categories, classes and counts from every block, and the hashed validation rows;
3. here, every epoch reads the blocks in a shuffled order into pools of about ``pool_rows``
   encoded rows (:func:`pools`): the training loop trains on each pool's rows in a new order
   (:class:`~backpropagation.training.sources.StreamedPools`), so a file sorted by its target is
   mixed as far as a pool reaches. A reader thread reads the next block meanwhile.

The pool's size is held to the memory budget (:func:`pool_rows_for`): its encoded rows are what
streaming holds, and a text column of thousands of categories makes each row wide.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .blocks import Blocks, read_ahead
from .file_summary import validation_mask

#: Fewest rows a pool holds (a pool smaller than this mixes too little to be worth streaming).
MIN_POOL_ROWS = 1000


def machine_memory() -> int:
    """Bytes of physical memory (0 where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def pool_rows_for(pre, dtype, requested: int, memory: int | None, rows_per_block: float) -> tuple[int, str | None]:
    """The pool's rows within the memory budget (``memory`` bytes, default half the machine's):
    ``requested``, or fewer (and why); ValueError when not even a block's rows fit, naming the
    widest text columns (each category is one input)."""
    budget = memory or machine_memory() // 2
    width = len(pre.feature_names)
    # A pool is held twice while it is assembled (its blocks' rows, then the pool), and the
    # validation rows, a block read ahead and the network's work take room beside it.
    row_bytes = 3 * (width + 2) * np.dtype(dtype).itemsize
    fits = int(budget // row_bytes) if budget else requested
    least = max(1, min(MIN_POOL_ROWS, math.ceil(rows_per_block)))
    if fits >= requested:
        return requested, None
    if fits < least:
        texts = sorted((c for c in pre.columns if c["kind"] == "text" and "embed" not in c),
                       key=lambda c: -len(c["categories"]))
        widest = ", ".join(f"{c['name']!r} ({len(c['categories'])} categories)" for c in texts[:3])
        advice = (f"; each category of a text column is one input, the most from {widest}: learn them as an "
                  "embedding (--embed COLUMN), keep the most frequent (--max-categories K) or leave the column "
                  "out (--drop COLUMN)") if texts else ""
        raise MemoryError(f"a streamed pool of {least} encoded rows of {width} inputs needs about "
                          f"{least * row_bytes / 2**20:.0f} MiB, more than the memory budget of "
                          f"{budget / 2**20:.0f} MiB (--memory){advice}")
    return fits, (f"pools hold {fits} rows, not {requested}: {requested} rows of {width} encoded inputs would need "
                  f"about {requested * row_bytes / 2**30:.1f} GiB, over the memory budget of {budget / 2**30:.1f} GiB")


def pools(blocks: Blocks, pre, rng: np.random.Generator, pool_rows: int, seed: int, fraction: float, dtype,
          rows_per_block: float, rank: int = 0, size: int = 1, shuffle: bool = True):
    """One epoch: ``(X, y)`` of each pool of training rows (features encoded, targets as written),
    in the order the blocks were read.

    The blocks come in a shuffled order (``rng``, the same on every process); a pool holds
    whole blocks, as many as make about ``pool_rows`` rows. Over MPI (process ``rank`` of
    ``size``) the blocks are dealt in turn, ``count // size`` whole blocks to each process, and
    the rows of the ``count % size`` blocks left over are split among the processes, so that every
    row trains once an epoch and every process yields the same number of pools (some may be
    empty), each about a ``size``-th of ``pool_rows``.
    """
    order = blocks.order(rng) if shuffle else np.arange(blocks.count)
    whole = blocks.count // size
    mine, shared = order[rank:whole * size:size], order[whole * size:]
    per_pool = max(1, math.ceil(pool_rows / size / max(1.0, rows_per_block)))
    groups = [[(int(k), False) for k in mine[i:i + per_pool]] for i in range(0, len(mine), per_pool)] or [[]]
    groups[-1] += [(int(k), True) for k in shared]
    place = [(g, split) for g, group in enumerate(groups) for _, split in group]
    reads = read_ahead(blocks, [k for group in groups for k, _ in group])
    parts, current = [], 0
    for (group, split), (k, table) in zip(place, reads):
        if group != current:
            yield _joined(parts, pre, dtype)
            parts, current = [], group
        labelled = ~table.column(pre.target).missing
        rows = np.flatnonzero(labelled & ~validation_mask(seed, int(blocks.first_rows[k]), len(table), fraction))
        rows = rows[rank::size] if split else rows
        if len(rows):
            parts.append(pre.transform(table, with_target=True, dtype=dtype, rows=rows)[:2])
    for _ in range(current, len(groups)):         # (the last pool, and pools of groups left empty)
        yield _joined(parts, pre, dtype)
        parts = []


def _joined(parts: list, pre, dtype):
    """The parts' rows together (an empty pool: no rows of the encoded width)."""
    if not parts:
        return np.empty((0, len(pre.feature_names)), dtype=dtype), np.empty(0)
    X = np.concatenate([X for X, _ in parts])
    return X, np.concatenate([y for _, y in parts])
