"""Pieces shared by both fake APIs: replies, JSON parsing, email syntax, timestamps."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Reply:
    """A response to send: a JSON body, or an HTML page when `html` is set (proxy-style errors)."""

    status: int
    body: Any = None
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class BadJSON:
    """Marks a request body that is not valid JSON (kept apart from a JSON `null`)."""


BAD_JSON = BadJSON()


@dataclass
class Call:
    """One API request as the route handlers see it: already parsed, no aiohttp types."""

    match: Mapping[str, str]
    query: Mapping[str, str]
    body: Any  # parsed JSON, or BAD_JSON (also for an empty body)
    touched: list[str] = field(default_factory=list)  # emails found while applying


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def parse_json(raw: bytes) -> Any:
    """Parse a body strictly, as a Go or JS server would: no NaN/Infinity, UTF-8 only."""
    if not raw.strip():
        return BAD_JSON
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        return BAD_JSON


def is_valid_email(email: str) -> bool:
    """Plain syntax check: one @, non-empty local part, dotted domain, no whitespace."""
    if email.count("@") != 1 or any(ch.isspace() for ch in email):
        return False
    local, _, domain = email.partition("@")
    labels = domain.split(".")
    return bool(local) and len(labels) >= 2 and all(labels)


_GO_SPACES = frozenset("\t\n\v\f\r \x85\xa0")


def _is_go_space(ch: str) -> bool:
    return ch in _GO_SPACES or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def go_trim(text: str) -> str:
    """Trim like Go's strings.TrimSpace (unicode.IsSpace): NBSP and other Z* spaces too."""
    start, end = 0, len(text)
    while start < end and _is_go_space(text[start]):
        start += 1
    while end > start and _is_go_space(text[end - 1]):
        end -= 1
    return text[start:end]


def now_iso() -> str:
    """UTC timestamp in RFC 3339 with milliseconds and a Z, as both APIs render them."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def unique(items: list[str]) -> list[str]:
    """Drop repeats, keep first-seen order."""
    return list(dict.fromkeys(items))
