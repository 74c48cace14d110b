"""Normalizing: a source row + the bound mapping → a `Staged` row ready for the job database.

Email and phone are normalized the way the APIs match contacts (lowercased email, E.164
phone); every other value is converted to the type the target field takes. A value that
cannot be converted is a row error quoting the cell and naming its column: data, not an
exception.
"""

from __future__ import annotations

import contextlib
import hashlib
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from importer.cells import cell_text, quoted
from importer.errors import MappingError
from importer.mapping import BoundField, BoundMapping, FieldSpec, header_key
from importer.normalizing.emails import normalize_email, typo_warning
from importer.normalizing.phones import Phone, normalize_phone, region_of
from importer.normalizing.values import (
    CONVERTERS,
    CellError,
    Converter,
    ValueOptions,
    parse_bool,
)
from importer.reading import Cell, SourceRow


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
    lists: dict[str, bool] | None = None  # Notifuse list → the row's consent to it


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
    drop_invalid: bool  # an invalid cell: sent without the field, warned (else a row error)
    sources: tuple[tuple[int, str], ...]  # first_of: every column, tried in order


class Normalizer:
    """Built once per run from the bound mapping; `__call__` turns a row into a `Staged`.

    It is the hot path of staging (a few µs per field), so each field's work is planned
    once here and every cell's text is computed once.
    """

    def __init__(self, bound: BoundMapping, clear_empty: bool) -> None:
        self.bound = bound
        options = bound.mapping.options
        self.region = options.default_region
        self.mobile = options.phone_type == "mobile"
        self.options = ValueOptions(options.decimal, zoneinfo.ZoneInfo(options.timezone))
        self.clear_empty = clear_empty
        email = bound.get("email")
        assert email is not None, "parse_mapping guarantees an email field"
        self.email = email
        self._regions: dict[Cell, str | None] = {}  # region cell → ISO code, per run
        self._notes: list[str] = []  # what a phone's cell held beside its number, per row
        self.constants: dict[str, Any] = {}
        self.plans: list[_Plan] = []
        for field in bound.fields:
            spec = field.spec
            if spec.name == "email":
                continue
            head, dot, key = spec.name.partition(".")
            is_phone = spec.name == "phone"
            on_invalid = spec.on_invalid or (options.on_invalid_phone if is_phone else "error")
            plan = _Plan(
                field, spec, field.index, head, key if dot else None, CONVERTERS[spec.type],
                is_phone, on_invalid == "drop", field.sources if spec.first_of else (),
            )  # fmt: skip
            if not spec.columns:
                self.constants[spec.name] = self._constant(spec)
            self.plans.append(plan)
        self.phone_plans = [plan for plan in self.plans if plan.is_phone]

    def _constant(self, spec: FieldSpec) -> Any:
        """A `value = ...` converted once to the field's type; a bad one is a mapping error."""
        if spec.type == "json" and isinstance(spec.constant, dict | list):
            return spec.constant
        if spec.type == "string" and spec.name.startswith("customFields."):
            return spec.constant  # Minimo custom fields take any JSON value as written
        try:
            return CONVERTERS[spec.type](
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
        notes = self._notes = []
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
            else:
                warnings.extend(typo_warning(email))
        payload: dict[str, Any] = {"email": email}
        phone: str | None = None
        for plan in self.plans:
            try:
                present, value = self._value(cells, plan)
            except CellError as exc:
                where = f"{exc} in column {exc.column or plan.field.column}"
                if plan.drop_invalid:
                    warnings.append(f"{where}: sent without {plan.spec.name}")
                    dropped = True
                else:
                    errors.append(where)
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
        warnings.extend(notes)
        lists = None
        if self.bound.lists:
            before = len(warnings)
            lists = self._lists(cells, warnings)
            dropped = dropped or len(warnings) > before  # a consent that is no yes/no
        if errors:
            shown = email or raw_text or None
            return Staged(
                source.number, "error", shown, phone, None, tuple(warnings), "; ".join(errors)
            )
        return Staged(
            source.number, "pending", email, phone, payload, tuple(warnings), None, dropped, lists
        )

    def _lists(self, cells: tuple[Cell, ...], warnings: list[str]) -> dict[str, bool] | None:
        """The row's consent to each of the mapping's lists (SPEC §5): a true bool subscribes,
        false or an empty cell never does; a cell that is no yes/no is warned."""
        found: dict[str, bool] = {}
        for bound in self.bound.lists:
            cell = cells[bound.index] if bound.index < len(cells) else None
            text = "" if cell is None else cell_text(cell)
            if not text:
                continue
            list_id = bound.rule.list_id
            answer = bound.rule.values.get(header_key(text))
            if answer is None:
                try:
                    answer = parse_bool(cell, text)
                except CellError as exc:
                    warnings.append(
                        f"{exc} in column {bound.column}: not subscribed to list {list_id!r}"
                    )
                    continue
            found[list_id] = found.get(list_id, False) or answer
        return found or None

    def _value(self, cells: tuple[Cell, ...], plan: _Plan) -> tuple[bool, Any]:
        """(present, value): an empty cell is never a value (omitted, or None under clear).
        A `first_of` field takes the first of its cells that gives a valid value; none does:
        the first non-empty one's fault."""
        spec = plan.spec
        cell: Cell = None
        if plan.sources:
            fault: CellError | None = None
            for index, column in plan.sources:
                cell = cells[index] if index < len(cells) else None
                text = "" if cell is None else cell_text(cell)
                if not text:
                    continue
                try:
                    return True, self._convert(cells, plan, cell, text, column)
                except CellError as exc:
                    if fault is None:
                        exc.column, fault = column, exc
            if fault is not None:
                raise fault
            cell = None
        elif plan.index is None:
            if not spec.columns:
                return True, self.constants[spec.name]
        else:
            cell = cells[plan.index] if plan.index < len(cells) else None
        text = "" if cell is None else cell_text(cell)
        if not text:
            if spec.default is None:
                return self.clear_empty, None
            cell = spec.default
            text = cell_text(cell)
        return True, self._convert(cells, plan, cell, text, plan.field.column)

    def _convert(
        self, cells: tuple[Cell, ...], plan: _Plan, cell: Cell, text: str, column: str
    ) -> Any:
        spec = plan.spec
        if spec.values:
            key = header_key(text)
            if key in spec.values:
                return spec.values[key]
        if plan.is_phone:
            return self._phone(cells, plan.field, cell, text, column)
        return plan.convert(cell, text, spec, self.options)

    def _phone(
        self, cells: tuple[Cell, ...], field: BoundField, cell: Cell, text: str, column: str
    ) -> str:
        region = self.region
        if field.region_index is not None:
            region_cell = cells[field.region_index]
            if region_cell not in self._regions:
                self._regions[region_cell] = region_of(region_cell, field.spec)
            found = self._regions[region_cell]
            if found is None:  # not a country: only a +/00 number tells its own
                read = normalize_phone(text, None, self.mobile)
                if read.e164 is None:
                    raise CellError(
                        f"unknown country {quoted(cell_text(region_cell))} in column "
                        f"{field.region_column} for phone {quoted(text)}"
                    )
                return self._noted(read, text, column)
            region = found or region
        if isinstance(cell, float) and not cell.is_integer():
            text = repr(cell)
        read = normalize_phone(text, region, self.mobile)
        if read.e164 is None:
            raise CellError(read.problem or f"invalid phone {quoted(text)}")
        return self._noted(read, text, column)

    def _noted(self, read: Phone, text: str, column: str) -> str:
        assert read.e164 is not None
        if read.note:
            self._notes.append(f"phone {quoted(text)} in column {column}: {read.note}")
        return read.e164


StagedRecord = tuple[
    int, str, str | None, str | None, bytes | None, bytes | None, str, str | None, int,
    str | None,
]  # fmt: skip


def encode(payload: dict[str, Any], lists: str | None = None) -> tuple[bytes, bytes]:
    """The stored payload and its digest (sorted keys: equal contacts, equal digests). The
    digest covers the row's lists too: a contact sent to another list is not unchanged."""
    data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.blake2b(data, digest_size=16)
    if lists:
        digest.update(b"\0" + lists.encode())
    return data, digest.digest()


def encode_lists(lists: dict[str, bool] | None) -> str | None:
    return orjson.dumps(lists, option=orjson.OPT_SORT_KEYS).decode() if lists else None


def record(s: Staged) -> StagedRecord:
    """A staged row as the job database stores it (encoded here, off the main process)."""
    lists = encode_lists(s.lists)
    data, digest = encode(s.payload, lists) if s.payload is not None else (None, None)
    return (
        s.row, s.status, s.email, s.phone, data, digest, "; ".join(s.warnings), s.error,
        int(s.dropped), lists,
    )  # fmt: skip
