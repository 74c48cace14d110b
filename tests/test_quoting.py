"""CSV quoting as Excel and PapaParse read it (SPEC §4): one stray byte never costs the
other rows; only a quote that never closes is a file fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from importer.reading import SourceRow
from tests.test_reading import read_bytes, source_error

STRAY = (
    "text after the closing quote in column {column} ({cell}): quote the whole cell, or "
    'double the quotes inside it ("")'
)


def test_a_space_after_the_last_closing_quote_of_the_file_is_ignored(tmp_path: Path) -> None:
    """A vendor's sample file ended `…}}" ` and was refused whole (exit 2)."""
    lines = ["Email,Preferences"] + [f'u{i}@gmail.com,"{{""n"":{i}}}"' for i in range(25)]
    data = ("\r\n".join(lines) + '\r\nlast@gmail.com,"{""a"":{""b"":1}}" ').encode()
    got = read_bytes(tmp_path, data)
    assert len(got.rows) == 26
    assert got.rows[0] == SourceRow(2, ("u0@gmail.com", '{"n":0}'))
    assert got.rows[-1] == SourceRow(27, ("last@gmail.com", '{"a":{"b":1}}'))


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_whitespace_between_a_closing_quote_and_the_delimiter_is_ignored(
    tmp_path: Path, delimiter: str
) -> None:
    d = delimiter
    data = (
        f'Email{d}Nome{d}Note\n"a@gmail.com" {d}"Rossi, Mario"  {d}"x"\t\n'
        f'b@gmail.com{d}"Bianchi"{d}"riga 1\nriga 2" \n'
    ).encode()
    got = read_bytes(tmp_path, data)
    assert got.rows[0] == SourceRow(2, ("a@gmail.com", "Rossi, Mario", "x"))  # an empty 4th
    assert got.rows[1] == SourceRow(3, ("b@gmail.com", "Bianchi", "riga 1\nriga 2"))


def test_text_after_a_closing_quote_is_that_rows_error_and_the_next_row_reads(
    tmp_path: Path,
) -> None:
    data = (
        b"Email,Nome,Note\n"
        b'a@gmail.com,"Rossi"Mario,x\n'
        b'b@gmail.com,Bianchi,"riga 1\nriga 2"\n'
        b'c@gmail.com,"Verdi" ,"z"zz\n'
        b"d@gmail.com,Neri,w\n"
    )
    got = read_bytes(tmp_path, data)
    assert got.rows == [
        SourceRow(
            2,
            ("a@gmail.com", "RossiMario", "x"),
            STRAY.format(column="Nome", cell="'\"Rossi\"Mario'"),
        ),
        SourceRow(3, ("b@gmail.com", "Bianchi", "riga 1\nriga 2")),
        SourceRow(
            4, ("c@gmail.com", "Verdi", "zzz"), STRAY.format(column="Note", cell="'\"z\"zz'")
        ),
        SourceRow(5, ("d@gmail.com", "Neri", "w")),
    ]


def test_a_refused_record_over_several_lines_keeps_the_row_numbers(tmp_path: Path) -> None:
    data = b'Email,Note,Nome\na@gmail.com,"riga 1\nriga 2" ,"Anna\nMaria"x\nb@gmail.com,ok,Bruno\n'
    got = read_bytes(tmp_path, data)
    assert got.rows == [
        SourceRow(
            2,
            ("a@gmail.com", "riga 1\nriga 2", "Anna\nMariax"),
            STRAY.format(column="Nome", cell="'\"Anna\\nMaria\"x'"),
        ),
        SourceRow(3, ("b@gmail.com", "ok", "Bruno")),
    ]


@pytest.mark.parametrize(
    "last", [b'c@gmail.com,"never closed\nd@gmail.com,x\n', b'c@gmail.com,"x" ,"never closed\n']
)
def test_a_quote_that_never_closes_is_a_file_fault_naming_its_row(
    tmp_path: Path, last: bytes
) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"Email,Note,Nome\na@gmail.com,ok,A\nb@gmail.com,ok,B\n" + last)
    cell = 2 if last.count(b'"') == 1 else 3
    assert source_error(path) == (
        f"leads.csv: the quote that opens cell {cell} of row 4 is never closed: it would take "
        "in the rest of the file. Close it (or remove it) in that row, or save the file again "
        "from the spreadsheet program."
    )


def test_the_row_with_a_stray_quote_is_reported_and_the_others_are_sent(tmp_path: Path) -> None:
    from importer.pipeline import Context, run
    from importer.settings import RunSettings

    (tmp_path / "leads.csv").write_bytes(
        b'Email,Nome\na@gmail.com,"Rossi"Mario\nb@gmail.com,Bianchi\n'
    )
    (tmp_path / "m.toml").write_text(
        'target = "notifuse"\n[fields]\nemail = "Email"\nfirst_name = "Nome"\n'
    )
    settings = RunSettings(
        tmp_path / "leads.csv", tmp_path / "m.toml", report=tmp_path / "r.csv", dry_run=True
    )
    assert run(settings, Context(env={})).exit_code == 1
    assert (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines() == [
        "row,email,phone,status,contact_id,error,warning,changes",
        '2,a@gmail.com,,error,,"text after the closing quote in column Nome (\'""Rossi""Mario\'):'
        ' quote the whole cell, or double the quotes inside it ("""")",,',
        "3,b@gmail.com,,valid,,,,",
    ]
