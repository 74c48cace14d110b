"""The baselines every importer figure is divided by, measured in the same run.

Each runs in its own process (`python -m bench.baselines KIND ...`, a JSON line on stdout)
exactly like the importer, so both sides pay the same process and loopback costs:

- `phones`: the bare phonenumbers loop (parse, is_valid_number, format_number) over a
  file's phone cells, loaded first so that only the loop is timed: normalizing's ceiling.
- `post`: a bare httpx.AsyncClient posting given Notifuse bodies at a fixed concurrency:
  what the sandbox can serve, with nothing of the importer's bookkeeping.
- `naive`: the script a person would write first (one request per row, sequentially).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import phonenumbers

from bench.data import phone_cells
from bench.procs import MINIMO_KEY, NOTIFUSE_KEY


def phones(source: Path) -> dict[str, Any]:
    cells = phone_cells(source)
    e164 = phonenumbers.PhoneNumberFormat.E164
    valid = 0
    started = time.perf_counter()
    for text, region in cells:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            phonenumbers.format_number(number, e164)
            valid += 1
    return {"cells": len(cells), "valid": valid, "seconds": time.perf_counter() - started}


async def _post_all(url: str, bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    statuses: dict[int, int] = {}
    queue: Iterator[bytes] = iter(bodies)
    headers = {"Authorization": f"Bearer {NOTIFUSE_KEY}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, trust_env=False, timeout=30
    ) as client:

        async def worker() -> None:
            for body in queue:  # one shared iterator: each body is posted once
                response = await client.post("/api/contacts.upsert", content=body)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return {"requests": len(bodies), "statuses": statuses, "seconds": seconds}


def post(url: str, bodies_path: Path, concurrency: int) -> dict[str, Any]:
    bodies = bodies_path.read_bytes().splitlines()
    return asyncio.run(_post_all(url, bodies, concurrency))


def _naive_contact(row: dict[str, str]) -> dict[str, Any] | None:
    """Lowercase the email, E.164 the phone, convert amount and date; skip what fails."""
    email = row["E-mail"].strip().lower()
    if "@" not in email:
        return None
    contact: dict[str, Any] = {"email": email}
    region = "CH" if row["Paese"] == "Svizzera" else "IT"
    try:
        number = phonenumbers.parse(row["Cellulare"], region)
        if phonenumbers.is_valid_number(number):
            contact["phone"] = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.E164
            )
    except phonenumbers.NumberParseException:
        pass
    fields: dict[str, Any] = {"firstName": row["Nome"], "lastName": row["Cognome"]}
    if row["Azienda"]:
        fields["company"] = row["Azienda"]
    try:
        fields["totalSpent"] = float(row["Spesa totale"].replace(".", "").replace(",", "."))
        signup = datetime.strptime(row["Iscritto il"], "%d/%m/%Y")
    except ValueError:
        return None
    fields["signupDate"] = signup.date().isoformat()
    contact["customFields"] = fields
    return contact


def naive(url: str, source: Path, seconds: float) -> dict[str, Any]:
    """Rows handled in `seconds`; an error answer is counted and skipped, as such scripts do."""
    rows = 0
    statuses: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {MINIMO_KEY}"}
    with (
        source.open(encoding="utf-8-sig", newline="") as fh,
        httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=30) as client,
    ):
        started = time.perf_counter()
        for row in csv.DictReader(fh, delimiter=";"):
            if time.perf_counter() - started >= seconds:
                break
            rows += 1
            contact = _naive_contact(row)
            if contact is not None:
                status = client.post("/public/v1/contacts", json=contact).status_code
                statuses[status] = statuses.get(status, 0) + 1
        elapsed = time.perf_counter() - started
    return {"rows": rows, "statuses": statuses, "seconds": elapsed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines")
    sub = parser.add_subparsers(dest="kind", required=True)
    p = sub.add_parser("phones")
    p.add_argument("source", type=Path)
    q = sub.add_parser("post")
    q.add_argument("url")
    q.add_argument("bodies", type=Path, help="one JSON body a line")
    q.add_argument("--concurrency", type=int, required=True)
    n = sub.add_parser("naive")
    n.add_argument("url")
    n.add_argument("source", type=Path)
    n.add_argument("--seconds", type=float, required=True)
    ns = parser.parse_args(argv)
    if ns.kind == "phones":
        result = phones(ns.source)
    elif ns.kind == "post":
        result = post(ns.url, ns.bodies, ns.concurrency)
    else:
        result = naive(ns.url, ns.source, ns.seconds)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
