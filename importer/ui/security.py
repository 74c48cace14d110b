"""The page's guards (SPEC §10), as one aiohttp middleware: the server listens on loopback
only, and every request must carry the token printed in the URL it opens (as Jupyter
does), name this server in `Host` (a DNS-rebinding page names its own domain) and, when
the browser sends an `Origin`, come from this server's own origin."""

from __future__ import annotations

import hmac
import html
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

TOKEN_HEADER = "X-Importer-Token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    return secrets.token_urlsafe(24)


def allowed_hosts(port: int) -> frozenset[str]:
    return frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES)


def guard(token: str, port: int) -> Middleware:
    """The middleware: refuses (403) a request without the token, for another host, or from
    another origin; the refusal says what to do and never echoes the token."""
    hosts = allowed_hosts(port)
    origins = frozenset(f"http://{host}" for host in hosts)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = (request.headers.get("Host") or "").lower()
        if host not in hosts:
            return _refused("This page only answers on its own address (127.0.0.1).")
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() not in origins:
            return _refused("Requests from other sites are refused.")
        given = request.headers.get(TOKEN_HEADER) or request.query.get("token") or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _refused(NO_TOKEN, page=request.method == "GET" and request.path == "/")
        return await handler(request)

    return middleware


NO_TOKEN = (
    "This page needs the link importer ui printed when it started (with its token): open "
    "that link, or start importer ui again."
)


def _refused(text: str, page: bool = False) -> web.Response:
    """403: as a page for a person who opened the address by hand, else as the API's JSON."""
    if page:
        body = f"<!doctype html><title>importer</title><p>{html.escape(text)}</p>"
        return web.Response(text=body, status=403, content_type="text/html")
    return web.json_response({"error": text}, status=403)
