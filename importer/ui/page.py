"""The page itself: one server-rendered HTML document (the flow's four steps) with a small
plain script; the token and which targets have credentials are written into it, never
the credentials."""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files

import orjson

STATIC = files("importer.ui") / "static"


@cache
def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def index_html(token: str, ready: dict[str, str | None]) -> str:
    config = orjson.dumps({"token": token, "ready": ready}).decode()
    return (
        _asset("index.html")
        .replace("{{config}}", html.escape(config, quote=True))
        .replace("{{style}}", _asset("app.css"))
        .replace("{{script}}", _asset("app.js"))
    )
