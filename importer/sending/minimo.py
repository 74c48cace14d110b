"""Minimo: array-form upserts, a 400 batch split until the bad rows stand alone, and the
optional look-ups that tell `created` from `updated` (Minimo's upsert does not say)."""

from __future__ import annotations

from urllib.parse import quote

from importer.journal import Journal, Outcome, PendingRow
from importer.sending.client import ApiClient, RequestFailed, deferred, error_text, json_array

CONTACTS = "/public/v1/contacts"
# a batch answered with one of these holds an invalid item (400, 422) or is over a proxy's
# body limit (413): halved until the offending rows stand alone, the others land
SPLIT = (400, 413, 422)
PREFLIGHT_EMAIL = "preflight-check@importer.invalid"


def by_email_path(email: str) -> str:
    """Percent-encode everything: `a#b@x.it` unencoded would look up `a`."""
    return f"{CONTACTS}/by-email/{quote(email, safe='')}"


async def preflight(client: ApiClient) -> None:
    """One cheap request: a bad key or URL fails here, before a large file is staged."""
    await client.call("GET", by_email_path(PREFLIGHT_EMAIL))


class MinimoSender:
    def __init__(
        self,
        client: ApiClient,
        batch_size: int,
        classify: bool,
        journal: Journal,
    ) -> None:
        self.client = client
        self.batch_size = batch_size
        self.classify = classify
        self.journal = journal

    async def send(self, rows: list[PendingRow]) -> list[Outcome]:
        try:
            statuses = await self._classified(rows) if self.classify else {}
        except RequestFailed as exc:  # a look-up failed: the rows are sent again later
            return deferred(rows, exc)
        return await self._upsert(rows, statuses)

    async def _classified(self, rows: list[PendingRow]) -> dict[int, str]:
        """created/updated per row, from look-ups made before the write (journaled: a row
        re-sent after a kill keeps the answer its first attempt was made with)."""
        statuses = {r.row: r.prior for r in rows if r.prior}
        acknowledged = self.journal.known([r.email for r in rows])
        looked_up: list[tuple[int, str]] = []
        try:
            for row in rows:
                if row.row in statuses:
                    continue  # looked up before an attempt a killed run made: keep that
                if row.email in acknowledged:
                    statuses[row.row] = "updated"
                    continue
                status = _status(await self._exists(row.email))
                statuses[row.row] = status
                looked_up.append((row.row, status))
        finally:  # what was found is kept even when a later look-up fails
            self.journal.remember_prior(looked_up)
        return statuses

    async def _exists(self, email: str) -> bool | None:
        """True/False from a look-up; None for an answer that says neither (the row is then
        `upserted`). A look-up that failed for a transient reason raises RequestFailed."""
        reply = await self.client.call("GET", by_email_path(email))
        if reply.status == 200:
            return True
        return False if reply.status == 404 else None

    async def _upsert(self, rows: list[PendingRow], statuses: dict[int, str]) -> list[Outcome]:
        try:
            reply = await self.client.call(
                "POST",
                CONTACTS,
                content=json_array([r.payload for r in rows]),
                on_send=lambda: self.journal.attempts.mark(rows),
            )
        except RequestFailed as exc:  # transient: the rows are sent again later
            return deferred(rows, exc)
        if reply.status == 200:
            ids = reply.body
            if not isinstance(ids, list) or len(ids) != len(rows):
                # not an answer to this request (a proxy's page?): it may have been applied
                cause = f"unexpected answer from Minimo: {reply.text[:200]}"
                return deferred(rows, RequestFailed(cause, 1, uncertain=True))
            return [
                Outcome(r.row, statuses.get(r.row, "upserted"), _contact_id(item))
                for r, item in zip(rows, ids, strict=True)
            ]
        message = error_text(reply.status, reply.body, reply.text)
        if reply.status in SPLIT and len(rows) > 1:
            half = len(rows) // 2
            first, second = rows[:half], rows[half:]
            return await self._upsert(first, statuses) + await self._upsert(second, statuses)
        return [Outcome(r.row, "error", error=message) for r in rows]


def _status(exists: bool | None) -> str:
    if exists is None:
        return "upserted"
    return "updated" if exists else "created"


def _contact_id(item: object) -> str | None:
    if isinstance(item, dict) and item.get("contactId") is not None:
        return str(item["contactId"])
    return None
