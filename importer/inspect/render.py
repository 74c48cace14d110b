"""An inspection as a person reads it (a table on stdout) and as a program reads it (the
JSON of SPEC §8)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from importer.cells import QUOTE_LIMIT
from importer.wording import counted

if TYPE_CHECKING:
    from importer.inspect import Inspection

EXAMPLE_WIDTH = 24  # characters of an example the table shows
REASONS_SHOWN = 10


def as_json(found: Inspection) -> dict[str, Any]:
    columns = [
        {
            "name": c.name,
            "filled": c.filled,
            "distinct": c.distinct,
            "kind": c.kind,
            "examples": [e[:QUOTE_LIMIT] for e in c.examples],
        }
        for c in found.profile.columns
    ]
    answer: dict[str, Any] = {
        "source": str(found.source),
        "read_as": found.description,
        "rows": found.profile.rows,
        "columns": columns,
        "mapping": None,
    }
    outcome = found.outcome
    if outcome is not None:
        answer["mapping"] = {
            "path": str(found.mapping),
            "target": outcome.target,
            **outcome.counts,
            "errors_by_reason": [
                {"reason": r.reason, "count": r.count, "rows": list(r.rows)}
                for r in outcome.reasons
            ],
            "phones_dropped": outcome.phones_dropped,
            "shared_phones": outcome.shared_phones,
        }
    return answer


def write_json(found: Inspection, path: Path) -> None:
    """Replaced at once (a temp file, then a rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(as_json(found), option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def render_table(found: Inspection) -> str:
    rows = found.profile.rows
    columns = found.profile.columns
    lines = [f"{found.description}: {counted(rows, 'row')}, {counted(len(columns), 'column')}", ""]
    table = [("column", "filled", "distinct", "kind", "examples")]
    for c in columns:
        examples = ", ".join(_short(e) for e in c.examples)
        table.append(
            (c.name or "(no header)", f"{c.filled:,}", f"{c.distinct:,}", c.kind, examples)
        )
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for line in table:
        name = line[0].ljust(widths[0])
        numbers = f"{line[1].rjust(widths[1])}  {line[2].rjust(widths[2])}"
        lines.append(f"  {name}  {numbers}  {line[3].ljust(widths[3])}  {line[4]}".rstrip())
    outcome = found.outcome
    if outcome is not None:
        counts = outcome.counts
        lines += [
            "",
            f"With {found.mapping} ({outcome.target}), a dry run would report: "
            f"{counts['valid']:,} valid, {counts['error']:,} error, "
            f"{counts['duplicate']:,} duplicate, {counts['skipped']:,} skipped.",
        ]
        if outcome.reasons:
            lines.append("  errors by reason:")
            for r in outcome.reasons[:REASONS_SHOWN]:
                first = ", ".join(map(str, r.rows)) + (", …" if r.count > len(r.rows) else "")
                lines.append(
                    f"    {r.count:>6,}  {r.reason}  (row{'s' if r.count > 1 else ''} {first})"
                )
            if len(outcome.reasons) > REASONS_SHOWN:
                lines.append(f"    … and {len(outcome.reasons) - REASONS_SHOWN} more (--json)")
        if outcome.phones_dropped:
            lines.append(
                f"  invalid phones (the rows are sent without them): {outcome.phones_dropped:,}"
            )
        if outcome.shared_phones:
            lines.append(
                f"  phones shared by contacts with other emails (sent only with the first): "
                f"{outcome.shared_phones:,}"
            )
    return "\n".join(lines) + "\n"


def _short(text: str) -> str:
    return text if len(text) <= EXAMPLE_WIDTH else text[: EXAMPLE_WIDTH - 1] + "…"
