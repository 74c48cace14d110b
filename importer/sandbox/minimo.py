"""Fake Minimo contacts API (api.minimo.it/public/v1/contacts), per its documentation.

Validation is all-or-nothing: every item of an array is checked before any is applied,
and the error does not say which item failed (the behaviour the importer must assume).
"""

from __future__ import annotations

import re
from typing import Any

from .common import BAD_JSON, Call, Reply, is_valid_email, now_iso
from .config import SandboxConfig
from .store import Contact, Store

PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")

UNAUTHORIZED = Reply(401, {"error": "unauthorized"})
RATE_LIMITED_BODY = {"error": "rate_limit_exceeded"}
_INVALID_JSON = Reply(400, {"error": "invalid_json"})
_VALIDATION = Reply(400, {"error": "validation_error"})
_BAD_PHONE = Reply(400, {"error": "invalid_phone_number"})


def _check(item: Any, config: SandboxConfig, *, email_required: bool) -> Reply | None:
    """The 400 this item earns, or None when it is acceptable."""
    if not isinstance(item, dict):
        return _VALIDATION
    if "email" in item or email_required:
        email = item.get("email")
        if not isinstance(email, str) or not is_valid_email(email.lower()):
            return _VALIDATION
        if config.rejects(email.lower()):
            return _VALIDATION
    if "phone" in item and not (isinstance(item["phone"], str) and PHONE_RE.match(item["phone"])):
        return _BAD_PHONE
    if "customFields" in item and not isinstance(item["customFields"], dict):
        return _VALIDATION
    if "marketingConsent" in item:
        consent = item["marketingConsent"]
        if not isinstance(consent, dict):
            return _VALIDATION
        if any(not isinstance(consent[k], bool) for k in ("email", "whatsapp") if k in consent):
            return _VALIDATION
    return None


def _deep_merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


def _apply_fields(contact: Contact, item: dict[str, Any], now: str) -> None:
    """Only provided fields change; custom fields deep-merge; an omitted channel stays."""
    if "email" in item:
        contact["email"] = item["email"].lower()
    if "phone" in item:
        contact["phone"] = item["phone"]
    if "customFields" in item:
        _deep_merge(contact["customFields"], item["customFields"])
    consent = item.get("marketingConsent") or {}
    for channel in ("email", "whatsapp"):
        if channel in consent:
            contact["marketingConsent"][channel] = consent[channel]
    contact["updatedAt"] = now


def emails_in_body(call: Call) -> list[str]:
    """Emails named by a request body (for the request log), lowercased like the server does."""
    items = call.body if isinstance(call.body, list) else [call.body]
    return [
        i["email"].lower() for i in items if isinstance(i, dict) and isinstance(i.get("email"), str)
    ]


def emails_in_path(call: Call) -> list[str]:
    return [call.match["email"].lower()]


def upsert(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """POST /public/v1/contacts: match by email, then by phone, else create."""
    if call.body is BAD_JSON:
        return _INVALID_JSON
    items = call.body if isinstance(call.body, list) else [call.body]
    if not items:
        return _VALIDATION
    for item in items:
        error = _check(item, config, email_required=True)
        if error is not None:
            return error
    now = now_iso()
    answer = []
    for item in items:
        email = item["email"].lower()
        contact = store.minimo_by_email(email)
        if contact is None and "phone" in item:
            contact = store.minimo_by_phone(item["phone"])
        if contact is None:
            contact = {
                "id": store.minimo_new_id(),
                "email": email,
                "phone": None,
                "customFields": {},
                "marketingConsent": {},
                "createdAt": now,
                "updatedAt": now,
            }
        else:
            call.touched.append(contact["email"])
        _apply_fields(contact, item, now)
        store.minimo_put(contact)
        answer.append({"contactId": str(contact["id"])})
    return Reply(200, answer)


def get_by_email(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """GET /public/v1/contacts/by-email/{email} (the segment arrives percent-decoded)."""
    contact = store.minimo_by_email(call.match["email"].lower())
    if contact is None:
        return Reply(404, {"error": "not_found"})
    return Reply(200, {"data": contact})


def _by_id(call: Call, store: Store) -> Contact | None:
    raw_id = call.match["id"]
    return store.minimo_get(int(raw_id)) if raw_id.isdecimal() and raw_id.isascii() else None


def update_by_id(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """PUT /public/v1/contacts/{id}: same checks and merge as upsert, never creates; a
    soft-deleted contact is restored with the data sent.

    Moving a contact onto an email another contact already has is refused as a
    validation_error (undocumented; the alternative would be two contacts per email).
    """
    contact = _by_id(call, store)
    if contact is None:
        return Reply(404, {"message": "Contact not found"})
    call.touched.append(contact["email"])
    if call.body is BAD_JSON:
        return _INVALID_JSON
    error = _check(call.body, config, email_required=False)
    if error is not None:
        return error
    item: dict[str, Any] = call.body
    if "email" in item:
        owner = store.minimo_by_email(item["email"].lower())
        if owner is not None and owner["id"] != contact["id"]:
            return _VALIDATION
    email: str = item["email"].lower() if "email" in item else contact["email"]
    owner = store.minimo_by_email(email)
    if contact.get("deleted") and owner is not None and owner["id"] != contact["id"]:
        return _VALIDATION  # restoring it would give its email two contacts
    contact.pop("deleted", None)
    _apply_fields(contact, item, now_iso())
    store.minimo_put(contact)
    return Reply(200, {"id": contact["id"], "phone": contact["phone"]})


def delete_by_id(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """DELETE /public/v1/contacts/{id}: a soft delete (look-ups then give 404; a PUT
    restores it). Unknown or already deleted: 404."""
    contact = _by_id(call, store)
    if contact is None or contact.get("deleted"):
        return Reply(404, {"message": "Contact not found"})
    call.touched.append(contact["email"])
    contact["deleted"] = True
    contact["updatedAt"] = now_iso()
    store.minimo_put(contact)
    return Reply(200, {"id": contact["id"], "deleted": True})


FIELD_TYPES = ("text", "number", "boolean", "date", "datetime", "select", "json")


def list_fields(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """GET /public/v1/custom-fields: the account's definitions (keys upper-cased)."""
    return Reply(200, {"data": store.minimo_fields()})


def create_field(call: Call, store: Store, config: SandboxConfig) -> Reply:
    """POST /public/v1/custom-fields {key, displayName?, type?, category?}."""
    body = call.body
    if body is BAD_JSON or not isinstance(body, dict):
        return _INVALID_JSON
    key, kind = body.get("key"), body.get("type", "text")
    if not isinstance(key, str) or not key.strip() or kind not in FIELD_TYPES:
        return _VALIDATION
    key = key.strip().upper()
    if any(f["key"] == key for f in store.minimo_fields()):
        return Reply(400, {"error": "key already exists"})
    name = body.get("displayName") or body.get("display_name") or key
    field = {"key": key, "displayName": name, "type": kind, "category": body.get("category")}
    store.minimo_add_field(field)
    return Reply(201, {"data": field})
