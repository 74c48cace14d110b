"""`importer inspect`: a profile of a file, with no credentials and no network (SPEC §8);
with a mapping, what a dry run of it would report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from importer.inspect.outcome import Outcome, Reason, dry_outcome
from importer.inspect.profile import ColumnStats, Profile, profile
from importer.inspect.render import as_json, render_table, write_json
from importer.mapping import Mapping, bind, load_mapping
from importer.normalizing import Normalizer
from importer.reading import ReadOptions, open_source
from importer.settings import Target

__all__ = [
    "ColumnStats",
    "InspectSettings",
    "Inspection",
    "Outcome",
    "Reason",
    "as_json",
    "inspect",
    "render_table",
    "write_json",
]


@dataclass(frozen=True)
class InspectSettings:
    source: Path
    read: ReadOptions = field(default_factory=ReadOptions)
    mapping: Path | None = None
    target: Target | None = None


@dataclass(frozen=True)
class Inspection:
    source: Path
    description: str  # how the file was read (encoding, delimiter, sheet)
    profile: Profile
    mapping: Path | None
    outcome: Outcome | None


def inspect(settings: InspectSettings) -> Inspection:
    """Profile the file; with a mapping, also stage it as a dry run would. A bad mapping or an
    unreadable file raises (exit 2) before any row is read."""
    mapping: Mapping | None = None
    if settings.mapping is not None:
        mapping = load_mapping(settings.mapping, settings.target)
    with open_source(settings.source, settings.read) as source:
        if mapping is not None:
            Normalizer(bind(mapping, source.headers, settings.source.name), clear_empty=False)
        found = profile(source.headers, source.rows())
        description = source.description
    outcome = None
    if mapping is not None:
        outcome = dry_outcome(settings.source, mapping, settings.read)
    return Inspection(settings.source, description, found, settings.mapping, outcome)
