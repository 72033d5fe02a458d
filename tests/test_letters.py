"""The letters: fidelity to the seed, personalisation, identifiers, determinism."""

from __future__ import annotations

import io
import re
import zipfile

import docx
import pytest
from lxml import etree

from conftest import SEED, edit_sheet, files_under, roster_row
from kdigital.letters import make_letters


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()


def seed_paragraphs() -> list[str]:
    """The body paragraphs of the seed letter, the page-1 footer cut out and the third bullet rejoined."""
    lines = [line.rstrip() for line in SEED.read_text(encoding="utf-8").splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("bezugnehmend"))
    end = next(i for i, line in enumerate(lines) if line.startswith("Mit freundlichen"))
    footer_start = next(i for i, line in enumerate(lines) if "Servicezeiten" in line)
    footer_end = next(i for i, line in enumerate(lines) if line.startswith("SWIFT-BIC"))
    body = lines[start:footer_start] + lines[footer_end + 1:end]
    paragraphs = [normalize(line.lstrip("- ").replace("**", "")) for line in body if line.strip()]
    # The third bullet runs on after the footer: "… um die zentralen" + "Leistungen zu verstetigen …".
    i = next(i for i, p in enumerate(paragraphs) if p.endswith("um die zentralen"))
    paragraphs[i:i + 2] = [paragraphs[i] + " " + paragraphs[i + 1]]
    return paragraphs


def seed_footer_lines() -> list[str]:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "Servicezeiten" in line)
    end = next(i for i, line in enumerate(lines) if line.startswith("SWIFT-BIC"))
    return [normalize(line.lstrip("•○ ")) for line in lines[start:end + 1] if line.strip()]


def document_text(path) -> dict[str, list[str]]:
    d = docx.Document(path)
    cells = [normalize(c.text) for t in d.tables for r in t.rows for c in r.cells]
    body = [normalize(p.text) for p in d.paragraphs]
    section = d.sections[0]
    footer = [normalize(c.text) for t in section.first_page_footer.tables for r in t.rows for c in r.cells]
    footer += [normalize(p.text) for p in section.first_page_footer.paragraphs]
    header = [normalize(p.text) for p in section.first_page_header.paragraphs]
    return {"body": body, "cells": cells, "footer": footer, "header": header}


@pytest.fixture(scope="module")
def shipped_letters(tmp_path_factory):
    from kdigital.workspace import init_workspace, shipped_workspace

    ws = init_workspace(tmp_path_factory.mktemp("letters") / "ws", shipped_workspace())
    run = make_letters(ws)
    return ws, run


def test_one_letter_per_municipality(shipped_letters):
    ws, run = shipped_letters
    names = sorted(p.name for p in (ws.outputs / "letters").iterdir())
    assert len(names) == 22 and len(run.documents) == 22
    assert names[0] == "06534001_amoeneburg.docx"
    assert "06534016_neustadt-hessen.docx" in names
    assert "06534014_marburg.docx" in names


def test_every_letter_holds_the_seed_text(shipped_letters):
    _, run = shipped_letters
    expected = seed_paragraphs()
    assert len(expected) == 7  # intro, three bullets, costs, funding, request
    for path in run.documents:
        text = document_text(path)
        for paragraph in expected:
            assert paragraph in text["body"], f"{path.name}: missing seed paragraph {paragraph[:60]!r}"


def test_letter_frame_matches_seed(shipped_letters):
    _, run = shipped_letters
    text = document_text(run.documents[0])
    body = text["body"]
    assert any(p.startswith("Bitte um Interessensbekundung bezüglich der Bündelung") for p in body)
    assert "Mit freundlichen Grüßen" in body
    assert "Ralf Laumer" in body and "Stabsstellenleitung Dezernatsbüro der Landrätin" in body
    assert "DER KREISAUSSCHUSS" in text["header"]
    footer = " ".join(text["footer"])
    for line in seed_footer_lines():
        assert line in footer, line
    info = " ".join(text["cells"])
    for label in ("Fachbereich:", "Fachdienst:", "Ansprechpartner/in:", "Zimmer:", "Telefon:", "Fax:",
                  "Vermittlung:", "E-Mail:", "Unser Zeichen:", "Datum:"):
        assert label in info
    assert "Landkreis Marburg-Biedenkopf • 35034 Marburg" in info
    assert "StoehrP@marburg-biedenkopf.de" in info and "06421 405-1736" in info


def test_figures_are_the_computed_rates(shipped_letters):
    _, run = shipped_letters
    body = " ".join(document_text(run.documents[0])["body"])
    assert "1,22 € p. Einwohner/in p.J. bei der Teilnahme von allen Kommunen" in body
    assert "(im Vergleich die Teilnahme von 15 Kommunen 1,70 €)" in body
    assert "bis zum 08.04.2022 gerne per E-Mail (BLR-13.5@marburg-biedenkopf.de)" in body


def test_personalised_address_salutation_and_reply_form(shipped_letters):
    _, run = shipped_letters
    by_ags = {p.name[:8]: p for p in run.documents}
    marburg = document_text(by_ags["06534014"])
    assert "Sehr geehrter Herr Oberbürgermeister Dr. Spies," in marburg["body"]
    address = next(c for c in marburg["cells"] if "Magistrat" in c)
    assert address.endswith("Magistrat der Universitätsstadt Marburg Herrn Oberbürgermeister Dr. Thomas Spies "
                            "Markt 1 35037 Marburg (nur per E-Mail)")
    fronhausen = document_text(by_ags["06534009"])
    assert "Sehr geehrte Frau Bürgermeisterin Schnabel," in fronhausen["body"]
    address = next(c for c in fronhausen["cells"] if "Gemeindevorstand" in c)
    assert "Gemeindevorstand der Gemeinde Fronhausen Frau Bürgermeisterin Claudia Schnabel" in address
    assert "nur per E-Mail" not in address
    kirchhain = document_text(by_ags["06534011"])
    assert any("Magistrat der Stadt Kirchhain" in c for c in kirchhain["cells"])
    for ags, path in by_ags.items():
        text = document_text(path)
        everything = " ".join(text["body"] + text["cells"])
        assert f"KD-2022-IB-{ags}" in everything
        assert "Rückantwort Interessensbekundung" in text["body"]


def test_reply_form_is_the_last_page_after_a_break(shipped_letters):
    _, run = shipped_letters
    d = docx.Document(run.documents[0])
    assert len(d.sections) == 2  # the reply form is a section of its own, starting on a new page
    assert d.sections[1].start_type == docx.enum.section.WD_SECTION.NEW_PAGE
    form = [p.text for p in d.paragraphs[-40:]]
    assert any("Rückantwort Interessensbekundung" in p for p in form)
    assert any("Ja, wir haben Interesse" in p for p in form)


def test_letters_are_valid_docx(shipped_letters):
    _, run = shipped_letters
    for path in run.documents:
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
            for name in archive.namelist():
                if name.endswith(".xml") or name.endswith(".rels"):
                    etree.fromstring(archive.read(name))


def test_two_runs_give_identical_bytes(workspace):
    make_letters(workspace)
    first = files_under(workspace.outputs)
    make_letters(workspace)
    assert files_under(workspace.outputs) == first
    assert len(first) == 22


def test_parallel_and_serial_runs_give_identical_bytes(workspace):
    make_letters(workspace, workers=1)
    serial = files_under(workspace.outputs)
    import kdigital.batch as batch

    old = batch.PARALLEL_THRESHOLD
    batch.PARALLEL_THRESHOLD = 2
    try:
        make_letters(workspace, workers=2)
    finally:
        batch.PARALLEL_THRESHOLD = old
    assert files_under(workspace.outputs) == serial


def test_only_writes_the_selected(workspace):
    run = make_letters(workspace, only=["06534014", "6534009"])
    assert sorted(p.name for p in run.documents) == ["06534009_fronhausen.docx", "06534014_marburg.docx"]
    assert sorted(p.name for p in (workspace.outputs / "letters").iterdir()) == [p.name for p in sorted(run.documents)]


def test_changed_roster_changes_the_letter(workspace):
    row = roster_row(workspace, "06534012")
    edit_sheet(workspace.roster, "Kommunen", {(row, "Amt"): "Bürgermeisterin", (row, "Titel"): "Prof. Dr.",
                                              (row, "Nachname"): "Özdemir-Weiß"})
    run = make_letters(workspace, only=["06534012"])
    text = document_text(run.documents[0])
    assert "Sehr geehrte Frau Bürgermeisterin Prof. Dr. Özdemir-Weiß," in text["body"]


def test_letter_bytes_open_with_python_docx(shipped_letters):
    _, run = shipped_letters
    data = run.documents[0].read_bytes()
    assert docx.Document(io.BytesIO(data)).paragraphs


def test_every_letter_is_recorded_in_the_ledger(workspace):
    import hashlib

    from kdigital.ledger import Ledger

    run = make_letters(workspace, only=["06534014", "06534009"])
    with Ledger.open(workspace.root) as ledger:
        events = ledger.events("generated", kind="IB")
    assert sorted((e.ags, e.file) for e in events) == [
        ("06534009", "outputs/letters/06534009_fronhausen.docx"), ("06534014", "outputs/letters/06534014_marburg.docx")]
    for e in events:
        assert e.sha256 == hashlib.sha256((workspace.root / e.file).read_bytes()).hexdigest()
        assert e.campaign == "KD-2022"
    assert len(run.documents) == 2
