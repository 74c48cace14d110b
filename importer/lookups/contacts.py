"""Read-only requests for the current state of contacts (API-NOTES, "Reading current
state"): Minimo's per-email look-up; Notifuse's per-email look-up, its count and its
cursor-paged listing. Every one goes through the run's client: its limiter, its retries."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from importer.lookups.compare import contact_of
from importer.sending.client import ApiClient, error_text
from importer.sending.minimo import by_email_path

PAGE_SIZE = 100  # contacts.list's largest page


class Found(NamedTuple):
    """A look-up's answer: `found` (None: answered, but neither yes nor no: `refused` says
    what), the contact's id and values."""

    found: bool | None
    contact_id: str | None = None
    contact: dict[str, Any] | None = None
    refused: str | None = None


class Reader(Protocol):
    async def one(self, email: str) -> Found:
        """Look one email up; a transient failure raises RequestFailed."""


class MinimoReader:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def one(self, email: str) -> Found:
        reply = await self.client.call("GET", by_email_path(email))
        if reply.status == 404:
            return Found(False)
        contact = contact_of("minimo", reply.body) if reply.status == 200 else None
        if contact is None:
            return Found(None, refused=error_text(reply.status, reply.body, reply.text))
        contact_id = contact.get("id")
        return Found(True, None if contact_id is None else str(contact_id), contact)


class NotifuseReader:
    def __init__(self, client: ApiClient, workspace: str) -> None:
        self.client = client
        self.workspace = workspace

    async def one(self, email: str) -> Found:
        reply = await self.client.call(
            "GET",
            "/api/contacts.getByEmail",
            params={"workspace_id": self.workspace, "email": email},
        )
        if reply.status == 404:
            return Found(False)
        contact = contact_of("notifuse", reply.body) if reply.status == 200 else None
        if contact is None:
            return Found(None, refused=error_text(reply.status, reply.body, reply.text))
        return Found(True, None, contact)

    async def count(self) -> int | None:
        """The workspace's contacts (`contacts.count`, in the server's source though not in
        its documentation); None when the server does not say."""
        reply = await self.client.call(
            "GET", "/api/contacts.count", params={"workspace_id": self.workspace}
        )
        total = reply.body.get("total_contacts") if isinstance(reply.body, dict) else None
        if reply.status != 200 or not isinstance(total, int) or isinstance(total, bool):
            return None
        return total

    async def page(self, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the workspace's contacts, with their lists, and the next cursor (None
        after the last page). An answer that is not a page raises ListingFailed."""
        params = {
            "workspace_id": self.workspace,
            "limit": str(PAGE_SIZE),
            "with_contact_lists": "true",
        }
        if cursor:
            params["cursor"] = cursor
        reply = await self.client.call("GET", "/api/contacts.list", params=params)
        body = reply.body if isinstance(reply.body, dict) else {}
        contacts = body.get("contacts")
        if reply.status != 200 or not isinstance(contacts, list):
            raise ListingFailed(error_text(reply.status, reply.body, reply.text))
        following = body.get("next_cursor")
        found = [c for c in contacts if isinstance(c, dict) and isinstance(c.get("email"), str)]
        return found, following if isinstance(following, str) and following else None


class ListingFailed(Exception):
    """The workspace listing was answered with something else than a page."""
