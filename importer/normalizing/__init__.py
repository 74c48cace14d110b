"""Normalizing: a source row + the bound mapping → a `Staged` row ready for the job database.

`normalizer` plans each field once and turns rows into `Staged` rows; `emails`, `phones` and
`values` normalize one cell each; `workers` stages big files on every core.
"""

from importer.cells import cell_text, clean_text, quoted
from importer.normalizing.emails import normalize_email
from importer.normalizing.normalizer import (
    Normalizer,
    Staged,
    StagedRecord,
    encode,
    encode_lists,
    record,
)
from importer.normalizing.phones import normalize_phone
from importer.normalizing.values import CellError, parse_number
from importer.normalizing.workers import CHUNK, cores, normalize_all, workers_for

__all__ = [
    "CHUNK",
    "CellError",
    "Normalizer",
    "Staged",
    "StagedRecord",
    "cell_text",
    "clean_text",
    "cores",
    "encode",
    "encode_lists",
    "normalize_all",
    "normalize_email",
    "normalize_phone",
    "parse_number",
    "quoted",
    "record",
    "workers_for",
]
