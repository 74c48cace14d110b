"""What every part of the job database shares: its connection and transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SUCCESS = ("created", "updated", "upserted")


def with_warning(param: str) -> str:
    """SQL for the row's warnings with the one in `param` appended (a NULL appends none)."""
    return (
        f"COALESCE(warnings || CASE WHEN warnings = '' THEN '' ELSE '; ' END || {param}, warnings)"
    )


class Base:
    """The open job database the parts of `Journal` work on."""

    path: Path
    durable: bool
    db: sqlite3.Connection

    def _transaction(self) -> sqlite3.Connection:
        return begin(self.db)


def add_column(db: sqlite3.Connection, schema: str, table: str, column: str) -> None:
    """A database of an earlier version gains a column it lacks."""
    name = column.split()[0]
    if name not in {c[1] for c in db.execute(f"PRAGMA {schema}.table_info({table})")}:
        db.execute(f"ALTER TABLE {schema}.{table} ADD COLUMN {column}")


def begin(db: sqlite3.Connection, kind: str = "") -> sqlite3.Connection:
    """`with begin(db):` one transaction: committed at the end, rolled back on an error."""
    db.execute(f"BEGIN {kind}")
    return db


def connect(path: Path, durable: bool, check_same_thread: bool = True) -> sqlite3.Connection:
    db = sqlite3.connect(
        path, isolation_level=None, timeout=60, check_same_thread=check_same_thread
    )
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={'NORMAL' if durable else 'OFF'}")
    return db
