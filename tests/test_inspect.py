"""`importer inspect` (SPEC §8): a file's profile with no credentials and no network, and
with a mapping the very counts a dry run reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from importer.inspect import InspectSettings, as_json, inspect
from importer.inspect.outcome import reason_of
from importer.mapping import header_key
from importer.pipeline import Context, run
from importer.reading import ReadOptions, open_source
from importer.settings import RunSettings
from tests.conftest import MAPPINGS, SAMPLES, Cli
from tests.test_corpus import CASES, CORPUS, DECLARED


def _columns(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(c["name"], c["filled"], c["distinct"], c["kind"], c["examples"]) for c in found]


def test_the_sample_profiled_with_its_mapping(cli: Cli, tmp_path: Path) -> None:
    done = cli(
        "inspect", SAMPLES / "leads.csv", "--mapping", MAPPINGS / "minimo-leads.toml",
        "--json", tmp_path / "profile.json",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    found = json.loads((tmp_path / "profile.json").read_text())
    assert found["rows"] == 12
    assert _columns(found["columns"]) == [
        ("Nome", 11, 10, "text", ["Mario", "Giulia", "Luca"]),
        ("Cognome", 11, 10, "text", ["Rossi", "Bianchi", "Verdi"]),
        ("E-mail", 11, 11, "email",
         ["mario.rossi@gmail.com", "Giulia.Bianchi@Libero.it", "luca.verdi@outlook.it"]),
        ("Cellulare", 10, 9, "phone", ["+39 339 123 4567", "339-7654321", "0039 347 1234567"]),
        ("Paese", 11, 2, "text", ["Italia", "Svizzera"]),
        ("Azienda", 7, 7, "text",
         ["Rossi Arredamenti", "Verdi & Figli; Ferramenta", "Studio Ferrari"]),
        ("Spesa totale", 9, 9, "number", ["1.250,50", "89,90", "0"]),
        ("Newsletter", 9, 3, "bool", ["Sì", "No", "sì"]),
        ("Iscritto il", 11, 10, "date", ["12/03/2026", "14/03/2026", "15/03/2026"]),
    ]  # fmt: skip
    assert found["mapping"] == {
        "path": str(MAPPINGS / "minimo-leads.toml"),
        "target": "minimo",
        "valid": 9,
        "error": 1,
        "duplicate": 1,
        "skipped": 1,
        "errors_by_reason": [
            {"reason": "invalid email '…' in column E-mail", "count": 1, "rows": [5]}
        ],
        "phones_dropped": 2,
        "shared_phones": 1,
    }
    assert done.stdout.splitlines()[0] == (
        "leads.csv (CSV, utf-8-sig, delimiter ';'): 12 rows, 9 columns"
    )
    assert "  E-mail            11        11  email   mario.rossi@gmail.com, " in done.stdout
    assert (
        "With " + str(MAPPINGS / "minimo-leads.toml") + " (minimo), a dry run would report: "
        "9 valid, 1 error, 1 duplicate, 1 skipped." in done.stdout
    )
    assert "         1  invalid email '…' in column E-mail  (row 5)" in done.stdout


def test_without_a_mapping_nothing_but_the_profile(cli: Cli) -> None:
    """No credentials in the environment (Cli removes them), no mapping: exit 0."""
    done = cli("inspect", SAMPLES / "leads.xlsx")
    assert done.code == 0, done.stderr
    assert "a dry run would report" not in done.stdout
    assert "  Cellulare         10         9  phone" in done.stdout


def test_kinds_of_cells(tmp_path: Path) -> None:
    source = tmp_path / "kinds.csv"
    rows = [
        ["a@x.it", "+41 79 123 45 67", "12,5", "2026-03-01", "yes", "hello"],
        ["b@y.com", "0039 347 1234567", "7", "01/02/2026", "No", "world"],
        ["c@z.org", "3331234567", "1.000,00", "2026-03-01T10:00:00", "x", "12 Main St"],
        ["d@w.net", "(02) 1234-5678", "-3", "5.6.2026", "nein", "again"],
        ["e@v.io", "02 12345678", "0", "31/12/2025 23:59", "oui", "more"],
    ]
    with source.open("w", newline="") as fh:
        csv.writer(fh).writerows([["E", "P", "N", "D", "B", "T"], *rows])
    found = inspect(InspectSettings(source))
    kinds = [c.kind for c in found.profile.columns]
    assert kinds == ["email", "phone", "number", "date", "bool", "text"]
    assert found.profile.columns[3].kinds["date"] == 5


def test_a_column_of_mixed_kinds_is_text_and_counts_are_of_distinct_cells(tmp_path: Path) -> None:
    source = tmp_path / "mixed.csv"
    source.write_text("Mixed,Same\na@x.it,1\nhello,1\n42,1\n,\n2026-01-01,1\n")
    found = inspect(InspectSettings(source)).profile
    assert found.rows == 5
    mixed, same = found.columns
    assert (mixed.filled, mixed.distinct, mixed.kind) == (4, 4, "text")
    assert (same.filled, same.distinct, same.kind, same.examples) == (4, 1, "number", ["1"])


def test_errors_are_grouped_by_reason_without_the_cells() -> None:
    assert reason_of("invalid email 'a@@b' in column Email; invalid phone '12' in column P") == [
        "invalid email '…' in column Email",
        "invalid phone '…' in column P",
    ]
    assert reason_of('row 4: invalid email "it\'s" in column Email') == [
        "invalid email '…' in column Email"
    ]
    long = "x" * 150
    assert reason_of(f"invalid email {long[:100]!r}… (150 characters) in column E") == [
        "invalid email '…' in column E"
    ]


def test_a_bad_mapping_or_file_exits_2(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('target = "minimo"\n[fields]\nemail = "Mail"\n')
    done = cli("inspect", SAMPLES / "leads.csv", "--mapping", bad)
    assert done.code == 2
    assert "Mail" in done.stderr and "E-mail" in done.stderr
    assert cli("inspect", tmp_path / "missing.csv").code == 2


def _dry_run_counts(source: Path, mapping: Path, tmp: Path, read: ReadOptions) -> dict[str, int]:
    settings = RunSettings(
        source=source,
        mapping=mapping,
        dry_run=True,
        report=tmp / "report.csv",
        sheet=read.sheet,
        encoding=read.encoding,
    )
    result = run(settings, Context(env={}))
    counts: dict[str, int] = result.summary["counts"]
    return {s: counts.get(s, 0) for s in ("valid", "error", "duplicate", "skipped")}


def _inspected(source: Path, mapping: Path, read: ReadOptions) -> tuple[int, dict[str, int]]:
    found = as_json(inspect(InspectSettings(source, read, mapping)))
    counts = {s: found["mapping"][s] for s in ("valid", "error", "duplicate", "skipped")}
    return found["rows"], counts


SAMPLE_CASES = [
    (sample, mapping)
    for sample in ("leads.csv", "leads.xlsx")
    for mapping in ("minimo-leads.toml", "notifuse-leads.toml")  # the others are for other files
]


@pytest.mark.parametrize(("sample", "mapping"), SAMPLE_CASES)
def test_inspect_counts_equal_the_dry_runs_on_the_samples(
    tmp_path: Path, sample: str, mapping: str
) -> None:
    read = ReadOptions()
    rows, counts = _inspected(SAMPLES / sample, MAPPINGS / mapping, read)
    assert counts == _dry_run_counts(SAMPLES / sample, MAPPINGS / mapping, tmp_path, read)
    assert rows == sum(counts.values())


def _corpus_mapping(source: Path, read: ReadOptions, tmp: Path) -> Path | None:
    """A mapping for any file: email from a header naming mail (else the first header),
    phone from the next one: most rows of most files are then errors or dropped phones."""
    with open_source(source, read) as opened:
        headers = [h for h in opened.headers if h.strip()]
    keys = [header_key(h) for h in headers]
    usable = [h for h, k in zip(headers, keys, strict=True) if keys.count(k) == 1]
    if len(usable) < 2:
        return None
    email = next((h for h in usable if "mail" in h.lower()), usable[0])
    phone = next(h for h in usable if h != email)
    mapping = tmp / "corpus.toml"
    mapping.write_text(
        f'target = "minimo"\n[fields]\nemail = {json.dumps(email)}\nphone = {json.dumps(phone)}\n'
    )
    return mapping


READABLE = [case for case in CASES if not case.get("refused")]


@pytest.mark.parametrize("case", READABLE, ids=[case["file"] for case in READABLE])
def test_inspect_counts_equal_the_dry_runs_on_the_corpus(
    tmp_path: Path, case: dict[str, Any]
) -> None:
    source = CORPUS / case["file"]
    encoding = case.get("encoding")
    read = ReadOptions(sheet=case.get("sheet"), encoding=encoding if encoding in DECLARED else None)
    mapping = _corpus_mapping(source, read, tmp_path)
    if mapping is None:
        pytest.skip("fewer than two distinct headers")
    rows, counts = _inspected(source, mapping, read)
    assert rows == case["rows"]
    assert counts == _dry_run_counts(source, mapping, tmp_path, read)
