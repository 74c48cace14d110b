"""The stage phase: the source read, mapped and normalized into the job database, then
planned (SPEC §1). Skipped when the job's rows are already staged: a killed run resumes."""

from __future__ import annotations

import hashlib

from importer import planning
from importer.errors import SourceError
from importer.journal import Journal
from importer.mapping import Mapping, bind
from importer.normalizing import normalize_all, workers_for
from importer.progress import Progress
from importer.reading import ReadOptions, open_source
from importer.settings import Credentials, RunSettings
from importer.state import completed_at


def job_identity(settings: RunSettings, mapping: Mapping, creds: Credentials) -> str:
    """Source content, mapping, target and account (not the key, so a rotated key resumes)."""
    digest = hashlib.sha256()
    try:
        with settings.source.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise SourceError(
            f"Source file {settings.source} cannot be read: {exc.strerror}."
        ) from None
    parts = [
        mapping.text,
        mapping.target,
        creds.account,
        repr((settings.sheet, settings.header_row, settings.delimiter, settings.encoding)),
        repr((settings.notifuse_mode, settings.list_id)),
    ]
    if settings.predict:  # a prediction's journal is its own: it never marks a run done
        parts.append("predict")
    for part in parts:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()


def stage(
    journal: Journal, settings: RunSettings, mapping: Mapping, read: ReadOptions, progress: Progress
) -> None:
    """Read, map and normalize every row into the journal, then plan; skipped when done."""
    if journal.get("staged") == "1":
        return
    journal.reset()
    with open_source(settings.source, read) as source:
        bound = bind(mapping, source.headers, settings.source.name)
        clear = mapping.options.empty == "clear"
        workers = workers_for(settings.source.stat().st_size)
        progress.start("staging", None)
        for stored in normalize_all(source.rows(), bound, clear, workers, journal.stager()):
            progress.advance(stored)
        progress.close()
    planning.plan(journal, mapping.target)
    journal.set("source", str(settings.source.resolve()))
    journal.set("target", mapping.target)
    journal.set("staged_at", completed_at())
    journal.set("staged", "1")
