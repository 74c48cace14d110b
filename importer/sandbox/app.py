"""Routes, the per-request fault pipeline and the request log, on aiohttp.web.

aiohttp rather than an ASGI app because dropping a connection without any response
(`--drop`) needs the transport itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import minimo, notifuse
from .common import Call, Reply, parse_json, unique
from .config import SandboxConfig
from .faults import Faults, http_date
from .store import Store

Apply = Callable[[Call, Store, SandboxConfig], Reply]
Extract = Callable[[Call], list[str]]

MAX_BODY = 64 * 1024 * 1024  # far above any real batch; aiohttp's default (1 MiB) is not


def _no_emails(call: Call) -> list[str]:
    return []


@dataclass(frozen=True)
class Route:
    api: str  # "minimo" | "notifuse": picks the key, the rate bucket and the 429 wording
    method: str
    path: str
    extract: Extract  # emails the request names, for the log
    apply: Apply


ROUTES = (
    Route("minimo", "POST", "/public/v1/contacts", minimo.emails_in_body, minimo.upsert),
    Route(
        "minimo",
        "GET",
        "/public/v1/contacts/by-email/{email}",
        minimo.emails_in_path,
        minimo.get_by_email,
    ),
    Route("minimo", "PUT", "/public/v1/contacts/{id}", minimo.emails_in_body, minimo.update_by_id),
    Route("minimo", "DELETE", "/public/v1/contacts/{id}", _no_emails, minimo.delete_by_id),
    Route("minimo", "GET", "/public/v1/custom-fields", _no_emails, minimo.list_fields),
    Route("minimo", "POST", "/public/v1/custom-fields", _no_emails, minimo.create_field),
    Route("notifuse", "POST", "/api/contacts.upsert", notifuse.emails_in_body, notifuse.upsert),
    Route(
        "notifuse",
        "POST",
        "/api/contacts.import",
        notifuse.emails_in_body,
        notifuse.import_contacts,
    ),
    Route("notifuse", "POST", "/api/lists.subscribe", notifuse.emails_in_body, notifuse.subscribe),
    Route(
        "notifuse",
        "GET",
        "/api/contacts.getByEmail",
        notifuse.emails_in_query,
        notifuse.get_by_email,
    ),
    Route(
        "notifuse", "GET", "/api/contacts.list", notifuse.emails_in_query, notifuse.list_contacts
    ),
    Route("notifuse", "GET", "/api/contacts.count", _no_emails, notifuse.count_contacts),
    Route("notifuse", "POST", "/api/contacts.delete", notifuse.emails_in_body, notifuse.delete),
    Route(
        "notifuse",
        "POST",
        "/api/contactLists.updateStatus",
        notifuse.emails_in_body,
        notifuse.update_list_status,
    ),
)

_API = {
    "minimo": (minimo.UNAUTHORIZED, minimo.RATE_LIMITED_BODY),
    "notifuse": (notifuse.UNAUTHORIZED, notifuse.RATE_LIMITED_BODY),
}


def _outcome(status: int) -> str:
    """Log outcome of an answered request; a 404 (unknown contact) is a normal answer."""
    if status == 401:
        return "unauthorized"
    if status == 429:
        return "rate_limited"
    if status < 400 or status == 404:
        return "ok"
    return "invalid"


def _response(reply: Reply, config: SandboxConfig) -> web.Response:
    headers = {"Date": http_date(config), **reply.headers}
    if reply.html is not None:
        return web.Response(
            status=reply.status, text=reply.html, content_type="text/html", headers=headers
        )
    return web.json_response(reply.body, status=reply.status, headers=headers)


class Sandbox:
    """The running sandbox's state: config, store, faults and the request log."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config.db)
        self.faults = Faults(config)
        self.log: list[dict[str, Any]] = []
        self._keys = {"minimo": config.minimo_key, "notifuse": config.notifuse_key}

    def contacts(self) -> dict[str, Any]:
        return {"minimo": self.store.minimo_all(), "notifuse": self.store.notifuse_all()}

    def requests(self) -> list[dict[str, Any]]:
        return [{**entry, "emails": list(entry["emails"])} for entry in self.log]

    def reset(self) -> None:
        """Empty store, ids from 1, empty log, full rate buckets, RNG back at its seed."""
        self.store.reset()
        self.log.clear()
        self.faults.reset()

    def close(self) -> None:
        self.store.close()

    def handler(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(route, request)

        return handle

    async def _handle(self, route: Route, request: web.Request) -> web.StreamResponse:
        """outage → body limit → auth → rate limit → latency → failure → drop before → apply →
        drop after."""
        entry: dict[str, Any] = {
            "api": route.api,
            "method": request.method,
            "path": request.rel_url.raw_path,
            "status": None,
            "emails": [],
            "start": time.monotonic(),
            "end": None,
            "outcome": None,
        }
        self.log.append(entry)  # at arrival, so the log is in arrival order
        raw = await request.read() if request.can_read_body else b""
        call = Call(
            match=dict(request.match_info),
            query=dict(request.query),
            body=parse_json(raw),
        )
        entry["emails"] = unique(route.extract(call))
        unauthorized, limited_body = _API[route.api]
        writes = route.method != "GET"  # --drop is before or after a write

        reply: Reply | None
        if (reply := self.faults.outage()) is not None:
            outcome = "outage"
        elif (reply := self.faults.too_large(raw)) is not None:
            outcome = "too_large"
        elif request.headers.get("Authorization") != f"Bearer {self._keys[route.api]}":
            reply, outcome = unauthorized, "unauthorized"
        elif (reply := self.faults.rate_limited(route.api, limited_body)) is not None:
            outcome = "rate_limited"
        else:
            if self.config.latency_ms > 0:
                await asyncio.sleep(self.config.latency_ms / 1000)
            if (reply := self.faults.failure()) is not None:
                outcome = "failed"
            elif writes and self.faults.drop("before"):
                return self._drop(request, entry, "dropped_before")
            else:
                reply = route.apply(call, self.store, self.config)
                self.store.commit()
                entry["emails"] = unique(entry["emails"] + call.touched)
                if writes and self.faults.drop("after"):
                    return self._drop(request, entry, "dropped_after")
                outcome = _outcome(reply.status)
        entry.update(status=reply.status, outcome=outcome, end=time.monotonic())
        return _response(reply, self.config)

    def _drop(self, request: web.Request, entry: dict[str, Any], outcome: str) -> web.Response:
        """Close the connection with nothing written; aiohttp then discards our response."""
        entry.update(outcome=outcome, end=time.monotonic())
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)


def build_app(sandbox: Sandbox) -> web.Application:
    """The aiohttp application: the API routes plus the unauthenticated /_sandbox/* ones."""

    async def dump_contacts(request: web.Request) -> web.Response:
        return web.json_response(sandbox.contacts())

    async def dump_requests(request: web.Request) -> web.Response:
        return web.json_response(sandbox.requests())

    async def reset(request: web.Request) -> web.Response:
        sandbox.reset()
        return web.json_response({"ok": True})

    async def outage(request: web.Request) -> web.Response:
        """POST {"seconds": N}: every API request answers 503 for the next N seconds."""
        body = parse_json(await request.read())
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if not isinstance(seconds, int | float) or seconds < 0:
            return web.json_response({"error": 'send {"seconds": N}'}, status=400)
        sandbox.faults.start_outage(float(seconds))
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=MAX_BODY)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, sandbox.handler(route))
    app.router.add_get("/_sandbox/contacts", dump_contacts)
    app.router.add_get("/_sandbox/requests", dump_requests)
    app.router.add_post("/_sandbox/reset", reset)
    app.router.add_post("/_sandbox/outage", outage)
    return app
