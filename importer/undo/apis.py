"""Undoing one row, per API (SPEC §9): the contact is looked up first, and only a contact
whose values of the fields the run wrote are still what it wrote is touched; then a
contact the run created is deleted, one it updated gets back the values captured before.

Minimo cannot remove a field (custom fields are merged): a field the contact did not have
before stays, named in the row's warning. Notifuse clears a field with `null`, but has no
way to remove a list membership: one the contact did not have before stays, named too."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import orjson

from importer.journal import Undone, Written
from importer.lookups.compare import (
    SUBSCRIBED,
    contact_of,
    fields_of,
    instant,
    is_empty,
    memberships,
    same,
    shown,
)
from importer.lookups.rules import ENDED
from importer.sending.client import ApiClient, Reply, error_text, json_object
from importer.sending.minimo import CONTACTS, by_email_path
from importer.settings import Target

NOTHING_CAPTURED = (
    "nothing was captured before the write (the run did not look this contact up: "
    "[options] snapshot = true captures every row)"
)
NOT_KNOWN = (
    "the run did not know whether it created or updated this contact (reported upserted): "
    "nothing to undo it with (--classify, update rules or snapshot = true look contacts up)"
)


class Undoer(Protocol):
    async def undo(self, row: Written) -> Undone:
        """Undo one row; a transient failure raises RequestFailed (tried again later)."""


def not_undone(row: Written, why: str) -> Undone:
    return Undone(row.row, "not_undone", error=why)


def _first_check(row: Written) -> Undone | None:
    """What is decided before any request."""
    if row.status == "upserted":
        return not_undone(row, NOT_KNOWN)
    if row.status == "updated" and row.before is None:
        return not_undone(row, NOTHING_CAPTURED)
    return None


def changed_since(target: Target, written: dict[str, Any], current: dict[str, Any]) -> str:
    """The fields the run wrote whose value the contact no longer has, as `field is now X
    (the run wrote Y)`; empty when none."""
    now = dict(fields_of(target, current, folded=True))
    found = [
        f"{name} is now {shown(now.get(name.casefold()))} (the run wrote {shown(value)})"
        for name, value in fields_of(target, written, folded=False)
        if name not in ("email", "created_at") and not same(now.get(name.casefold()), value)
    ]
    return "; ".join(found)


class MinimoUndo:
    """`started`: when the run began sending (a contact created before it is not its own)."""

    def __init__(self, client: ApiClient, started: datetime | None = None) -> None:
        self.client = client
        self.started = started

    async def undo(self, row: Written) -> Undone:
        early = _first_check(row)
        if early is not None:
            return early
        written = orjson.loads(row.payload)
        reply = await self.client.call("GET", by_email_path(row.email))
        checked = _checked("minimo", row, reply)
        if isinstance(checked, Undone):
            return checked
        current, already = checked
        if already:
            return Undone(row.row, "restored", warning=AGAIN)
        if row.status == "created":
            existed = _existed_before(current, written, self.started)
            if existed:
                return not_undone(row, existed)
            return self._answer(
                row, await self.client.call("DELETE", f"{CONTACTS}/{current['id']}")
            )
        assert row.before is not None
        body, back, stays = _minimo_restore(written, orjson.loads(row.before))
        if body:
            reply = await self.client.call(
                "PUT", f"{CONTACTS}/{current['id']}", content=orjson.dumps(body)
            )
            if reply.status != 200:
                return not_undone(row, error_text(reply.status, reply.body, reply.text))
        warning = None
        if stays:
            warning = (
                f"{', '.join(stays)}: not there before the run, stays as it wrote it (Minimo "
                "cannot remove a field)"
            )
        return Undone(row.row, "restored", None, warning, "; ".join(back) or None)

    def _answer(self, row: Written, reply: Reply) -> Undone:
        if reply.status in (200, 204):
            return Undone(row.row, "deleted")
        if reply.status == 404:
            return not_undone(row, "the contact no longer exists")
        return not_undone(row, error_text(reply.status, reply.body, reply.text))


def _existed_before(
    current: dict[str, Any], written: dict[str, Any], started: datetime | None
) -> str | None:
    """Why a contact the run reported `created` may be one that was there before it: Minimo
    matches a new email to the contact that has the row's phone and gives it the email (the
    run's look-up by email could not know). Created before the run, or holding values the
    run did not write, it is not deleted."""
    created = instant(current.get("createdAt"))
    if created is not None and started is not None and created < started:
        return (
            f"the contact was created before the run ({current['createdAt']}): Minimo matched "
            "this row to it by phone and gave it this email, so it is not deleted"
        )
    wrote = {name.casefold() for name, _ in fields_of("minimo", written, folded=False)}
    other = [
        name
        for name, value in fields_of("minimo", current, folded=False)
        if name.casefold() not in wrote and not is_empty(value)
    ]
    if other:
        return (
            f"the contact holds values the run did not write ({', '.join(other)}): it was there "
            "before the run (Minimo matches a new email by phone) or was given them since, so "
            "it is not deleted"
        )
    return None


def _checked(target: Target, row: Written, reply: Reply) -> tuple[dict[str, Any], bool] | Undone:
    """The contact as its look-up found it now, and whether its fields are already back as
    before (an attempt of this undo whose answer was lost restored them); or the row's
    outcome when it must not be touched: gone, another contact, or changed since."""
    current = contact_of(target, reply.body) if reply.status == 200 else None
    refused = _gone_or_other(row, reply, current)
    if refused is not None:
        return refused
    assert current is not None
    if _done_before(target, row, current):
        return current, True
    since = changed_since(target, orjson.loads(row.payload), current)
    if since:
        return not_undone(row, f"changed since the run: {since}")
    return current, False


AGAIN = "already as before the run (restored by an earlier attempt of this undo?)"


def _done_before(target: Target, row: Written, current: dict[str, Any]) -> bool:
    """An updated contact that already has back every value captured before, though not
    what the run wrote (an attempt of this undo whose answer was lost did it): restored,
    not `changed since`. Minimo's fields the contact did not have are left out: they stay."""
    if row.status != "updated" or row.before is None:
        return False
    written = orjson.loads(row.payload)
    had = dict(fields_of(target, orjson.loads(row.before), folded=True))
    now = dict(fields_of(target, current, folded=True))
    names = [
        name.casefold()
        for name, _ in fields_of(target, written, folded=False)
        if name not in ("email", "created_at")
    ]
    checked = [n for n in names if target == "notifuse" or not is_empty(had.get(n))]
    return (
        bool(checked)
        and all(same(now.get(n), had.get(n)) for n in checked)
        and changed_since(target, written, current) != ""
    )


def _gone_or_other(row: Written, reply: Reply, current: dict[str, Any] | None) -> Undone | None:
    if reply.status == 404 and row.status == "created":
        # deleted since, or by an earlier attempt of this undo whose answer was lost
        return Undone(row.row, "deleted", warning="already gone before this undo deleted it")
    if reply.status == 404:
        return not_undone(row, "the contact no longer exists (deleted since the run?)")
    if current is None:
        return not_undone(row, error_text(reply.status, reply.body, reply.text))
    if row.contact_id and str(current.get("id")) != row.contact_id:
        return not_undone(
            row,
            f"its email now belongs to another contact ({current.get('id')}, not {row.contact_id})",
        )
    return None


def _minimo_restore(
    written: dict[str, Any], before: dict[str, Any]
) -> tuple[dict[str, Any], list[str], list[str]]:
    """The PUT body that gives back the values before, what it changes, and the fields it
    cannot give back (the contact had no value: Minimo keeps a field once set)."""
    had = dict(fields_of("minimo", before, folded=True))
    body: dict[str, Any] = {}
    back: list[str] = []
    stays: list[str] = []
    for name, value in fields_of("minimo", written, folded=False):
        if name == "email":
            continue
        old = had.get(name.casefold())
        if is_empty(old):
            stays.append(name)
            continue
        if same(old, value):
            continue
        outer, _, inner = name.partition(".")
        if inner and outer in ("customFields", "marketingConsent"):
            body.setdefault(outer, {})[inner] = old
        else:
            body[name] = old
        back.append(f"{name}: {shown(value)} → {shown(old)}")
    return body, back, stays


class NotifuseUndo:
    def __init__(self, client: ApiClient, workspace: str, every_row_list: str | None) -> None:
        self.client = client
        self.workspace = orjson.dumps(workspace)
        self.workspace_id = workspace
        self.every_row_list = every_row_list

    async def undo(self, row: Written) -> Undone:
        early = _first_check(row)
        if early is not None:
            return early
        written = orjson.loads(row.payload)
        reply = await self.client.call(
            "GET",
            "/api/contacts.getByEmail",
            params={"workspace_id": self.workspace_id, "email": row.email},
        )
        checked = _checked("notifuse", row, reply)
        if isinstance(checked, Undone):
            return checked
        current, already = checked
        if row.status == "created":
            reply = await self._post("/api/contacts.delete", {"email": orjson.dumps(row.email)})
            if reply.status == 200:
                return Undone(row.row, "deleted")
            return not_undone(row, error_text(reply.status, reply.body, reply.text))
        assert row.before is not None
        before = orjson.loads(row.before)
        contact, back = _notifuse_restore(row.email, written, before)
        if back and not already:
            reply = await self._post("/api/contacts.upsert", {"contact": orjson.dumps(contact)})
            if reply.status != 200:
                return not_undone(row, error_text(reply.status, reply.body, reply.text))
        if already:
            back = []
        warnings = [AGAIN] if already else []
        stays = []
        for name in self._subscribed(row):
            had, now = memberships(before).get(name), memberships(current).get(name)
            if had is None:
                stays.append(name)
            elif had in ENDED and now in SUBSCRIBED:  # what the run set: given back
                reply = await self._post(
                    "/api/contactLists.updateStatus",
                    {
                        "email": orjson.dumps(row.email),
                        "list_id": orjson.dumps(name),
                        "status": orjson.dumps(had),
                    },
                )
                if reply.status == 200:
                    back.append(f"list {name}: {now} → {had}")
                else:
                    why = error_text(reply.status, reply.body, reply.text)
                    warnings.append(f"list {name}: not set back to {had}: {why}")
            elif had in ENDED and now != had:
                warnings.append(f"list {name}: {now or 'no membership'} since the run, left so")
        if stays:
            warnings.append(
                f"still subscribed to {', '.join(stays)}: not a member before the run (a "
                "membership cannot be removed through the API)"
            )
        warning = "; ".join(warnings) or None
        return Undone(row.row, "restored", None, warning, "; ".join(back) or None)

    def _subscribed(self, row: Written) -> list[str]:
        lists = [name for name, yes in orjson.loads(row.lists or "{}").items() if yes]
        if self.every_row_list and self.every_row_list not in lists:
            lists.append(self.every_row_list)
        return lists

    async def _post(self, path: str, members: dict[str, bytes]) -> Reply:
        return await self.client.call(
            "POST", path, content=json_object({"workspace_id": self.workspace, **members})
        )


def _notifuse_restore(
    email: str, written: dict[str, Any], before: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The upsert that gives back the values before (`null` clears a field the contact did
    not have), and what it changes."""
    contact: dict[str, Any] = {"email": email}
    back: list[str] = []
    for name, value in written.items():
        if name in ("email", "created_at"):
            continue
        old = before.get(name)
        if same(old, value):
            continue
        contact[name] = None if is_empty(old) else old
        back.append(f"{name}: {shown(value)} → {shown(old)}")
    return contact, back
