"""The look-up stage, between planning and sending (SPEC §8): the current state of the
contacts a run writes, read at most once a job and kept in the job database.

Notifuse can also list a workspace, 100 contacts a request: when its count says that
costs fewer requests than one look-up per row, the workspace is listed instead. Either
way every request goes through the run's client (limiter, retries); answers commit as
they come, so a killed run resumes where it stopped; a signal stops it between requests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from importer.cells import clean_text
from importer.fanout import each
from importer.journal import Journal, Seen, Wanted
from importer.lookups.compare import changes, snapshot
from importer.lookups.contacts import PAGE_SIZE, Found, ListingFailed, NotifuseReader, Reader
from importer.lookups.rules import NO_RULES, Rules, apply
from importer.normalizing import encode_lists
from importer.progress import Progress
from importer.sending.client import RequestFailed
from importer.settings import Target

PAGE = 500  # rows read from the journal at a time
COMMIT = 50  # answers committed together
PASSES = 2  # the second one asks again what a transient failure left unknown


@dataclass(frozen=True)
class Queue:
    """Which pending rows are looked up: those whose email the account never acknowledged
    (classification), every one (update rules, snapshot, a prediction), those with a phone
    (the phone guard). Any of them."""

    unknown: bool = False
    every: bool = False
    phones: bool = False

    def __bool__(self) -> bool:
        return self.unknown or self.every or self.phones


@dataclass(frozen=True)
class LookupPlan:
    """What to look up and how. `live`: the answers also classify the rows for the sender
    (created/updated); `refusals_are_errors`: a look-up the server refuses makes its row
    `error` (a prediction), else it is only not known; `rules`: what a row sends to a
    contact that exists (SPEC §9); `keep_created_at`: Notifuse import mode re-sets a
    re-imported contact's creation date unless it is sent, so it is sent as it was."""

    journal: Journal
    reader: Reader
    target: Target
    concurrency: int
    progress: Progress
    stopped: Callable[[], int | None]
    queue: Queue = Queue(every=True)
    live: bool = False
    refusals_are_errors: bool = False
    every_row_list: str | None = None  # --list: every row is subscribed to it
    rules: Rules = NO_RULES
    keep_created_at: bool = False
    announce: Callable[[int], None] | None = None  # told how many look-ups, before them


@dataclass
class LookupResult:
    rows: int = 0  # rows answered, this run
    requests: int = 0
    method: str = "per_email"  # or "listing"
    listed: int = 0  # contacts listed
    left: int = 0  # rows still not known after every pass
    cause: str = ""  # the last transient failure
    notes: list[str] = field(default_factory=list)


async def look_up(plan: LookupPlan) -> LookupResult:
    """Look up every queued row (see Journal.queue_lookups); what is left unknown after
    PASSES is counted in `left`, with the last cause."""
    result = LookupResult()
    journal = plan.journal
    q = plan.queue
    left = journal.queue_lookups(q.unknown, q.every, q.phones)
    if left == 0:
        return result
    if plan.announce is not None:
        plan.announce(left)
    method = journal.get("lookup_method")
    if method is None:
        method = await _choose(plan, left, result)
        journal.set("lookup_method", method)
    result.method = method
    plan.progress.start("looking up", left)
    try:
        if method == "listing" and journal.get("listing_cursor") != "done":
            await _list(plan, result)
        for _ in range(PASSES):
            if plan.stopped() is not None or journal.lookups_left() == 0:
                break
            await _one_by_one(plan, result)
    finally:
        plan.progress.close()
    result.left = journal.lookups_left()
    return result


async def _choose(plan: LookupPlan, left: int, result: LookupResult) -> str:
    """One look-up per row, or (Notifuse) the workspace listed when that is fewer requests."""
    if not isinstance(plan.reader, NotifuseReader):
        return "per_email"
    try:
        total = await plan.reader.count()
    except RequestFailed:
        total = None
    result.requests += 1
    if total is None:
        result.notes.append("the workspace's contacts could not be counted: looked up one by one")
        return "per_email"
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return "listing" if pages < left else "per_email"


def _answer(plan: LookupPlan, wanted: Wanted, found: Found) -> Seen:
    """What a look-up tells of a row: the update rules applied to what it sends, what that
    changes, and the contact's values (those the row writes) as they were before."""
    if found.found is None:
        return Seen(wanted.row, None, refused=found.refused)
    if not found.found or found.contact is None:
        return Seen(wanted.row, False)  # a new contact: the rules hold nothing back
    contact = found.contact
    payload = orjson.loads(wanted.payload)
    consents: dict[str, bool] | None = orjson.loads(wanted.lists) if wanted.lists else None
    ruled = apply(plan.target, plan.rules, payload, consents, contact)
    sent = ruled.payload
    if plan.keep_created_at and "created_at" not in sent and contact.get("created_at"):
        sent = {**sent, "created_at": contact["created_at"]}
    lists = [name for name, yes in (ruled.lists or {}).items() if yes]
    if plan.every_row_list and plan.every_row_list not in lists:
        lists.append(plan.every_row_list)
    what = changes(plan.target, sent, lists, contact)
    return Seen(
        wanted.row,
        True,
        found.contact_id,
        orjson.dumps(snapshot(plan.target, contact, payload, [*(consents or {}), *lists])),
        "; ".join(what),
        payload=None if sent == payload else orjson.dumps(sent, option=orjson.OPT_SORT_KEYS),
        lists=encode_lists(ruled.lists),
        lists_changed=ruled.lists != consents,
        warning="; ".join(ruled.held) or None,
        phone_gone="phone" in payload and "phone" not in sent,
    )


def _record(plan: LookupPlan, answers: list[Seen], result: LookupResult) -> None:
    plan.journal.record_seen(answers, plan.live, plan.refusals_are_errors)
    result.rows += len(answers)
    plan.progress.advance(len(answers))


async def _list(plan: LookupPlan, result: LookupResult) -> None:
    """Page through the workspace; each page's contacts answer the rows with their emails.
    The cursor is kept: a killed run goes on from the last page it recorded. A failure
    leaves the rest to the look-ups one by one."""
    assert isinstance(plan.reader, NotifuseReader)
    journal = plan.journal
    cursor = journal.get("listing_cursor")
    while plan.stopped() is None:
        try:
            contacts, following = await plan.reader.page(cursor)
        except (RequestFailed, ListingFailed) as exc:
            result.notes.append(
                f"listing the workspace failed ({exc}): the rest looked up one by one"
            )
            journal.set("lookup_method", "per_email")
            return
        result.requests += 1
        result.listed += len(contacts)
        by_email = {clean_text(c["email"]).lower(): c for c in contacts}
        wanted = journal.wanted(list(by_email)) if by_email else []
        _record(
            plan, [_answer(plan, w, Found(True, None, by_email[w.email])) for w in wanted], result
        )
        journal.set("listing_cursor", following or "done")
        if following is None:
            absent = journal.none_found_left(plan.live)  # answered too: no such contact
            result.rows += absent
            plan.progress.advance(absent)
            return
        cursor = following


async def _one_by_one(plan: LookupPlan, result: LookupResult) -> None:
    """One pass over the rows still unknown, `concurrency` look-ups at a time; what was
    answered is kept however the pass ended."""
    answers: list[Seen] = []

    def flush() -> None:
        done = [a for a in answers if a.found is not None or a.refused is not None]
        answers.clear()
        if done:
            _record(plan, done, result)

    async def look_up(wanted: Wanted) -> None:
        result.requests += 1
        try:
            found = await plan.reader.one(wanted.email)
        except RequestFailed as exc:
            result.cause = exc.cause
            return
        answers.append(_answer(plan, wanted, found))
        if len(answers) >= COMMIT:
            flush()

    await each(plan.journal.to_look_up(PAGE), look_up, plan.concurrency, plan.stopped, flush)
