"""The suggestion: which column feeds which field, and the options the sample supports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from importer.countries import country_code
from importer.mapping import header_key
from importer.normalizing import (
    cell_text,
    normalize_email,
)
from importer.reading import Cell, ReadOptions, open_source
from importer.settings import Target
from importer.suggest.infer import (
    Kind,
    is_present,
    kind_of,
    looks_italian,
    yes_no_values,
)
from importer.suggest.plan import CONSENTS, OPT_OUT_NOTE, Column, Plan
from importer.suggest.render import (
    Value,
    email_line,
    field_line,
    list_line,
    phone_line,
    render,
    show_text,
    typed_line,
)
from importer.suggest.vocabulary import (
    BY_NAME,
    CONCEPTS,
    DATE_WORDS,
    IDENTIFIER_WORDS,
    NAMES,
    NO_WORDS,
    RULES,
    TIMEZONES,
    YES_WORDS,
    header_words,
)

# ---------------------------------------------------------------------------------------------
# The suggestion


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
    return suggest_for_sample(source.headers, target, rows, source.description, source.header_row)


def suggest_for_sample(
    headers: Sequence[str],
    target: Target,
    rows: Sequence[Sequence[Cell]],
    description: str,
    header_row: int,
) -> str:
    """`suggest_for_file` for rows already read from the file (`importer ui` reads them once
    for its table and its suggestion)."""
    origin = (
        f"Read from {description}, header on row {header_row}; "
        f"{len(rows)} data row{'' if len(rows) == 1 else 's'} sampled."
    )
    return _suggest(headers, target, rows, origin)


def _suggest(
    headers: Sequence[str],
    target: Target,
    sample_rows: Sequence[Sequence[Cell]],
    origin: str | None,
) -> str:
    plan = Plan()
    columns = _usable_columns(headers, sample_rows, plan)
    phones = sorted(
        (c for c in columns if c.concept is not None and c.concept.name == "phone"),
        key=lambda c: (c.rank, c.index),
    )  # mobiles first: "mobile, else office" per row (first_of)
    chosen = _choose(columns)
    _first_name_or_full(chosen)
    _surname_beside_a_first_name(chosen, columns)
    email = chosen.get("email") or _email_by_content(columns, chosen)
    phone, country = chosen.get("phone"), chosen.get("country")
    unknown = _unknown_countries(country)
    region = _default_region(plan, country, phone)

    email_line(plan, email, headers)
    if phone is not None:
        phone_line(plan, phones, country, unknown)
        if target == "minimo":
            plan.options.append(
                ('phone_type = "mobile"', "Minimo reaches contacts on WhatsApp: no landlines")
            )
    used = {c.index for c in chosen.values()}
    extra_phones = {c.index for c in phones[1:]} if phone is not None else set()
    taken: set[str] = set()
    for column in columns:
        if column.index in extra_phones:
            continue  # in the phone's first_of
        concept = column.concept if column.index in used else None
        name = (
            None
            if concept is None
            else (concept.minimo if target == "minimo" else concept.notifuse)
        )
        if concept is not None and concept.name in CONSENTS and target == "notifuse":
            plan.lists.append(list_line(column))  # consent drives a list, never --list
        elif concept is None or name is None:
            plan.custom.append(column)
        elif concept.name not in ("email", "phone"):
            taken.add(name)
            extra: dict[str, Value] = {}
            if concept.name == "country" and target == "notifuse":
                extra["type"] = "country"  # its names and codes sent as ISO codes
            table = yes_no_values(column.cells) if concept.name in CONSENTS else None
            if table:
                extra["values"] = table
            notes = column.notes
            if concept.name in CONSENTS:
                extra["update"] = "protect_opt_out"
                notes = [*notes, OPT_OUT_NOTE]
            plan.fields.append((column.index, notes, field_line(name, column.header, **extra)))

    kinds = {c.index: _kind(c) for c in plan.custom}
    _decimal(plan, plan.custom, kinds)
    if any(k.type == "datetime" for k in kinds.values()):
        zone = TIMEZONES.get(region or "")
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
                (column.index, column.notes, typed_line(name, column, kinds[column.index]))
            )
    return render(len(headers), target, plan, origin, kinds)


def _usable_columns(
    headers: Sequence[str], sample_rows: Sequence[Sequence[Cell]], plan: Plan
) -> list[Column]:
    """The columns a mapping can name: a header of their own, unique as `bind` compares them."""
    keys = Counter(header_key(h) for h in headers)
    columns: list[Column] = []
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
                    f"{show_text(header)} heads {keys[key]} columns, which a mapping cannot tell "
                    "apart: rename them in the file to import them."
                )
        else:
            cells = [r[i] for r in sample_rows if i < len(r) and is_present(r[i])]
            column = Column(i, header, cells)
            _classify(column)
            columns.append(column)
    return columns


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: no file yields them, a caller might
        return False
    return True


def _classify(column: Column) -> None:
    words = header_words(column.header)
    compact = "".join(words)
    for concept in CONCEPTS:
        names = NAMES[concept.name]
        if compact in names:
            column.concept, column.rank = concept, (0, names.index(compact))
            return
    if DATE_WORDS & set(words):
        return
    for concept in CONCEPTS:
        for i, rule in enumerate(RULES[concept.name]):
            if all(_has(words, phrase) for phrase in rule):
                column.concept, column.rank = concept, (1, i)
                return


def _has(words: tuple[str, ...], phrase: str) -> bool:
    want = tuple(phrase.split())
    n = len(want)
    return "".join(want) in words or any(words[i : i + n] == want for i in range(len(words)))


def _camel(header: str, index: int) -> str:
    words = header_words(header)
    if not words:
        return f"column{index + 1}"
    return words[0] + "".join(w.capitalize() for w in words[1:])


def _kind(column: Column) -> Kind:
    """An identifier (a customer number, a code, a postcode) stays text whatever its cells
    look like: as a number it would lose its leading zeros, and nobody sums it."""
    if IDENTIFIER_WORDS & set(header_words(column.header)):
        return Kind()
    return kind_of(column.cells)


def _choose(columns: list[Column]) -> dict[str, Column]:
    """One column per concept, the best-named first; the others are noted and left over.

    A consent is only sent as one when its sample is yes/no words, or, with no sample, when
    the whole header names it: "Fonte marketing" is not a consent, and a column of "forse"
    would make every row an error.
    """
    chosen: dict[str, Column] = {}
    for column in sorted(columns, key=lambda c: (c.rank, c.index)):
        concept = column.concept
        if concept is None:
            continue
        if concept.name in CONSENTS and not _consent_ok(column):
            column.concept = None
        elif concept.name == "phone" and concept.name in chosen:
            column.concept = None  # another phone: tried after the first (first_of)
        elif concept.name in chosen:
            column.notes.append(
                f"{show_text(column.header)} also looks like {concept.name}; "
                f"{show_text(chosen[concept.name].header)} is used for it "
                "(a field takes one column)."
            )
            column.concept = None
        else:
            chosen[concept.name] = column
    return chosen


def _consent_ok(column: Column) -> bool:
    if not column.cells:
        return column.rank[0] == 0
    if yes_no_values(column.cells) is not None:
        return True
    odd = [
        cell_text(c)
        for c in column.cells
        if " ".join(header_words(cell_text(c))) not in YES_WORDS | NO_WORDS
    ]
    shown = ", ".join(show_text(o) for o in dict.fromkeys(odd[:3]))
    column.notes.append(
        f"{show_text(column.header)} looks like a consent but holds {shown}: to send it as one, "
        "give it a `values` table of text = true/false."
    )
    return False


def _first_name_or_full(chosen: dict[str, Column]) -> None:
    """A lone "Nome" whose values are "Mario Rossi" is a full name, not a first name."""
    first = chosen.get("first_name")
    if first is None or "last_name" in chosen or "full_name" in chosen or not first.cells:
        return
    spaced = sum(" " in cell_text(c) for c in first.cells)
    if spaced * 5 >= len(first.cells) * 3:
        first.concept = BY_NAME["full_name"]
        first.notes.append(f"{show_text(first.header)} holds whole names (first and last).")
        chosen["full_name"] = chosen.pop("first_name")


def _surname_beside_a_first_name(chosen: dict[str, Column], columns: list[Column]) -> None:
    """A column headed just "Name" beside a first-name column ("Vorname") is the family
    name, as German CRMs export it, not the full name."""
    full = chosen.get("full_name")
    if full is None or "first_name" not in chosen or "last_name" in chosen:
        return
    if header_words(full.header) != ("name",):
        return
    spaced = sum(" " in cell_text(c) for c in full.cells)
    if full.cells and spaced * 5 >= len(full.cells) * 3:  # mostly two words: whole names
        return
    full.concept = BY_NAME["last_name"]
    full.notes.append(
        f"{show_text(full.header)} beside {show_text(chosen['first_name'].header)} is the "
        "family name."
    )
    chosen["last_name"] = chosen.pop("full_name")


def _email_by_content(columns: list[Column], chosen: dict[str, Column]) -> Column | None:
    """No header says email: the first free column whose sample is mostly email addresses."""
    used = {c.index for c in chosen.values()}
    for column in columns:
        if column.index in used or not column.cells:
            continue
        valid = sum(normalize_email(cell_text(c)) is not None for c in column.cells)
        if valid * 5 >= len(column.cells) * 4:
            column.concept = BY_NAME["email"]
            column.notes.append(
                f"{show_text(column.header)} holds email addresses (by its values)."
            )
            chosen["email"] = column
            return column
    return None


def _unknown_countries(country: Column | None) -> list[str]:
    """The sample's country cells that name no country the importer knows."""
    unknown: dict[str, None] = {}
    for cell in country.cells if country else []:
        text = cell_text(cell)
        if country_code(text) is None:
            unknown.setdefault(text, None)
    return list(unknown)


def _default_region(plan: Plan, country: Column | None, phone: Column | None) -> str | None:
    """The sample's most common country, else Italy when the phones plainly are Italian."""
    if country is not None:
        codes = Counter(c for c in (country_code(cell_text(x)) for x in country.cells) if c)
        if codes:
            code, count = codes.most_common(1)[0]
            why = (
                f"{show_text(country.header)} is {code} in {count} of {len(country.cells)} "
                "sample rows"
            )
            if count * 2 <= len(country.cells):  # no clear majority: a person decides
                plan.options.append((f'# default_region = "{code}"', f"{why}: not a majority"))
                return None
            plan.options.append((f'default_region = "{code}"', why))
            return code
    line, why = '# default_region = "IT"', "for phones written without +country"
    if phone is not None and phone.cells:
        valid, local = looks_italian([cell_text(c) for c in phone.cells])
        if local and valid * 5 >= local * 4:
            line, why = 'default_region = "IT"', f"{valid} of {local} sample phones without +39"
        elif not local:
            why = "not needed yet: every sample phone starts with +country"
    plan.options.append((line, why))
    return "IT" if not line.startswith("#") else None


def _decimal(plan: Plan, custom: list[Column], kinds: dict[int, Kind]) -> None:
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
        plan.options.append(
            (f'decimal = "{decimal}"', f"as {show_text(example.header)} is written")
        )
    for index, kind in kinds.items():
        if kind.type == "number" and (decimal or "auto") not in kind.decimals:
            kinds[index] = Kind()
