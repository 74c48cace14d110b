"""Frozen settings, built once from the command line and the environment.

Credentials come only from the environment (never a flag that lands in shell history) and are
validated before anything is read, so a malformed key fails fast and is never echoed.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from importer.errors import ConfigError

Target = Literal["minimo", "notifuse"]
TARGETS: tuple[Target, ...] = ("minimo", "notifuse")

MINIMO_DEFAULT_URL = "https://api.minimo.it"
_MINIMO_KEY = re.compile(r"mn-([A-Za-z0-9_]+)-([\x21-\x7e]+)")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class Credentials:
    """Where and as whom to send. `account` identifies the data, not the key (rotation-safe)."""

    target: Target
    base_url: str
    api_key: str = field(repr=False)
    workspace_id: str = ""

    @property
    def account(self) -> str:
        if self.target == "minimo":
            client_id = _MINIMO_KEY.fullmatch(self.api_key)
            return f"minimo|{self.base_url}|{client_id.group(1) if client_id else ''}"
        return f"notifuse|{self.base_url}|{self.workspace_id}"


@dataclass(frozen=True)
class RunSettings:
    """Everything `importer run` needs, decided before the run starts."""

    source: Path
    mapping: Path
    target: Target | None = None
    sheet: str | None = None
    header_row: int | None = None
    delimiter: str | None = None
    encoding: str | None = None
    report: Path | None = None
    rejects: Path | None = None
    summary_json: Path | None = None
    dry_run: bool = False
    predict: bool = False  # with dry_run: look contacts up, report what a run would change
    create_fields: bool = False  # Minimo: define the mapped custom fields the account lacks
    rate: float | None = None
    concurrency: int = 8
    batch_size: int = 100
    base_url: str | None = None
    state_dir: Path | None = None
    fresh: bool = False
    skip_unchanged: bool = False
    classify: bool | None = None
    notifuse_mode: Literal["upsert", "import"] = "upsert"
    list_id: str | None = None
    max_error_rate: float | None = None
    errors_ok: bool = False  # rows the data refused do not make the exit code 1
    rejects_warnings: bool = False  # rejects also hold the rows sent with a dropped value
    report_columns: tuple[str, ...] = ()  # source columns added to the report
    timeout: float = 30.0
    max_attempts: int = 5
    quiet: bool = False
    verbose: bool = False

    def report_path(self) -> Path:
        return self.report or Path.cwd() / f"{self.source.stem}.report.csv"

    def journal_dir(self, env: AbcMapping[str, str] = os.environ) -> Path:
        return state_dir(self.state_dir, env)


def state_dir(given: Path | None, env: AbcMapping[str, str] = os.environ) -> Path:
    """--state, else $XDG_STATE_HOME/importer (~/.local/state/importer)."""
    if given is not None:
        return given
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "importer"


def check_key(name: str, raw: str | None, target: Target) -> str:
    """Strip and validate a key; the message names the variable, never the value."""
    if raw is None or not raw.strip():
        raise ConfigError(
            f"{name} is not set.",
            f"Export your {target.capitalize()} API key as {name} and run again.",
        )
    key = raw.strip()
    if not _PRINTABLE.fullmatch(key):
        raise ConfigError(
            f"{name} contains characters that cannot be part of an API key "
            "(spaces, line breaks or non-ASCII).",
            f"Copy the key again from your {target.capitalize()} account into {name}.",
        )
    if target == "minimo" and not _MINIMO_KEY.fullmatch(key):
        raise ConfigError(
            f"{name} is not of the form mn-CLIENTID-APIKEY.",
            "Copy the whole key from Minimo's API settings, including the mn- prefix.",
        )
    return key


def check_base_url(name: str, url: str) -> str:
    """Accept https anywhere and http only on loopback, where nothing can sniff the key."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} is not a valid URL: {url!r}.", "Give it as https://host[:port].")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{name} uses plain http:// for a non-loopback host ({parts.hostname}): "
            "the API key would travel unencrypted.",
            "Use https://.",
        )
    return url


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def credentials_from_env(
    target: Target, base_url: str | None = None, env: AbcMapping[str, str] = os.environ
) -> Credentials:
    """Read and validate the target's variables (SPEC §2)."""
    if target == "minimo":
        key = check_key("MINIMO_API_KEY", env.get("MINIMO_API_KEY"), target)
        url = base_url or env.get("MINIMO_BASE_URL") or MINIMO_DEFAULT_URL
        return Credentials(target, check_base_url("The Minimo base URL", url), key)
    key = check_key("NOTIFUSE_API_KEY", env.get("NOTIFUSE_API_KEY"), target)
    notifuse_url = base_url or env.get("NOTIFUSE_BASE_URL")
    if not notifuse_url:
        raise ConfigError(
            "NOTIFUSE_BASE_URL is not set.",
            "Every Notifuse account has its own domain: export it as NOTIFUSE_BASE_URL "
            "(e.g. https://demo.notifuse.com) or pass --base-url.",
        )
    workspace = (env.get("NOTIFUSE_WORKSPACE_ID") or "").strip()
    if not workspace:
        raise ConfigError(
            "NOTIFUSE_WORKSPACE_ID is not set.",
            "Export your workspace id (ws_...) as NOTIFUSE_WORKSPACE_ID.",
        )
    return Credentials(
        target, check_base_url("The Notifuse base URL", notifuse_url), key, workspace
    )
