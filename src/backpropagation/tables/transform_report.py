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
    #: Positions (in the table given) of the rows encoded.
    rows: np.ndarray | None = None

    @classmethod
    def combined(cls, reports: list["TransformReport"]) -> "TransformReport":
        """One report for the union of the rows the ``reports`` describe (e.g. of all MPI ranks)."""
        total = cls(rows_dropped=sum(r.rows_dropped for r in reports))
        for r in reports:
            total.embedded |= r.embedded
            for mine, theirs in ((total.imputed, r.imputed), (total.unseen, r.unseen)):
                for column, count in theirs.items():
                    mine[column] = mine.get(column, 0) + count
            for column, (count, row, cell) in r.stray.items():
                total.stray[column] = [total.stray.get(column, [0, row, cell])[0] + count,
                                       *total.stray.get(column, [0, row, cell])[1:]]
        return total

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
            out.append(f"{count} cell(s) of the numeric column {column!r} hold text, read as missing "
                       f"(first: data row {row} holds {cell!r})")
        return out
