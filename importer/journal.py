"""The job database: one SQLite file per job, the one store every stage shares (SPEC §1, §6).

Staging writes every row here; planning rewrites duplicates and shared phones with SQL;
sending reads pending rows in batches and commits each acknowledgement as it arrives; the
report is read back from here in source order. A row stays `pending` until its
acknowledgement is committed, so a crash at any instant leaves a consistent journal.
Only this module writes SQL.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from importer.errors import JobLockedError
from importer.normalizing import StagedRecord, cores, encode

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    row INTEGER PRIMARY KEY,       -- the source row number, as Excel shows it
    status TEXT NOT NULL,          -- pending | error | skipped | duplicate | created | ...
    email TEXT,                    -- normalized, or the raw cell when invalid
    phone TEXT,                    -- the E.164 value to send
    payload BLOB,                  -- the contact to send (JSON)
    warnings TEXT NOT NULL DEFAULT '',
    error TEXT,
    contact_id TEXT,
    merged_into INTEGER,           -- a duplicate's survivor row
    digest BLOB,                   -- hash of the payload, compared with account.known
    attempted INTEGER NOT NULL DEFAULT 0,  -- a write of it was sent: its outcome may be unknown
    prior TEXT,                    -- created/updated as known before the first attempt
    dropped INTEGER NOT NULL DEFAULT 0  -- sent without a value it had (--rejects-warnings)
);
-- no index on status: pages of pending rows are read by row number, and updating one
-- cost a quarter of each acknowledgement's commit
DROP INDEX IF EXISTS rows_status;
-- acknowledged successes not yet copied into account.known (see Journal.sync_known)
CREATE TABLE IF NOT EXISTS acked (row INTEGER PRIMARY KEY);
"""
# Per account, across jobs: what was last acknowledged for each email. Feeds classification
# (no look-up for a known email) and --skip-unchanged. `digest` is NULL while a write of
# that email is unsettled (sent, not acknowledged): such an email is never skipped.
_ACCOUNT_SCHEMA = """
CREATE TABLE IF NOT EXISTS account.known (
    email TEXT PRIMARY KEY,
    contact_id TEXT,
    digest BLOB,
    how TEXT                       -- how it was sent: mode and lists (see pipeline.how)
);
"""
_SUCCESS = ("created", "updated", "upserted")
_INSERT_STAGED = (
    "INSERT INTO rows (row, status, email, phone, payload, digest, warnings, error, dropped) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
APPLY_BATCH = 2000  # planned changes written per transaction
# a planned change: row, status, merged_into, payload, digest, phone, warning (None: unchanged)
_CHANGE = (
    "status TEXT, merged_into INTEGER, payload BLOB, digest BLOB, phone TEXT, warning TEXT, "
    "dropped INTEGER"
)
_Change = tuple[
    int, str | None, int | None, bytes | None, bytes | None, str | None, str, int | None
]


def _with_warning(param: str) -> str:
    """SQL for the row's warnings with the one in `param` appended (a NULL appends none)."""
    return (
        f"COALESCE(warnings || CASE WHEN warnings = '' THEN '' ELSE '; ' END || {param}, warnings)"
    )


class PendingRow(NamedTuple):
    """A row to send (a tuple: one per row sent)."""

    row: int
    email: str
    payload: bytes  # the contact as stored (JSON): spliced into request bodies as it is
    attempted: int  # 1: a previous run may have sent it, its outcome is unknown
    prior: str | None  # created/updated, as looked up before the first attempt


class GroupedRow(NamedTuple):
    """A pending row in a group that planning merges or splits."""

    row: int
    email: str
    payload: dict[str, Any]


class Outcome(NamedTuple):
    """What the API said about one row (a tuple: one per row sent). `pending`: not
    delivered for a transient reason (`error` says which), sent again later; `uncertain`:
    a write of it may have been applied all the same."""

    row: int
    status: str
    contact_id: str | None = None
    error: str | None = None
    warning: str | None = None
    uncertain: bool = False


class ReportRow(NamedTuple):
    """One line of the report (a tuple: millions of them are written)."""

    row: int
    email: str
    phone: str
    status: str
    contact_id: str
    error: str
    warning: str


class Journal:
    """An open, locked job database."""

    def __init__(self, path: Path, account: Path | None = None, durable: bool = True) -> None:
        """`durable=False` for a journal thrown away after the run (a dry run's): no fsync."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.account = account
        self.durable = durable
        self._lock = open(f"{path}.lock", "w")  # noqa: SIM115 - held for the journal's life
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise JobLockedError(
                "Another run of this same job is in progress (its journal is locked).",
                "Wait for it to finish, or stop it; then run again to resume.",
            ) from None
        self.db = _connect(path, durable)
        self.db.execute(f"PRAGMA threads={cores()}")  # planning's sorts use the other cores too
        self.db.executescript(_SCHEMA)
        _add_column(self.db, "main", "rows", "dropped INTEGER NOT NULL DEFAULT 0")
        self.db.execute("ATTACH DATABASE ? AS account", (str(account or ":memory:"),))
        self.db.execute("PRAGMA account.journal_mode=WAL")
        self.db.execute("PRAGMA account.synchronous=NORMAL")
        self.db.executescript(_ACCOUNT_SCHEMA)
        _add_column(self.db, "account", "known", "how TEXT")
        self.attempts = AttemptLog(path.with_name(path.name + ".attempts"))

    def close(self) -> None:
        self.attempts.close()
        self.db.close()
        self._lock.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ---------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        found = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def set(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- staging --------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every row (a fresh start, or an interrupted staging pass)."""
        with self._transaction():
            self.db.execute("DELETE FROM rows")
            self.db.execute("DELETE FROM meta")
            self.db.execute("DELETE FROM acked")
        self.attempts.clear()

    def add_staged(self, batch: Iterable[StagedRecord]) -> None:
        """One transaction per batch of rows (see normalizing.record)."""
        with self._transaction():
            self.db.executemany(_INSERT_STAGED, batch)

    def stager(self) -> Stager:
        return Stager(self.path, self.durable)

    def _transaction(self) -> sqlite3.Connection:
        return _begin(self.db)

    # -- planning -------------------------------------------------------------------------
    def duplicate_groups(self) -> Iterator[list[GroupedRow]]:
        """Pending rows sharing a normalized email, grouped, in source order within a group."""
        return self._groups("email")

    def shared_phone_groups(self) -> Iterator[list[GroupedRow]]:
        """Pending rows with different emails and one phone, grouped, in source order."""
        return self._groups("phone")

    def _groups(self, column: str) -> Iterator[list[GroupedRow]]:
        """Groups of pending rows sharing `column`, copied first into a temporary table (on
        disk): the rows table can then be rewritten while the groups are read. The one sort
        (GROUP BY) lists each group's rows, fetched then by number: looking every row of
        the file up in the list of shared values cost as much again (2M rows: 2.7 → 2.0 s)."""
        self.db.execute("DROP TABLE IF EXISTS temp.grouped")
        self.db.execute(
            f"CREATE TEMP TABLE grouped AS SELECT r.row, r.email, r.payload, g.k FROM "
            f"(SELECT {column} AS k, group_concat(row) AS rs FROM rows WHERE status = 'pending' "
            f"AND {column} IS NOT NULL GROUP BY {column} HAVING COUNT(*) > 1) g, "
            f"json_each('[' || g.rs || ']') e, rows r WHERE r.row = e.value ORDER BY g.k, r.row"
        )
        yield from _grouped(self.db.execute("SELECT * FROM temp.grouped ORDER BY rowid"), key=3)
        self.db.execute("DROP TABLE temp.grouped")

    def merge(self, merges: Iterable[tuple[int, dict[str, Any], list[int]]]) -> None:
        """Fold each `merged` row list into its survivor, which is sent once for all of them.
        Recorded as changes: `apply_changes` writes them."""
        changes: list[_Change] = []
        for survivor, payload, merged in merges:
            phone = payload.get("phone")
            phone = phone if isinstance(phone, str) else None
            also = f"row{'s' if len(merged) > 1 else ''} {', '.join(map(str, merged))}"
            warning = f"merged with {also} (same email)"
            changes.append((survivor, None, None, *encode(payload), phone, warning, None))
            warning = f"same email as row {survivor}: merged into it"
            changes.extend(
                (r, "duplicate", survivor, None, None, None, warning, None) for r in merged
            )
        self._change(changes)

    def drop_phones(self, drops: Iterable[tuple[int, dict[str, Any], str]]) -> None:
        """Send these rows without their phone, each with its warning (recorded as changes)."""
        self._change(
            (row, None, None, *encode(payload), None, warning, 1) for row, payload, warning in drops
        )

    def _change(self, changes: Iterable[_Change]) -> None:
        self.db.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS changes (row INTEGER NOT NULL, {_CHANGE})"
        )  # appended in the planner's order (by row, each insert was a random write: 8 µs)
        with self._transaction():
            self.db.executemany("INSERT INTO temp.changes VALUES (?, ?, ?, ?, ?, ?, ?, ?)", changes)

    def apply_changes(self) -> None:
        """Write the recorded changes in row order, APPLY_BATCH rows a transaction: the rows
        they touch are scattered over the table, and in order each page is rewritten once
        (in the order the planner found them, 3 times slower at 2M rows)."""
        self._change(())
        self.db.execute(f"CREATE TEMP TABLE ordered (row INTEGER PRIMARY KEY, {_CHANGE})")
        self.db.execute("INSERT INTO temp.ordered SELECT * FROM temp.changes ORDER BY row")
        self.db.execute("DROP TABLE temp.changes")
        bounds = self.db.execute(
            "SELECT row FROM (SELECT row, ROW_NUMBER() OVER (ORDER BY row) AS n "
            "FROM temp.ordered) WHERE n % ? = 0",
            (APPLY_BATCH,),
        ).fetchall()
        start = 0
        for (end,) in [*bounds, (None,)]:
            with self._transaction():
                self.db.execute(
                    "UPDATE rows SET status = COALESCE(c.status, rows.status), "
                    "merged_into = COALESCE(c.merged_into, rows.merged_into), "
                    "payload = COALESCE(c.payload, rows.payload), "
                    "digest = COALESCE(c.digest, rows.digest), "
                    "phone = CASE WHEN c.payload IS NULL THEN rows.phone ELSE c.phone END, "
                    "dropped = COALESCE(c.dropped, rows.dropped), "
                    f"warnings = {_with_warning('c.warning')} "
                    "FROM temp.ordered c WHERE c.row = rows.row AND c.row > ?1 "
                    "AND (?2 IS NULL OR c.row <= ?2)",
                    (start, end),
                )
            start = end
        self.db.execute("DROP TABLE temp.ordered")

    # -- sending --------------------------------------------------------------------------
    def count_unknown_pending(self) -> int:
        """Pending rows whose email this account never acknowledged: the look-ups needed."""
        return int(
            self.db.execute(
                "SELECT COUNT(*) FROM rows WHERE status = 'pending' "
                "AND email NOT IN (SELECT email FROM account.known)"
            ).fetchone()[0]
        )

    def pending(self, page: int) -> Iterator[list[PendingRow]]:
        """Pending rows in source order, a page at a time. Keyset paging, so
        acknowledgements commit while the pages are read."""
        after = 0
        while found := self.db.execute(
            "SELECT row, email, payload, attempted, prior FROM rows "
            "WHERE status = 'pending' AND row > ? ORDER BY row LIMIT ?",
            (after, page),
        ).fetchall():
            yield list(map(PendingRow._make, found))
            after = found[-1][0]

    def remember_prior(self, statuses: Iterable[tuple[int, str]]) -> None:
        """Commit what a look-up found before the write: a re-sent row reports the same."""
        with self._transaction():
            self.db.executemany(
                "UPDATE rows SET prior = ? WHERE row = ?", ((s, r) for r, s in statuses)
            )

    def fold_attempts(self) -> None:
        """What a killed run's attempt log says was sent: those rows' outcome is unknown."""
        sent = set(self.attempts.read())
        if sent:  # most were acknowledged: only the pending ones among them are updated
            pending = self.db.execute(
                "SELECT row FROM rows WHERE row BETWEEN ? AND ? AND status = 'pending'",
                (min(sent), max(sent)),
            )
            uncertain = [found for found in pending if found[0] in sent]
            with self._transaction():
                self.db.executemany("UPDATE rows SET attempted = 1 WHERE row = ?", uncertain)
        self.attempts.clear()

    def skip_unchanged(self, how: str) -> int:
        """Rows whose payload, and how it is sent, equal the last ones acknowledged for
        that email: not sent. An email whose last write is unsettled has no digest."""
        with self._transaction():
            changed = self.db.execute(
                "UPDATE rows SET status = 'unchanged', contact_id = k.contact_id "
                "FROM account.known k WHERE rows.status = 'pending' AND k.email = rows.email "
                "AND k.digest = rows.digest AND k.how = ?",
                (how,),
            ).rowcount
        return int(changed)

    def unsettle_known(self, how: str) -> None:
        """Before anything is sent: the emails about to get a different write lose their
        digest, until it is acknowledged (`sync_known`). Killed in between, or its outcome
        unknown, the email is never skipped as unchanged: the account may hold either."""
        with self._transaction():
            self.db.execute(
                "UPDATE account.known SET digest = NULL FROM "
                "(SELECT email, digest FROM rows WHERE status = 'pending' ORDER BY email) r "
                "WHERE known.email = r.email AND known.digest IS NOT NULL "
                "AND (known.digest IS NOT r.digest OR known.how IS NOT ?)",
                (how,),
            )

    def counts(self) -> dict[str, int]:
        """Rows per stored status (duplicates as such; the report resolves their outcome)."""
        found = self.db.execute("SELECT status, COUNT(*) FROM rows GROUP BY status")
        return {str(s): int(n) for s, n in found}

    def sync_known(self, how: str) -> None:
        """Copy this job's acknowledged successes into the account's `known`, all at once.

        Upserted one batch at a time, the emails' random order made each commit rewrite
        hundreds of pages of `known` (13 µs a row, twice the rest of a commit); in one
        statement, sorted, 2.4 µs. Called before sending (catching up on a killed run)
        and after it; meanwhile no pending row of this job shares an email with them.
        """
        with self._transaction():
            self.db.execute(
                "INSERT INTO account.known (email, contact_id, digest, how) "
                "SELECT r.email, r.contact_id, r.digest, ? FROM acked a JOIN rows r USING (row) "
                "WHERE true ORDER BY r.email "  # `WHERE true`: SQLite's UPSERT rule
                "ON CONFLICT (email) DO UPDATE SET digest = excluded.digest, "
                "how = excluded.how, contact_id = COALESCE(excluded.contact_id, contact_id)",
                (how,),
            )
            self.db.execute("DELETE FROM acked")

    def recorder(self) -> Recorder:
        return Recorder(self)

    def known(self, emails: list[str]) -> dict[str, str | None]:
        """Emails this account already acknowledged (any job), with their contact ids."""
        marks = ",".join("?" * len(emails))
        found = self.db.execute(
            f"SELECT email, contact_id FROM account.known WHERE email IN ({marks})", emails
        )
        return {str(e): c for e, c in found}

    # -- reporting ------------------------------------------------------------------------
    def report_rows(self, dry_run: bool) -> Iterator[ReportRow]:
        """Every row in source order, as reported (see `read_report`)."""
        return _report_rows(self.db, dry_run, 0, None)

    def rejects(self, dry_run: bool, warnings: bool) -> Iterator[tuple[int, str]]:
        """(row, why) of the rows for the rejects file, in source order: the rows reported
        `error`, and with `warnings` the rows sent without a value they had."""
        return iter(
            self.db.execute(
                "SELECT row, CASE WHEN status = 'error' THEN error ELSE warning END "
                f"FROM ({_REPORTED}) WHERE status = 'error' OR (?4 AND dropped) ORDER BY row",
                (dry_run, 0, None, warnings),
            )
        )

    def report_parts(self, parts: int) -> list[tuple[int, int | None]]:
        """`parts` ranges (after, up to) of row numbers, as many rows each."""
        total = int(self.db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])
        if total < parts:
            return [(0, None)]
        cuts = [
            int(self.db.execute("SELECT row FROM rows ORDER BY row LIMIT 1 OFFSET ?", (n,))
                .fetchone()[0])
            for n in (total * i // parts - 1 for i in range(1, parts))
        ]  # fmt: skip
        starts = [0, *cuts]
        return list(zip(starts, [*cuts, None], strict=True))


@dataclass(frozen=True)
class Stager:
    """Adds staged rows to a job database from the process that normalized them (it is
    sent to the staging workers: the main process neither receives nor inserts the rows).
    Its holder, who has the job's lock, resets the rows first and plans them after."""

    path: Path
    durable: bool

    def open(self) -> StagedRows:
        return StagedRows(self)


class StagedRows:
    """One connection of a Stager: one transaction per batch; the writers of one job take
    turns (SQLite's lock: a batch holds it for ~10 ms, normalizing it takes ~80)."""

    def __init__(self, stager: Stager) -> None:
        self.db = _connect(stager.path, stager.durable)

    def add(self, batch: list[StagedRecord], locked: Callable[[], object]) -> None:
        with _begin(self.db, "IMMEDIATE"):
            locked()
            self.db.executemany(_INSERT_STAGED, batch)

    def close(self) -> None:
        self.db.close()


def read_report(path: Path, dry_run: bool, after: int, upto: int | None) -> Iterator[ReportRow]:
    """The report's rows numbered after..upto, read by another process than the one that holds
    the job (read-only, without its lock): the report is written in parts on several cores."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        yield from _report_rows(db, dry_run, after, upto)
    finally:
        db.close()


def _add_column(db: sqlite3.Connection, schema: str, table: str, column: str) -> None:
    """A database of an earlier version gains a column it lacks."""
    name = column.split()[0]
    if name not in {c[1] for c in db.execute(f"PRAGMA {schema}.table_info({table})")}:
        db.execute(f"ALTER TABLE {schema}.{table} ADD COLUMN {column}")


def _begin(db: sqlite3.Connection, kind: str = "") -> sqlite3.Connection:
    """`with _begin(db):` one transaction: committed at the end, rolled back on an error."""
    db.execute(f"BEGIN {kind}")
    return db


def _connect(path: Path, durable: bool, check_same_thread: bool = True) -> sqlite3.Connection:
    db = sqlite3.connect(
        path, isolation_level=None, timeout=60, check_same_thread=check_same_thread
    )
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={'NORMAL' if durable else 'OFF'}")
    return db


class Recorder:
    """A second connection to a journal, for the writes of the send phase: a commit of
    acknowledgements may run in a thread while the event loop goes on sending (SQLite does
    the work without the GIL)."""

    def __init__(self, journal: Journal) -> None:
        self.db = _connect(journal.path, journal.durable, check_same_thread=False)

    def record(self, outcomes: Iterable[Outcome]) -> None:
        """Commit acknowledgements; from here on these rows are never sent again by this job.
        Called from one thread at a time."""
        _record(self.db, outcomes)

    def close(self) -> None:
        self.db.close()


def _record(db: sqlite3.Connection, outcomes: Iterable[Outcome]) -> None:
    """Successes are also queued for the account's `known` (Journal.sync_known)."""
    outcomes = list(outcomes)
    with _begin(db):
        db.executemany(
            "UPDATE rows SET status = ?1, contact_id = ?2, error = ?3, "
            f"warnings = {_with_warning('?4')}, attempted = MAX(attempted, ?5) WHERE row = ?6",
            [(o.status, o.contact_id, o.error, o.warning, o.uncertain, o.row) for o in outcomes],
        )
        db.executemany(
            "INSERT OR IGNORE INTO acked VALUES (?)",
            [(o.row,) for o in outcomes if o.status in _SUCCESS],
        )


# Every row as reported: a duplicate shares its survivor's id and any error (and is
# `pending` while its survivor is); a dry run's pending rows are `valid` (?1). Resolved in
# SQL: this runs once per row of the file. Its last column is `dropped`.
_REPORTED = (
    "SELECT r.row, COALESCE(r.email, '') AS email, COALESCE(r.phone, '') AS phone, "
    "CASE WHEN r.status = 'duplicate' AND s.status = 'error' THEN 'error' "
    "WHEN r.status = 'duplicate' AND s.status = 'pending' AND NOT ?1 THEN 'pending' "
    "WHEN r.status = 'pending' AND ?1 THEN 'valid' ELSE r.status END AS status, "
    "COALESCE(r.contact_id, s.contact_id, '') AS contact_id, "
    "CASE WHEN r.status = 'duplicate' AND s.status = 'error' "
    "THEN 'row ' || r.merged_into || ': ' || s.error ELSE COALESCE(r.error, '') END AS error, "
    "r.warnings AS warning, r.dropped FROM rows r LEFT JOIN rows s ON s.row = r.merged_into "
    "WHERE r.row > ?2 AND (?3 IS NULL OR r.row <= ?3)"
)


def _report_rows(
    db: sqlite3.Connection, dry_run: bool, after: int, upto: int | None
) -> Iterator[ReportRow]:
    """Rows in source order, as reported (see _REPORTED)."""
    cursor = db.execute(
        "SELECT row, email, phone, status, contact_id, error, warning "
        f"FROM ({_REPORTED}) ORDER BY row",
        (dry_run, after, upto),
    )
    return map(ReportRow._make, cursor)


def _grouped(cursor: sqlite3.Cursor, key: int) -> Iterator[list[GroupedRow]]:
    group: list[GroupedRow] = []
    current: Any = None
    for found in cursor:
        if group and found[key] != current:
            yield group
            group = []
        current = found[key]
        group.append(GroupedRow(found[0], found[1], orjson.loads(found[2])))
    if group:
        yield group


class AttemptLog:
    """The rows whose write request is about to go out, appended to a plain file (a
    commit per request cost 17 µs and waited for the acknowledgements' commits; an
    append, 1 µs). A write() outlives a killed process: the next run folds the log into
    `rows.attempted` before it sends (Journal.fold_attempts), so a row is `attempted` only
    when its request was actually sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def mark(self, rows: Iterable[PendingRow]) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self._fd, array("q", [r.row for r in rows]).tobytes())

    def read(self) -> list[int]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        rows = array("q")
        rows.frombytes(data[: len(data) - len(data) % rows.itemsize])  # a cut last write
        return rows.tolist()

    def clear(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def journal_path(state_dir: Path, job_id: str) -> Path:
    return state_dir / f"job-{job_id[:24]}.sqlite"


def account_path(state_dir: Path, account: str) -> Path:
    return state_dir / f"account-{hashlib.sha256(account.encode()).hexdigest()[:24]}.sqlite"
