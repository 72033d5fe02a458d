"""Letters printed: LibreOffice PDFs with two letter pages and the reply form alone on page 3."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from conftest import edit_sheet, roster_row
from kdigital.cli import cli
from kdigital.letters import make_letters

pytestmark = pytest.mark.usefixtures("require_soffice")


def pages_text(path) -> list[str]:
    return [re.sub(r"\s+", " ", page.extract_text() or "") for page in PdfReader(path).pages]


def test_letters_fit_two_pages_plus_reply_form(workspace):
    # The longest address the roster can give: six lines, long names, a title.
    row = roster_row(workspace, "06534008")
    edit_sheet(workspace.roster, "Kommunen", {(row, "Versand"): "E-Mail", (row, "Titel"): "Prof. Dr.",
                                              (row, "Vorname"): "Maximiliane-Charlotte",
                                              (row, "Nachname"): "Musterfrau-Beispielhausen",
                                              (row, "Amt"): "Bürgermeisterin",
                                              (row, "Straße"): "Hauptstraße 100 (Dorfgemeinschaftshaus)"})
    run = make_letters(workspace, only=["06534014", "06534009", "06534008"], pdf=True)
    assert run.pdf_failures == {}
    assert len(run.pdfs) == 3
    for pdf in run.pdfs:
        pages = pages_text(pdf)
        assert len(pages) == 3, pdf.name
        first, second, form = pages
        ags = pdf.name[:8]
        assert "DER KREISAUSSCHUSS" in first and "Servicezeiten" in first
        assert "Bitte um Interessensbekundung" in first and "Sehr geehrte" in first
        assert "bezugnehmend auf TOP 4" in first
        assert "Mit freundlichen Grüßen" in second and "Ralf Laumer" in second
        assert "Rückantwort" not in first + second
        assert "Rückantwort Interessensbekundung" in form and f"KD-2022-IB-{ags}" in form
        assert "Dienstsiegel" in form


def test_pdf_is_tagged_pdfa(workspace):
    run = make_letters(workspace, only=["06534014"], pdf=True)
    reader = PdfReader(run.pdfs[0])
    assert reader.trailer["/Root"]["/MarkInfo"]["/Marked"]
    xmp = reader.xmp_metadata
    assert xmp is not None and (xmp.pdfaid_part, xmp.pdfaid_conformance) == ("2", "B")
    assert "/StructTreeRoot" in reader.trailer["/Root"]  # tagged, for screen readers (BITV 2.0)
    # Title, author and keywords were set in the .docx before conversion: info dictionary and XMP agree.
    info = reader.metadata
    assert info.title == "Interessensbekundung Kompetenzcenter kommunal digital – Universitätsstadt Marburg"
    assert info.author == "Landkreis Marburg-Biedenkopf – Der Kreisausschuss"
    assert info["/Keywords"] == "KD-2022-IB-06534014, 06534014, Interessensbekundung"
    assert xmp.dc_title["x-default"] == info.title
    assert xmp.dc_creator == [info.author]
    assert xmp.pdf_keywords == info["/Keywords"]


def test_failed_conversion_is_reported_by_file_and_the_rest_kept(workspace, tmp_path, monkeypatch):
    from kdigital.soffice import find_soffice

    real = find_soffice()
    fake = tmp_path / "soffice"  # the real LibreOffice, except that it refuses Marburg's letter
    fake.write_text("#!/bin/bash\nargs=()\nfor a in \"$@\"; do [[ $a == *06534014* ]] || args+=(\"$a\"); done\n"
                    f"exec {real} \"${{args[@]}}\"\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KDIGITAL_SOFFICE", str(fake))
    result = CliRunner().invoke(cli, ["-w", str(workspace.root), "letters", "--pdf", "--only", "06534014",
                                      "--only", "06534009", "-j", "1"])
    assert result.exit_code == 4, result.output
    assert "06534014_marburg.docx" in result.stderr and "06534009" not in result.stderr
    assert sorted(p.name for p in (workspace.outputs / "letters").glob("*_*.*")) == [
        "06534009_fronhausen.docx", "06534009_fronhausen.pdf", "06534014_marburg.docx"]


def test_22_letters_with_dispatch(workspace):
    import email
    import email.policy

    from kdigital.inputs import load_inputs

    roster = load_inputs(workspace).roster
    run = make_letters(workspace, pdf=True)
    assert run.pdf_failures == {} and len(run.pdfs) == 22
    for pdf in run.pdfs:
        assert f"KD-2022-IB-{pdf.name[:8]}" in pages_text(pdf)[-1]
    by_email = [m for m in roster if m.by_email]
    by_post = sorted((m for m in roster if m.by_post), key=lambda m: m.ags)
    assert sorted(p.name[:8] for p in run.drafts) == sorted(m.ags for m in by_email)
    message = email.message_from_bytes(run.drafts[0].read_bytes(), policy=email.policy.default)
    assert message["X-Unsent"] == "1" and message["Message-ID"] and message["Date"]
    assert [a.get_filename() for a in message.iter_attachments()] == [run.drafts[0].stem + ".pdf"]
    bundle = PdfReader(run.print_file)
    assert len(bundle.pages) == 4 * len(by_post)  # three pages each, padded to an even count for duplex
    assert [o.title for o in bundle.outline if not isinstance(o, list)] == [
        f"{m.ags} {m.kind} {m.name}" for m in by_post]
    starts = [bundle.get_destination_page_number(o) for o in bundle.outline if not isinstance(o, list)]
    assert starts == [4 * i for i in range(len(by_post))]  # every letter on a new sheet


def test_two_concurrent_conversions_do_not_collide(workspace, tmp_path):
    import subprocess
    import sys

    from kdigital.workspace import init_workspace, shipped_workspace

    other = init_workspace(tmp_path / "other", shipped_workspace())
    command = [sys.executable, "-m", "kdigital", "letters", "--pdf", "--silent",
               "--only", "06534014", "--only", "06534009", "--only", "06534001"]
    runs = [subprocess.Popen([*command[:3], "-w", str(ws.root), *command[3:]], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for ws in (workspace, other)]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, out + err
    for ws in (workspace, other):
        pdfs = sorted((ws.outputs / "letters").glob("*.pdf"))
        assert len([p for p in pdfs if p.name[:1] == "0"]) == 3


def test_pdf_command_converts_existing_documents(workspace, tmp_path):
    run = make_letters(workspace, only=["06534014", "06534009"])
    assert len(run.documents) == 2
    broken = tmp_path / "kaputt.docx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    result = CliRunner().invoke(cli, ["pdf", *map(str, run.documents), str(broken)])
    assert result.exit_code == 4
    assert "kaputt.docx" in result.stderr
    for docx_path in run.documents:
        pdf = docx_path.with_suffix(".pdf")
        assert pdf.is_file() and f"KD-2022-IB-{docx_path.name[:8]}" in pages_text(pdf)[-1]
