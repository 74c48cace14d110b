"""Rebuild samples/leads.xlsx from samples/leads.csv the way Excel would store it.

Phones of digits only become numbers, amounts become numbers and dates become dates,
as when a person types them into Excel: the reader must give the same rows back.
Run: .venv/bin/python samples/make_xlsx.py
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).parent


def typed(header: str, text: str) -> object:
    if not text.strip():
        return None
    if header == "Cellulare" and text.isdigit():
        return int(text)
    if header == "Spesa totale":
        return float(text.replace(".", "").replace(",", "."))
    if header == "Iscritto il":
        return datetime.strptime(text, "%d/%m/%Y")
    return text


def main() -> None:
    with (HERE / "leads.csv").open(encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh, delimiter=";"))
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Lead fiera"
    ws.append(header)
    for row in rows:
        ws.append([typed(h, c) for h, c in zip(header, row, strict=True)])
    for cell in ws["I"][1:]:
        cell.number_format = "DD/MM/YYYY"
    wb.save(HERE / "leads.xlsx")


if __name__ == "__main__":
    main()
