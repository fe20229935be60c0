"""Training: the one epoch loop, what it trains on and what watches it.

- :mod:`.prepare` checks and encodes ``fit``'s data and splits off validation rows;
- :mod:`.sources` hands the loop each epoch's batches: rows in memory, or a streamed table's pools;
- :mod:`.loop` runs the epochs (callbacks, Ctrl-C, divergence, the engine decision);
- :mod:`.reducers` combine a batch's gradient over processes (one process: nothing; MPI: an all-reduce);
- :mod:`.callbacks` are the hooks users attach (early stopping, schedules, checkpoints, progress).
"""
