"""`importer ui` over HTTP (SPEC §10): the guards, each refused the way a person can act
on, the flow's API on the samples against the sandbox, and credentials never in a page
or an answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from importer.sandbox import SandboxThread
from tests.conftest import MINIMO_KEY, NOTIFUSE_KEY, SAMPLES, sandbox_env
from tests.ui_server import Ui, running_ui


@pytest.fixture
def ui(tmp_path: Path, sandbox: SandboxThread) -> Iterator[Ui]:
    with running_ui(tmp_path, sandbox_env(sandbox.base_url), "--max-upload-mb", "1") as found:
        yield found


def test_every_request_needs_the_token_of_the_printed_link(ui: Ui) -> None:
    assert httpx.get(ui.url).status_code == 200
    by_hand = httpx.get(ui.base + "/")  # the address typed without its token: a page
    assert (by_hand.status_code, by_hand.headers["content-type"]) == (
        403,
        "text/html; charset=utf-8",
    )
    assert "open that link, or start importer ui again." in by_hand.text
    for answer in (
        httpx.get(ui.base + "/api/jobs/x"),
        httpx.get(ui.base + "/api/jobs/x?token=wrong"),
        httpx.post(ui.base + "/api/files/path", json={"path": str(SAMPLES / "leads.csv")}),
    ):
        assert answer.status_code == 403
        assert answer.json() == {
            "error": "This page needs the link importer ui printed when it started (with its "
            "token): open that link, or start importer ui again."
        }
        assert ui.token not in answer.text


def test_other_hosts_and_origins_are_refused(ui: Ui) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name; another site's script
    sends its own Origin: both are refused, even with the token."""
    rebound = httpx.get(ui.url, headers={"Host": "evil.example"})
    assert (rebound.status_code, rebound.json()["error"]) == (
        403, "This page only answers on its own address (127.0.0.1).",
    )  # fmt: skip
    port = ui.base.rsplit(":", 1)[1]
    assert httpx.get(ui.url, headers={"Host": f"localhost:{port}"}).status_code == 200
    other = ui.call("POST", "/api/files/path", headers={"Origin": "http://evil.example"},
                    json={"path": str(SAMPLES / "leads.csv")})  # fmt: skip
    assert (other.status_code, other.json()["error"]) == (
        403, "Requests from other sites are refused.",
    )  # fmt: skip
    same = ui.call("POST", "/api/files/path", headers={"Origin": ui.base},
                   json={"path": str(SAMPLES / "leads.csv")})  # fmt: skip
    assert same.status_code == 200


def test_it_listens_on_loopback_only(ui: Ui) -> None:
    """The kernel's own table of listening sockets: this port only on 127.0.0.1."""
    assert ui.base.startswith("http://127.0.0.1:")
    port = int(ui.base.rsplit(":", 1)[1])
    listening = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                listening.add(address)
    assert listening == {"0100007F"}  # 127.0.0.1, little-endian


def test_an_upload_over_the_cap_is_refused_with_what_to_do(ui: Ui, tmp_path: Path) -> None:
    big = b"Email\n" + b"someone@example.com\n" * 60_000  # 1.2 MB, cap 1 MB
    answer = ui.call("POST", "/api/files", files={"file": ("big.csv", big, "text/csv")})
    assert answer.status_code == 413
    assert answer.json()["error"] == (
        "The file is larger than the upload limit (1 MB). Give its path on this computer "
        "instead (nothing is copied), or start importer ui with a larger --max-upload-mb."
    )
    # sent without a length (chunked), it is counted as it streams in, and refused the same
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
    chunks = iter([head, big, b"\r\n--b--\r\n"])
    streamed = ui.call("POST", "/api/files", content=chunks,
                       headers={"Content-Type": "multipart/form-data; boundary=b"})  # fmt: skip
    assert streamed.status_code == 413
    assert streamed.json()["error"].startswith("big.csv is larger than the upload limit (1 MB).")
    sample = ("leads.csv", (SAMPLES / "leads.csv").read_bytes(), "text/csv")
    small = ui.call("POST", "/api/files", files={"file": sample})
    assert small.status_code == 200
    assert small.json()["name"] == "leads.csv" and small.json()["path"] is None


def test_a_path_that_is_no_file_says_what_to_do(ui: Ui, tmp_path: Path) -> None:
    answer = ui.call("POST", "/api/files/path", json={"path": str(tmp_path / "nope.csv")})
    assert answer.status_code == 400
    assert answer.json()["error"] == (
        f"{tmp_path / 'nope.csv'} is not a file on this computer. Check the path (it is read on "
        "the computer running importer ui), or upload the file."
    )


def test_the_flow_over_http_check_predict_import_undo(ui: Ui, sandbox: SandboxThread) -> None:
    opened = ui.call("POST", "/api/files/path", json={"path": str(SAMPLES / "leads.csv")})
    file_id = opened.json()["id"]
    assert opened.json()["description"] == "leads.csv (CSV, utf-8-sig, delimiter ';')"
    mapping = ui.call("GET", f"/api/files/{file_id}/mapping?target=minimo").json()
    assert mapping["error"] is None
    lines = {line["column"]: line for line in mapping["lines"]}
    assert (lines["E-mail"]["field"], lines["E-mail"]["examples"][0]) == (
        "email", "mario.rossi@gmail.com",
    )  # fmt: skip
    edited = ui.call("POST", f"/api/files/{file_id}/mapping/edit", json={
        "target": "minimo", "column": "Azienda", "field": "customFields.company", "type": "",
        "update": "if_empty",
    }).json()  # fmt: skip
    assert '"customFields.company" = {column = "Azienda", update = "if_empty"}' in edited["toml"]
    assert '# update = "protect_opt_out": a yes is never sent' in edited["toml"]  # comments kept

    body = {"file": file_id, "target": "minimo"}
    check = ui.job({**body, "kind": "check"})
    assert (check["code"], check["statuses"]) == (
        1, {"duplicate": 1, "valid": 9, "error": 1, "skipped": 1},
    )  # fmt: skip
    errors = ui.call("GET", f"/api/jobs/{check['id']}/rows?status=error").json()
    assert errors["pages"] == 1
    (row,) = errors["rows"]
    assert (row["row"], row["error"], row["E-mail"]) == (
        5, "invalid email 'anna.ferrari@@gmail.com' in column E-mail", "anna.ferrari@@gmail.com",
    )  # fmt: skip
    assert sandbox.requests() == []

    predict = ui.job({**body, "kind": "predict"})
    assert predict["statuses"] == {"duplicate": 1, "would_create": 9, "error": 1, "skipped": 1}
    imported = ui.job({**body, "kind": "import"})
    assert imported["statuses"] == {"duplicate": 1, "created": 9, "error": 1, "skipped": 1}
    assert len(sandbox.contacts()["minimo"]) == 9
    report = ui.call("GET", f"/api/jobs/{imported['id']}/download/report.csv")
    assert report.status_code == 200
    assert report.text.splitlines()[0].startswith("\ufeffrow;email;phone;status;contact_id")
    rejects = ui.call("GET", f"/api/jobs/{imported['id']}/download/rejects.csv")
    assert "anna.ferrari@@gmail.com" in rejects.text
    ui.call("POST", f"/api/files/{file_id}/mapping/edit", json={  # edited after the import:
        "target": "minimo", "column": "Nome", "field": "", "type": "", "update": "always",
    })  # fmt: skip
    undone = ui.job({**body, "kind": "undo", "of": imported["id"]})  # ... the import's mapping
    assert undone["statuses"] == {"untouched": 3, "deleted": 9}
    assert all(c.get("deleted") for c in sandbox.contacts()["minimo"])


def test_credentials_never_reach_the_page_or_an_answer(ui: Ui) -> None:
    seen = [httpx.get(ui.url).text]
    opened = ui.call("POST", "/api/files/path", json={"path": str(SAMPLES / "leads.csv")})
    file_id = opened.json()["id"]
    seen.append(ui.call("GET", f"/api/files/{file_id}/mapping?target=notifuse").text)
    job = ui.job({"file": file_id, "target": "notifuse", "kind": "predict"})
    seen.append(str(job))
    seen.append(ui.call("GET", f"/api/jobs/{job['id']}/rows").text)
    seen.append(ui.call("GET", f"/api/jobs/{job['id']}/download/summary.json").text)
    for text in seen:
        assert MINIMO_KEY not in text and NOTIFUSE_KEY not in text


def test_credentials_never_reach_what_the_server_prints(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    with running_ui(tmp_path, sandbox_env(sandbox.base_url), "--verbose") as ui:
        opened = ui.call("POST", "/api/files/path", json={"path": str(SAMPLES / "leads.csv")})
        file_id = opened.json()["id"]
        ui.call("GET", f"/api/files/{file_id}/mapping?target=minimo")
        assert ui.job({"file": file_id, "target": "minimo", "kind": "import"})["code"] == 1
    assert ui.output == (  # after the link (read at start): the token is in no other line
        "  (Ctrl-C stops it; reports are kept only while it runs: download them)\n"
        "importer ui: stopped\n"
    )
    assert MINIMO_KEY not in ui.output and NOTIFUSE_KEY not in ui.output


def test_without_credentials_the_page_says_which_variables_to_set(tmp_path: Path) -> None:
    with running_ui(tmp_path, {}) as ui:
        page = httpx.get(ui.url).text
        assert "MINIMO_API_KEY is not set." in page
        opened = ui.call("POST", "/api/files/path", json={"path": str(SAMPLES / "leads.csv")})
        file_id = opened.json()["id"]
        refused = ui.call("POST", "/api/jobs", json={"file": file_id, "target": "minimo",
                                                     "kind": "import"})  # fmt: skip
        assert refused.status_code == 400
        assert refused.json()["error"].startswith("MINIMO_API_KEY is not set.")
        assert refused.json()["error"].endswith("Then start importer ui again from that shell.")
        assert ui.job({"file": file_id, "target": "minimo", "kind": "check"})["code"] == 1


CORPUS = SAMPLES.parent / "tests" / "corpus"


def test_the_page_reads_maps_and_checks_every_corpus_file(ui: Ui) -> None:
    """Every file of the conformance corpus through the page: opened by path (a refused one
    says why), its columns in the table as the corpus expects them, and a check whose report
    has one line per data row. Files with no email column get one chosen in the table, as a
    person would (the mapping says what is missing until then)."""
    expected = orjson.loads((CORPUS / "expected.json").read_bytes())
    started: list[tuple[str, int, str]] = []
    for entry in expected:
        if entry["sheet"] is not None:
            continue  # the page reads the first visible sheet (the CLI has --sheet)
        opened = ui.call("POST", "/api/files/path", json={"path": str(CORPUS / entry["file"])})
        if entry.get("refused"):
            assert opened.status_code == 400, entry["file"]
            assert opened.json()["error"], entry["file"]
            continue
        assert opened.status_code == 200, (entry["file"], opened.text)
        file_id = opened.json()["id"]
        mapping = ui.call("GET", f"/api/files/{file_id}/mapping?target=notifuse").json()
        columns = [line["column"].strip() for line in mapping["lines"]]
        while columns and not columns[-1]:
            columns.pop()
        first = next((i for i, c in enumerate(columns) if c), 0)  # as tests/test_corpus.py
        assert columns[first:] == entry["headers"], entry["file"]
        if mapping["error"] is not None:
            first = next(c for c in columns if c)
            mapping = ui.call("POST", f"/api/files/{file_id}/mapping/edit", json={
                "target": "notifuse", "column": first, "field": "email", "type": "",
                "update": "always",
            }).json()  # fmt: skip
        assert mapping["error"] is None, (entry["file"], mapping["error"])
        job = ui.call("POST", "/api/jobs", json={"file": file_id, "target": "notifuse",
                                                 "kind": "check"})  # fmt: skip
        assert job.status_code == 200, (entry["file"], job.text)
        started.append((entry["file"], entry["rows"], job.json()["id"]))
    assert len(started) >= 40
    for name, rows, job_id in started:
        state = ui.wait(job_id, timeout=120)
        assert state["code"] in (0, 1), (name, state["text"])
        assert sum(state["statuses"].values()) == rows, (name, state["statuses"])


def test_odd_requests_get_a_message_not_a_bug(ui: Ui, tmp_path: Path) -> None:
    assert ui.call("GET", "/api/jobs/nope").status_code == 404
    assert ui.call("GET", "/api/jobs/nope").json()["error"] == (
        "This check or import is not known here. Start it again."
    )
    not_multipart = ui.call("POST", "/api/files", content=b"x")
    assert (not_multipart.status_code, not_multipart.json()["error"]) == (
        400, "No file was uploaded. Choose a file, then press Read.",
    )  # fmt: skip
    source = tmp_path / "minus.csv"
    source.write_text("Email,-Total\na@x.it,5\n")
    file_id = ui.call("POST", "/api/files/path", json={"path": str(source)}).json()["id"]
    ui.call("GET", f"/api/files/{file_id}/mapping?target=notifuse")
    check = ui.job({"file": file_id, "target": "notifuse", "kind": "check"})
    assert (check["code"], check["statuses"]) == (0, {"valid": 1})  # "-Total" is no option
    rows = ui.call("GET", f"/api/jobs/{check['id']}/rows").json()["rows"]
    assert rows[0]["-Total"] == "5"
    bad_page = ui.call("GET", f"/api/jobs/{check['id']}/rows?page=abc")
    assert (bad_page.status_code, bad_page.json()["error"]) == (
        400, "No page 'abc': pages are numbered from 0.",
    )  # fmt: skip


def test_a_mapping_is_saved_next_to_the_file_but_never_over_another(ui: Ui, tmp_path: Path) -> None:
    source = tmp_path / "leads.csv"
    source.write_bytes((SAMPLES / "leads.csv").read_bytes())
    file_id = ui.call("POST", "/api/files/path", json={"path": str(source)}).json()["id"]
    ui.call("GET", f"/api/files/{file_id}/mapping?target=minimo")
    saved = ui.call("POST", f"/api/files/{file_id}/mapping/save", json={"target": "minimo"})
    assert saved.json() == {"saved": str(tmp_path / "leads.minimo.toml")}
    assert 'email = "E-mail"' in (tmp_path / "leads.minimo.toml").read_text()
    again = ui.call("POST", f"/api/files/{file_id}/mapping/save", json={"target": "minimo"})
    assert again.status_code == 200  # its own file: saved again
    ui.call("GET", f"/api/files/{file_id}/mapping?target=notifuse")  # the suggestion, then
    (tmp_path / "leads.notifuse.toml").write_text("# written by hand\n")  # a file appears
    refused = ui.call("POST", f"/api/files/{file_id}/mapping/save", json={"target": "notifuse"})
    assert (refused.status_code, refused.json()["error"]) == (400, (
        f"{tmp_path / 'leads.notifuse.toml'} already exists, and this page did not write it. "
        "Download the mapping instead, or move that file away first."
    ))  # fmt: skip
    assert (tmp_path / "leads.notifuse.toml").read_text() == "# written by hand\n"
    again_picked = ui.call("POST", "/api/files/path", json={"path": str(source)}).json()["id"]
    mapping = ui.call("GET", f"/api/files/{again_picked}/mapping?target=minimo").json()
    assert mapping["toml"] == (tmp_path / "leads.minimo.toml").read_text()  # the saved one
    assert mapping["loaded"] == str(tmp_path / "leads.minimo.toml")
    hand = ui.call("GET", f"/api/files/{again_picked}/mapping?target=notifuse").json()
    assert hand["toml"] == "# written by hand\n" and hand["error"] is not None
