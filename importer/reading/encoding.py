"""A text file's encoding, from its first bytes: UTF-8 with or without BOM, UTF-16 (with a
BOM, or Latin text whose every other byte is zero), else cp1252 or Latin-1."""

from __future__ import annotations

import codecs
from pathlib import Path

from importer.errors import SourceError


def utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le'/'-be' when every other byte is zero, as in Latin text saved as UTF-16."""
    sample = head[: 4096 - 4096 % 2] if len(head) > 1 else b""
    even, odd = sample[0::2], sample[1::2]
    if len(odd) < 8:
        return None
    for codec, zeros, text in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros.count(0) >= 0.7 * len(zeros) and text.count(0) <= 0.05 * len(text):
            try:
                codecs.getincrementaldecoder(codec)().decode(sample, final=False)
            except UnicodeDecodeError:
                return None
            return codec
    return None


def detect_encoding(head: bytes, path: Path) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        utf16 = utf16_without_bom(head)
        if utf16:
            return utf16
        raise SourceError(
            f"{path.name} is not a text spreadsheet (it contains binary data).",
            "Check that you picked the right file; export it as CSV or XLSX.",
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"
