"""Minimo: array-form upserts, a 400 batch split until the bad rows stand alone, and
`created` or `updated` from what the look-up stage found (Minimo's upsert does not say)."""

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
        return await self._upsert(rows, self._classified(rows) if self.classify else {})

    def _classified(self, rows: list[PendingRow]) -> dict[int, str]:
        """created/updated per row: as the look-up stage found it before the first attempt
        (journaled: a row re-sent after a kill keeps it); an email this account already
        acknowledged needed no look-up. Rows not looked up stay `upserted`."""
        statuses = {r.row: r.prior for r in rows if r.prior}
        unknown = [r.email for r in rows if r.row not in statuses]
        acknowledged = self.journal.known(unknown) if unknown else {}
        statuses.update(
            (r.row, "updated") for r in rows if r.row not in statuses and r.email in acknowledged
        )
        return statuses

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


def _contact_id(item: object) -> str | None:
    if isinstance(item, dict) and item.get("contactId") is not None:
        return str(item["contactId"])
    return None
