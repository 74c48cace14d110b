"""CSV, TSV and TXT: the delimiter sniffed, every byte decoded, records streamed."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from importer.cells import quoted
from importer.errors import SourceError
from importer.reading.encoding import detect_encoding
from importer.reading.quoting import Unclosed, read_record
from importer.reading.rows import Cell, ReadOptions, SourceRow, Table

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 64 * 1024
# Python's csv module refuses fields over 128 KiB by default; a spreadsheet cell holds at most
# 32,767 characters, so anything much larger is a broken file, reported as such.
_FIELD_LIMIT = 1024 * 1024
csv.field_size_limit(_FIELD_LIMIT)
# A CSV record is read line by line; one longer than this (16,384 columns of 256 characters)
# is a file without line breaks or with a quote never closed, and is refused before it fills
# memory.
_RECORD_LIMIT = 4 * 1024 * 1024
# errors="surrogateescape" turns each undecodable byte into one of these, so a bad byte is
# found in the line that holds it instead of in whichever 8 KiB chunk the decoder was on.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def sniff_delimiter(sample: str) -> str:
    """The candidate that splits the first lines into the most consistent number of cells."""
    lines = sample.splitlines()[:-1] or sample.splitlines()
    text = "\n".join(lines[:50])
    best, best_score = ",", (0, 0)
    for d in DELIMITERS:
        counts = [len(r) for r in csv.reader(io.StringIO(text), delimiter=d) if any(r)]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        score = (counts.count(mode), mode)
        if score > best_score:
            best, best_score = d, score
    return best


class CsvSource(Table):
    _no_header_hint = "Export the spreadsheet again."

    def __init__(self, path: Path, options: ReadOptions, head: bytes) -> None:
        self.path = path
        self._where = path.name
        self.encoding = options.encoding or detect_encoding(head, path)
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise SourceError(
                f"Unknown encoding {self.encoding!r}.", "Try utf-8 or cp1252."
            ) from None
        self._records = 0
        self._current: list[str] = []  # the lines of the record being read
        self._fh: IO[str] = path.open(encoding=self.encoding, newline="", errors="surrogateescape")
        try:
            try:
                sample = self._fh.read(SAMPLE_BYTES)
            except UnicodeDecodeError:
                raise self._undecodable(1, None) from None
            self._fh.seek(0)
            self.delimiter = options.delimiter or sniff_delimiter(sample)
            self.description = f"{path.name} (CSV, {self.encoding}, delimiter {self.delimiter!r})"
            # strict: the C reader refuses what is not plain CSV, and the few records it
            # refuses are read again by quoting.read_record, as Excel reads them
            self._lines_read = self._lines()
            reader = csv.reader(self._lines_read, delimiter=self.delimiter, strict=True)
            self._open(self._counted(reader), options)
        except BaseException:
            self._fh.close()
            raise

    def _lines(self) -> Iterator[str]:
        """The file's lines, checked: every byte decoded, no record past `_RECORD_LIMIT`;
        the current record's lines are kept (`_current`) in case it must be read again."""
        readline = self._fh.readline
        record, size = -1, 0
        current = self._current
        while line := readline(_RECORD_LIMIT):
            if self._records != record:  # the csv reader has finished a record since
                record, size = self._records, 0
            size += len(line)
            if size >= _RECORD_LIMIT:
                raise self._too_large(
                    self._records + 1, f"is longer than {_RECORD_LIMIT:,} characters"
                )
            if not line.isascii():
                bad = _ESCAPED_BYTE.search(line)
                if bad:
                    raise self._undecodable(self._records + 1, ord(bad.group()) - 0xDC00)
            current.append(line)
            yield line

    def _counted(self, reader: Iterator[list[str]]) -> Iterator[list[str]]:
        current = self._current
        while True:
            current.clear()  # the C reader takes no line of the next record before it
            try:
                record = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:  # a codec that cannot escape the bytes (UTF-16)
                raise self._undecodable(self._records + 1, None) from None
            except csv.Error as exc:
                record = self._read_again(exc)
            self._records += 1
            yield record

    def _read_again(self, exc: csv.Error) -> list[str]:
        """A record the strict reader refused: read as Excel reads it (quoting.py), or a
        file fault naming its row."""
        row = self._records + 1
        text = str(exc)
        if text.startswith("field larger than field limit"):
            raise self._too_large(row, f"has a cell of more than {_FIELD_LIMIT:,} characters")
        if text.endswith("expected after '\"'") or text == "unexpected end of data":
            try:
                return read_record(self._current, self._lines_read, self.delimiter)
            except Unclosed as unclosed:
                raise SourceError(
                    f"{self.path.name}: the quote that opens cell {unclosed.column + 1} of row "
                    f"{row} is never closed: it would take in the rest of the file.",
                    "Close it (or remove it) in that row, or save the file again from the "
                    "spreadsheet program.",
                ) from None
        raise SourceError(
            f"{self.path.name}: row {row} cannot be parsed ({exc}).",
            "Check the quoting around that row, or that the file really is a CSV.",
        ) from None

    def _undecodable(self, row: int, byte: int | None) -> SourceError:
        where = f"at or after row {row}" if byte is None else f"in row {row} (0x{byte:02X})"
        return SourceError(
            f"{self.path.name}: bytes that are not valid {self.encoding} {where}.",
            "Pass --encoding with the file's real encoding (e.g. cp1252, latin-1, utf-16), "
            "or re-export it as UTF-8.",
        )

    def _too_large(self, row: int, what: str) -> SourceError:
        return SourceError(
            f"{self.path.name}: row {row} {what}, far more than a spreadsheet holds.",
            "Check for a quote that is opened and never closed, or that the file really is a CSV.",
        )

    def _row(self, number: int, values: Sequence[Any], width: int) -> SourceRow:
        """Cells past the header's width are kept (the rejects file writes them back: they
        are often exactly what the user must fix); the row is then an error, as is one with
        text after a closing quote."""
        problem = None
        stray = getattr(values, "stray", None)
        if stray is not None:
            column, written = stray
            name = self.headers[column] if column < width else f"{column + 1}"
            problem = (
                f"text after the closing quote in column {name} ({quoted(written)}): quote "
                'the whole cell, or double the quotes inside it ("")'
            )
        if len(values) > width:
            extra = [c for c in values[width:] if c.strip()]
            if extra and problem is None:
                problem = (
                    f"row has {len(values)} cells but the header has {width} "
                    f"(extra: {extra[0][:40]!r}); check for an unquoted delimiter"
                )
            else:
                values = values[:width]
        cells: tuple[Cell, ...] = tuple(c if c.strip() else None for c in values)
        if len(cells) < width:
            cells += (None,) * (width - len(cells))
        return SourceRow(number, cells, problem)

    def close(self) -> None:
        self._fh.close()
