"""What a run replaces goes: nothing out of date is left to be printed or sent."""

from __future__ import annotations

import email
import email.policy
import os
import stat
from pathlib import Path

import pytest

from pypdf import PdfReader, PdfWriter

from conftest import edit_sheet, roster_row
from kdigital import addressing
from kdigital.dispatch import MailItem, attachment_names, draft_bytes, send_drafts, SmtpSettings
from kdigital.inputs import load_inputs
from kdigital.letters import PRINT_FILE, make_letters
from kdigital.output import write_atomic
from kdigital.errors import ValidationError

MARBURG, FRONHAUSEN = "06534014", "06534009"


def blank_pdf(path: Path, pages: int = 3) -> Path:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def test_a_renamed_municipality_leaves_no_letter_of_its_old_name(workspace):
    make_letters(workspace)
    folder = workspace.outputs / "letters"
    assert (folder / f"{FRONHAUSEN}_fronhausen.docx").is_file()
    edit_sheet(workspace.roster, "Kommunen", {(roster_row(workspace, FRONHAUSEN), "Name"): "Fronhausen (Lahn)"})
    run = make_letters(workspace)
    assert not (folder / f"{FRONHAUSEN}_fronhausen.docx").exists()
    assert (folder / f"{FRONHAUSEN}_fronhausen-lahn.docx").is_file()
    assert [p.name for p in run.removed] == [f"{FRONHAUSEN}_fronhausen.docx"]
    assert len(list(folder.glob("*.docx"))) == 22


def test_letters_without_pdf_remove_the_pdfs_and_drafts_they_outdate_and_only_those(workspace):
    make_letters(workspace)
    folder = workspace.outputs / "letters"
    inputs = load_inputs(workspace)
    stems = {m.ags: addressing.file_stem(m) for m in inputs.roster}
    for ags in (MARBURG, FRONHAUSEN):  # PDFs and drafts of an earlier --pdf run (stand-ins)
        blank_pdf(folder / f"{stems[ags]}.pdf")
        (folder / "mail").mkdir(exist_ok=True)
        (folder / "mail" / f"{stems[ags]}.eml").write_bytes(b"Subject: alt\r\n\r\nalt\r\n")
    (folder / "notizen.txt").write_text("von Hand")  # not ours: never touched
    run = make_letters(workspace, only=[MARBURG])
    assert sorted(p.name for p in run.removed) == [f"{stems[MARBURG]}.eml", f"{stems[MARBURG]}.pdf"]
    assert (folder / f"{stems[FRONHAUSEN]}.pdf").is_file()
    assert (folder / "mail" / f"{stems[FRONHAUSEN]}.eml").is_file()
    assert (folder / "notizen.txt").read_text() == "von Hand"


def test_the_print_file_covers_every_current_post_letter_also_after_a_run_with_only(workspace):
    make_letters(workspace)
    folder = workspace.outputs / "letters"
    inputs = load_inputs(workspace)
    post = sorted((m for m in inputs.roster if m.by_post), key=lambda m: m.ags)
    assert len(post) >= 3
    for m in post:  # the letter PDFs of an earlier --pdf run (stand-ins)
        blank_pdf(folder / f"{addressing.file_stem(m)}.pdf")
    run = make_letters(workspace, only=[post[0].ags])  # rewrites one letter without PDF: its PDF goes
    titles = [item.title for item in PdfReader(run.print_file).outline]
    assert titles == [f"{m.ags} {addressing.designation(m)}" for m in post[1:]]
    assert len(PdfReader(run.print_file).pages) == 4 * (len(post) - 1)  # 3 pages + 1 blank for duplex
    run = make_letters(workspace)  # every letter rewritten without PDF: no print file of old PDFs is left
    assert not (folder / PRINT_FILE).exists()
    assert folder / PRINT_FILE in run.removed


def test_two_drafts_for_one_municipality_stop_sending(workspace, tmp_path):
    inputs = load_inputs(workspace)
    m = next(m for m in inputs.roster if m.ags == MARBURG)
    folder = workspace.outputs / "letters" / "mail"
    folder.mkdir(parents=True)
    letter = blank_pdf(tmp_path / "letters" / f"{MARBURG}_marburg.pdf")
    for stem in (f"{MARBURG}_marburg", f"{MARBURG}_universitaetsstadt-marburg"):
        item = MailItem(m.ags, "IB", addressing.designation(m), m.email, addressing.salutation(m), (letter,))
        (folder / f"{stem}.eml").write_bytes(draft_bytes(item, inputs.campaign))
    with pytest.raises(ValidationError) as caught:
        send_drafts(workspace.root, folder, SmtpSettings("127.0.0.1", 9), really=True, resend=False)
    assert "zweiter Entwurf desselben Schreibens" in str(caught.value.findings[0])


def test_letter_and_cost_sheet_attached_under_different_names(workspace, tmp_path):
    inputs = load_inputs(workspace)
    m = next(m for m in inputs.roster if m.ags == MARBURG)
    letter = blank_pdf(tmp_path / "letters" / f"{MARBURG}_marburg.pdf")
    sheet = blank_pdf(tmp_path / "costs" / f"{MARBURG}_marburg.pdf", pages=2)
    assert attachment_names([letter, sheet]) == [f"{MARBURG}_marburg.pdf", f"{MARBURG}_marburg_kostenblatt.pdf"]
    item = MailItem(m.ags, "IB", addressing.designation(m), m.email, addressing.salutation(m), (letter, sheet))
    msg = email.message_from_bytes(draft_bytes(item, inputs.campaign), policy=email.policy.default)
    assert [a.get_filename() for a in msg.iter_attachments()] == [f"{MARBURG}_marburg.pdf",
                                                                  f"{MARBURG}_marburg_kostenblatt.pdf"]
    assert "und das Kostenblatt" in msg.get_body().get_content()


def test_atomic_outputs_are_readable_by_colleagues(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    target = tmp_path / "status.xlsx"
    write_atomic(target, b"x")  # through mkstemp, which alone would give 0600
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask != 0o600


def test_an_address_too_long_for_the_window_is_warned_about(workspace, caplog):
    row = roster_row(workspace, FRONHAUSEN)
    edit_sheet(workspace.roster, "Kommunen", {(row, "Name"): "Fronhausen an der Lahn im Landkreis Marburg"})
    with caplog.at_level("WARNING", logger="kdigital"):
        make_letters(workspace, only=[FRONHAUSEN, MARBURG])
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and FRONHAUSEN in warnings[0] and f"Zeile {row}" in warnings[0]
    assert "Gemeindevorstand der Gemeinde Fronhausen an der Lahn" in warnings[0]


def test_send_without_drafts_is_an_input_problem_not_the_mail_servers(workspace):
    from click.testing import CliRunner

    from kdigital.cli import cli

    result = CliRunner().invoke(cli, ["-w", str(workspace.root), "send"])
    assert result.exit_code == 1, result.output
    assert "Kein Ordner mit E-Mail-Entwürfen" in result.output


def test_cost_sheets_of_a_removed_municipality_go_and_the_summary_says_so(workspace):
    from click.testing import CliRunner

    from kdigital.cli import cli

    runner = CliRunner()
    assert runner.invoke(cli, ["-w", str(workspace.root), "costs"]).exit_code == 0
    folder = workspace.outputs / "costs"
    blank_pdf(folder / f"{MARBURG}_marburg.pdf")  # the PDF of an earlier --pdf run (stand-in)
    result = runner.invoke(cli, ["-w", str(workspace.root), "costs", "--only", MARBURG])
    assert result.exit_code == 0, result.output
    assert not (folder / f"{MARBURG}_marburg.pdf").exists()
    assert "Veraltete Dateien entfernt" in result.output
    assert len(list(folder.glob("*.docx"))) == 22


def test_drafts_follow_the_cost_sheets_they_attach(workspace):
    from kdigital.costsheets import make_costs
    from kdigital.letters import refresh_drafts

    inputs = load_inputs(workspace)
    m = next(m for m in inputs.roster if m.ags == MARBURG and m.by_email)
    stem = addressing.file_stem(m)
    make_letters(workspace, only=[MARBURG])
    letters_folder, costs_folder = workspace.outputs / "letters", workspace.outputs / "costs"
    blank_pdf(letters_folder / f"{stem}.pdf")  # the letter PDF of an earlier --pdf run (stand-in)
    old_sheet = blank_pdf(costs_folder / f"{stem}.pdf", pages=1)  # an earlier cost sheet PDF
    (letters_folder / "mail").mkdir()
    item = MailItem(m.ags, "IB", addressing.designation(m), m.email, addressing.salutation(m),
                    (letters_folder / f"{stem}.pdf", old_sheet))
    draft = letters_folder / "mail" / f"{stem}.eml"
    draft.write_bytes(draft_bytes(item, inputs.campaign))

    def attachments():
        msg = email.message_from_bytes(draft.read_bytes(), policy=email.policy.default)
        return [a.get_filename() for a in msg.iter_attachments()]

    assert attachments() == [f"{stem}.pdf", f"{stem}_kostenblatt.pdf"]
    make_costs(workspace, only=[MARBURG])  # rewrites the sheet without PDF: the old PDF goes
    assert not old_sheet.exists()
    assert attachments() == [f"{stem}.pdf"]  # the draft no longer carries the outdated sheet
    assert refresh_drafts(workspace, inputs.roster, inputs.campaign, {MARBURG}) == [draft]


def test_an_outdated_post_letter_stays_out_of_the_print_file_after_only(workspace, caplog):
    make_letters(workspace)
    folder = workspace.outputs / "letters"
    inputs = load_inputs(workspace)
    post = sorted((m for m in inputs.roster if m.by_post), key=lambda m: m.ags)
    for m in post:  # the letter PDFs of an earlier --pdf run (stand-ins)
        blank_pdf(folder / f"{addressing.file_stem(m)}.pdf")
    changed, chosen = post[1], post[2]
    edit_sheet(workspace.roster, "Kommunen", {(changed.row, "Vorname"): "Annegret"})  # its letter is now outdated
    with caplog.at_level("WARNING", logger="kdigital"):
        run = make_letters(workspace, only=[chosen.ags])
    titles = [item.title for item in PdfReader(run.print_file).outline]
    assert f"{changed.ags} {addressing.designation(changed)}" not in titles
    assert f"{post[0].ags} {addressing.designation(post[0])}" in titles
    assert any(changed.ags in r.getMessage() and "veraltet" in r.getMessage() for r in caplog.records)



def test_a_warning_repeated_across_a_batch_is_shown_ten_times_then_counted(caplog):
    import logging

    from kdigital.errors import warn_some

    with caplog.at_level("WARNING"):
        warn_some(logging.getLogger("kdigital.test"), [f"Anschrift {n}" for n in range(13)], "Anschriften")
    assert [r.getMessage() for r in caplog.records] == [f"Anschrift {n}" for n in range(10)] + [
        "… und 3 weitere Anschriften"]
