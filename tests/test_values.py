"""Values as people write them (SPEC §3-§5): phones with notes, mobiles for WhatsApp, lost
leading zeros, "mobile, else office", several date formats, domain typos, lists by consent.
Each through a real run against the sandbox: report lines, stored contacts, list members."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from importer.pipeline import Context, RunResult, run
from importer.sandbox import SandboxThread
from importer.settings import RunSettings
from tests.conftest import sandbox_env


def go(
    tmp: Path, sb: SandboxThread, mapping: str, rows: list[list[str]], **options: Any
) -> tuple[RunResult, list[list[str]]]:
    with (tmp / "leads.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    (tmp / "m.toml").write_text(mapping, encoding="utf-8")
    settings = RunSettings(
        source=tmp / "leads.csv",
        mapping=tmp / "m.toml",
        report=tmp / "report.csv",
        state_dir=tmp / "state",
        **options,
    )
    result = run(settings, Context(env=sandbox_env(sb.base_url)))
    with (tmp / "report.csv").open(encoding="utf-8-sig", newline="") as fh:
        return result, list(csv.reader(fh))[1:]


MINIMO = (
    'target = "minimo"\n[options]\ndefault_region = "IT"\n{options}\n[fields]\nemail = "Email"\n'
)


def phones(sb: SandboxThread) -> dict[str, str | None]:
    return {c["email"]: c["phone"] for c in sb.contacts()["minimo"]}


def test_phones_written_with_notes_are_read_and_what_is_left_out_is_said(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    """A fair list typed in Excel: 23 of 36 dropped phones were numbers any person reads."""
    cells = [
        "335 3300271 (ufficio)",
        "tel. 334 3961813",
        "339 5749629 - chiedere di Marco",
        "349 2665162 / 02 3852188",
        "+39 02 1278078 ext. 220",
        "chiamare dopo le 18",
        "339 1234567 interno 4",
    ]
    rows = [["Email", "Cellulare"]] + [[f"p{i}@gmail.com", c] for i, c in enumerate(cells)]
    mapping = MINIMO.format(options="") + 'phone = "Cellulare"\n'
    result, report = go(tmp_path, sandbox, mapping, rows, classify=False)
    assert result.exit_code == 0
    assert [(line[2], line[6]) for line in report] == [
        (
            "'+393353300271",
            "phone '335 3300271 (ufficio)' in column Cellulare: sent +393353300271, left out "
            "'ufficio'",
        ),
        (
            "'+393343961813",
            "phone 'tel. 334 3961813' in column Cellulare: sent +393343961813, left out 'tel'",
        ),
        (
            "'+393395749629",
            "phone '339 5749629 - chiedere di Marco' in column Cellulare: sent +393395749629, "
            "left out 'chiedere di Marco'",
        ),
        (
            "'+393492665162",
            "phone '349 2665162 / 02 3852188' in column Cellulare: sent +393492665162, also "
            "holds '02 3852188', not sent",
        ),
        (
            "'+39021278078",
            "phone '+39 02 1278078 ext. 220' in column Cellulare: sent +39021278078, extension "
            "220 left out (E.164 has none)",
        ),
        ("", "invalid phone 'chiamare dopo le 18' in column Cellulare: sent without phone"),
        (  # a digit outside the number: no number is read (a guess is worse)
            "",
            "invalid phone '339 1234567 interno 4' in column Cellulare: sent without phone",
        ),
    ]
    assert phones(sandbox)["p3@gmail.com"] == "+393492665162"


def test_phone_type_mobile_sends_no_landline(tmp_path: Path, sandbox: SandboxThread) -> None:
    rows = [
        ["Email", "Cellulare"],
        ["a@gmail.com", "06 9500209"],
        ["b@gmail.com", "339 1234567"],
        ["c@gmail.com", "06 1234 5678 o 347 7654321"],  # the first mobile of two
    ]
    mapping = MINIMO.format(options='phone_type = "mobile"') + 'phone = "Cellulare"\n'
    result, report = go(tmp_path, sandbox, mapping, rows, classify=False)
    assert result.exit_code == 0
    assert phones(sandbox) == {
        "a@gmail.com": None,
        "b@gmail.com": "+393391234567",
        "c@gmail.com": "+393477654321",
    }
    assert report[0][6] == (
        "landline '06 9500209' (phone_type = \"mobile\") in column Cellulare: sent without phone"
    )
    assert report[2][6] == (
        "phone '06 1234 5678 o 347 7654321' in column Cellulare: sent +393477654321, left out "
        "'o'; also holds '06 1234 5678', not sent"
    )


def test_a_lost_leading_zero_is_hinted_never_added(tmp_path: Path, sandbox: SandboxThread) -> None:
    rows = [["Email", "Telefono"], ["a@gmail.com", "5217156971"]]
    mapping = MINIMO.format(options="") + 'phone = "Telefono"\n'
    result, report = go(tmp_path, sandbox, mapping, rows, classify=False)
    assert result.exit_code == 0
    assert phones(sandbox) == {"a@gmail.com": None}
    assert report[0][6] == (
        "invalid phone '5217156971' (with the 0 that spreadsheets drop, it would be "
        "+3905217156971: if so, write it as text with its 0) in column Telefono: sent without "
        "phone"
    )


def test_first_of_takes_the_mobile_else_the_office_phone(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    """A HubSpot export: `Mobile Phone Number` and `Phone Number`, per row the first good."""
    rows = [
        ["Email", "Phone Number", "Mobile Phone Number"],
        ["a@gmail.com", "02 1234567", "339 1111111"],
        ["b@gmail.com", "02 2345678", ""],
        ["c@gmail.com", "02 3456789", "12"],
        ["d@gmail.com", "", ""],
        ["e@gmail.com", "9", "12"],
    ]
    mapping = MINIMO.format(options="") + (
        'phone = { first_of = ["Mobile Phone Number", "Phone Number"] }\n'
    )
    result, report = go(tmp_path, sandbox, mapping, rows, classify=False)
    assert result.exit_code == 0
    assert phones(sandbox) == {
        "a@gmail.com": "+393391111111",
        "b@gmail.com": "+39022345678",
        "c@gmail.com": "+39023456789",
        "d@gmail.com": None,
        "e@gmail.com": None,
    }
    assert report[4][6] == (  # none valid: the first non-empty cell is quoted
        "invalid phone '12' in column Mobile Phone Number: sent without phone"
    )


def test_several_date_formats_and_a_bad_optional_date_dropped(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    """An old CRM writes 27.04.2016 and 27/04/2016: 11% of its contacts were rejected."""
    rows = [
        ["Email", "Angelegt am", "Letzter Kontakt"],
        ["a@gmail.com", "27.04.2016", "01/02/2020"],
        ["b@gmail.com", "27/04/2016", "gestern"],
        ["c@gmail.com", "2016-04-27", ""],
    ]
    mapping = (
        'target = "notifuse"\n[fields]\nemail = "Email"\n'
        'custom_datetime_1 = { column = "Angelegt am", format = ["%d.%m.%Y", "%d/%m/%Y"] }\n'
        'custom_datetime_2 = { column = "Letzter Kontakt", format = "%d/%m/%Y", '
        'on_invalid = "drop" }\n'
    )
    result, report = go(tmp_path, sandbox, mapping, rows)
    assert [line[3] for line in report] == ["created", "created", "error"]
    stored = {c["email"]: c for c in sandbox.contacts()["notifuse"]}
    assert stored["a@gmail.com"]["custom_datetime_1"] == "2016-04-27T00:00:00+00:00"
    assert stored["b@gmail.com"]["custom_datetime_1"] == "2016-04-27T00:00:00+00:00"
    assert "custom_datetime_2" not in stored["b@gmail.com"]
    assert report[1][6] == (
        "'gestern' is not a date in format '%d/%m/%Y'; set `format` in the mapping (e.g. "
        '"%d/%m/%Y") in column Letzter Kontakt: sent without custom_datetime_2'
    )
    assert report[2][5] == (
        "'2016-04-27' is not a date in format '%d.%m.%Y' or '%d/%m/%Y'; set `format` in the "
        'mapping (e.g. "%d/%m/%Y") in column Angelegt am'
    )
    assert result.exit_code == 1


def test_two_formats_that_read_a_date_differently_are_no_guess(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    rows = [["Email", "Nato il"], ["a@gmail.com", "03/04/1990"], ["b@gmail.com", "25/04/1990"]]
    mapping = (
        'target = "notifuse"\n[fields]\nemail = "Email"\n'
        'custom_datetime_1 = { column = "Nato il", format = ["%d/%m/%Y", "%m/%d/%Y"] }\n'
    )
    _, report = go(tmp_path, sandbox, mapping, rows)
    assert [line[3] for line in report] == ["error", "created"]
    assert report[0][5] == (
        "'03/04/1990' is ambiguous: 1990-04-03 00:00 ('%d/%m/%Y') or 1990-03-04 00:00 "
        "('%m/%d/%Y') in column Nato il"
    )


def test_a_domain_one_typo_from_a_common_provider_is_warned(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    rows = [["Email"], ["mario@gmail.con"], ["anna@hotmial.com"], ["luca@acme.it"]]
    result, report = go(tmp_path, sandbox, MINIMO.format(options=""), rows, classify=False)
    assert result.exit_code == 0
    assert [(line[1], line[6]) for line in report] == [
        ("mario@gmail.con", "'mario@gmail.con' may be a typo of mario@gmail.com (not corrected)"),
        (
            "anna@hotmial.com",
            "'anna@hotmial.com' may be a typo of anna@hotmail.com (not corrected)",
        ),
        ("luca@acme.it", ""),
    ]
    assert {c["email"] for c in sandbox.contacts()["minimo"]} == {
        "mario@gmail.con",
        "anna@hotmial.com",
        "luca@acme.it",
    }


CONSENT = [
    ["Email", "Newsletter", "Webinar"],
    ["yes@gmail.com", "Sì", "no"],
    ["no@gmail.com", "No", "x"],
    ["blank@gmail.com", "", ""],
    ["odd@gmail.com", "forse", ""],
    ["yes@gmail.com", "", ""],  # a duplicate: a blank never takes the earlier Sì back
]
LISTS = (
    'target = "notifuse"\n'
    'lists = [{ column = "Newsletter", list = "newsletter" }, '
    '{ column = "Webinar", list = "webinar" }]\n'
    '[fields]\nemail = "Email"\n'
)


@pytest.mark.parametrize("mode", ["upsert", "import"])
def test_lists_subscribe_exactly_the_rows_whose_consent_is_true(
    tmp_path: Path, sandbox: SandboxThread, mode: str
) -> None:
    """`--list newsletter` once subscribed all rows: 65 "No" and 66 blank ones too."""
    result, report = go(tmp_path, sandbox, LISTS, CONSENT, notifuse_mode=mode)
    assert result.exit_code == 0
    members = {c["email"]: c["lists"] for c in sandbox.contacts()["notifuse"]}
    assert members == {
        "yes@gmail.com": ["newsletter"],
        "no@gmail.com": ["webinar"],
        "blank@gmail.com": [],
        "odd@gmail.com": [],
    }
    assert report[3][6] == (
        "'forse' is not yes/no (accepted: true/false, yes/no, sì/no, 1/0, x; or add a `values` "
        "table to the mapping) in column Newsletter: not subscribed to list 'newsletter'"
    )
    subscribe = [r for r in sandbox.requests() if r["path"] == "/api/lists.subscribe"]
    assert len(subscribe) == (2 if mode == "upsert" else 0)
