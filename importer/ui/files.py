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
from importer.reading import Cell, ReadOptions, open_source
from importer.settings import Target
from importer.suggest import suggest_for_sample


class TooLarge(UsageError):
    """An upload over the cap: HTTP 413, with what to do instead."""

    status = 413

    def __init__(self, name: str, cap: int) -> None:
        super().__init__(
            f"{name} is larger than the upload limit ({cap // (1 << 20)} MB).",
            "Give its path on this computer instead (nothing is copied), or start importer ui "
            "with a larger --max-upload-mb.",
        )


SAMPLE_ROWS = 200  # as `mapping suggest` samples
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
    header_row: int
    sample: list[tuple[Cell, ...]]  # the first SAMPLE_ROWS non-empty rows
    delimiter: str  # a CSV source's own (its reports use it too); "," otherwise
    mappings: dict[str, str] = field(default_factory=dict)  # target → the TOML being edited
    saved: set[Path] = field(default_factory=set)  # mappings this page wrote next to it
    loaded: dict[str, Path] = field(default_factory=dict)  # target → the saved mapping read


def read(path: Path, uploaded: bool, name: str | None = None) -> PickedFile:
    """Headers and a sample of a file (what the table shows and the suggestion reads), read
    once; an unreadable file raises the reader's error."""
    sample: list[tuple[Cell, ...]] = []
    with open_source(path, ReadOptions()) as source:
        for row in source.rows():
            if len(sample) >= SAMPLE_ROWS:
                break
            if not row.empty:
                sample.append(row.cells)
    columns: list[list[str]] = [[] for _ in source.headers]
    for cells in sample:
        for values, cell in zip(columns, cells, strict=False):
            text = cell_text(cell)
            if text and text not in values and len(values) < EXAMPLES:
                values.append(text)
    return PickedFile(
        id=secrets.token_hex(8),
        path=path,
        name=name or path.name,
        uploaded=uploaded,
        description=source.description,
        headers=tuple(source.headers),
        examples=tuple(tuple(v) for v in columns),
        header_row=source.header_row,
        sample=sample,
        delimiter=source.delimiter,
    )


def saved_path(picked: PickedFile, target: Target) -> Path:
    """Where *Save it next to the file* writes the mapping: `leads.minimo.toml`."""
    return picked.path.with_name(f"{picked.path.stem}.{target}.toml")


def suggested(picked: PickedFile, target: Target) -> str:
    """The TOML being edited for `target`: the one saved next to the file when there is one
    (the page's own, or written by hand), else the suggestion, made once."""
    if target not in picked.mappings:
        saved = saved_path(picked, target)
        if not picked.uploaded and saved.is_file():
            picked.mappings[target] = saved.read_text(encoding="utf-8-sig")
            picked.saved.add(saved)  # the person chose it: saving over it is theirs to do
            picked.loaded[target] = saved
        else:
            picked.mappings[target] = suggest_for_sample(
                picked.headers, target, picked.sample, picked.description, picked.header_row
            )
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
