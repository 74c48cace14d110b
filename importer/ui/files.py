"""The files the page works on: uploaded (streamed to disk under a size cap) or picked by
path, each read once for its headers, a sample of its values and the suggested mapping,
with the same reader and the same `mapping suggest` a run uses."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import BodyPartReader

from importer.cells import cell_text
from importer.errors import SourceError, UsageError
from importer.reading import ReadOptions, open_source
from importer.settings import Target
from importer.suggest import suggest_for_file


class TooLarge(UsageError):
    """An upload over the cap: HTTP 413, with what to do instead."""

    status = 413

    def __init__(self, name: str, cap: int) -> None:
        super().__init__(
            f"{name} is larger than the upload limit ({cap // (1 << 20)} MB).",
            "Give its path on this computer instead (nothing is copied), or start importer ui "
            "with a larger --max-upload-mb.",
        )


SAMPLE_ROWS = 200
EXAMPLES = 3
CHUNK = 1 << 16


@dataclass
class PickedFile:
    """A file on the page: where it is, how it was read, and what the page shows of it."""

    id: str
    path: Path
    name: str
    uploaded: bool
    description: str
    headers: tuple[str, ...]
    examples: tuple[tuple[str, ...], ...]  # per column, up to EXAMPLES distinct values
    mappings: dict[str, str] = field(default_factory=dict)  # target → the TOML being edited
    saved: set[Path] = field(default_factory=set)  # mappings this page wrote next to it


def read(path: Path, uploaded: bool, name: str | None = None) -> PickedFile:
    """Headers and sample values of a file; an unreadable file raises the reader's error."""
    columns: list[list[str]] = []
    with open_source(path, ReadOptions()) as source:
        columns = [[] for _ in source.headers]
        seen = 0
        for row in source.rows():
            if seen >= SAMPLE_ROWS:
                break
            if row.empty:
                continue
            seen += 1
            for values, cell in zip(columns, row.cells, strict=False):
                text = cell_text(cell)
                if text and text not in values and len(values) < EXAMPLES:
                    values.append(text)
        description, headers = source.description, source.headers
    return PickedFile(
        id=secrets.token_hex(8),
        path=path,
        name=name or path.name,
        uploaded=uploaded,
        description=description,
        headers=tuple(headers),
        examples=tuple(tuple(v) for v in columns),
    )


def suggested(picked: PickedFile, target: Target) -> str:
    """The TOML being edited for `target`: the suggestion, made once."""
    if target not in picked.mappings:
        picked.mappings[target] = suggest_for_file(picked.path, target, ReadOptions())
    return picked.mappings[target]


def local(text: str) -> Path:
    """A path typed on the page: an existing, readable file on this machine."""
    path = Path(text.strip().strip('"')).expanduser()
    if not text.strip():
        raise UsageError("Type the path of a file on this computer, or upload one.")
    if not path.is_file():
        raise SourceError(
            f"{path} is not a file on this computer.",
            "Check the path (it is read on the computer running importer ui), or upload the file.",
        )
    return path.resolve()


async def receive(part: BodyPartReader, folder: Path, cap: int) -> tuple[Path, str]:
    """An uploaded file streamed to `folder` (its own name kept, path parts dropped); more
    than `cap` bytes is refused and nothing of it kept."""
    name = Path((part.filename or "").replace("\x00", "")).name
    if name in ("", ".", ".."):
        name = "upload.csv"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    size = 0
    with target.open("wb") as fh:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > cap:
                fh.close()
                target.unlink()
                raise TooLarge(name, cap)
            fh.write(chunk)
    return target, name
