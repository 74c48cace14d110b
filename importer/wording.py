"""Counts as a person reads them: "1 row", "2 rows", "1,000 requests"."""

from __future__ import annotations


def counted(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"
