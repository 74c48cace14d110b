"""What a suggestion decides before it is written: the columns as classified, and the
option and field lines with their notes."""

from __future__ import annotations

from dataclasses import dataclass, field

from importer.reading import Cell
from importer.suggest.vocabulary import Concept

CONSENTS = ("consent", "whatsapp_consent")
OPT_OUT_NOTE = (
    'update = "protect_opt_out": a yes is never sent to a contact who said no since (an old '
    "file must not opt anyone back in); a no is always sent."
)


@dataclass
class Column:
    index: int
    header: str
    cells: list[Cell]  # the sample's non-empty cells
    concept: Concept | None = None
    rank: tuple[int, int] = (9, 0)  # (0: whole-header name / 1: contained phrase, its order)
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What is decided, before it is written: option lines, field lines, notes."""

    options: list[tuple[str, str]] = field(default_factory=list)  # (line, comment)
    fields: list[tuple[int, list[str], str]] = field(default_factory=list)  # (order, notes, line)
    custom: list[Column] = field(default_factory=list)  # columns no target field takes
    lists: list[tuple[list[str], str]] = field(default_factory=list)  # (notes, line)
    notes: list[str] = field(default_factory=list)
