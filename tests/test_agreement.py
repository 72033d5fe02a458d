"""The agreement: parties, §§, signature blocks, Anlage 1, version and fingerprint."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

import docx
import pytest
from docx.oxml.ns import qn
from click.testing import CliRunner

from conftest import answer as set_answers, clear_answers, edit_sheet, files_under, roster_row
from kdigital.agreement import body_text, make_agreement
from kdigital.cli import cli
from kdigital.errors import ValidationError

YES = ["06534014", "06534011", "06534012", "06534001", "06534022"]  # Universitätsstadt, Städte, Gemeinden
NO = ["06534002", "06534003", "06534004"]


def answer(ws, yes=YES, no=NO):
    """5 yes, 3 no, the rest unanswered."""
    set_answers(ws, yes, no)


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").replace("\u200b", "")).strip()


def paragraphs(path) -> list[str]:
    d = docx.Document(path)
    return [norm(p.text) for p in d.paragraphs]


def cells(path) -> list[str]:
    """The text of every top-level table cell, nested tables included."""
    d = docx.Document(path)
    return [norm(" ".join(t.text or "" for t in c._tc.iter(qn("w:t")))) for t in d.tables for r in t.rows
            for c in r.cells]


@pytest.fixture
def five_yes(workspace):
    answer(workspace)
    return workspace, make_agreement(workspace)


def test_parties_in_the_rubrum(five_yes):
    _, run = five_yes
    text = paragraphs(run.document)
    assert [m.ags for m in run.participants] == sorted(YES)
    assert ("Landkreis Marburg-Biedenkopf, vertreten durch den Kreisausschuss, dieser vertreten durch "
            "Erika Musterfrau (Landrätin) und Max Mustermann (Erster Kreisbeigeordneter)") in text
    assert any(p.startswith("Universitätsstadt Marburg, vertreten durch den Magistrat, dieser vertreten durch "
                            "Dr. Thomas Spies (Oberbürgermeister) und Erika Beispiel (Bürgermeisterin)") for p in text)
    assert any(p.startswith("Stadt Kirchhain, vertreten durch den Magistrat") for p in text)
    assert any(p.startswith("Gemeinde Lahntal, vertreten durch den Gemeindevorstand") for p in text)
    assert not any(p.startswith("Gemeinde Angelburg, vertreten") for p in text)  # said no


def test_paragraph_headings(five_yes):
    _, run = five_yes
    headings = [norm(p.text) for p in docx.Document(run.document).paragraphs if p.style.name.startswith("Heading")]
    assert headings[:12] == ["Präambel", "§ 1 Gegenstand", "§ 2 Leistungen", "§ 3 Pflichten der Beteiligten",
                             "§ 4 Mitwirkung", "§ 5 Kosten und Kostenschlüssel", "§ 6 Datenschutz", "§ 7 Haftung",
                             "§ 8 Laufzeit und Kündigung", "§ 9 Beitritt weiterer Kommunen",
                             "§ 10 Schlussbestimmungen", "§ 11 Inkrafttreten"]
    body = " ".join(paragraphs(run.document))
    assert "§ 24 Abs. 2 KGG" in body and "§ 24 Abs. 3 KGG" in body and "Art. 28" in body
    assert "§ 2b" in body and "(UStG)" in body
    assert "Regierungspräsidium Gießen" in body


def test_signature_blocks_two_per_party(five_yes):
    _, run = five_yes
    blocks = [c for c in cells(run.document) if c.startswith("Für ")]
    assert len(blocks) == 1 + len(YES)
    district = next(b for b in blocks if "Landkreis" in b)
    assert "Erika Musterfrau Landrätin" in district and "Max Mustermann Erster Kreisbeigeordneter" in district
    marburg = next(b for b in blocks if "Marburg" in b and "Landkreis" not in b)
    assert "Dr. Thomas Spies Oberbürgermeister" in marburg and "Erika Beispiel Bürgermeisterin" in marburg
    assert "Dienstsiegel" in marburg and "KD-2022-VB-06534014" in marburg
    for block in blocks:  # two signature lines (§ 71 (2) HGO) and a seal field in every block
        assert block.count("Unterschrift") == 2 and block.count("Dienstsiegel") == 1, block


def test_anlage_1_totals_equal_the_net_cost(five_yes):
    _, run = five_yes
    table = docx.Document(run.document).tables[-1]
    rows = [[norm(c.text) for c in r.cells] for r in table.rows]
    assert rows[0][0] == "Beteiligte"
    data, total = rows[1:-1], rows[-1]
    assert [r[1] for r in data] == sorted(YES)
    amounts = [Decimal(r[4].replace(" €", "").replace(".", "").replace(",", ".")) for r in data]
    assert sum(amounts) == run.net_cost == Decimal("295950.0")
    assert total[0] == "Summe" and total[4] == "295.950,00 €" and total[3] == "100,0000 %"
    marburg = next(r for r in data if r[1] == "06534014")
    # 73.544 of 73.544 + 16.254 + 6.953 + 4.972 + 2.142 = 103.865 inhabitants: 70,8073 %.
    assert marburg[2] == "73.544" and marburg[3] == "70,8073 %"


def test_accession_clause_lists_who_has_not_joined(five_yes):
    from kdigital import addressing
    from kdigital.inputs import load_inputs

    ws, run = five_yes
    body = " ".join(paragraphs(run.document))
    assert "Zum Zeitpunkt des Abschlusses nicht beteiligt sind: Gemeinde Angelburg" in body
    clause = body.split("nicht beteiligt sind:")[1].split(".")[0]
    roster = load_inputs(ws).roster
    outside = [addressing.designation(m) for m in roster if m.ags not in YES]
    assert len(outside) == 17 and all(name in clause for name in outside)
    assert not [m for m in roster if m.ags in YES and addressing.designation(m) in clause]


def test_funding_clause_follows_the_switch(workspace):
    answer(workspace)
    without = " ".join(paragraphs(make_agreement(workspace).document))
    assert "Förderung der Bündelung" not in without
    edit_sheet(workspace.cost_model, "Kosten", {(10, "Berücksichtigen"): "ja"})
    run = make_agreement(workspace)
    with_funding = " ".join(paragraphs(run.document))
    assert "Förderung der Bündelung" in with_funding and "100.000,00 €" in with_funding
    assert run.net_cost == Decimal("195950.0")


def test_fingerprint_is_stable_and_recomputable(workspace):
    answer(workspace)
    first = make_agreement(workspace)
    bytes_first = files_under(workspace.outputs)
    second = make_agreement(workspace)
    assert (second.version, second.fingerprint) == (first.version, first.fingerprint)
    assert files_under(workspace.outputs) == bytes_first
    assert re.fullmatch(r"[0-9a-f]{12}", first.fingerprint)
    # Anyone can recompute it: SHA-256 of the body text (paragraphs in document order, tables
    # included, one per line) with the fingerprint left out – read here independently of the package.
    import zipfile

    from lxml import etree

    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(first.document) as archive:
        root = etree.fromstring(archive.read("word/document.xml"))
    lines = ["".join(t.text or "" for t in p.iter(f"{w}t")) for p in root.iter(f"{w}p")]
    text = "\n".join(lines).replace(first.fingerprint, "")
    assert hashlib.sha256(text.encode("utf-8")).hexdigest()[:12] == first.fingerprint
    assert text == body_text(first.document.read_bytes()).replace(first.fingerprint, "")
    footer = " ".join(p.text for p in docx.Document(first.document).sections[0].footer.paragraphs)
    assert first.fingerprint in footer and first.version in footer


def test_one_changed_population_changes_version_and_fingerprint(workspace):
    answer(workspace)
    before = make_agreement(workspace)
    edit_sheet(workspace.roster, "Kommunen", {(roster_row(workspace, "06534022"), "Einwohner"): 2143})
    after = make_agreement(workspace)
    assert after.fingerprint != before.fingerprint and after.version != before.version
    assert after.document.name == f"vereinbarung_{after.version}.docx"
    # one version stands in the folder; the earlier one is kept out of the way, complete
    older = after.folder / "fruehere_fassungen" / before.version
    assert not before.document.exists() and (older / before.document.name).is_file()
    assert sorted(p.name for p in (older / "unterschriften").iterdir()) == sorted(p.name for p in before.signature_pages)
    assert sorted(p.name for p in (after.folder / "unterschriften").iterdir()) == sorted(p.name for p in after.signature_pages)
    assert [p.name for p in after.folder.glob("vereinbarung_*")] == [after.document.name]


def test_a_signature_page_per_party(five_yes):
    _, run = five_yes
    names = sorted(p.name for p in run.signature_pages)
    assert names[0] == f"06534000_landkreis-marburg-biedenkopf_{run.version}.docx"
    assert len(names) == 1 + len(YES)
    for page in run.signature_pages:
        text = " ".join(paragraphs(page) + cells(page))
        d = docx.Document(page)
        footer = " ".join(p.text for s in d.sections for p in s.footer.paragraphs)
        ags = page.name[:8]
        assert f"KD-2022-VB-{ags}" in text + footer
        assert run.fingerprint in text + footer and run.version in text + footer


@pytest.mark.usefixtures("require_soffice")
def test_signature_pages_print_on_one_page(workspace):
    answer(workspace, yes=YES[:2], no=[])
    run = make_agreement(workspace, pdf=True)
    assert run.pdf_failures == {}
    from pypdf import PdfReader

    pages = {p.name: len(PdfReader(p).pages) for p in run.pdfs}
    signature_pages = [n for name, n in pages.items() if name.startswith("0653")]
    assert signature_pages == [1, 1, 1]  # the district and two municipalities
    assert pages[f"vereinbarung_{run.version}.pdf"] >= 6


def test_no_participants_is_an_error(workspace):
    clear_answers(workspace)
    with pytest.raises(ValidationError, match="Keine Beteiligten"):
        make_agreement(workspace)
    result = CliRunner().invoke(cli, ["-w", str(workspace.root), "agreement"])
    assert result.exit_code == 1 and "Szenario „Interesse“ ist leer" in result.stderr
    assert not (workspace.outputs / "agreement").exists()


def test_missing_second_signatory_names_row_and_column(workspace):
    answer(workspace)
    row = roster_row(workspace, "06534012")
    edit_sheet(workspace.roster, "Kommunen", {(row, "Zweite Unterschrift Funktion"): None})
    result = CliRunner().invoke(cli, ["-w", str(workspace.root), "agreement"])
    assert result.exit_code == 1
    assert f"Blatt „Kommunen“, Zeile {row}, Spalte „Zweite Unterschrift Funktion“" in result.stderr
    assert not (workspace.outputs / "agreement").exists()


def test_missing_district_signatory(workspace):
    from conftest import set_setting

    answer(workspace)
    set_setting(workspace.roster, "Kampagne", "Landrat/Landrätin", None)
    with pytest.raises(ValidationError, match="Landrat/Landrätin"):
        make_agreement(workspace)


def test_removed_placeholder_is_caught_by_check(workspace):
    template = workspace.template("vereinbarung.docx")
    d = docx.Document(template)
    run = next(r for p in d.paragraphs for r in p.runs if "{{ kosten.netto }}" in r.text)
    run.text = run.text.replace("{{ kosten.netto }}", "{{ kosten.gesamt }}")
    d.save(template)
    result = CliRunner().invoke(cli, ["-w", str(workspace.root), "check"])
    assert result.exit_code == 1
    assert "vereinbarung.docx" in result.stderr and "{{ kosten.gesamt }}" in result.stderr
    result = CliRunner().invoke(cli, ["-w", str(workspace.root), "agreement"])
    assert result.exit_code == 1 and "{{ kosten.gesamt }}" in result.stderr
    assert not (workspace.outputs / "agreement").exists()


def test_shipped_inputs_give_a_valid_agreement(workspace):
    result = CliRunner().invoke(cli, ["-w", str(workspace.root), "agreement"])
    assert result.exit_code == 0, result.output
    assert "Beteiligte (14):" in result.stdout and "Fingerprint: " in result.stdout
    assert "Netto-Jahreskosten: 295.950,00 €" in result.stdout.replace("\xa0", " ")
    (document,) = (workspace.outputs / "agreement").glob("vereinbarung_*.docx")
    body = " ".join(paragraphs(document))
    assert body.startswith("ENTWURF – zur rechtlichen Prüfung") and "§ 24" in body and "Anlage 1" in body
    assert len(list((workspace.outputs / "agreement" / "unterschriften").glob("*.docx"))) == 15
