"""What encoding a table did: rows dropped for a missing target, cells filled, unseen
categories, text cells read as missing in numeric columns; one report per call of
:meth:`TabularPreprocessor.transform`, merged over MPI ranks, said in sentences."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TransformReport:
    """What a transformation did: rows dropped for a missing target, cells filled, unseen categories."""

    rows_dropped: int = 0
    imputed: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)
    #: The columns of ``unseen`` that are embedded: their unseen categories take the mean vector.
    embedded: set[str] = field(default_factory=set)
    #: Cells of a numeric column that hold text, read as missing: column -> [count, first data row, cell].
    stray: dict[str, list] = field(default_factory=dict)
    #: The columns of ``stray`` that hold dates: their stray cells are no date (a number, a typo).
    dated: set[str] = field(default_factory=set)
    #: Positions (in the table given) of the rows encoded.
    rows: np.ndarray | None = None

    @classmethod
    def combined(cls, reports: list["TransformReport"]) -> "TransformReport":
        """One report for the union of the rows the ``reports`` describe (e.g. of all MPI ranks)."""
        total = cls(rows_dropped=sum(r.rows_dropped for r in reports))
        for r in reports:
            total.embedded |= r.embedded
            total.dated |= r.dated
            for mine, theirs in ((total.imputed, r.imputed), (total.unseen, r.unseen)):
                for column, count in theirs.items():
                    mine[column] = mine.get(column, 0) + count
            for column, (count, row, cell) in r.stray.items():
                total.add_stray(column, count, row, cell)
        return total

    def add_stray(self, column: str, count: int, row: int, cell: str, dates: bool = False) -> None:
        """Count ``count`` more cells of ``column`` read as missing (the first of them, if these are
        the column's first, at data ``row``, holding ``cell``); ``dates``: the column holds dates."""
        before = self.stray.get(column, [0, row, cell])
        self.stray[column] = [before[0] + count, *before[1:]]
        self.dated |= {column} if dates else set()

    def lines(self) -> list[str]:
        """Human-readable sentences, one per fact (empty when nothing happened)."""
        out = []
        if self.rows_dropped:
            out.append(f"dropped {self.rows_dropped} row(s) with a missing target")
        for column, count in self.imputed.items():
            out.append(f"filled {count} missing value(s) in {column!r}")
        return out + self.surprises()

    def surprises(self) -> list[str]:
        """The sentences of :meth:`lines` about cells read otherwise than written: categories unseen
        in training, text in a numeric column read as missing (a filled gap is no surprise)."""
        out = []
        for column, count in self.unseen.items():
            how = "given the mean of the known categories' vectors" if column in self.embedded else "encoded as zeros"
            out.append(f"{count} value(s) of {column!r} were categories unseen in training ({how})")
        for column, (count, row, cell) in self.stray.items():
            what = ("date column", "no date (ISO 8601, or year first with slashes)") if column in self.dated \
                else ("numeric column", "text")
            out.append(f"{count} cell(s) of the {what[0]} {column!r} hold {what[1]}, read as missing "
                       f"(first: data row {row} holds {cell!r})")
        return out
