"""A mapping bound to a file's headers: every column name resolved to a cell index; a
missing or ambiguous column is an error that names the file's headers and the closest one."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from importer.errors import MappingError
from importer.mapping.model import SPACES, BoundField, BoundList, BoundMapping, Mapping, header_key


def bind(mapping: Mapping, headers: Sequence[str], where: str) -> BoundMapping:
    """Resolve every column name to a cell index; a missing or ambiguous column is an error."""
    keys: dict[str, list[int]] = {}
    for i, h in enumerate(headers):
        keys.setdefault(header_key(h), []).append(i)

    def find(columns: tuple[str, ...], name: str, optional: bool) -> tuple[int | None, str]:
        for col in columns:
            hits = keys.get(header_key(col))
            if hits and len(hits) > 1:
                raise MappingError(
                    f"{where}: column {col!r} (for {name}) appears {len(hits)} times in the "
                    f"header (columns {', '.join(_letter(i) for i in hits)}).",
                    "Rename one of them in the file, or map a different column.",
                )
            if hits:
                return hits[0], SPACES.sub(" ", headers[hits[0]]).strip()
        if optional:
            return None, columns[0]
        shown = [h for h in headers if h.strip()]
        close = difflib.get_close_matches(
            header_key(columns[0]), [header_key(h) for h in shown], n=1, cutoff=0.5
        )
        maybe = ""
        if close:
            maybe = f" Closest match: {next(h for h in shown if header_key(h) == close[0])!r}."
        wanted = " or ".join(repr(c) for c in columns)
        raise MappingError(
            f"{where}: no column {wanted} for {name}.{maybe} "
            f"The file's headers are: {', '.join(repr(h) for h in shown)}.",
            "Fix the column name in the mapping, or mark the field optional = true.",
        )

    bound: list[BoundField] = []
    for spec in mapping.fields:
        name = f"field {spec.name}"
        if not spec.columns:
            bound.append(BoundField(spec, None, ""))
            continue
        sources: tuple[tuple[int, str], ...] = ()
        if spec.first_of:  # every column is read, in the mapping's order
            found = [find((col,), name, spec.optional) for col in spec.columns]
            sources = tuple((i, shown) for i, shown in found if i is not None)
            index, column = sources[0] if sources else (None, spec.columns[0])
        else:
            index, column = find(spec.columns, name, spec.optional)
        region_index, region_column = None, ""
        if spec.region_columns:
            region_index, region_column = find(spec.region_columns, name, False)
        bound.append(BoundField(spec, index, column, region_index, region_column, sources))
    lists = []
    for rule in mapping.lists:
        index, column = find(rule.columns, f"lists (list {rule.list_id!r})", False)
        assert index is not None, "a list's column is never optional"
        lists.append(BoundList(rule, index, column))
    return BoundMapping(mapping, tuple(headers), tuple(bound), tuple(lists))


def _letter(index: int) -> str:
    """Excel's column letter, as people see it."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out
