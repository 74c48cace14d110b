"""Output paths, checked before anything is read or sent (SPEC §6): a report that cannot be
written is found out at the start, not after an hour of sending."""

from __future__ import annotations

from pathlib import Path

from importer.errors import UsageError
from importer.reporting.tables import check_format


def check_outputs(
    inputs: dict[str, Path], tables: dict[str, Path | None], files: dict[str, Path | None]
) -> None:
    """Every output can be written, and none is an input or another output (`--report
    src.csv` once overwrote the source, `--rejects` equal to `--report` the report,
    `--summary-json m.toml` the mapping). `tables` are report-like outputs (.csv, .xlsx,
    .jsonl), `files` any other; their keys name the option, the inputs' keys the input."""
    taken = dict(inputs)
    for option, path in [*tables.items(), *files.items()]:
        if path is None:
            continue
        for other, used in taken.items():
            if _same_file(path, used):
                raise UsageError(
                    f"{option} {path} is the same file as {other}: it would be overwritten.",
                    f"Give {option} another path.",
                )
        if path.is_dir():
            raise UsageError(
                f"{option} {path} is a folder.", f"Give {option} the path of a file in it."
            )
        if option in tables:
            check_format(path)
        check_writable(path)
        taken[option] = path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_writable(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(path.name + ".tmp")
        probe.touch()
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = "a part of that path is a file, not a folder"
        raise UsageError(
            f"Cannot write {path}: {reason}.",
            "Choose another path, or make its folder writable.",
        ) from None
