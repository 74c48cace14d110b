"""Mapping files (SPEC §3): TOML → a frozen `Mapping`, then bound to a source's headers.

Everything that can be wrong with a mapping is found here, before a row is read or sent,
and reported with what the file actually has (its headers, the closest match).
"""

from importer.mapping.bind import bind
from importer.mapping.model import (
    FIELD_TYPES,
    MINIMO_FIELDS,
    NOTIFUSE_FIELDS,
    BoundField,
    BoundMapping,
    FieldSpec,
    FieldType,
    Mapping,
    Options,
    UpdateRule,
    header_key,
    target_fields,
)
from importer.mapping.parse import load_mapping, parse_mapping

__all__ = [
    "FIELD_TYPES",
    "MINIMO_FIELDS",
    "NOTIFUSE_FIELDS",
    "BoundField",
    "BoundMapping",
    "FieldSpec",
    "FieldType",
    "Mapping",
    "Options",
    "UpdateRule",
    "bind",
    "header_key",
    "load_mapping",
    "parse_mapping",
    "target_fields",
]
