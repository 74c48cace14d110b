"""Notifuse: one `contacts.upsert` per contact (default), or `contacts.import` batches.

Import answers are not in request order: failed operations come first with an empty email
and the contact's index only in their message; successful ones follow, matched back by
normalized email (API-NOTES.md).
"""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Any

import orjson

from importer.cells import clean_text
from importer.journal import Journal, Outcome, PendingRow
from importer.sending.client import (
    ApiClient,
    Reply,
    RequestFailed,
    deferred,
    error_text,
    json_array,
    json_object,
)
from importer.sending.minimo import PREFLIGHT_EMAIL

_INDEX = re.compile(r"\bindex (\d+)\b")


def _status(action: Any, uncertain: bool, known: bool) -> str | None:
    """`update` after an attempt that may have been applied could be our own create: then
    only what was known before that attempt says `updated`."""
    if action == "create":
        return "created"
    if action == "update":
        return "updated" if known or not uncertain else "upserted"
    return None


async def preflight(client: ApiClient, workspace: str) -> None:
    """One cheap request: a bad key, workspace or URL fails here, before staging."""
    await client.call(
        "GET",
        "/api/contacts.getByEmail",
        params={"workspace_id": workspace, "email": PREFLIGHT_EMAIL},
    )


class NotifuseSender:
    def __init__(
        self,
        client: ApiClient,
        workspace: str,
        mode: str,
        batch_size: int,
        list_id: str | None,
        journal: Journal,
    ) -> None:
        self.client = client
        self.journal = journal
        self._workspace = orjson.dumps(workspace)
        self.mode = mode
        self.batch_size = 1 if mode == "upsert" else batch_size
        self.list_id = list_id

    async def send(self, rows: list[PendingRow]) -> list[Outcome]:
        if self.mode == "upsert":
            return [outcome for row in rows for outcome in await self._upsert(row)]
        groups: dict[tuple[str, ...], list[PendingRow]] = {}
        for row in rows:  # subscribe_to_lists applies to a whole request (SPEC §5)
            groups.setdefault(self._lists(row), []).append(row)
        if len(groups) == 1:
            return await self._import(rows, next(iter(groups)))
        found = {
            o.row: o for lists, group in groups.items() for o in await self._import(group, lists)
        }
        return [found[row.row] for row in rows]

    def _lists(self, row: PendingRow) -> tuple[str, ...]:
        """The lists a row is subscribed to: the mapping's it consented to, and --list."""
        consents: dict[str, bool] = orjson.loads(row.lists) if row.lists else {}
        lists = [name for name, yes in consents.items() if yes]
        if self.list_id and self.list_id not in lists:
            lists.append(self.list_id)
        return tuple(sorted(lists))

    async def _upsert(self, row: PendingRow) -> list[Outcome]:
        body = json_object({"workspace_id": self._workspace, "contact": row.payload})
        try:
            reply = await self.client.call(
                "POST",
                "/api/contacts.upsert",
                content=body,
                on_send=lambda: self.journal.attempts.mark((row,)),
            )
        except RequestFailed as exc:  # transient: sent again later
            return deferred((row,), exc)
        if reply.status == 200 and not isinstance(reply.body, dict):
            return deferred((row,), _unexpected(reply))
        outcome = self._upserted(row, reply)
        lists = self._lists(row)
        if outcome.status == "error" or not lists:
            return [outcome]
        return [await self._subscribe(row, lists, outcome)]

    async def _subscribe(self, row: PendingRow, lists: tuple[str, ...], saved: Outcome) -> Outcome:
        """Upsert mode: the contact saved, `lists.subscribe` adds its consented lists."""
        body = json_object(
            {
                "workspace_id": self._workspace,
                "contact": orjson.dumps({"email": row.email}),
                "list_ids": orjson.dumps(list(lists)),
            }
        )
        try:
            reply = await self.client.call(
                "POST",
                "/api/lists.subscribe",
                content=body,
                on_send=lambda: self.journal.attempts.mark((row,)),
            )
        except RequestFailed as exc:  # sent again later, the upsert with it (it is harmless)
            return deferred((row,), exc)[0]._replace(uncertain=True)
        if reply.status == 200:
            return saved
        names = ", ".join(repr(name) for name in lists)
        why = error_text(reply.status, reply.body, reply.text)
        return Outcome(row.row, "error", error=f"saved, but not subscribed to {names}: {why}")

    def _upserted(self, row: PendingRow, reply: Reply) -> Outcome:
        if reply.status == 200:
            uncertain = reply.uncertain or row.attempted == 1
            known = uncertain and row.email in self.journal.known([row.email])
            status = _status(reply.body.get("action"), uncertain, known)
            if status:
                return Outcome(row.row, status)
        return Outcome(row.row, "error", error=error_text(reply.status, reply.body, reply.text))

    async def _import(self, rows: list[PendingRow], lists: tuple[str, ...]) -> list[Outcome]:
        members = {
            "workspace_id": self._workspace,
            "contacts": json_array([r.payload for r in rows]),
        }
        if lists:
            members["subscribe_to_lists"] = orjson.dumps(list(lists))
        try:
            reply = await self.client.call(
                "POST",
                "/api/contacts.import",
                content=json_object(members),
                on_send=lambda: self.journal.attempts.mark(rows),
            )
        except RequestFailed as exc:  # transient: sent again later
            return deferred(rows, exc)
        operations = reply.body.get("operations") if isinstance(reply.body, dict) else None
        if reply.status == 413 and len(rows) > 1:  # over a proxy's body limit: halve it
            half = len(rows) // 2
            return await self._import(rows[:half], lists) + await self._import(rows[half:], lists)
        if reply.status == 200 and not isinstance(operations, list):
            return deferred(rows, _unexpected(reply))
        if reply.status != 200 or not isinstance(operations, list):
            message = error_text(reply.status, reply.body, reply.text)
            return [Outcome(r.row, "error", error=message) for r in rows]
        uncertain = {r.email for r in rows if r.attempted or reply.uncertain}
        known = self.journal.known(sorted(uncertain)) if uncertain else {}
        return match_operations(rows, operations, uncertain, known)


def _unexpected(reply: Reply) -> RequestFailed:
    """A 200 that is not the API's answer (a proxy's page?): the write may have been
    applied, or not; the rows are sent again later."""
    return RequestFailed(f"unexpected answer from Notifuse: {reply.text[:200]}", 1, True)


def match_operations(
    rows: list[PendingRow],
    operations: list[Any],
    uncertain: Container[str],
    known: Container[str],
) -> list[Outcome]:
    """Failed operations by the index in their message; the others by normalized email."""
    by_email = {r.email: r for r in rows}
    found: dict[int, Outcome] = {}
    for op in operations:
        if not isinstance(op, dict):
            continue
        email = clean_text(str(op.get("email") or "")).lower()
        status = _status(op.get("action"), email in uncertain, email in known)
        if status is None:
            message = str(op.get("error") or "rejected by Notifuse")
            index = _INDEX.search(message)
            row = by_email.get(email)
            if index and int(index.group(1)) < len(rows):
                row = rows[int(index.group(1))]
            if row is not None:
                found[row.row] = Outcome(row.row, "error", error=message)
            continue
        row = by_email.get(email)
        if row is not None:
            found[row.row] = Outcome(row.row, status)
    missing = "Notifuse returned no operation for this contact"
    return [found.get(r.row) or Outcome(r.row, "error", error=missing) for r in rows]
