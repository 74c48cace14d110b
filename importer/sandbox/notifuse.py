"""Fake Notifuse contacts API (/api/contacts.*), following the open-source server's behaviour.

The parts the importer must cope with are reproduced on purpose: strict JSON types,
server-side email normalization, `contacts.import` listing failed contacts first with an
empty email and only an index in the message, deduplication by email (last one wins),
and `null` clearing a field in `contacts.upsert` but not in `contacts.import`.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from .common import BAD_JSON, Call, Reply, go_trim, is_valid_email, now_iso, unique
from .config import SandboxConfig
from .store import Contact, Store

UNAUTHORIZED = Reply(401, {"error": "unauthorized"})
RATE_LIMITED_BODY = {"error": "rate limit exceeded"}

STRING_FIELDS = frozenset(
    [
        "external_id",
        "timezone",
        "language",
        "first_name",
        "last_name",
        "full_name",
        "phone",
        "address_line_1",
        "address_line_2",
        "country",
        "postcode",
        "state",
        "job_title",
    ]
    + [f"custom_string_{n}" for n in range(1, 6)]
)
NUMBER_FIELDS = frozenset(f"custom_number_{n}" for n in range(1, 6))
# created_at/updated_at are accepted because import honours a sent created_at.
DATETIME_FIELDS = frozenset(
    [f"custom_datetime_{n}" for n in range(1, 6)] + ["created_at", "updated_at"]
)
JSON_FIELDS = frozenset(f"custom_json_{n}" for n in range(1, 6))
ALL_FIELDS = STRING_FIELDS | NUMBER_FIELDS | DATETIME_FIELDS | JSON_FIELDS
_TIMESTAMPS = ("created_at", "updated_at")

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class ContactError(ValueError):
    """Why a contact is invalid, worded like the Go server."""


class EmailRequired(ContactError):
    """The email is missing, not a string, or unusable (import reports all of these alike)."""


def _go_type(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    return "Object"


def _type_error(key: str, expected: str, value: Any) -> ContactError:
    return ContactError(f"invalid type for {key}: expected {expected}, got {_go_type(value)}")


def _is_rfc3339(text: str) -> bool:
    if not _RFC3339.match(text):
        return False
    try:
        datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def normalize_email(value: Any) -> str | None:
    """The server's form of an email (trimmed, lowercased), or None if it is not a string."""
    return go_trim(value).lower() if isinstance(value, str) else None


def parse_contact(raw: Any, config: SandboxConfig) -> tuple[str, dict[str, Any]]:
    """Validate one contact: its normalized email and its other fields (None = sent as null)."""
    if not isinstance(raw, dict):
        raise _type_error("contact", "object", raw)
    email_value = raw.get("email")
    if email_value is None:
        raise EmailRequired("email is required")
    if not isinstance(email_value, str):
        raise EmailRequired(str(_type_error("email", "string", email_value)))
    email = go_trim(email_value).lower()
    if not email:
        raise EmailRequired("email is required")
    if not is_valid_email(email) or config.rejects(email):
        raise EmailRequired("invalid email format")
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "email":
            continue
        if key not in ALL_FIELDS:
            raise ContactError(f"unknown field: {key}")
        if value is None:
            fields[key] = None
        elif key in STRING_FIELDS:
            if not isinstance(value, str):
                raise _type_error(key, "string", value)
            fields[key] = go_trim(value)
        elif key in NUMBER_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _type_error(key, "number", value)
            fields[key] = value
        elif key in DATETIME_FIELDS:
            if not isinstance(value, str):
                raise _type_error(key, "string", value)
            text = go_trim(value)
            if not _is_rfc3339(text):
                raise ContactError(f'invalid {key}: expected RFC3339 date-time, got "{text}"')
            fields[key] = text
        elif key in JSON_FIELDS:
            if not isinstance(value, dict | list):
                raise _type_error(key, "object or array", value)
            fields[key] = value
    return email, fields


def _workspace_error(workspace: Any, config: SandboxConfig) -> Reply | None:
    if not isinstance(workspace, str) or not workspace:
        return Reply(400, {"error": "workspace_id is required"})
    if workspace != config.workspace:
        return Reply(403, {"error": "workspace not found or access denied"})
    return None


def _new_contact(email: str, now: str) -> Contact:
    return {"email": email, "lists": [], "created_at": now, "updated_at": now}


def emails_in_body(call: Call) -> list[str]:
    body = call.body if isinstance(call.body, dict) else {}
    raws = [body, body.get("contact")] + (  # body: contacts.delete names one email
        body["contacts"] if isinstance(body.get("contacts"), list) else []
    )
    found = [normalize_email(r.get("email")) for r in raws if isinstance(r, dict)]
    return unique([e for e in found if e])


def emails_in_query(call: Call) -> list[str]:
    email = normalize_email(call.query.get("email"))
    return [email] if email else []


def upsert(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """POST /api/contacts.upsert: an explicit null clears a field, an omitted one stays."""
    if call.body is BAD_JSON or not isinstance(call.body, dict):
        return Reply(400, {"error": "invalid request body"})
    error = _workspace_error(call.body.get("workspace_id"), config)
    if error is not None:
        return error
    raw = call.body.get("contact")
    if raw is None:
        return Reply(400, {"error": "contact is required"})
    try:
        email, fields = parse_contact(raw, config)
    except ContactError as exc:
        return Reply(400, {"error": f"invalid contact: {exc}"})
    now = now_iso()
    contact = store.notifuse_get(email)
    action = "update" if contact is not None else "create"
    if contact is None:
        contact = _new_contact(email, now)
    for key, value in fields.items():
        if value is None:
            if key not in _TIMESTAMPS:
                contact.pop(key, None)
        else:
            contact[key] = value
    if fields.get("updated_at") is None:
        contact["updated_at"] = now
    store.notifuse_put(contact)
    return Reply(200, {"email": email, "action": action})


def import_contacts(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """POST /api/contacts.import: errors first (index only), then one operation per email."""
    if call.body is BAD_JSON or not isinstance(call.body, dict):
        return Reply(400, {"error": "invalid request body"})
    error = _workspace_error(call.body.get("workspace_id"), config)
    if error is not None:
        return error
    raws = call.body.get("contacts")
    if not isinstance(raws, list) or not raws:
        return Reply(400, {"error": "contacts array is required"})
    lists = call.body.get("subscribe_to_lists")
    if lists is None:
        lists = []
    if not isinstance(lists, list) or not all(isinstance(x, str) for x in lists):
        return Reply(400, {"error": "subscribe_to_lists must be an array of strings"})

    operations: list[dict[str, Any]] = []
    valid: dict[str, dict[str, Any]] = {}  # insertion order = first occurrence
    for index, raw in enumerate(raws):
        try:
            email, fields = parse_contact(raw, config)
        except EmailRequired:
            reason = "email is required"
        except ContactError as exc:
            reason = str(exc)
        else:
            valid[email] = fields  # a later duplicate replaces the fields, keeps the position
            continue
        operations.append(
            {"email": "", "action": "error", "error": f"invalid contact at index {index}: {reason}"}
        )

    now = now_iso()
    for email, fields in valid.items():
        contact = store.notifuse_get(email)
        action = "update" if contact is not None else "create"
        if contact is None:
            contact = _new_contact(email, now)
        for key, value in fields.items():
            if value is not None:  # import never clears: the old value stays
                contact[key] = value
        contact["created_at"] = fields.get("created_at") or now
        contact["updated_at"] = fields.get("updated_at") or now
        _subscribe(contact, lists)
        store.notifuse_put(contact)
        operations.append({"email": email, "action": action})
    return Reply(200, {"operations": operations})


def subscribe(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """POST /api/lists.subscribe: one contact (validated like an upsert's; created when new,
    its non-null fields applied) subscribed to `list_ids`."""
    if call.body is BAD_JSON or not isinstance(call.body, dict):
        return Reply(400, {"error": "invalid request body"})
    error = _workspace_error(call.body.get("workspace_id"), config)
    if error is not None:
        return error
    lists = call.body.get("list_ids")
    if not isinstance(lists, list) or not lists or not all(isinstance(x, str) for x in lists):
        return Reply(400, {"error": "list_ids must be a non-empty array of strings"})
    try:
        email, fields = parse_contact(call.body.get("contact"), config)
    except ContactError as exc:
        return Reply(400, {"error": f"invalid contact: {exc}"})
    now = now_iso()
    contact = store.notifuse_get(email) or _new_contact(email, now)
    for key, value in fields.items():
        if value is not None:
            contact[key] = value
    _subscribe(contact, lists)
    contact["updated_at"] = now
    store.notifuse_put(contact)
    return Reply(200, {"success": True})


def get_by_email(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """GET /api/contacts.getByEmail?workspace_id=...&email=..."""
    error = _workspace_error(call.query.get("workspace_id"), config)
    if error is not None:
        return error
    email = normalize_email(call.query.get("email"))
    if not email:
        return Reply(400, {"error": "email is required"})
    contact = store.notifuse_get(email)
    if contact is None:
        return Reply(404, {"error": "Contact not found"})
    return Reply(200, {"contact": _shown(contact, with_lists=True)})


def _subscribe(contact: Contact, lists: list[str]) -> None:
    """Active memberships in `lists` (an ended one is made active again, as the server does
    for an explicit subscription)."""
    contact["lists"] = sorted(set(contact.get("lists", [])) | set(lists))
    ended = contact.get("ended_lists") or {}
    for name in lists:
        ended.pop(name, None)
    if ended:
        contact["ended_lists"] = ended
    else:
        contact.pop("ended_lists", None)


def _shown(contact: Contact, with_lists: bool) -> dict[str, Any]:
    """A stored contact as the API shows it: list memberships as `contact_lists`
    (`lists` holds the active ones, `ended_lists` the others with their status)."""
    shown = {k: v for k, v in contact.items() if k not in ("lists", "ended_lists")}
    if with_lists:
        statuses = {name: "active" for name in contact.get("lists", [])}
        statuses.update(contact.get("ended_lists") or {})
        shown["contact_lists"] = [
            {"email": contact["email"], "list_id": name, "status": statuses[name]}
            for name in sorted(statuses)
        ]
    return shown


LIST_STATUSES = ("active", "pending", "unsubscribed", "bounced", "complained")


def update_list_status(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """POST /api/contactLists.updateStatus {workspace_id, email, list_id, status}."""
    body = call.body
    if body is BAD_JSON or not isinstance(body, dict):
        return Reply(400, {"error": "Invalid request body"})
    error = _workspace_error(body.get("workspace_id"), config)
    if error is not None:
        return error
    email = normalize_email(body.get("email"))
    list_id, status = body.get("list_id"), body.get("status")
    if not isinstance(list_id, str) or not list_id or status not in LIST_STATUSES:
        return Reply(400, {"error": "list_id and a valid status are required"})
    contact = store.notifuse_get(email or "")
    member = contact is not None and (
        list_id in contact.get("lists", []) or list_id in (contact.get("ended_lists") or {})
    )
    if contact is None or not member:
        return Reply(404, {"error": "contact list not found"})
    if status in ("active", "pending"):
        _subscribe(contact, [list_id])
    else:
        contact["lists"] = [n for n in contact.get("lists", []) if n != list_id]
        contact["ended_lists"] = {**(contact.get("ended_lists") or {}), list_id: status}
    contact["updated_at"] = now_iso()
    store.notifuse_put(contact)
    return Reply(200, {"success": True})


def list_contacts(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """GET /api/contacts.list?workspace_id&limit=1..100&cursor[&email][&with_contact_lists]:
    pages in a stable order; `next_cursor` (opaque) absent on the last page."""
    error = _workspace_error(call.query.get("workspace_id"), config)
    if error is not None:
        return error
    raw_limit = call.query.get("limit", "20")
    if not raw_limit.isdecimal() or not 1 <= int(raw_limit) <= 100:
        return Reply(400, {"error": "Invalid request: limit must be between 1 and 100"})
    try:
        after = base64.urlsafe_b64decode(call.query.get("cursor", "")).decode()
    except (ValueError, UnicodeDecodeError):
        return Reply(400, {"error": "Invalid request: invalid cursor"})
    with_lists = call.query.get("with_contact_lists", "").lower() in ("1", "t", "true")
    only = normalize_email(call.query.get("email")) if call.query.get("email") else None
    if only is not None:
        found = store.notifuse_get(only) if only > after else None
        page = [found] if found is not None else []
    else:
        page = store.notifuse_page(after, int(raw_limit) + 1)
    answer: dict[str, Any] = {"contacts": [_shown(c, with_lists) for c in page[: int(raw_limit)]]}
    if len(page) > int(raw_limit):
        last = page[int(raw_limit) - 1]["email"]
        answer["next_cursor"] = base64.urlsafe_b64encode(last.encode()).decode()
    return Reply(200, answer)


def count_contacts(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """GET /api/contacts.count?workspace_id (in the server's source, not its docs)."""
    error = _workspace_error(call.query.get("workspace_id"), config)
    if error is not None:
        return error
    return Reply(200, {"total_contacts": store.notifuse_count()})


def delete(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """POST /api/contacts.delete {workspace_id, email}."""
    if call.body is BAD_JSON or not isinstance(call.body, dict):
        return Reply(400, {"error": "Invalid request body"})
    error = _workspace_error(call.body.get("workspace_id"), config)
    if error is not None:
        return error
    email = normalize_email(call.body.get("email"))
    if not email or not is_valid_email(email):
        return Reply(400, {"error": "invalid email format"})
    if not store.notifuse_delete(email):
        return Reply(404, {"error": "Contact not found"})
    return Reply(200, {"success": True})
