"""Deterministic lead lists for the benchmark, cached under bench/.cache/data.

One seeded RNG drives a sequential generator, so the first N rows of any file are the same
for every size: a 20k quick run measures a prefix of the 2M file, not different data.
Alongside each file a `.truth.json` says what a correct import must store (survivor count
and a spot-check sample), computed here from how the rows were made, not by the importer.
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import Any, Literal

GENERATOR_VERSION = 1  # bump when the rows change, so stale cache files are not reused
CACHE = Path(__file__).resolve().parent / ".cache"
HEADER = (
    "Nome",
    "Cognome",
    "E-mail",
    "Cellulare",
    "Paese",
    "Azienda",
    "Spesa totale",
    "Iscritto il",
)
SAMPLES = 200  # survivors spot-checked per file
BAD_SHARE = 0.05
DUPLICATE_SHARE = 0.03
_START = date(2025, 1, 1).toordinal()
_WINDOW = 5000  # duplicates repeat one of the last good rows (flat memory at any size)


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


_FIRST = _words(
    "Mario Giulia Luca Anna Marco Sofia Paolo Chiara Elena Francesca Alessandro Martina "
    "Giorgio Sara Andrea Valentina Matteo Federica Davide Silvia Stefano Laura Roberto "
    "Alessia Simone Elisa Lorenzo Giorgia Riccardo Camilla Fabio Beatrice Antonio Ilaria"
)
_LAST = _words(
    "Rossi Bianchi Verdi Ferrari Esposito Romano Colombo Ricci Gallo Conti Marino Greco "
    "Bruno Galli Costa Fontana Caruso Mancini Rizzo Lombardi Moretti Barbieri Santoro "
    "Mariani Rinaldi Leone Longo Gentile Martinelli Vitale Lombardo Serra Coppola Ferri"
)
_DOMAINS = _words(
    "gmail.com libero.it outlook.it hotmail.it yahoo.it alice.it tiscali.it "
    "virgilio.it fastwebnet.it tim.it"
)
_COMPANIES = _words(
    "Arredamenti Srl|Studio Associato|& Figli; Ferramenta|Catering|Design GmbH|Viaggi|"
    "Impianti Snc|Consulting|Edilizia Spa|Ottica",
    "|",
)
_IT_PREFIXES = _words(
    "320 324 327 328 329 330 331 333 334 335 338 339 340 342 345 347 348 349 350 351 "
    "366 370 377 380 388 389 391 392 393"
)
_CH_PREFIXES = ("76", "77", "78", "79")

Format = Literal["csv", "xlsx"]
Cell = str | int | float | datetime | None


@dataclass
class Lead:
    """One source row, typed; `cells` renders it the way CSV or Excel would hold it."""

    first: str
    last: str
    email: str  # as written in the file
    phone: str  # as written (text), "" when empty
    phone_number: int | None  # the same phone when Excel would store it as a number
    country: str
    company: str
    spent: float | str  # a str is a deliberately bad cell
    signup: date | str  # idem

    def cells(self, fmt: Format) -> list[Cell]:
        if fmt == "csv":
            spent = self.spent if isinstance(self.spent, str) else _italian(self.spent)
            signup = self.signup if isinstance(self.signup, str) else f"{self.signup:%d/%m/%Y}"
            return [self.first, self.last, self.email, self.phone, self.country,
                    self.company, spent, signup]  # fmt: skip
        phone: Cell = self.phone_number if self.phone_number is not None else self.phone
        signup_x: Cell = (
            self.signup
            if isinstance(self.signup, str)
            else datetime(self.signup.year, self.signup.month, self.signup.day)
        )
        return [self.first, self.last, self.email, phone or None, self.country,
                self.company or None, self.spent, signup_x]  # fmt: skip


@dataclass
class Expected:
    """What the stored contact of one email must hold after the import."""

    phone: str | None
    first: str
    last: str
    company: str | None


def _italian(value: float) -> str:
    """1250.5 → "1.250,50"; whole amounts often written without decimals, as people do."""
    if value.is_integer() and value < 1000:
        return str(int(value))
    return f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


def _phone(i: int, country: str, rng: random.Random) -> tuple[str, int | None, str | None]:
    """A phone unique to row i, in one of the forms found in real exports.

    Returns (as written, the number Excel would store instead or None, expected E.164 or None).
    """
    sub = (i * 7919 + 12345) % 10**7  # a bijection on i < 10^7: no two leads share a phone
    if country == "Svizzera":
        cc, national = "41", f"{_CH_PREFIXES[i % len(_CH_PREFIXES)]}{sub:07d}"
        spaced = f"0{national[:2]} {national[2:5]} {national[5:7]} {national[7:]}"
        split = 2
    else:
        cc, national = "39", f"{_IT_PREFIXES[i % len(_IT_PREFIXES)]}{sub:07d}"
        spaced = f"{national[:3]} {national[3:6]} {national[6:]}"
        split = 3
    e164 = f"+{cc}{national}"
    r = rng.random()
    if r < 0.30:
        return spaced, None, e164
    if r < 0.40:
        return spaced.replace(" ", "-", 1).replace(" ", ""), None, e164
    if r < 0.60:
        return f"+{cc} {national[:split]} {national[split:]}", None, e164
    if r < 0.68:
        return f"00{cc} {national}", None, e164
    if r < 0.83:  # Excel dropped the +: the country code and number, stored as a number
        return cc + national, int(cc + national), e164
    if r < 0.92:  # typed into Excel: a number, so any leading 0 is gone
        return national, int(national), e164
    if r < 0.93:  # a CSV export of a number cell shown in scientific notation: truncated
        return f"{national[0]},{national[1:6]}E+{len(national) - 1:02d}", None, None
    if r < 0.94:
        return "12345", None, None
    return "", None, None


def _fresh(i: int, rng: random.Random) -> tuple[Lead, Expected]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    country = "Svizzera" if rng.random() < 0.08 else "Italia"
    address = f"{first}.{last}{i}@{rng.choice(_DOMAINS)}".replace(" ", "").lower()
    r = rng.random()
    if r < 0.10:
        written = address.title()
    elif r < 0.13:
        written = f" {address} "
    elif r < 0.14:
        written = f"{first} {last} <{address}>"
    else:
        written = address
    phone, number, e164 = _phone(i, country, rng)
    company = f"{last} {rng.choice(_COMPANIES)}" if rng.random() < 0.6 else ""
    spent = round(rng.uniform(0, 5000), rng.choice((0, 2)))
    signup = date.fromordinal(_START + rng.randrange(450))
    lead = Lead(first, last, written, phone, number, country, company, spent, signup)
    return lead, Expected(e164, first, last, company or None)


def _spoil(lead: Lead, rng: random.Random) -> None:
    """Make one row an error the importer must report (never sent)."""
    kind = rng.randrange(4)
    if kind == 0:
        lead.email = lead.email.replace("@", "@@", 1)
    elif kind == 1:
        lead.email = ""
    elif kind == 2:
        lead.spent = "12,5,3"
    else:
        lead.signup = "31/02/2026"


def leads(seed: int) -> Iterator[tuple[Lead, str, str | None, Expected | None]]:
    """Endless rows: (lead, kind, normalized email, expected contact after this row).

    kind is "fresh", "bad" or "duplicate"; a duplicate repeats a recent good row's email
    (case and spaces changed) and phone (in another form), with a new amount and company,
    so the merge rule "later non-empty values win" is visible in the stored contact.
    """
    rng = random.Random(seed)
    recent: deque[tuple[Lead, str, Expected]] = deque(maxlen=_WINDOW)
    for i in range(10**7):
        r = rng.random()
        if r < DUPLICATE_SHARE and recent:
            base, email, expected = rng.choice(recent)
            company = f"{base.last} {rng.choice(_COMPANIES)}"
            spent = round(rng.uniform(0, 5000), 2)
            phone = base.phone.replace(" ", "")  # the same number, written another way
            dup = Lead(base.first, base.last, f"  {email.upper()}", phone,
                       base.phone_number, base.country, company, spent, base.signup)  # fmt: skip
            expected.company = company
            yield dup, "duplicate", email, expected
            continue
        lead, expected = _fresh(i, rng)
        email = lead.email.strip().split("<")[-1].rstrip(">").lower()
        if r < DUPLICATE_SHARE + BAD_SHARE:
            _spoil(lead, rng)
            yield lead, "bad", None, None
            continue
        recent.append((lead, email, expected))
        yield lead, "fresh", email, expected


def dataset(rows: int, fmt: Format, seed: int) -> tuple[Path, dict[str, Any]]:
    """The cached file of `rows` data rows and its truth; generated on first use."""
    CACHE.joinpath("data").mkdir(parents=True, exist_ok=True)
    path = CACHE / "data" / f"leads-{rows}-s{seed}-g{GENERATOR_VERSION}.{fmt}"
    truth_path = path.with_suffix(".truth.json")
    if not (path.exists() and truth_path.exists()):
        truth = _write(path, rows, fmt, seed)
        truth_path.write_text(json.dumps(truth, indent=1, sort_keys=True))
    return path, json.loads(truth_path.read_text())


def _write(path: Path, rows: int, fmt: Format, seed: int) -> dict[str, Any]:
    """Write atomically (a killed generation leaves no half file in the cache)."""
    tmp = path.with_name(path.name + ".tmp")
    every = max(1, rows // SAMPLES)
    counts = {"fresh": 0, "bad": 0, "duplicate": 0}
    sample: dict[str, Expected] = {}
    generated = _take(leads(seed), rows, counts, sample, every)
    if fmt == "csv":
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            out = csv.writer(fh, delimiter=";")
            out.writerow(HEADER)
            out.writerows(lead.cells("csv") for lead in generated)
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Lead")
        ws.append(list(HEADER))
        for lead in generated:
            ws.append(lead.cells("xlsx"))
        wb.save(tmp)
    os.replace(tmp, path)
    return {
        "rows": rows,
        "seed": seed,
        "bad": counts["bad"],
        "duplicates": counts["duplicate"],
        "survivors": counts["fresh"],
        "sample": {email: vars(e) for email, e in sample.items()},
    }


def _take(
    source: Iterator[tuple[Lead, str, str | None, Expected | None]],
    rows: int,
    counts: dict[str, int],
    sample: dict[str, Expected],
    every: int,
) -> Iterator[Lead]:
    """The first `rows` leads, counting kinds and sampling every `every`-th fresh one."""
    # islice, not a check inside the loop: row `rows` must never be generated, since a
    # duplicate there would update an expected contact that this file does not contain
    for lead, kind, email, expected in islice(source, rows):
        counts[kind] += 1
        if kind == "fresh" and email and expected and counts["fresh"] % every == 0:
            sample[email] = expected
        yield lead


def phone_cells(path: Path, limit: int | None = None) -> list[tuple[str, str]]:
    """(phone text, region) of every CSV row with a phone: the bare phone loop's input."""
    regions = {"Italia": "IT", "Svizzera": "CH"}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        cells = [(r[3], regions.get(r[4], "IT")) for r in reader if r[3].strip()]
    return cells[:limit]


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.data ROWS csv|xlsx [--seed N]`: make (or find) a file, print its path."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.data")
    parser.add_argument("rows", type=int)
    parser.add_argument("format", choices=("csv", "xlsx"))
    parser.add_argument("--seed", type=int, default=20260401)
    ns = parser.parse_args(argv)
    path, _ = dataset(ns.rows, ns.format, ns.seed)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
