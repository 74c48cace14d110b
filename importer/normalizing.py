"""Normalizing: a source row + the bound mapping → a `Staged` row ready for the job database.

Email and phone are normalized the way the APIs match contacts (lowercased email, E.164
phone); every other value is converted to the type the target field takes. A value that
cannot be converted is a row error quoting the cell and naming its column: data, not an
exception.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import re
import tomllib
import zoneinfo
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from itertools import islice
from typing import Any, NamedTuple, Protocol

import orjson
import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from importer.errors import MappingError
from importer.mapping import BoundField, BoundMapping, FieldSpec, bind, header_key, parse_mapping
from importer.reading import Cell, SourceRow
from importer.settings import Target


class Staged(NamedTuple):
    """One source row after mapping: `pending` (to send), `error` or `skipped` (a tuple:
    one per row of the file)."""

    row: int
    status: str
    email: str | None = None
    phone: str | None = None
    payload: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None
    dropped: bool = False  # a value the row had is not sent (its warning says which)


class CellError(ValueError):
    """A cell that cannot become the field's value; the message is for the report."""


_GUARDED = ("=", "+", "-", "@", "\t", "\r")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_FAST_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_NAME_ADDR = re.compile(r".*<\s*([^<>]*?)\s*>")
_SCIENTIFIC = re.compile(r"([0-9])(?:[.,]([0-9]+))?[eE]\+?([0-9]+)")
_PHONE_JUNK = re.compile(r"[\s\u00a0\-./()\u2010-\u2015]+")
_BOOL_WORDS = {
    **dict.fromkeys(["true", "yes", "y", "1", "x", "sì", "si", "oui", "ja", "vero"], True),
    **dict.fromkeys(["false", "no", "n", "0", "non", "nein", "falso"], False),
}


QUOTE_LIMIT = 100  # characters of a cell an error text quotes


def quoted(text: str) -> str:
    """A cell as an error text quotes it: whole up to QUOTE_LIMIT characters, else its start
    and its length (a 40,000-character cell once went into a report whole)."""
    if len(text) <= QUOTE_LIMIT:
        return repr(text)
    return f"{text[:QUOTE_LIMIT]!r}… ({len(text):,} characters)"


def clean_text(value: str) -> str:
    """Trim all Unicode spaces and drop zero-width characters (none in ASCII text)."""
    if value.isascii():
        return value.strip()
    return value.translate(_INVISIBLE).strip()


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


def cell_text(cell: Cell) -> str:
    """A cell as the text a person sees: no `.0` on whole numbers, ISO dates.

    The `'` that this tool's reports put before `= + - @` (formula guard) is removed, so a
    rejects file imports as it was.
    """
    if isinstance(cell, str):
        text = clean_text(cell)
        if text[:1] == "'" and text[1:2] in _GUARDED:
            return text[1:]
        return text
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == time(0) else cell.isoformat()
    if isinstance(cell, date | time):
        return cell.isoformat()
    return "" if cell is None else str(cell)


@lru_cache(maxsize=1 << 16)  # ≥ CHUNK: Normalizer.records relies on it
def normalize_phone(text: str, region: str | None) -> tuple[str | None, str | None]:
    """(E.164, None) or (None, reason). Cached: lead lists repeat numbers and parsing is costly.

    `+`/`00` mean international; otherwise the row's region decides, accepting digits that
    start with that region's own calling code but never guessing another country.
    """
    sci = _SCIENTIFIC.fullmatch(text)
    if sci:
        frac, exponent = sci.group(2) or "", int(sci.group(3))
        if len(frac) != exponent:
            return None, f"phone truncated by Excel ({text})"
        text = sci.group(1) + frac
    compact = _PHONE_JUNK.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    international = compact.startswith("+")
    digits = compact[1:] if international else compact
    if not digits.isdigit():
        return None, f"invalid phone {quoted(text)}"
    if not international and region is None:
        return (
            None,
            f"phone {quoted(text)} has no country code and the mapping sets no default_region",
        )
    candidates = [compact if international else digits]
    if not international and region is not None:
        code = str(phonenumbers.country_code_for_region(region))
        if digits.startswith(code):
            # 11+ digits that start with the calling code are most likely an international
            # number that lost its +: try that reading first (one parse instead of two)
            if len(digits) >= 11:
                candidates.insert(0, "+" + digits)
            else:
                candidates.append("+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, None if candidate.startswith("+") else region)
        except phonenumbers.NumberParseException:
            continue
        # the row's own region first: one metadata lookup instead of a search over every
        # region sharing the calling code (same verdict: valid there means valid)
        if (
            region is not None and phonenumbers.is_valid_number_for_region(number, region)
        ) or phonenumbers.is_valid_number(number):
            e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return e164, None
    return None, f"invalid phone {quoted(text)}"


_NUMBER_JUNK = re.compile(r"[\s\u00a0'\u2019€$£¥]")


def _number_shape(sep: str) -> re.Pattern[str]:
    t, s = re.escape("." if sep == "," else ","), re.escape(sep)
    return re.compile(
        rf"[+-]?(?:[0-9]{{1,3}}(?:{t}[0-9]{{3}})+|[0-9]+)(?:{s}[0-9]+)?|[+-]?{s}[0-9]+"
    )


_NUMBER_SHAPES = {sep: _number_shape(sep) for sep in ".,"}  # by decimal separator


def parse_number(text: str, decimal: str | None) -> int | float:
    """Numbers written as text, Italian (1.234,56) or English (1,234.56).

    Thousands separators must group digits by three; a number written the other way than
    the mapping's `decimal` is an error rather than a value off by a factor of 1,000.
    """
    compact = _NUMBER_JUNK.sub("", text)
    sep = decimal or _detect_decimal(compact, text)
    if not _NUMBER_SHAPES[sep].fullmatch(compact):
        written = f" with decimal separator {sep!r}" if decimal else ""
        raise CellError(f"{quoted(text)} is not a number{written}")
    plain = compact.replace("." if sep == "," else ",", "").replace(sep, ".")
    value = float(plain)
    return int(value) if "." not in plain and value.is_integer() else value


def _detect_decimal(compact: str, text: str) -> str:
    """Which mark is the decimal separator, for a cell that says it by itself."""
    has_dot, has_comma = "." in compact, "," in compact
    if has_dot and has_comma:
        return "," if compact.rfind(",") > compact.rfind(".") else "."
    if not (has_dot or has_comma):
        return "."
    mark = "." if has_dot else ","
    if compact.count(mark) > 1:
        return "," if mark == "." else "."
    head, _, tail = compact.rpartition(mark)
    if len(tail) == 3 and head.lstrip("+-") not in ("", "0"):
        raise CellError(
            f'{quoted(text)} is ambiguous (thousands or decimals?): set decimal = "," or '
            '"." in the mapping\'s [options]'
        )
    return mark


def _number(cell: Cell, text: str, spec: FieldSpec, options: _Options) -> Any:
    if isinstance(cell, bool | datetime | date | time):
        raise CellError(f"{quoted(text)} is not a number")
    if isinstance(cell, float):
        return int(cell) if cell.is_integer() else cell
    if isinstance(cell, int):
        return cell
    return parse_number(text, options.decimal)


def _bool(cell: Cell, text: str, spec: FieldSpec, options: _Options) -> Any:
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int | float) and cell in (0, 1):
        return bool(cell)
    word = _BOOL_WORDS.get(text.casefold())
    if word is None:
        raise CellError(
            f"{quoted(text)} is not yes/no (accepted: true/false, yes/no, sì/no, 1/0, x; "
            "or add a `values` table to the mapping)"
        )
    return word


def _datetime(cell: Cell, text: str, spec: FieldSpec, options: _Options) -> Any:
    if isinstance(cell, datetime | date):
        return _moment(cell, options.tz)
    return _text_datetime(text, spec.format, options.tz)


@lru_cache(maxsize=1 << 14)
def _text_datetime(text: str, fmt: str | None, tz: zoneinfo.ZoneInfo) -> str:
    """Cached: a lead list holds a few hundred distinct dates, parsing one costs ~30 µs."""
    try:
        if fmt:
            moment = datetime.strptime(text, fmt)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        how = f"format {fmt!r}" if fmt else "ISO 8601 (2026-03-31 or 2026-03-31T09:00)"
        raise CellError(
            f'{quoted(text)} is not a date in {how}; set `format` in the mapping (e.g. "%d/%m/%Y")'
        ) from None
    return _moment(moment, tz)


def _moment(cell: datetime | date, tz: zoneinfo.ZoneInfo) -> str:
    moment = cell if isinstance(cell, datetime) else datetime.combine(cell, time(0))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.isoformat()


def _json(cell: Cell, text: str, spec: FieldSpec, options: _Options) -> Any:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise CellError(f"{quoted(text)} is not valid JSON") from None
    if spec.name.startswith("custom_json_") and not isinstance(value, dict | list):
        raise CellError(f"{quoted(text)} must be a JSON object or array")
    return value


def _string(cell: Cell, text: str, spec: FieldSpec, options: _Options) -> Any:
    return text


@dataclass(frozen=True, slots=True)
class _Options:
    decimal: str | None
    tz: zoneinfo.ZoneInfo


Converter = Callable[[Cell, str, FieldSpec, _Options], Any]
_CONVERTERS: dict[str, Converter] = {
    "string": _string,
    "number": _number,
    "bool": _bool,
    "datetime": _datetime,
    "json": _json,
}


@dataclass(frozen=True, slots=True)
class _Plan:
    """One field, resolved once: where its cell is and how it becomes a value (what every
    cell needs is an attribute of its own: this is read a few million times a run)."""

    field: BoundField
    spec: FieldSpec
    index: int | None  # of the cell; None: a constant or a column the file does not have
    head: str  # payload key, or the table (customFields, marketingConsent)
    key: str | None  # the key inside that table
    convert: Converter
    is_phone: bool


class Normalizer:
    """Built once per run from the bound mapping; `__call__` turns a row into a `Staged`.

    It is the hot path of staging (a few µs per field), so each field's work is planned
    once here and every cell's text is computed once.
    """

    def __init__(self, bound: BoundMapping, clear_empty: bool) -> None:
        self.bound = bound
        options = bound.mapping.options
        self.region = options.default_region
        self.drop_bad_phone = options.on_invalid_phone == "drop"
        self.options = _Options(options.decimal, zoneinfo.ZoneInfo(options.timezone))
        self.clear_empty = clear_empty
        email = bound.get("email")
        assert email is not None, "parse_mapping guarantees an email field"
        self.email = email
        self._regions: dict[Cell, str | None] = {}  # region cell → ISO code, per run
        self.constants: dict[str, Any] = {}
        self.plans: list[_Plan] = []
        for field in bound.fields:
            if field.spec.name == "email":
                continue
            head, dot, key = field.spec.name.partition(".")
            plan = _Plan(
                field, field.spec, field.index, head, key if dot else None,
                _CONVERTERS[field.spec.type], field.spec.name == "phone",
            )  # fmt: skip
            if not field.spec.columns:
                self.constants[field.spec.name] = self._constant(field.spec)
            self.plans.append(plan)
        self.phone_plans = [plan for plan in self.plans if plan.is_phone]

    def _constant(self, spec: FieldSpec) -> Any:
        """A `value = ...` converted once to the field's type; a bad one is a mapping error."""
        if spec.type == "json" and isinstance(spec.constant, dict | list):
            return spec.constant
        if spec.type == "string" and spec.name.startswith("customFields."):
            return spec.constant  # Minimo custom fields take any JSON value as written
        try:
            return _CONVERTERS[spec.type](
                spec.constant, cell_text(spec.constant), spec, self.options
            )
        except CellError as exc:
            raise MappingError(f"Mapping field {spec.name!r}: the constant value {exc}.") from None

    def records(self, rows: Sequence[SourceRow]) -> list[StagedRecord]:
        """A chunk of rows as the job database stores them, its phones first: parsing them
        in one run keeps phonenumbers' code and metadata in the CPU's caches (a row at a
        time, email, names and dates in between cost ~20% more per row, measured). The row
        pass then finds each phone in normalize_phone's cache."""
        for plan in self.phone_plans:
            for row in rows:
                with contextlib.suppress(CellError):
                    self._value(row.cells, plan)
        return [record(self(row)) for row in rows]

    def __call__(self, source: SourceRow) -> Staged:
        if source.empty:
            return Staged(source.number, "skipped", warnings=("empty row",))
        errors: list[str] = []
        warnings: list[str] = []
        dropped = False
        if source.problem:
            errors.append(source.problem)
        cells = source.cells
        index = self.email.index
        raw_email = cells[index] if index is not None and index < len(cells) else None
        raw_text = "" if raw_email is None else cell_text(raw_email)
        email: str | None = None
        if not raw_text:
            errors.append(f"missing email in column {self.email.column or 'email'}")
        else:
            email = normalize_email(raw_text)
            if email is None:
                errors.append(f"invalid email {quoted(raw_text)} in column {self.email.column}")
        payload: dict[str, Any] = {"email": email}
        phone: str | None = None
        for plan in self.plans:
            try:
                present, value = self._value(cells, plan)
            except CellError as exc:
                if plan.is_phone and self.drop_bad_phone:
                    warnings.append(f"{exc} in column {plan.field.column}: sent without phone")
                    dropped = True
                else:
                    errors.append(f"{exc} in column {plan.field.column}")
                continue
            if not present:
                continue
            if plan.key is None:
                payload[plan.head] = value
            else:
                table = payload.get(plan.head)
                if table is None:
                    table = payload[plan.head] = {}
                table[plan.key] = value
            if plan.is_phone and isinstance(value, str):
                phone = value
        if errors:
            shown = email or raw_text or None
            return Staged(
                source.number, "error", shown, phone, None, tuple(warnings), "; ".join(errors)
            )
        return Staged(
            source.number, "pending", email, phone, payload, tuple(warnings), None, dropped
        )

    def _value(self, cells: tuple[Cell, ...], plan: _Plan) -> tuple[bool, Any]:
        """(present, value): an empty cell is never a value (omitted, or None under clear)."""
        spec = plan.spec
        index = plan.index
        if index is None:
            if not spec.columns:
                return True, self.constants[spec.name]
            cell: Cell = None
        else:
            cell = cells[index] if index < len(cells) else None
        text = "" if cell is None else cell_text(cell)
        if not text:
            if spec.default is None:
                return self.clear_empty, None
            cell = spec.default
            text = cell_text(cell)
        if spec.values:
            key = header_key(text)
            if key in spec.values:
                return True, spec.values[key]
        if plan.is_phone:
            return True, self._phone(cells, plan.field, cell, text)
        return True, plan.convert(cell, text, spec, self.options)

    def _phone(self, cells: tuple[Cell, ...], field: BoundField, cell: Cell, text: str) -> str:
        region = self.region
        if field.region_index is not None:
            region_cell = cells[field.region_index]
            if region_cell not in self._regions:
                self._regions[region_cell] = _row_region(region_cell, field.spec)
            region = self._regions[region_cell] or region
        if isinstance(cell, float) and not cell.is_integer():
            text = repr(cell)
        e164, problem = normalize_phone(text, region)
        if e164 is None:
            raise CellError(problem)
        return e164


def _row_region(cell: Cell, spec: FieldSpec) -> str | None:
    key = header_key(cell_text(cell))
    if not key:
        return None
    if key in spec.region_values:
        return spec.region_values[key]
    code = key.upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


StagedRecord = tuple[
    int, str, str | None, str | None, bytes | None, bytes | None, str, str | None, int
]


def encode(payload: dict[str, Any]) -> tuple[bytes, bytes]:
    """The stored payload and its digest (sorted keys: equal contacts, equal digests)."""
    data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return data, hashlib.blake2b(data, digest_size=16).digest()


def record(s: Staged) -> StagedRecord:
    """A staged row as the job database stores it (encoded here, off the main process)."""
    data, digest = encode(s.payload) if s.payload is not None else (None, None)
    return (
        s.row, s.status, s.email, s.phone, data, digest, "; ".join(s.warnings), s.error,
        int(s.dropped),
    )  # fmt: skip


CHUNK = 2000  # rows per batch: one transaction in the journal, one task for a worker
PARALLEL_BYTES = 8 << 20  # sources larger than this are normalized by worker processes


def cores() -> int:
    """The cores this process may use, at most 4 (what a staging or report pass can use)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(usable or 1, 4)


def workers_for(size: int) -> int:
    """Normalizing costs ~40 µs a row (phones most): use the other cores for big files."""
    return cores() if size > PARALLEL_BYTES else 1


class Store(Protocol):
    def add(self, batch: list[StagedRecord], locked: Callable[[], object]) -> None:
        """Store the batch; `locked` is called once the job database's write lock is held."""

    def close(self) -> None: ...


class Stager(Protocol):
    """Opens a Store in the process that normalizes (pickled to the workers)."""

    def open(self) -> Store: ...


def normalize_all(
    rows: Iterator[SourceRow], bound: BoundMapping, clear_empty: bool, workers: int, to: Stager
) -> Iterator[int]:
    """Normalize the rows into the store `to` opens, a CHUNK at a time; yields each chunk's
    size as it is stored. With flat memory: at most two chunks per worker are in flight.
    Workers store their chunks themselves (nothing comes back to this process) and rebuild
    the mapping from its TOML text (a bound mapping holds read-only views that do not pickle)."""
    chunks = (list(chunk) for chunk in iter(lambda: tuple(islice(rows, CHUNK)), ()))
    if workers <= 1:
        normalize = Normalizer(bound, clear_empty)
        store = to.open()
        try:
            for chunk in chunks:
                store.add(normalize.records(chunk), lambda: None)  # its own run: alive
                yield len(chunk)
        finally:
            store.close()
        return
    m = bound.mapping
    spec = (m.text, m.target, bound.headers, clear_empty, to)
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    with ProcessPoolExecutor(workers, context, initializer=_start_worker, initargs=spec) as pool:
        pending: deque[Future[int]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(_normalize_chunk, chunk))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# set once in each worker process, never in the main one (its store closes when it exits)
_worker: tuple[Normalizer, Store, int] | None = None


def _start_worker(
    text: str, target: Target, headers: tuple[str, ...], clear_empty: bool, to: Stager
) -> None:
    global _worker
    mapping = parse_mapping(tomllib.loads(text), text, "mapping", target)
    _worker = Normalizer(bind(mapping, headers, "source"), clear_empty), to.open(), os.getppid()


def _normalize_chunk(rows: list[SourceRow]) -> int:
    assert _worker is not None, "initializer ran"
    normalize, store, parent = _worker
    store.add(normalize.records(rows), lambda: _exit_if_orphaned(parent))
    return len(rows)


def _exit_if_orphaned(parent: int) -> None:
    """A worker whose run was killed must not write into the journal its rerun has reset.
    Asked with the write lock held: the rerun's reset waits for that lock, so either the
    run was alive and the reset deletes these rows after, or the worker leaves here (its
    transaction dies with it)."""
    if os.getppid() != parent:
        os._exit(1)
