"""Minimo: array-form upserts, a 400 batch split until the bad rows stand alone, and
`created` or `updated` from what the look-up stage found (Minimo's upsert does not say)."""

from __future__ import annotations

from urllib.parse import quote

import orjson

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
    """`guard` (phone_match = "protect", SPEC §9): a row with a phone whose email no contact
    was found to have is upserted without it (Minimo can then only create, or match the
    email), and its phone set on that contact by id afterwards: Minimo's match by phone
    never takes another contact over. The other rows of the batch are sent as they are."""

    def __init__(
        self, client: ApiClient, batch_size: int, classify: bool, journal: Journal, guard: bool
    ) -> None:
        self.client = client
        self.batch_size = batch_size
        self.classify = classify
        self.journal = journal
        self.guard = guard

    async def send(self, rows: list[PendingRow]) -> list[Outcome]:
        phones = self._guarded(rows) if self.guard else {}
        return await self._upsert(rows, self._classified(rows), phones)

    def _classified(self, rows: list[PendingRow]) -> dict[int, str]:
        """created/updated per row: as the look-up stage found it before the first attempt
        (journaled: a row re-sent after a kill keeps it); with classification, an email this
        account already acknowledged needed no look-up. The others stay `upserted`."""
        statuses = {r.row: r.prior for r in rows if r.prior}
        unknown = [r.email for r in rows if r.row not in statuses]
        acknowledged = self.journal.known(unknown) if unknown and self.classify else {}
        statuses.update(
            (r.row, "updated") for r in rows if r.row not in statuses and r.email in acknowledged
        )
        return statuses

    def _guarded(self, rows: list[PendingRow]) -> dict[int, str]:
        """The phone of each row that must be set after its contact exists: any row with a
        phone but one whose email a look-up found (matched by email, it cannot take over)."""
        found: dict[int, str] = {}
        for r in rows:
            if r.prior != "updated" and b'"phone"' in r.payload:
                phone = orjson.loads(r.payload).get("phone")
                if isinstance(phone, str):
                    found[r.row] = phone
        return found

    def _body(self, row: PendingRow, phones: dict[int, str]) -> bytes:
        if row.row not in phones:
            return row.payload
        payload = orjson.loads(row.payload)
        del payload["phone"]
        return orjson.dumps(payload)

    async def _upsert(
        self, rows: list[PendingRow], statuses: dict[int, str], phones: dict[int, str]
    ) -> list[Outcome]:
        try:
            reply = await self.client.call(
                "POST",
                CONTACTS,
                content=json_array([self._body(r, phones) for r in rows]),
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
            outcomes = [
                Outcome(r.row, statuses.get(r.row, "upserted"), _contact_id(item))
                for r, item in zip(rows, ids, strict=True)
            ]
            return [
                await self._set_phone(o, phones[o.row]) if o.row in phones else o for o in outcomes
            ]
        message = error_text(reply.status, reply.body, reply.text)
        if reply.status in SPLIT and len(rows) > 1:
            half = len(rows) // 2
            first, second = rows[:half], rows[half:]
            return await self._upsert(first, statuses, phones) + await self._upsert(
                second, statuses, phones
            )
        return [Outcome(r.row, "error", error=message) for r in rows]

    async def _set_phone(self, outcome: Outcome, phone: str) -> Outcome:
        """The guarded row's phone, set on its contact by id; refused, the contact stays
        as created, and the warning names the phone."""
        if outcome.contact_id is None:
            return outcome._replace(warning=f"phone {phone} not set: Minimo gave no contact id")
        try:
            reply = await self.client.call(
                "PUT", f"{CONTACTS}/{outcome.contact_id}", content=orjson.dumps({"phone": phone})
            )
        except RequestFailed as exc:
            why = str(exc)
        else:
            if reply.status == 200:
                return outcome
            why = error_text(reply.status, reply.body, reply.text)
        return outcome._replace(
            warning=f"phone {phone} not set on the new contact (phone_match = protect): {why}"
        )


def _contact_id(item: object) -> str | None:
    if isinstance(item, dict) and item.get("contactId") is not None:
        return str(item["contactId"])
    return None
