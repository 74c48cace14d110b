"""Emails as the APIs compare them: trimmed, lowercased, as written; syntax checked by
email-validator (plain ASCII addresses take a fast path held to the same verdicts)."""

from __future__ import annotations

import re
from functools import lru_cache

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


# The mail providers most addresses of the lists this tool imports are at (Italian first):
# a domain one typo away from one of them is most likely that one mistyped. Written here:
# pymailcheck (the Python port of mailcheck.js) is unmaintained since 2019 and suggests on a
# looser distance, warning about many real company domains.
PROVIDERS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.it",
        "yahoo.fr",
        "yahoo.de",
        "yahoo.co.uk",
        "ymail.com",
        "hotmail.com",
        "hotmail.it",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.co.uk",
        "outlook.com",
        "outlook.it",
        "live.com",
        "live.it",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "libero.it",
        "virgilio.it",
        "alice.it",
        "tim.it",
        "tin.it",
        "tiscali.it",
        "fastwebnet.it",
        "email.it",
        "inwind.it",
        "iol.it",
        "katamail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "laposte.net",
        "sfr.fr",
        "bluewin.ch",
        "protonmail.com",
        "proton.me",
        "mail.com",
    ]
)


def typo_warning(email: str) -> tuple[str, ...]:
    """A warning naming the likely address when the domain is one typo (a letter added,
    missing, changed or two swapped) away from a common mail provider; never a correction."""
    local, _, domain = email.rpartition("@")
    if domain in PROVIDERS:
        return ()
    near = _near_provider(domain)
    return (f"{email!r} may be a typo of {local}@{near} (not corrected)",) if near else ()


@lru_cache(maxsize=1 << 14)  # domains repeat: a run looks each one up once
def _near_provider(domain: str) -> str | None:
    near = [p for p in PROVIDERS if _one_typo_apart(domain, p)]
    return near[0] if len(near) == 1 else None


def _one_typo_apart(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance exactly 1: a letter added, missing, changed, or two
    next to each other swapped."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):  # one letter missing from `a`
        return a[i:] == b[i + 1 :]
    if a[i + 1 :] == b[i + 1 :]:  # one letter changed
        return True
    swapped = i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i]
    return swapped and a[i + 2 :] == b[i + 2 :]
