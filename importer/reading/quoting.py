"""CSV quoting as Excel and PapaParse read it (SPEC §4), for the records Python's strict
`csv` reader refuses.

- Whitespace between a closing quote and the next delimiter, the line end or the end of the
  file is ignored (`"abc" ,x` is `abc`, `x`): a vendor's sample ended `…}}" ` and was once
  refused whole.
- Text right after a closing quote (`"abc"def`) is kept with the quoted part (`abcdef`, as
  Excel shows it) and makes that row an error naming the column; the next row reads normally.
- Only a quote that never closes is a file fault: it would take in the rest of the file.

The C reader does the work on every well-formed record; this parser only re-reads, from its
lines, a record the C reader refused (a few in a file, if any).
"""

from __future__ import annotations

from collections.abc import Iterator


class Unclosed(Exception):
    """A quote that is still open at the end of the file."""

    def __init__(self, column: int) -> None:
        super().__init__(column)
        self.column = column  # 0-based index of the field it opened


class Record(list[str]):
    """A record's cells, and the first cell with text after its closing quote, if any."""

    stray: tuple[int, str] | None = None  # (0-based column, the cell as written)


_LINE_ENDS = "\r\n"


def read_record(lines: list[str], more: Iterator[str], delimiter: str) -> Record:
    """The record that begins with `lines[0]`: `lines` are the lines already read of it,
    `more` the file's next lines, taken while a quote is open. Raises Unclosed."""
    text = "".join(lines)
    blanks = " " if delimiter == "\t" else " \t"
    record = Record()
    i, n = 0, len(text)
    while True:
        column = len(record)
        if i < n and text[i] == '"':
            start, value = i, []
            i += 1
            while True:
                if i >= n:  # the quote is open at the end of what was read: read on
                    line = next(more, None)
                    if line is None:
                        raise Unclosed(column)
                    text += line
                    n = len(text)
                    continue
                ch = text[i]
                if ch == '"':  # lines end with their line end: only the file's last may not
                    if i + 1 < n and text[i + 1] == '"':
                        value.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                value.append(ch)
                i += 1
            j = i
            while j < n and text[j] in blanks:
                j += 1
            if j < n and text[j] != delimiter and text[j] not in _LINE_ENDS:
                end = _field_end(text, j, delimiter)
                value.append(text[i:end])  # kept, as Excel shows it; the row is an error
                if record.stray is None:
                    record.stray = (column, text[start:end])
                j = end
            record.append("".join(value))
            i = j
        else:
            end = _field_end(text, i, delimiter)
            record.append(text[i:end])
            i = end
        if i < n and text[i] == delimiter:
            i += 1
            continue
        return record  # a line end, or the end of the file


def _field_end(text: str, start: int, delimiter: str) -> int:
    """Where an unquoted stretch ends: at the delimiter or the line end."""
    end = start
    n = len(text)
    while end < n and text[end] != delimiter and text[end] not in _LINE_ENDS:
        end += 1
    return end
