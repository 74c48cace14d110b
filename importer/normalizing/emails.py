"""Emails as the APIs compare them: trimmed, lowercased, as written; syntax checked by
email-validator (plain ASCII addresses take a fast path held to the same verdicts)."""

from __future__ import annotations

import re

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from importer.cells import clean_text

_FAST_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_NAME_ADDR = re.compile(r".*<\s*([^<>]*?)\s*>")


def normalize_email(raw: str) -> str | None:
    """The address as written, trimmed and lowercased (as the APIs compare it), if its
    syntax is valid, else None. Accepts `Name <addr>` and `mailto:`.

    Plain ASCII addresses take a fast path that accepts only what email-validator accepts
    (tests hold the two to agreement); anything else goes to email-validator itself.
    """
    text = clean_text(raw).lower()
    if _fast_email_ok(text):
        return text
    match = _NAME_ADDR.fullmatch(text)
    if match:
        text = match.group(1)
    if text.startswith("mailto:"):
        text = text[7:]
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None
    return text  # as written: the validator's form (bücher.de for xn--bcher-kva.de, NFC
    # local parts) is not what the APIs compare, and an update would become a new contact


def _fast_email_ok(text: str) -> bool:
    """A dot-atom local part and a hostname with an alphabetic, not special-use TLD."""
    if len(text) > 254 or not _FAST_EMAIL.fullmatch(text):
        return False
    local, _, domain = text.partition("@")
    tld = domain.rpartition(".")[2]
    return len(local) <= 64 and tld not in SPECIAL_USE_DOMAIN_NAMES and "xn--" not in domain
