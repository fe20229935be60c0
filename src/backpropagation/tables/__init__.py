"""Tables as they come: files read (CSV, Parquet, Arrow), columns decoded, preprocessing learned and
applied (kinds, scaling, categories, gaps), mergeable column statistics, tables bigger than memory
streamed in blocks, the external shuffle, and :class:`~.table_model.TableModel`, which applies a
command-line model to raw rows.
"""
