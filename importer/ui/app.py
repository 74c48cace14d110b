"""The page's HTTP routes: thin handlers over `files`, `table` and `jobs`. Every answer is
JSON (or a download); every refusal is `{"error": paragraph}` saying what to do next, as
the CLI's errors do. Credentials never leave the environment: the page is only told
whether a target has them."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson
from aiohttp import BodyPartReader, web
from aiohttp.typedefs import Middleware

from importer.errors import ImporterError, UsageError
from importer.settings import TARGETS, Target, credentials_from_env
from importer.ui import files, jobs, table
from importer.ui.downloads import converted
from importer.ui.page import index_html

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class NotKnown(UsageError):
    """A file or job id the server does not hold (it was restarted, or the page is old)."""

    status = 404


@dataclass
class Server:
    """What the page works on: its folder, its files and jobs, the environment of runs."""

    folder: Path
    token: str
    env: dict[str, str]
    upload_cap: int
    state: Path | None = None
    verbose: bool = False
    picked: dict[str, files.PickedFile] = field(default_factory=dict)
    running: dict[str, jobs.Job] = field(default_factory=dict)

    def ready(self) -> dict[str, str | None]:
        """Per target: None when its credentials are in the environment, else what to set."""
        found: dict[str, str | None] = {}
        for target in TARGETS:
            try:
                credentials_from_env(target, None, self.env)
                found[target] = None
            except ImporterError as exc:
                found[target] = exc.paragraph()
        return found

    def file(self, request: web.Request) -> files.PickedFile:
        picked = self.picked.get(request.match_info["file"])
        if picked is None:
            raise NotKnown("This file is no longer open on the page.", "Pick it again.")
        return picked

    def job(self, request: web.Request) -> jobs.Job:
        job = self.running.get(request.match_info["job"])
        if job is None:
            raise NotKnown("This check or import is not known here.", "Start it again.")
        return job


def routes(server: Server) -> list[web.RouteDef]:
    s = server

    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text=index_html(s.token, s.ready()),
            content_type="text/html",
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    async def upload(request: web.Request) -> web.Response:
        if (request.content_length or 0) > s.upload_cap + (1 << 16):  # refused before reading
            raise files.TooLarge("The file", s.upload_cap)
        if not request.content_type.startswith("multipart/"):
            raise UsageError("No file was uploaded.", "Choose a file, then press Read.")
        reader = await request.multipart()
        part = await reader.next()
        if part is None or not isinstance(part, BodyPartReader) or part.name != "file":
            raise UsageError("No file was uploaded.", "Choose a file, then press Read.")
        path, name = await files.receive(part, s.folder / "uploads" / jobs.new_id(), s.upload_cap)
        try:
            return _json(await _opened(path, True, name))
        except ImporterError:
            shutil.rmtree(path.parent, ignore_errors=True)  # an unreadable upload is not kept
            raise

    async def by_path(request: web.Request) -> web.Response:
        body = await _body(request)
        path = files.local(str(body.get("path", "")))
        return _json(await _opened(path, False, None))

    async def _opened(path: Path, uploaded: bool, name: str | None) -> dict[str, Any]:
        picked = await asyncio.to_thread(files.read, path, uploaded, name)
        s.picked[picked.id] = picked
        return {
            "id": picked.id, "name": picked.name, "description": picked.description,
            "path": None if uploaded else str(picked.path), "columns": len(picked.headers),
        }  # fmt: skip

    async def mapping(request: web.Request) -> web.Response:
        picked = s.file(request)
        target = _target(request.query.get("target"))
        text = await asyncio.to_thread(files.suggested, picked, target)
        return _json(_mapping(picked, target, text))

    async def replace(request: web.Request) -> web.Response:
        picked, body = s.file(request), await _body(request)
        target = _target(body.get("target"))
        picked.mappings[target] = str(body.get("toml", ""))
        return _json(_mapping(picked, target, picked.mappings[target]))

    async def edit(request: web.Request) -> web.Response:
        picked, body = s.file(request), await _body(request)
        target = _target(body.get("target"))
        current = await asyncio.to_thread(files.suggested, picked, target)
        text = table.edit(
            current, target, str(body.get("column", "")),
            str(body.get("field", "")).strip(), str(body.get("type", "")),
            str(body.get("update", "always")),
        )  # fmt: skip
        picked.mappings[target] = text
        return _json(_mapping(picked, target, text))

    async def save(request: web.Request) -> web.Response:
        picked, body = s.file(request), await _body(request)
        target = _target(body.get("target"))
        if picked.uploaded:
            raise UsageError(
                "An uploaded file has no folder on this computer to save the mapping next to.",
                "Download the mapping instead, or pick the file by its path.",
            )
        path = files.saved_path(picked, target)
        text = await asyncio.to_thread(files.suggested, picked, target)
        if path.exists() and path not in picked.saved:
            raise UsageError(
                f"{path} already exists, and this page did not write it.",
                "Download the mapping instead, or move that file away first.",
            )
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"The mapping cannot be saved as {path}: {exc.strerror}.",
                "Download it instead.",
            ) from None
        picked.saved.add(path)
        return _json({"saved": str(path)})

    async def mapping_file(request: web.Request) -> web.Response:
        picked = s.file(request)
        target = _target(request.query.get("target"))
        text = await asyncio.to_thread(files.suggested, picked, target)
        return web.Response(
            body=text.encode(),
            content_type="application/toml",
            headers=_attachment(f"{Path(picked.name).stem}.{target}.toml"),
        )

    async def start(request: web.Request) -> web.Response:
        body = await _body(request)
        picked = s.picked.get(str(body.get("file")))
        if picked is None:
            raise UsageError("This file is no longer open on the page.", "Pick it again.")
        target = _target(body.get("target"))
        kind = str(body.get("kind"))
        if kind not in ("check", "predict", "import", "undo"):
            raise UsageError(f"Unknown action {kind!r}.")
        text = await asyncio.to_thread(files.suggested, picked, target)
        if kind == "undo":  # the mapping the import ran with, whatever the table says now
            of = s.running.get(str(body.get("of")))
            if of is None or of.kind != "import":
                raise UsageError("Undo takes back an import made on this page.", "Import first.")
            text = (of.folder / "mapping.toml").read_text(encoding="utf-8")
        checked = table.check(text, picked.headers, picked.examples)
        if checked.error:
            raise UsageError(checked.error)
        missing = s.ready()[target]
        if kind != "check" and missing:
            raise UsageError(missing, "Then start importer ui again from that shell.")
        job_id = jobs.new_id()
        folder = s.folder / "jobs" / job_id
        folder.mkdir(parents=True)
        mapping_path = folder / "mapping.toml"
        mapping_path.write_text(text, encoding="utf-8")
        argv = jobs.command(
            cast(jobs.Kind, kind), picked.path, mapping_path, folder, picked.headers, s.state,
            fresh=body.get("fresh") is True,
        )  # fmt: skip
        job = jobs.Job(job_id, cast(jobs.Kind, kind), folder, argv, delimiter=picked.delimiter)
        s.running[job_id] = job
        await jobs.start(job, jobs.child_env(s.env))
        return _json(job.state())

    async def state(request: web.Request) -> web.Response:
        return _json(s.job(request).state())

    async def events(request: web.Request) -> web.StreamResponse:
        """Server-sent events: the job's state whenever it changes (a keep-alive comment
        every 15 s), until it ends."""
        job = s.job(request)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):  # the page went away: nothing to say
            while True:
                changed = job.changed
                await response.write(b"data: " + orjson.dumps(job.state()) + b"\n\n")
                if job.code is not None:
                    break
                try:
                    await asyncio.wait_for(changed.wait(), 15)
                except TimeoutError:
                    await response.write(b": alive\n\n")
        return response

    async def stop(request: web.Request) -> web.Response:
        job = s.job(request)
        job.stop()
        return _json(job.state())

    async def rows(request: web.Request) -> web.Response:
        job = s.job(request)
        if job.index is None:
            raise UsageError("The report is not ready yet.", "Wait for the run to end.")
        page = request.query.get("page", "0") or "0"
        if not page.isdigit():
            raise UsageError(f"No page {page!r}: pages are numbered from 0.")
        number = int(page)
        found, pages = job.index.page(request.query.get("status") or None, number)
        return _json({"rows": found, "pages": pages, "page": number})

    async def download(request: web.Request) -> web.StreamResponse:
        job, what = s.job(request), request.match_info["what"]
        async with job.lock:  # a double click converts once
            path = await asyncio.to_thread(converted, job.folder, what, job.delimiter)
        return web.FileResponse(path, headers=_attachment(f"{job.kind}-{what}"))

    return [
        web.get("/", page),
        web.post("/api/files", upload),
        web.post("/api/files/path", by_path),
        web.get("/api/files/{file}/mapping", mapping),
        web.post("/api/files/{file}/mapping", replace),
        web.post("/api/files/{file}/mapping/edit", edit),
        web.post("/api/files/{file}/mapping/save", save),
        web.get("/api/files/{file}/mapping.toml", mapping_file),
        web.post("/api/jobs", start),
        web.get("/api/jobs/{job}", state),
        web.get("/api/jobs/{job}/events", events),
        web.post("/api/jobs/{job}/stop", stop),
        web.get("/api/jobs/{job}/rows", rows),
        web.get("/api/jobs/{job}/download/{what}", download),
    ]


def _mapping(picked: files.PickedFile, target: Target, text: str) -> dict[str, Any]:
    checked = table.check(text, picked.headers, picked.examples)
    return {
        "toml": text, "error": checked.error, "choices": table.choices(target),
        "lines": [line.as_json() for line in checked.lines],
        "target": checked.mapping.target if checked.mapping else target,
        "loaded": str(picked.loaded[target]) if target in picked.loaded else None,
    }  # fmt: skip


def _target(value: object) -> Target:
    if value == "minimo" or value == "notifuse":
        return value
    raise UsageError(f"Unknown target {value!r}.", "Choose Minimo or Notifuse.")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        found = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise UsageError("The page sent a request the server cannot read.") from None
    if not isinstance(found, dict):
        raise UsageError("The page sent a request the server cannot read.")
    return found


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


def _attachment(name: str) -> dict[str, str]:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return {"Content-Disposition": f'attachment; filename="{safe}"'}


def errors(verbose: bool) -> Middleware:
    """An ImporterError is a 400 with its paragraph; a bug is a 500 that says so."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ImporterError as exc:
            return _json({"error": exc.paragraph()}, getattr(exc, "status", 400))
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug: the page says so, the terminal has the details
            if verbose:
                traceback.print_exc()
            text = (
                f"Internal error ({type(exc).__name__}): this is a bug. Start importer ui "
                "with --verbose to see the details, and report it."
            )
            return _json({"error": text}, 500)

    return middleware
