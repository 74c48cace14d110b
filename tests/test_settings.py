"""Credentials and endpoints from the environment (SPEC §2, §6): checked early, never echoed."""

from __future__ import annotations

import pytest

from importer.errors import ConfigError
from importer.settings import (
    MINIMO_DEFAULT_URL,
    Credentials,
    Target,
    check_base_url,
    check_key,
    credentials_from_env,
)

SECRET = "s3cr3tK3y"


def config_error(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    assert exc.value.exit_code == 2
    return exc.value.paragraph()


# --------------------------------------------------------------------------- check_key


@pytest.mark.parametrize(
    ("name", "target", "raw"),
    [
        ("MINIMO_API_KEY", "minimo", None),
        ("MINIMO_API_KEY", "minimo", ""),
        ("MINIMO_API_KEY", "minimo", " \t\r\n"),
        ("NOTIFUSE_API_KEY", "notifuse", None),
        ("NOTIFUSE_API_KEY", "notifuse", "   "),
    ],
)
def test_missing_key(name: str, target: Target, raw: str | None) -> None:
    with pytest.raises(ConfigError) as exc:
        check_key(name, raw, target)
    what = target.capitalize()
    assert config_error(exc) == (
        f"{name} is not set. Export your {what} API key as {name} and run again."
    )


@pytest.mark.parametrize(
    ("target", "raw", "expected"),
    [
        ("minimo", f"mn-acme-{SECRET}", f"mn-acme-{SECRET}"),
        ("minimo", f"  mn-acme_2-{SECRET}\r\n", f"mn-acme_2-{SECRET}"),
        ("minimo", f"mn-acme-{SECRET}-with-dashes", f"mn-acme-{SECRET}-with-dashes"),
        ("notifuse", f"\t{SECRET}.x/y+z= \n", f"{SECRET}.x/y+z="),
    ],
)
def test_key_is_stripped(target: Target, raw: str, expected: str) -> None:
    assert check_key("KEY", raw, target) == expected


@pytest.mark.parametrize(
    ("target", "raw"),
    [
        ("minimo", f"mn-acme-{SECRET}\r\nX-Injected: 1"),
        ("minimo", f"mn-acme-{SECRET} extra"),
        ("minimo", f"mn-acme-{SECRET}\x00"),
        ("notifuse", f"{SECRET}\r\nX: 1"),
        ("notifuse", f"{SECRET}è"),
        ("notifuse", f"{SECRET}\u00a0{SECRET}"),
        ("notifuse", f"{SECRET}\x7f"),
    ],
)
def test_key_with_unprintable_characters(target: Target, raw: str) -> None:
    with pytest.raises(ConfigError) as exc:
        check_key("THE_KEY", raw, target)
    message = config_error(exc)
    what = target.capitalize()
    assert message == (
        "THE_KEY contains characters that cannot be part of an API key (spaces, line breaks "
        f"or non-ASCII). Copy the key again from your {what} account into THE_KEY."
    )
    assert SECRET not in message


@pytest.mark.parametrize(
    "raw",
    [SECRET, f"mn-{SECRET}", f"mn--{SECRET}", "mn-acme-", f"MN-acme-{SECRET}", f"nf-acme-{SECRET}"],
)
def test_minimo_key_form(raw: str) -> None:
    with pytest.raises(ConfigError) as exc:
        check_key("MINIMO_API_KEY", raw, "minimo")
    message = config_error(exc)
    assert message == (
        "MINIMO_API_KEY is not of the form mn-CLIENTID-APIKEY. Copy the whole key from "
        "Minimo's API settings, including the mn- prefix."
    )
    assert SECRET not in message


def test_notifuse_key_has_no_fixed_form() -> None:
    assert check_key("NOTIFUSE_API_KEY", SECRET, "notifuse") == SECRET


# --------------------------------------------------------------------------- check_base_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:8787", "http://localhost:8787"),
        ("http://LOCALHOST:8787/", "http://LOCALHOST:8787"),
        ("http://127.0.0.1:8787/", "http://127.0.0.1:8787"),
        ("http://127.0.0.2", "http://127.0.0.2"),
        ("http://[::1]:8787/", "http://[::1]:8787"),
        ("https://api.minimo.it", "https://api.minimo.it"),
        ("https://api.minimo.it/", "https://api.minimo.it"),
        ("  https://demo.notifuse.com/  ", "https://demo.notifuse.com"),
        ("https://demo.notifuse.com/api///", "https://demo.notifuse.com/api"),
        ("https://10.0.0.1:8443", "https://10.0.0.1:8443"),
    ],
)
def test_base_url_accepted(url: str, expected: str) -> None:
    assert check_base_url("The Minimo base URL", url) == expected


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://api.minimo.it", "api.minimo.it"),
        ("http://demo.notifuse.com/", "demo.notifuse.com"),
        ("http://10.0.0.1:8787", "10.0.0.1"),
        ("http://localhost.evil.com", "localhost.evil.com"),
        ("http://[2001:db8::1]:80", "2001:db8::1"),
    ],
)
def test_plain_http_refused_for_remote_hosts(url: str, host: str) -> None:
    with pytest.raises(ConfigError) as exc:
        check_base_url("The Notifuse base URL", url)
    assert config_error(exc) == (
        f"The Notifuse base URL uses plain http:// for a non-loopback host ({host}): the API key "
        "would travel unencrypted. Use https://."
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("not a url", "not a url"),
        ("api.minimo.it", "api.minimo.it"),
        ("ftp://api.minimo.it/", "ftp://api.minimo.it"),
        ("https:///path", "https:///path"),
    ],
)
def test_base_url_garbage(url: str, shown: str) -> None:
    with pytest.raises(ConfigError) as exc:
        check_base_url("X", url)
    assert config_error(exc) == f"X is not a valid URL: {shown!r}. Give it as https://host[:port]."


# --------------------------------------------------------------------------- credentials_from_env


def test_minimo_credentials_default_url() -> None:
    creds = credentials_from_env("minimo", env={"MINIMO_API_KEY": f" mn-acme-{SECRET} "})
    assert creds == Credentials("minimo", MINIMO_DEFAULT_URL, f"mn-acme-{SECRET}")
    assert MINIMO_DEFAULT_URL == "https://api.minimo.it"
    assert creds.account == "minimo|https://api.minimo.it|acme"
    assert SECRET not in creds.account
    assert SECRET not in repr(creds)


def test_minimo_base_url_from_env_and_flag() -> None:
    env = {"MINIMO_API_KEY": f"mn-acme-{SECRET}", "MINIMO_BASE_URL": "http://127.0.0.1:8787/"}
    assert credentials_from_env("minimo", env=env).base_url == "http://127.0.0.1:8787"
    creds = credentials_from_env("minimo", "https://staging.minimo.it/", env=env)
    assert creds.base_url == "https://staging.minimo.it"
    assert creds.account == "minimo|https://staging.minimo.it|acme"


def test_minimo_rotated_key_keeps_the_account() -> None:
    one = credentials_from_env("minimo", env={"MINIMO_API_KEY": "mn-acme-oldkey"})
    two = credentials_from_env("minimo", env={"MINIMO_API_KEY": "mn-acme-newkey"})
    assert one.account == two.account


def test_minimo_missing_key() -> None:
    with pytest.raises(ConfigError) as exc:
        credentials_from_env("minimo", env={"NOTIFUSE_API_KEY": SECRET})
    assert config_error(exc) == (
        "MINIMO_API_KEY is not set. Export your Minimo API key as MINIMO_API_KEY and run again."
    )


def test_minimo_remote_http_refused() -> None:
    env = {"MINIMO_API_KEY": f"mn-acme-{SECRET}", "MINIMO_BASE_URL": "http://api.minimo.it"}
    with pytest.raises(ConfigError) as exc:
        credentials_from_env("minimo", env=env)
    message = config_error(exc)
    assert message == (
        "The Minimo base URL uses plain http:// for a non-loopback host (api.minimo.it): the "
        "API key would travel unencrypted. Use https://."
    )
    assert SECRET not in message


NOTIFUSE_ENV = {
    "NOTIFUSE_API_KEY": f" {SECRET} ",
    "NOTIFUSE_BASE_URL": "https://demo.notifuse.com/",
    "NOTIFUSE_WORKSPACE_ID": " ws_acme ",
}


def test_notifuse_credentials() -> None:
    creds = credentials_from_env("notifuse", env=NOTIFUSE_ENV)
    assert creds == Credentials("notifuse", "https://demo.notifuse.com", SECRET, "ws_acme")
    assert creds.account == "notifuse|https://demo.notifuse.com|ws_acme"
    assert SECRET not in repr(creds)


def test_notifuse_base_url_flag_overrides_env() -> None:
    creds = credentials_from_env("notifuse", "http://localhost:8787", env=NOTIFUSE_ENV)
    assert creds.base_url == "http://localhost:8787"


@pytest.mark.parametrize("value", [None, ""])
def test_notifuse_missing_base_url(value: str | None) -> None:
    env = {k: v for k, v in NOTIFUSE_ENV.items() if k != "NOTIFUSE_BASE_URL"}
    if value is not None:
        env["NOTIFUSE_BASE_URL"] = value
    with pytest.raises(ConfigError) as exc:
        credentials_from_env("notifuse", env=env)
    assert config_error(exc) == (
        "NOTIFUSE_BASE_URL is not set. Every Notifuse account has its own domain: export it as "
        "NOTIFUSE_BASE_URL (e.g. https://demo.notifuse.com) or pass --base-url."
    )


def test_notifuse_base_url_flag_suffices() -> None:
    env = {k: v for k, v in NOTIFUSE_ENV.items() if k != "NOTIFUSE_BASE_URL"}
    creds = credentials_from_env("notifuse", "https://demo.notifuse.com", env=env)
    assert creds.base_url == "https://demo.notifuse.com"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_notifuse_missing_workspace(value: str | None) -> None:
    env = {k: v for k, v in NOTIFUSE_ENV.items() if k != "NOTIFUSE_WORKSPACE_ID"}
    if value is not None:
        env["NOTIFUSE_WORKSPACE_ID"] = value
    with pytest.raises(ConfigError) as exc:
        credentials_from_env("notifuse", env=env)
    assert config_error(exc) == (
        "NOTIFUSE_WORKSPACE_ID is not set. Export your workspace id (ws_...) as "
        "NOTIFUSE_WORKSPACE_ID."
    )


def test_notifuse_key_checked_first_and_never_echoed() -> None:
    env = {"NOTIFUSE_API_KEY": f"{SECRET}\r\n{SECRET}"}
    with pytest.raises(ConfigError) as exc:
        credentials_from_env("notifuse", env=env)
    message = config_error(exc)
    assert message.startswith("NOTIFUSE_API_KEY contains characters that cannot be part of")
    assert SECRET not in message
