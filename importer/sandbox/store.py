"""Contacts of both fake APIs, in memory, optionally written through to an SQLite file.

Everything runs on the sandbox's single event-loop thread, so there is no locking. The
SQLite backend keeps the same in-memory indexes and writes each change through, so both
backends behave identically and a restarted sandbox (same `db`) sees its old contacts.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from typing import Any

Contact = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    api TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (api, key)
)
"""


class Store:
    """Minimo contacts keyed by integer id (indexed by email and phone); Notifuse by email.

    Getters return deep copies: callers change a copy and `put` it back, so an index can
    never go stale behind the store's back.
    """

    def __init__(self, db: str | None = None) -> None:
        self._minimo: dict[int, Contact] = {}
        self._minimo_by_email: dict[str, int] = {}
        self._minimo_by_phone: dict[str, set[int]] = {}
        self._next_id = 1
        self._notifuse: dict[str, Contact] = {}
        self._fields: dict[str, dict[str, Any]] = {}  # Minimo custom-field definitions by key
        self._conn: sqlite3.Connection | None = None
        if db is not None:
            self._conn = sqlite3.connect(db)
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
            self._conn.commit()
            self._load()

    def _load(self) -> None:
        assert self._conn is not None
        for api, data in self._conn.execute("SELECT api, data FROM contacts"):
            contact = json.loads(data)
            if api == "minimo":
                self._index_minimo(contact)
            elif api == "notifuse":
                self._notifuse[contact["email"]] = contact
            elif api == "minimo-field":
                self._fields[contact["key"]] = contact

    # --- Minimo -------------------------------------------------------------------------

    def minimo_get(self, contact_id: int) -> Contact | None:
        found = self._minimo.get(contact_id)
        return copy.deepcopy(found) if found is not None else None

    def minimo_by_email(self, email: str) -> Contact | None:
        contact_id = self._minimo_by_email.get(email)
        return self.minimo_get(contact_id) if contact_id is not None else None

    def minimo_by_phone(self, phone: str) -> Contact | None:
        """The oldest contact with this phone: phones are not unique in Minimo."""
        ids = self._minimo_by_phone.get(phone)
        return self.minimo_get(min(ids)) if ids else None

    def minimo_new_id(self) -> int:
        contact_id = self._next_id
        self._next_id += 1
        return contact_id

    def minimo_put(self, contact: Contact) -> None:
        self._unindex_minimo(contact["id"])
        stored = copy.deepcopy(contact)
        self._index_minimo(stored)
        self._write("minimo", str(stored["id"]), stored)

    def minimo_all(self) -> list[Contact]:
        return [copy.deepcopy(self._minimo[i]) for i in sorted(self._minimo)]

    def minimo_fields(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(self._fields[k]) for k in sorted(self._fields)]

    def minimo_add_field(self, field: dict[str, Any]) -> None:
        self._fields[field["key"]] = copy.deepcopy(field)
        self._write("minimo-field", field["key"], field)

    def _index_minimo(self, contact: Contact) -> None:
        """A soft-deleted contact keeps its id but is found by neither email nor phone."""
        contact_id: int = contact["id"]
        self._minimo[contact_id] = contact
        self._next_id = max(self._next_id, contact_id + 1)
        if contact.get("deleted"):
            return
        self._minimo_by_email[contact["email"]] = contact_id
        if contact.get("phone"):
            self._minimo_by_phone.setdefault(contact["phone"], set()).add(contact_id)

    def _unindex_minimo(self, contact_id: int) -> None:
        old = self._minimo.pop(contact_id, None)
        if old is None:
            return
        if self._minimo_by_email.get(old["email"]) == contact_id:
            del self._minimo_by_email[old["email"]]
        ids = self._minimo_by_phone.get(old.get("phone") or "")
        if ids is not None:
            ids.discard(contact_id)
            if not ids:
                del self._minimo_by_phone[old["phone"]]

    # --- Notifuse -----------------------------------------------------------------------

    def notifuse_get(self, email: str) -> Contact | None:
        found = self._notifuse.get(email)
        return copy.deepcopy(found) if found is not None else None

    def notifuse_put(self, contact: Contact) -> None:
        stored = copy.deepcopy(contact)
        self._notifuse[stored["email"]] = stored
        self._write("notifuse", stored["email"], stored)

    def notifuse_all(self) -> list[Contact]:
        return [copy.deepcopy(self._notifuse[e]) for e in sorted(self._notifuse)]

    def notifuse_page(self, after: str, limit: int) -> list[Contact]:
        """Up to `limit` contacts whose email sorts after `after`, in email order."""
        emails = sorted(e for e in self._notifuse if e > after)[:limit]
        return [copy.deepcopy(self._notifuse[e]) for e in emails]

    def notifuse_count(self) -> int:
        return len(self._notifuse)

    def notifuse_delete(self, email: str) -> bool:
        if self._notifuse.pop(email, None) is None:
            return False
        if self._conn is not None:
            self._conn.execute("DELETE FROM contacts WHERE api = 'notifuse' AND key = ?", (email,))
        return True

    # --- lifecycle ----------------------------------------------------------------------

    def _write(self, api: str, key: str, contact: Contact) -> None:
        if self._conn is not None:
            self._conn.execute(
                "INSERT OR REPLACE INTO contacts (api, key, data) VALUES (?, ?, ?)",
                (api, key, json.dumps(contact)),
            )

    def commit(self) -> None:
        """Make one request's writes durable together (called before answering or dropping)."""
        if self._conn is not None:
            self._conn.commit()

    def reset(self) -> None:
        """Forget every contact and restart Minimo ids at 1."""
        self._minimo.clear()
        self._minimo_by_email.clear()
        self._minimo_by_phone.clear()
        self._notifuse.clear()
        self._fields.clear()
        self._next_id = 1
        if self._conn is not None:
            self._conn.execute("DELETE FROM contacts")
            self._conn.commit()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.commit()
            self._conn.close()
            self._conn = None
