"""Starter mappings (`importer mapping suggest`): a file's headers, and a sample, → TOML text.

The output is for a person to review, not a finished mapping, so every guess shows where it
came from in a comment and nothing is dropped silently: a column that is not mapped is named.
Whatever the headers are, the text parses and binds to them (`parse_mapping` + `bind`), so the
first `--dry-run` with it fails only on the data, never on the mapping itself.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from importer.mapping import header_key
from importer.normalizing import (
    CellError,
    cell_text,
    normalize_email,
    normalize_phone,
    parse_number,
)
from importer.reading import Cell, ReadOptions, open_source
from importer.settings import Target

# ---------------------------------------------------------------------------------------------
# Header vocabulary

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_E_MAIL = re.compile(r"\be[\W_]*mail\b")
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> tuple[str, ...]:
    """A header as plain ASCII words: case, accents, camelCase and punctuation do not matter."""
    text = unicodedata.normalize("NFKD", _CAMEL.sub(" ", text))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return tuple(_WORD.findall(_E_MAIL.sub("email", text)))


@dataclass(frozen=True)
class _Concept:
    """What a column holds, the names it goes by, and where each target stores it.

    `exact`: whole-header names, best first, `|`-separated (compared without spaces).
    `contains`: `|`-separated rules of `+`-joined phrases that must all appear in a header.
    """

    name: str
    exact: str
    contains: str = ""
    notifuse: str | None = None
    minimo: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple("".join(_words(n)) for n in self.exact.split("|"))

    @property
    def rules(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(r.split("+")) for r in self.contains.split("|") if r)


_CONSENT = "newsletter|consenso|consent|marketing|opt in|optin|gdpr"

# Order matters only for headers matched by a phrase they contain: the first concept wins, so
# "Email consent" is a consent, "Email azienda" an email, "Telefono ufficio" a phone.
_CONCEPTS = (
    _Concept(
        "whatsapp_consent",
        "consenso whatsapp|whatsapp consent|whatsapp opt in|marketing whatsapp",
        "|".join(f"whatsapp+{w}" for w in _CONSENT.split("|")),
        minimo="marketingConsent.whatsapp",
    ),
    _Concept(
        "consent",
        "newsletter|consenso newsletter|newsletter consent|iscrizione newsletter|"
        "consenso marketing|marketing consent|email consent|consenso email|consenso|consent|"
        "marketing|opt in|email opt in|accepts marketing|subscribed|privacy consent|"
        "consenso privacy|gdpr",
        _CONSENT,
        minimo="marketingConsent.email",
    ),
    _Concept(
        "email",
        "email|email address|indirizzo email|posta elettronica|indirizzo di posta elettronica|"
        "mail|email addr|correo electronico|courriel|adresse email",
        "email|mail|posta elettronica",
        notifuse="email",
        minimo="email",
    ),
    _Concept(
        "phone",
        # mobiles first: both APIs are used to reach people on their phones
        "cellulare|mobile|mobile phone|mobile number|cell|cell phone|numero di cellulare|"
        "numero cellulare|telefono cellulare|whatsapp|numero whatsapp|phone|phone number|"
        "telephone|telefono|numero di telefono|numero telefono|tel|telefon|handy",
        "cellulare|mobile|cell|cellphone|whatsapp|phone|telephone|telefono|tel|telefon",
        notifuse="phone",
        minimo="phone",
    ),
    _Concept(
        "full_name",
        "full name|nome completo|name|nome e cognome|nominativo|contact name",
        "full name|nome completo|nominativo",
        notifuse="full_name",
        minimo="customFields.name",
    ),
    _Concept(
        "first_name",
        "first name|nome|given name|forename|prenom|nombre|vorname",
        "first name|given name",
        notifuse="first_name",
        minimo="customFields.firstName",
    ),
    _Concept(
        "last_name",
        "last name|cognome|surname|family name|nom|apellidos|nachname",
        "last name|cognome|surname|family name",
        notifuse="last_name",
        minimo="customFields.lastName",
    ),
    _Concept(
        "company",
        "company|azienda|societa|ragione sociale|company name|nome azienda|organization|"
        "organisation|organizzazione|ditta|impresa|employer|entreprise|empresa|firma",
        "company|azienda|societa|ragione sociale|organization|organisation|organizzazione|"
        "ditta|impresa|employer",
        minimo="customFields.company",
    ),
    _Concept(
        "address_line_2",
        "address line 2|address 2|indirizzo 2",
        notifuse="address_line_2",
        minimo="customFields.address2",
    ),
    _Concept(
        "address_line_1",
        "address|indirizzo|street|street address|address line 1|address 1|indirizzo 1|via|"
        "adresse|direccion|strasse",
        "address|indirizzo|street",
        notifuse="address_line_1",
        minimo="customFields.address",
    ),
    _Concept(
        "postcode",
        "postcode|post code|postal code|zip|zip code|cap|codice postale|plz|code postal|"
        "codigo postal",
        "postcode|postal code|zip|cap|codice postale",
        notifuse="postcode",
        minimo="customFields.postcode",
    ),
    _Concept(
        "city",
        "city|citta|comune|localita|town|ville|ciudad|stadt|ort",
        "city|citta|comune|localita|town",
        minimo="customFields.city",
    ),
    _Concept(
        "state",
        "state|province|provincia|region|regione|county",
        "provincia|province|regione",
        notifuse="state",
        minimo="customFields.state",
    ),
    _Concept(
        "country",
        "country|paese|nazione|country code|pays|pais|land",
        "country|paese|nazione",
        notifuse="country",
        minimo="customFields.country",
    ),
    _Concept(
        "job_title",
        "job title|ruolo|qualifica|posizione|position|role|mansione|job|occupation|"
        "professione|carica",
        "job title|ruolo|qualifica|mansione|professione",
        notifuse="job_title",
        minimo="customFields.jobTitle",
    ),
    _Concept(
        "language",
        "language|lingua|lang|locale|idioma|langue|sprache",
        "language|lingua",
        notifuse="language",
        minimo="customFields.language",
    ),
    _Concept(
        "timezone",
        "timezone|time zone|tz|fuso orario",
        "timezone|time zone|fuso orario",
        notifuse="timezone",
        minimo="customFields.timezone",
    ),
    _Concept(
        "external_id",
        "id|customer id|codice cliente|client id|id cliente|contact id|external id|"
        "customer number|numero cliente|customer code|crm id|cod cliente|record id",
        "customer id|codice cliente|id cliente|external id",
        notifuse="external_id",
        minimo="customFields.externalId",
    ),
)
_BY_NAME = {c.name: c for c in _CONCEPTS}
_NAMES = {c.name: c.names for c in _CONCEPTS}
_RULES = {c.name: c.rules for c in _CONCEPTS}

# A header with one of these words names a date (e.g. "Data iscrizione newsletter"): only a
# whole-header name may match it, never a phrase it contains.
_DATE_WORDS = frozenset(["data", "date", "giorno", "il", "on", "at", "quando", "when", "ora"])

_YES = frozenset(["true", "yes", "y", "1", "x", "si", "oui", "ja", "vero", "ok"])
_NO = frozenset(["false", "no", "n", "0", "non", "nein", "falso"])

# Country names a marketing list is likely to hold (Italian and English first) → ISO code.
_COUNTRY_NAMES = {
    "IT": "Italia|Italy|ITA|Italie|Italien",
    "CH": "Svizzera|Switzerland|Schweiz|Suisse|CHE",
    "FR": "Francia|France|Frankreich|FRA",
    "DE": "Germania|Germany|Deutschland|Allemagne|DEU",
    "ES": "Spagna|Spain|España|Espagne|ESP",
    "GB": "Regno Unito|United Kingdom|UK|Gran Bretagna|Great Britain|GBR|Inghilterra|England|"
    "Scotland|Scozia|Wales|Galles",
    "US": "Stati Uniti|USA|United States|Stati Uniti d'America|U.S.A.|United States of America",
    "AT": "Austria|Österreich|Autriche|AUT",
    "SM": "San Marino|Repubblica di San Marino|SMR",
    "VA": "Vaticano|Città del Vaticano|Vatican City",
    "BE": "Belgio|Belgium|Belgique|België",
    "NL": "Paesi Bassi|Olanda|Netherlands|Holland|Nederland",
    "PT": "Portogallo|Portugal",
    "IE": "Irlanda|Ireland",
    "GR": "Grecia|Greece",
    "PL": "Polonia|Poland|Polska",
    "RO": "Romania|România",
    "SI": "Slovenia",
    "HR": "Croazia|Croatia|Hrvatska",
    "AL": "Albania",
    "MT": "Malta",
    "LU": "Lussemburgo|Luxembourg",
    "MC": "Principato di Monaco|Monaco",
    "CA": "Canada",
    "BR": "Brasile|Brazil|Brasil",
    "AR": "Argentina",
}
_COUNTRIES = {
    " ".join(_words(n)): code for code, ns in _COUNTRY_NAMES.items() for n in ns.split("|")
}
_ISO2 = frozenset(_COUNTRY_NAMES) | frozenset(
    ["SE", "NO", "DK", "FI", "CZ", "SK", "HU", "BG", "RS", "CN", "JP", "IN", "AU", "MX"]
)
_TIMEZONES = {
    "IT": "Europe/Rome",
    "SM": "Europe/San_Marino",
    "VA": "Europe/Vatican",
    "CH": "Europe/Zurich",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
    "GB": "Europe/London",
    "AT": "Europe/Vienna",
}

_DATE_FORMATS = (  # day first: the lists this tool is for are mostly European
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%d/%m/%y",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d",
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LEADING_ZERO = re.compile(r"[+-]?0[0-9]")
_LONG_DIGITS = re.compile(r"[0-9]{9,}")
_NOTIFUSE_SLOTS = 5

# ---------------------------------------------------------------------------------------------
# TOML text


def _q(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\t\n\r":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(name: str) -> str:
    """A TOML key: bare when it can be, so `email = ...` reads like the SPEC's examples."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _q(name)


def _show(text: str) -> str:
    """A header inside a comment: quoted, on one line, whatever characters it holds."""
    inner = _q(text)[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return "'" + inner + "'"


def _value(value: str | bool | dict[str, str | bool]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _q(value)
    return "{ " + ", ".join(f"{_q(k)} = {_value(v)}" for k, v in value.items()) + " }"


# ---------------------------------------------------------------------------------------------
# What the sample says about a column


@dataclass(frozen=True)
class _Kind:
    """A custom column's type as the sample shows it; `format` for dates written as text."""

    type: str = "string"
    format: str | None = None
    decimals: frozenset[str] = frozenset()  # numbers: see _numbers
    note: str | None = None


def _present(cell: Cell) -> bool:
    return cell is not None and bool(cell_text(cell))


def _numbers(cells: list[Cell]) -> frozenset[str]:
    """How every cell reads as a number: with decimal "," / "." / "auto" (the importer's own
    per-cell detection, used when the mapping sets no `decimal`); empty: not numbers.

    Leading zeros and long digit runs are identifiers (codes, phones, postcodes) whatever they
    look like: as numbers they would lose digits.
    """
    fits = {",", ".", "auto"}
    for cell in cells:
        if isinstance(cell, bool | datetime | date | time):
            return frozenset()
        text = cell_text(cell)
        if _LONG_DIGITS.search(text):
            return frozenset()
        if isinstance(cell, int | float):
            continue
        if _LEADING_ZERO.match(text):
            return frozenset()
        for way in list(fits):
            try:
                parse_number(text, None if way == "auto" else way)
            except CellError:
                fits.discard(way)
        if not fits:
            break
    return frozenset(fits)


def _date_format(cells: Sequence[Cell]) -> tuple[bool, str | None]:
    """(all cells are dates, the strptime format for those written as text, if one is needed)."""
    texts = [cell_text(c) for c in cells if not isinstance(c, datetime | date)]
    if any(isinstance(c, time) for c in cells):
        return False, None
    if not texts:
        return True, None
    if all(_ISO_DATE.match(t) for t in texts):
        try:
            for t in texts:
                datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            return False, None
        return True, None
    for fmt in _DATE_FORMATS:
        try:
            for t in texts:
                datetime.strptime(t, fmt)
        except ValueError:
            continue
        return True, fmt
    return False, None


def _kind(cells: list[Cell]) -> _Kind:
    if not cells:
        return _Kind()
    dated, fmt = _date_format(cells)
    if dated:
        note = None
        if fmt and fmt.startswith("%d/%m/"):
            swapped = fmt.replace("%d/%m/", "%m/%d/")
            texts = [cell_text(c) for c in cells if not isinstance(c, datetime | date)]
            if _date_format(texts)[1] == fmt and all(_parses(t, swapped) for t in texts):
                note = "{header}: read as day/month; the sample has no day over 12 to be sure."
        return _Kind("datetime", fmt, note=note)
    decimals = _numbers(cells)
    if decimals:
        return _Kind("number", decimals=decimals)
    return _Kind()


def _parses(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def _yes_no(cells: list[Cell], native: bool = True) -> dict[str, str | bool] | None:
    """The `values` table for a consent column whose texts are all yes/no words, else None.

    `native`: Excel's TRUE/FALSE and 1/0 cells need no entry (a bool field reads them).
    """
    table: dict[str, str | bool] = {}
    seen: set[str] = set()
    for cell in cells:
        if native and isinstance(cell, int | float) and cell in (0, 1):
            continue
        text = cell_text(cell)
        word = " ".join(_words(text))
        if word not in _YES and word not in _NO:
            return None
        if header_key(text) not in seen:
            seen.add(header_key(text))
            table[text] = word in _YES
    return table


def _country(text: str) -> str | None:
    words = " ".join(_words(text))
    if words in _COUNTRIES:
        return _COUNTRIES[words]
    code = text.strip().upper()
    return code if code in _ISO2 else None


def _looks_italian(phones: list[str]) -> tuple[int, int]:
    """(valid Italian numbers, phones without +country): the evidence for default_region IT.

    Only Italy is guessed: German and British numbering accept most digit strings, so a vote
    among countries would pick one for the wrong reason. Italian mobiles (3xx) must be at
    least half, which a German list whose 0-prefixed numbers also parse in Italy is not.
    """
    local = [p for p in phones if not re.sub(r"[\s().\-/]", "", p).startswith(("+", "00"))]
    valid = [p for p in local if normalize_phone(p, "IT")[0] is not None]
    mobiles = [p for p in valid if _national(p)[:1] == "3"]
    if len(mobiles) * 2 < len(local):
        return 0, len(local)
    return len(valid), len(local)


def _national(phone: str) -> str:
    """The digits after an optional 39 (only a number too long to be national has one)."""
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if len(digits) >= 11 and digits.startswith("39") else digits


# ---------------------------------------------------------------------------------------------
# The suggestion

_CONSENTS = ("consent", "whatsapp_consent")


@dataclass
class _Column:
    index: int
    header: str
    cells: list[Cell]  # the sample's non-empty cells
    concept: _Concept | None = None
    rank: tuple[int, int] = (9, 0)  # (0: whole-header name / 1: contained phrase, its order)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    """What is decided, before it is written: option lines, field lines, notes."""

    options: list[tuple[str, str]] = field(default_factory=list)  # (line, comment)
    fields: list[tuple[int, list[str], str]] = field(default_factory=list)  # (order, notes, line)
    custom: list[_Column] = field(default_factory=list)  # columns no target field takes
    notes: list[str] = field(default_factory=list)


def suggest_mapping(
    headers: Sequence[str], target: Target, sample_rows: Sequence[Sequence[Cell]] = ()
) -> str:
    """The text of a starter mapping for these headers; `sample_rows` sharpen the guesses.

    The sample decides what headers alone cannot: the phones' default region, the country
    names' ISO codes, a consent column's yes/no words, numbers and dates in custom columns.
    """
    return _suggest(headers, target, sample_rows, origin=None)


def suggest_for_file(path: Path, target: Target, read: ReadOptions, sample: int = 200) -> str:
    """`suggest_mapping` for a spreadsheet: its headers and its first `sample` non-empty rows.

    The output names the file, its detected format and header row: `run` must read the file
    the same way (same --sheet/--header-row/--delimiter/--encoding) for the mapping to fit.
    """
    rows: list[tuple[Cell, ...]] = []
    with open_source(path, read) as source:
        for row in source.rows():
            if len(rows) >= sample:
                break
            if not row.empty:
                rows.append(row.cells)
        origin = (
            f"Read from {source.description}, header on row {source.header_row}; "
            f"{len(rows)} data row{'' if len(rows) == 1 else 's'} sampled."
        )
    return _suggest(source.headers, target, rows, origin)


def _suggest(
    headers: Sequence[str],
    target: Target,
    sample_rows: Sequence[Sequence[Cell]],
    origin: str | None,
) -> str:
    plan = _Plan()
    columns = _usable_columns(headers, sample_rows, plan)
    chosen = _choose(columns)
    _first_name_or_full(chosen)
    email = chosen.get("email") or _email_by_content(columns, chosen)
    phone, country = chosen.get("phone"), chosen.get("country")
    countries, unknown = _country_values(country)
    region = _default_region(plan, country, phone)

    _email_line(plan, email, headers)
    if phone is not None:
        _phone_line(plan, phone, country, countries, unknown)
    used = {c.index for c in chosen.values()}
    taken: set[str] = set()
    for column in columns:
        concept = column.concept if column.index in used else None
        name = (
            None
            if concept is None
            else (concept.minimo if target == "minimo" else concept.notifuse)
        )
        if concept is None or name is None:
            if concept is not None and concept.name in _CONSENTS and target == "notifuse":
                column.notes.append(
                    f"Notifuse has no consent field: keep {_show(column.header)} in a custom "
                    "string, or import with --notifuse-mode import --list ID to subscribe."
                )
            plan.custom.append(column)
        elif concept.name not in ("email", "phone"):
            taken.add(name)
            extra: dict[str, str | bool | dict[str, str | bool]] = {}
            if concept.name == "country" and target == "notifuse" and countries:
                extra["values"] = countries
            table = _yes_no(column.cells) if concept.name in _CONSENTS else None
            if table:
                extra["values"] = table
            plan.fields.append((column.index, column.notes, _line(name, column.header, **extra)))

    kinds = {c.index: _kind(c.cells) for c in plan.custom}
    _decimal(plan, plan.custom, kinds)
    if any(k.type == "datetime" for k in kinds.values()):
        zone = _TIMEZONES.get(region or "")
        if zone:
            plan.options.append(
                (f'timezone = "{zone}"', f"dates without an offset, as in {region}")
            )
        else:
            plan.options.append(('# timezone = "Europe/Rome"', "dates without an offset (UTC)"))
    if target == "minimo":
        for column in plan.custom:
            key = _camel(column.header, column.index)
            name, n = f"customFields.{key}", 2
            while name in taken:
                name, n = f"customFields.{key}{n}", n + 1
            taken.add(name)
            plan.fields.append(
                (column.index, column.notes, _typed_line(name, column, kinds[column.index]))
            )
    return _render(len(headers), target, plan, origin, kinds)


def _usable_columns(
    headers: Sequence[str], sample_rows: Sequence[Sequence[Cell]], plan: _Plan
) -> list[_Column]:
    """The columns a mapping can name: a header of their own, unique as `bind` compares them."""
    keys = Counter(header_key(h) for h in headers)
    columns: list[_Column] = []
    noted: set[str] = set()
    for i, header in enumerate(headers):
        key = header_key(header)
        if not key:
            plan.notes.append(f"Column {i + 1} has no header: name it in the file to import it.")
        elif not _encodable(header):
            plan.notes.append(f"Column {i + 1}'s header is not valid text: rename it in the file.")
        elif keys[key] > 1:
            if key not in noted:
                noted.add(key)
                plan.notes.append(
                    f"{_show(header)} heads {keys[key]} columns, which a mapping cannot tell "
                    "apart: rename them in the file to import them."
                )
        else:
            cells = [r[i] for r in sample_rows if i < len(r) and _present(r[i])]
            column = _Column(i, header, cells)
            _classify(column)
            columns.append(column)
    return columns


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: no file yields them, a caller might
        return False
    return True


def _classify(column: _Column) -> None:
    words = _words(column.header)
    compact = "".join(words)
    for concept in _CONCEPTS:
        names = _NAMES[concept.name]
        if compact in names:
            column.concept, column.rank = concept, (0, names.index(compact))
            return
    if _DATE_WORDS & set(words):
        return
    for concept in _CONCEPTS:
        for i, rule in enumerate(_RULES[concept.name]):
            if all(_has(words, phrase) for phrase in rule):
                column.concept, column.rank = concept, (1, i)
                return


def _has(words: tuple[str, ...], phrase: str) -> bool:
    want = tuple(phrase.split())
    n = len(want)
    return "".join(want) in words or any(words[i : i + n] == want for i in range(len(words)))


def _camel(header: str, index: int) -> str:
    words = _words(header)
    if not words:
        return f"column{index + 1}"
    return words[0] + "".join(w.capitalize() for w in words[1:])


def _choose(columns: list[_Column]) -> dict[str, _Column]:
    """One column per concept, the best-named first; the others are noted and left over.

    A consent is only sent as one when its sample is yes/no words, or, with no sample, when
    the whole header names it: "Fonte marketing" is not a consent, and a column of "forse"
    would make every row an error.
    """
    chosen: dict[str, _Column] = {}
    for column in sorted(columns, key=lambda c: (c.rank, c.index)):
        concept = column.concept
        if concept is None:
            continue
        if concept.name in _CONSENTS and not _consent_ok(column):
            column.concept = None
        elif concept.name in chosen:
            column.notes.append(
                f"{_show(column.header)} also looks like {concept.name}; "
                f"{_show(chosen[concept.name].header)} is used for it (a field takes one column)."
            )
            column.concept = None
        else:
            chosen[concept.name] = column
    return chosen


def _consent_ok(column: _Column) -> bool:
    if not column.cells:
        return column.rank[0] == 0
    if _yes_no(column.cells) is not None:
        return True
    odd = [cell_text(c) for c in column.cells if " ".join(_words(cell_text(c))) not in _YES | _NO]
    shown = ", ".join(_show(o) for o in dict.fromkeys(odd[:3]))
    column.notes.append(
        f"{_show(column.header)} looks like a consent but holds {shown}: to send it as one, "
        "give it a `values` table of text = true/false."
    )
    return False


def _first_name_or_full(chosen: dict[str, _Column]) -> None:
    """A lone "Nome" whose values are "Mario Rossi" is a full name, not a first name."""
    first = chosen.get("first_name")
    if first is None or "last_name" in chosen or "full_name" in chosen or not first.cells:
        return
    spaced = sum(" " in cell_text(c) for c in first.cells)
    if spaced * 5 >= len(first.cells) * 3:
        first.concept = _BY_NAME["full_name"]
        first.notes.append(f"{_show(first.header)} holds whole names (first and last).")
        chosen["full_name"] = chosen.pop("first_name")


def _email_by_content(columns: list[_Column], chosen: dict[str, _Column]) -> _Column | None:
    """No header says email: the first free column whose sample is mostly email addresses."""
    used = {c.index for c in chosen.values()}
    for column in columns:
        if column.index in used or not column.cells:
            continue
        valid = sum(normalize_email(cell_text(c)) is not None for c in column.cells)
        if valid * 5 >= len(column.cells) * 4:
            column.concept = _BY_NAME["email"]
            column.notes.append(f"{_show(column.header)} holds email addresses (by its values).")
            chosen["email"] = column
            return column
    return None


def _country_values(country: _Column | None) -> tuple[dict[str, str | bool], list[str]]:
    """(cell text → ISO code for the sample's country names, names not recognised)."""
    table: dict[str, str | bool] = {}
    unknown: dict[str, None] = {}
    seen: set[str] = set()
    for cell in country.cells if country else []:
        text = cell_text(cell)
        if header_key(text) in seen:
            continue
        seen.add(header_key(text))
        code = _country(text)
        if code is None:
            unknown[text] = None
        elif code != text:
            table[text] = code
    return table, list(unknown)


def _default_region(plan: _Plan, country: _Column | None, phone: _Column | None) -> str | None:
    """The sample's most common country, else Italy when the phones plainly are Italian."""
    if country is not None:
        codes = Counter(c for c in (_country(cell_text(x)) for x in country.cells) if c)
        if codes:
            code, count = codes.most_common(1)[0]
            why = (
                f"{_show(country.header)} is {code} in {count} of {len(country.cells)} sample rows"
            )
            plan.options.append((f'default_region = "{code}"', why))
            return code
    line, why = '# default_region = "IT"', "for phones written without +country"
    if phone is not None and phone.cells:
        valid, local = _looks_italian([cell_text(c) for c in phone.cells])
        if local and valid * 5 >= local * 4:
            line, why = 'default_region = "IT"', f"{valid} of {local} sample phones without +39"
        elif not local:
            why = "not needed yet: every sample phone starts with +country"
    plan.options.append((line, why))
    return "IT" if not line.startswith("#") else None


def _decimal(plan: _Plan, custom: list[_Column], kinds: dict[int, _Kind]) -> None:
    """One decimal separator for the file when the sample's numbers say which it is.

    Setting it guards the rows after the sample: "1.250" is then 1250, not an error. A number
    column the chosen way cannot read (or, with none chosen, the per-cell detection) is text.
    """
    told = {
        next(iter(k.decimals - {"auto"}))
        for k in kinds.values()
        if k.type == "number" and len(k.decimals - {"auto"}) == 1
    }
    decimal = next(iter(told)) if len(told) == 1 else None
    if decimal is not None:
        example = next(c for c in custom if kinds[c.index].decimals - {"auto"} == {decimal})
        plan.options.append((f'decimal = "{decimal}"', f"as {_show(example.header)} is written"))
    for index, kind in kinds.items():
        if kind.type == "number" and (decimal or "auto") not in kind.decimals:
            kinds[index] = _Kind()


def _line(name: str, column: str, **extra: str | bool | dict[str, str | bool]) -> str:
    """`name = "Column"`, or an inline table when there is more to say than the column."""
    if not extra:
        return f"{_key(name)} = {_q(column)}"
    parts = [f"column = {_q(column)}", *(f"{k} = {_value(v)}" for k, v in extra.items())]
    return f"{_key(name)} = {{ {', '.join(parts)} }}"


def _typed_line(name: str, column: _Column, kind: _Kind, typed: bool = True) -> str:
    """A custom column's line; `typed=False` where the target field implies the type."""
    extra: dict[str, str | bool | dict[str, str | bool]] = {}
    if kind.type != "string" and typed:
        extra["type"] = kind.type
    if kind.format:
        extra["format"] = kind.format
    if kind.note:
        column.notes.append(kind.note.format(header=_show(column.header)))
    return _line(name, column.header, **extra)


def _email_line(plan: _Plan, email: _Column | None, headers: Sequence[str]) -> None:
    """Both APIs need an email: with no column for it, a placeholder that still binds."""
    if email is not None:
        plan.fields.append((-2, email.notes, _line("email", email.header)))
        return
    keys = {header_key(h) for h in headers}
    placeholder = "Email"
    while header_key(placeholder) in keys:
        placeholder += "_"
    plan.fields.append(
        (
            -2,
            [
                "No column looks like the email address, which every contact needs: put its "
                "header here and remove `optional` (until then, every row is an error)."
            ],
            _line("email", placeholder, optional=True),
        )
    )


def _phone_line(
    plan: _Plan,
    phone: _Column,
    country: _Column | None,
    countries: dict[str, str | bool],
    unknown: list[str],
) -> None:
    notes = phone.notes
    extra: dict[str, str | bool | dict[str, str | bool]] = {}
    if country is not None:
        extra["region_column"] = country.header
        if countries:
            extra["region_values"] = countries
        elif not country.cells:
            notes.append(
                f'Add region_values = {{ "Italia" = "IT", ... }} for the country names in '
                f"{_show(country.header)} (ISO codes such as IT need none)."
            )
        if unknown:
            notes.append(
                f"Not known as countries in {_show(country.header)}: "
                f"{', '.join(_show(u) for u in unknown[:10])} (add them to region_values)."
            )
    plan.fields.append((-1, notes, _line("phone", phone.header, **extra)))


def _notifuse_slot(column: _Column, kind: _Kind, used: Counter[str]) -> str | None:
    """A custom_*_N line for a column Notifuse has no field for, while slots are left."""
    slot = {"number": "custom_number", "datetime": "custom_datetime"}.get(
        kind.type, "custom_string"
    )
    if used[slot] >= _NOTIFUSE_SLOTS:
        return None
    used[slot] += 1
    name = f"{slot}_{used[slot]}"
    consent = column.concept is not None and column.concept.name in _CONSENTS
    table = _yes_no(column.cells, native=False) if consent else None
    if table:
        words: dict[str, str | bool] = {k: "yes" if v else "no" for k, v in table.items()}
        return _line(name, column.header, values=words)
    return _typed_line(name, column, kind, typed=False)


def _comment(text: str, wrap: bool = True) -> list[str]:
    """Comment lines, wrapped, with any control character escaped (it would end the comment)."""
    safe = _q(text)[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not wrap:
        return ["# " + safe]
    return [
        "# " + line
        for line in textwrap.wrap(safe, 96, break_long_words=False, break_on_hyphens=False)
    ]


def _render(
    width: int, target: Target, plan: _Plan, origin: str | None, kinds: dict[int, _Kind]
) -> str:
    out = _comment(
        f"Starter mapping for a file with {width} header{'' if width == 1 else 's'}, from "
        "`importer mapping suggest`. It is a starting point: review every line, then try it "
        "with `importer run SOURCE --mapping THIS.toml --dry-run`."
    )
    if origin:
        out += _comment(origin)
    out += [f'target = "{target}"', "", "[options]"]
    plan.options.append(('on_invalid_phone = "drop"', "send the contact without it, warn"))
    out += [f"{line:<30} # {why}" for line, why in plan.options]
    out += ["", "[fields]"]
    for _, notes, line in sorted(plan.fields, key=lambda f: f[0]):
        for note in notes:
            out += _comment(note)
        out.append(line)
    if target == "notifuse" and plan.custom:
        used: Counter[str] = Counter()
        slots = [_notifuse_slot(c, kinds[c.index], used) for c in plan.custom]
        out += [
            "",
            *_comment(f"unmatched: {', '.join(_show(c.header) for c in plan.custom)}", wrap=False),
        ]
        for column in plan.custom:
            for note in column.notes:
                out += _comment(note)
        out += _comment(
            "Notifuse has no field for these. custom_string_N, custom_number_N and "
            "custom_datetime_N (N = 1..5) can hold them, but those slots are shared by the "
            "whole workspace: uncomment a line below only for a slot no other import uses."
        )
        out += [f"# {slot}" for slot in slots if slot]
    if plan.notes:
        out.append("")
        for note in plan.notes:
            out += _comment(note)
    return "\n".join(out) + "\n"
