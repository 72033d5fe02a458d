"""Reminder letters: written exactly for the overdue municipalities, with new deadline, QR code and ledger event."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zipfile

import docx
import pytest
from click.testing import CliRunner

from conftest import clear_answers, edit_sheet, roster_row, set_setting
from kdigital import qr
from kdigital.cli import cli
from kdigital.ledger import GENERATED, RETURNED, Ledger
from kdigital.reminders import PAGES, TEMPLATE, example_context, make_reminders
from kdigital.render import DocumentTemplate
from kdigital.workspace import shipped_workspace

TODAY = dt.date(2022, 4, 11)  # after the shipped Rückmeldefrist 08.04.2022, before the Erinnerungsfrist 22.04.2022
OVERDUE = {"06534011": "06534011_kirchhain", "06534017": "06534017_rauschenberg"}
RETURNED_AGS = "06534004"  # Biedenkopf: no answer in the roster, but its reply form came back
OPEN = {*OVERDUE, RETURNED_AGS}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def answer_all_but(ws, open_ags) -> None:
    """Answers for every municipality except ``open_ags``: alternating yes and no, one by phone (no Eingang)."""
    clear_answers(ws)
    edits = {}
    for i, ags in enumerate(f"065340{n:02d}" for n in range(1, 23)):
        if ags in open_ags:
            continue
        row = roster_row(ws, ags)
        edits[(row, "Interesse")] = "ja" if i % 3 else "nein"
        edits[(row, "Eingang")] = None if ags == "06534009" else dt.datetime(2022, 4, 1)
    edit_sheet(ws.roster, "Kommunen", edits)


@pytest.fixture
def campaign(workspace):
    """Yes, no and three open answers; one of the open ones returned its reply form."""
    answer_all_but(workspace, OPEN)
    with Ledger.open(workspace.root) as ledger:
        ledger.record(RETURNED, ags=RETURNED_AGS, kind="IB", campaign="KD-2022", file="scan.pdf",
                      detail={"matched_by": "qr"})
        ledger.record(RETURNED, ags="06534001", kind="VB", campaign="KD-2022", file="vb.pdf",
                      detail={"matched_by": "filename"})
    return workspace


def reminder_files(ws) -> list[str]:
    folder = ws.outputs / "reminders"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def text_of(path) -> str:
    d = docx.Document(path)
    parts = [p.text for p in d.paragraphs]
    parts += [c.text for t in d.tables for r in t.rows for c in r.cells]
    return re.sub(r"\s+", " ", "\n".join(parts))


def test_reminders_exactly_for_the_overdue(campaign):
    result = invoke("-w", campaign.root, "reminders", "--stichtag", "11.04.2022")
    assert result.exit_code == 0, result.output
    assert reminder_files(campaign) == sorted(f"{stem}.docx" for stem in OVERDUE.values())
    assert "Erinnerungen an 2 überfällige Kommune(n), neue Frist 22.04.2022:" in result.stdout
    assert "  06534011  Stadt Kirchhain" in result.stdout and "06534004" not in result.stdout


def test_reminder_content(campaign):
    run = make_reminders(campaign, today=TODAY)
    assert [m.ags for m in run.recipients] == sorted(OVERDUE)
    path = run.documents[0]
    assert path.name == "06534011_kirchhain.docx"
    text = text_of(path)
    assert "Erinnerung: Bitte um Interessensbekundung" in text
    assert "Sehr geehrter Herr Bürgermeister" in text
    assert "mit unserem Schreiben vom 25.03.2022 hatten wir Sie gebeten, uns bis zum 08.04.2022" in text
    assert "Interessensbekundung bis zum 22.04.2022 zukommen zu lassen" in text
    assert "Bitte senden Sie dieses Formular bis zum 22.04.2022 ausgefüllt" in text
    assert "Ihr Schreiben vom 25.03.2022 und Ihre Erinnerung vom 11.04.2022" in text
    assert "Datum: 11.04.2022" in text
    assert "KD-2022-IB-06534011" in text
    assert "{{" not in text and "{%" not in text
    with zipfile.ZipFile(path) as archive:
        body = archive.read("word/document.xml").decode("utf-8")
        media = [n for n in archive.namelist() if n.startswith("word/media/")]
        core = archive.read("docProps/core.xml").decode("utf-8")
        assert len(media) == 1 and "<w:drawing>" in body
        # The picture is the reply form's code: the letter's identifier, on the reminder's last page.
        assert archive.read(media[0]) == qr.png(qr.Code("KD-2022-IB-06534011", page=PAGES))
    assert "<dc:title>Erinnerung Interessensbekundung" in core
    assert "<cp:keywords>KD-2022-IB-06534011, 06534011, Erinnerung</cp:keywords>" in core


def test_each_reminder_is_in_the_ledger(campaign):
    run = make_reminders(campaign, today=TODAY)
    with Ledger.open(campaign.root) as ledger:
        events = ledger.events(GENERATED, kind="ER")
    # the path below the workspace, as the letters, cost sheets and agreement record theirs
    assert [(e.ags, e.file) for e in events] == [(ags, f"outputs/reminders/{stem}.docx")
                                                 for ags, stem in sorted(OVERDUE.items())]
    assert len(run.documents) == len(events) == len(OVERDUE)
    for e, path in zip(events, run.documents):
        assert e.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert e.campaign == "KD-2022"
        assert e.detail == {"kennung": f"KD-2022-IB-{e.ags}", "datum": "2022-04-11", "frist_alt": "2022-04-08",
                            "frist_neu": "2022-04-22"}
    # The status report shows them.
    result = invoke("-w", campaign.root, "status", "--stichtag", "11.04.2022", "--html", campaign.root / "s.html")
    assert result.exit_code == 0
    page = (campaign.root / "s.html").read_text(encoding="utf-8")
    row = re.search(r'<tr data-ags="06534011".*?</tr>', page).group(0)
    assert row.endswith("<td>ja</td><td>11.04.2022</td></tr>")


def test_nothing_written_when_nobody_is_overdue(workspace):
    answer_all_but(workspace, set())
    result = invoke("-w", workspace.root, "reminders", "--stichtag", "11.04.2022")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Keine Kommune überfällig (Rückmeldefrist 08.04.2022, abgelaufen am Stichtag "
                                    "11.04.2022) – keine Erinnerungen geschrieben.")
    assert reminder_files(workspace) == []
    assert not Ledger.exists(workspace.root)


def test_nothing_written_before_the_deadline(campaign):
    result = invoke("-w", campaign.root, "reminders", "--stichtag", "08.04.2022")
    assert result.exit_code == 0, result.output
    assert "Keine Kommune überfällig (Rückmeldefrist 08.04.2022, läuft noch" in result.stdout
    assert reminder_files(campaign) == []


def test_only_limits_the_overdue(campaign):
    result = invoke("-w", campaign.root, "reminders", "--stichtag", "11.04.2022", "--only", "06534017",
                    "--only", RETURNED_AGS)
    assert result.exit_code == 0, result.output
    assert reminder_files(campaign) == ["06534017_rauschenberg.docx"]


def answer(ws, ags: str, interest: str = "ja") -> None:
    edit_sheet(ws.roster, "Kommunen", {(roster_row(ws, ags), "Interesse"): interest,
                                       (roster_row(ws, ags), "Eingang"): dt.datetime(2022, 4, 12)})


def test_rerun_removes_reminders_to_those_who_answered_since(campaign):
    assert reminder_files(campaign) == [] and invoke("-w", campaign.root, "reminders", "--stichtag",
                                                     "11.04.2022").exit_code == 0
    assert reminder_files(campaign) == sorted(f"{stem}.docx" for stem in OVERDUE.values())
    note = campaign.outputs / "reminders" / "notizen.txt"
    note.write_text("nicht von kdigital")
    answer(campaign, "06534011")  # Kirchhain answered after the first reminders
    result = invoke("-w", campaign.root, "reminders", "--stichtag", "13.04.2022")
    assert result.exit_code == 0, result.output
    assert reminder_files(campaign) == ["06534017_rauschenberg.docx", "notizen.txt"]  # other files stay
    assert re.search(r"Veraltete Dateien entfernt\s+1\s+outputs/reminders\n", result.stdout)
    # everybody answered: nothing to write, and the last reminder goes as well
    answer(campaign, "06534017", "nein")
    run = make_reminders(campaign, today=dt.date(2022, 4, 14))
    assert run.recipients == [] and [p.name for p in run.removed] == ["06534017_rauschenberg.docx"]
    assert reminder_files(campaign) == ["notizen.txt"]


def test_rerun_without_pdf_removes_the_older_pdf(campaign):
    folder = campaign.outputs / "reminders"
    folder.mkdir(parents=True)
    old_pdf = folder / "06534011_kirchhain.pdf"  # of an earlier run with --pdf, dated 11.04.2022
    old_pdf.write_bytes(b"%PDF-1.7 Erinnerung vom 11.04.2022")
    run = make_reminders(campaign, today=dt.date(2022, 4, 13))
    assert run.removed == [old_pdf] and run.pdfs == []
    assert reminder_files(campaign) == sorted(f"{stem}.docx" for stem in OVERDUE.values())
    result = invoke("-w", campaign.root, "reminders", "--stichtag", "13.04.2022")
    assert result.exit_code == 0 and "Veraltete Dateien entfernt" not in result.stdout  # nothing left to remove


def test_only_removes_outdated_reminders_of_the_selected_only(campaign):
    assert make_reminders(campaign, today=TODAY).documents
    answer(campaign, "06534011")
    answer(campaign, "06534017")
    run = make_reminders(campaign, today=TODAY, only=["06534017"])
    assert run.recipients == [] and [p.name for p in run.removed] == ["06534017_rauschenberg.docx"]
    assert reminder_files(campaign) == ["06534011_kirchhain.docx"]  # not selected: left alone


def test_missing_reminder_deadline_is_named(campaign):
    set_setting(campaign.roster, "Kampagne", "Erinnerungsfrist", None)
    result = invoke("-w", campaign.root, "reminders", "--stichtag", "11.04.2022")
    assert result.exit_code == 1
    assert "roster.xlsx, Blatt „Kampagne“: Schlüssel „Erinnerungsfrist“ fehlt" in result.stderr
    assert reminder_files(campaign) == []


def test_reminder_deadline_must_lie_ahead(campaign):
    result = invoke("-w", campaign.root, "reminders", "--stichtag", "22.04.2022")
    assert result.exit_code == 1
    assert "„Erinnerungsfrist“ (22.04.2022) liegt nicht nach dem Datum der Erinnerung (22.04.2022)" in result.stderr
    assert reminder_files(campaign) == []


def test_all_problems_at_once(campaign):
    set_setting(campaign.roster, "Kampagne", "Erinnerungsfrist", None)
    (campaign.templates / TEMPLATE).unlink()
    result = invoke("-w", campaign.root, "reminders", "--stichtag", "11.04.2022")
    assert result.exit_code == 1
    assert "2 Fehler – keine Erinnerungen geschrieben" in result.stderr
    assert "Erinnerungsfrist" in result.stderr and "Vorlage nicht gefunden" in result.stderr


def test_template_uses_only_known_placeholders():
    template = DocumentTemplate(shipped_workspace().template(TEMPLATE))
    assert template.unknown_placeholders(example_context()) == []
    used = {path for _, path in template.placeholders()}
    assert {"erinnerung.frist_alt", "erinnerung.frist_neu", "erinnerung.datum", "qr", "kennung"} <= used
    assert "kampagne.frist" not in used  # the old deadline is named as erinnerung.frist_alt only


@pytest.mark.usefixtures("require_soffice")
def test_pdf_has_the_reply_form_alone_on_the_last_page(campaign):
    from pypdf import PdfReader

    result = invoke("-w", campaign.root, "reminders", "--stichtag", "11.04.2022", "--only", "06534011", "--pdf")
    assert result.exit_code == 0, result.output
    reader = PdfReader(campaign.outputs / "reminders" / "06534011_kirchhain.pdf")
    assert len(reader.pages) == PAGES
    pages = [re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages]
    assert "Erinnerung: Bitte um Interessensbekundung" in pages[0] and "Mit freundlichen Grüßen" in pages[0]
    assert "Zutreffendes bitte ankreuzen" not in pages[0]
    assert "Rückantwort Interessensbekundung" in pages[-1] and "KD-2022-IB-06534011" in pages[-1]
    assert "bis zum 22.04.2022 ausgefüllt" in pages[-1]
    assert "Mit freundlichen Grüßen" not in pages[-1]
