"""E-mail dispatch: drafts parsed back, sending to a real local SMTP server, the ledger, versand.xlsx."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import hashlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from conftest import edit_sheet, roster_row
from kdigital.addressing import file_stem
from kdigital.cli import cli
from kdigital.dispatch import (FAILED, PLANNED, SENT_NOW, SKIPPED, DispatchError, MailItem, SmtpSettings,
                               mail_item, send_drafts, write_drafts)
from kdigital.errors import ValidationError
from kdigital.inputs import load_inputs
from kdigital.ledger import Ledger
from pdf_builders import make_pdf

AGS = ["06534001", "06534009", "06534014"]  # Amöneburg, Fronhausen, Marburg: all get e-mail


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def write_letter_drafts(ws, ags=AGS, pages=("Seite 1", "Seite 2")) -> list[Path]:
    """Small stand-in letter PDFs in outputs/letters and their drafts in outputs/letters/mail."""
    inputs = load_inputs(ws)
    folder = ws.outputs / "letters"
    items = []
    for m in inputs.roster:
        if m.ags in ags:
            pdf = make_pdf(folder / f"{file_stem(m)}.pdf", [f"Brief {m.ags}", *pages])
            items.append(mail_item(m, "IB", [pdf]))
    return write_drafts(folder / "mail", items, inputs.campaign)


# --- a real SMTP server on the loopback interface ---------------------------------


class Mailbox:
    """What the local server received; addresses in ``refuse`` get a 550."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 Postfach unbekannt"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), parse(envelope.original_content or envelope.content)))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    try:
        yield mailbox
    finally:
        controller.stop()


def settings(server) -> SmtpSettings:
    return SmtpSettings("127.0.0.1", server.port, starttls=False)


# --- drafts -----------------------------------------------------------------------


def test_draft_is_a_complete_outlook_draft(workspace):
    (draft,) = write_letter_drafts(workspace, ["06534014"])
    assert draft == workspace.outputs / "letters" / "mail" / "06534014_marburg.eml"
    data = draft.read_bytes()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")  # RFC 5322 line ends
    assert b"\r\nMessage-ID: <06534014.IB." in data  # on one line
    msg = parse(data)
    assert msg["To"] == "poststelle@marburg.example"
    assert msg["From"].addresses[0].addr_spec == "BLR-13.5@marburg-biedenkopf.de"
    assert msg["From"].addresses[0].display_name == "Landkreis Marburg-Biedenkopf – Digitale Dienste und Open Government"
    assert msg["Subject"] == "Bitte um Interessensbekundung: Kompetenzcenter kommunal digital"
    assert msg["X-Unsent"] == "1"
    assert msg["X-Kdigital-Kennung"] == "KD-2022-IB-06534014"
    assert msg["Message-ID"].startswith("<06534014.IB.") and msg["Message-ID"].endswith("@marburg-biedenkopf.de>")
    assert msg["Date"].datetime.isoformat() == "2022-03-25T09:00:00+01:00"  # letter date, 09:00 in Marburg
    body = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert body.startswith("Sehr geehrter Herr Oberbürgermeister Dr. Spies,\n")
    assert "Universitätsstadt Marburg" in body and "Rückantwortformular" in body and "08.04.2022" in body
    assert "Ralf Laumer" in body and "Stabsstellenleitung" in body and "06421 405-1736" in body
    (attachment,) = msg.iter_attachments()
    assert attachment.get_filename() == "06534014_marburg.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == (workspace.outputs / "letters" / "06534014_marburg.pdf").read_bytes()


def test_drafts_are_byte_identical_for_the_same_inputs(workspace):
    first = {p.name: p.read_bytes() for p in write_letter_drafts(workspace)}
    second = {p.name: p.read_bytes() for p in write_letter_drafts(workspace)}
    assert first == second and len(first) == 3
    # another letter is another message
    changed = {p.name: p.read_bytes() for p in write_letter_drafts(workspace, pages=("Seite 1", "korrigiert"))}
    for name in first:
        assert parse(changed[name])["Message-ID"] != parse(first[name])["Message-ID"]


def test_subject_falls_back_when_the_campaign_has_none(workspace, tmp_path):
    inputs = load_inputs(workspace)
    campaign = dataclasses.replace(inputs.campaign, mail_subject="")
    pdf = make_pdf(tmp_path / "06534014_marburg.pdf", ["x"])
    item = MailItem("06534014", "IB", "Universitätsstadt Marburg", "a@example.org", "Hallo,", (pdf,))
    (draft,) = write_drafts(tmp_path / "mail", [item], campaign)
    assert parse(draft.read_bytes())["Subject"] == "Interessensbekundung Kompetenzcenter kommunal digital"


def test_bad_items_are_all_reported_and_nothing_written(workspace, tmp_path):
    campaign = load_inputs(workspace).campaign
    pdf = make_pdf(tmp_path / "06534014_marburg.pdf", ["x"])
    items = [
        MailItem("06534014", "IB", "Universitätsstadt Marburg", "keine-adresse", "Hallo,", (pdf,)),
        MailItem("06534009", "IB", "Gemeinde Fronhausen", "a@example.org", "Hallo,", (tmp_path / "fehlt.pdf",)),
        MailItem("06534001", "IB", "Stadt Amöneburg", "b@example.org", "Hallo,", (pdf,)),
    ]
    with pytest.raises(ValidationError) as info:
        write_drafts(tmp_path / "mail", items, campaign)
    text = str(info.value)
    assert "keine-adresse" in text and "fehlt.pdf" in text and "würde den für AGS 06534014 überschreiben" in text
    assert len(info.value.findings) == 3
    assert not (tmp_path / "mail").exists()


# --- sending ----------------------------------------------------------------------


def test_dry_run_sends_nothing_and_writes_nothing(workspace, smtp_server):
    write_letter_drafts(workspace)
    report = send_drafts(workspace.root, workspace.outputs / "letters" / "mail", settings(smtp_server),
                         really=False, resend=False)
    assert [o.status for o in report.outcomes] == [PLANNED] * 3
    assert smtp_server.messages == []
    assert not Ledger.exists(workspace.root)


def test_send_command_delivers_once_and_records_it(workspace, smtp_server):
    drafts = {p.name: parse(p.read_bytes()) for p in write_letter_drafts(workspace)}
    runner = CliRunner()
    base = ["-w", str(workspace.root), "send", "--host", "127.0.0.1", "--port", str(smtp_server.port),
            "--no-starttls"]

    result = runner.invoke(cli, base)  # dry run
    assert result.exit_code == 0, result.output
    assert "Probelauf – nichts gesendet: 3 würden gesendet" in result.stdout
    assert smtp_server.messages == [] and not (workspace.outputs / "letters" / "versand.xlsx").exists()

    result = runner.invoke(cli, base + ["--yes"])
    assert result.exit_code == 0, result.output
    assert "3 gesendet, 0 übersprungen" in result.stdout
    assert "06534014  Universitätsstadt Marburg  poststelle@marburg.example" in result.stdout
    received = {msg["X-Kdigital-Kennung"][-8:]: (rcpt, msg) for rcpt, msg in smtp_server.messages}
    assert sorted(received) == AGS
    for name, draft in drafts.items():
        rcpt, msg = received[name[:8]]
        assert rcpt == [draft["To"]]
        assert msg["Message-ID"] == draft["Message-ID"]
        assert msg["X-Unsent"] is None
        (sent_pdf,) = msg.iter_attachments()
        (draft_pdf,) = draft.iter_attachments()
        assert sent_pdf.get_filename() == draft_pdf.get_filename()
        assert sent_pdf.get_content() == draft_pdf.get_content()

    with Ledger.open(workspace.root) as ledger:
        events = ledger.events("sent")
    assert sorted(e.ags for e in events) == AGS
    marburg = next(e for e in events if e.ags == "06534014")
    pdf = (workspace.outputs / "letters" / "06534014_marburg.pdf").read_bytes()
    assert (marburg.kind, marburg.campaign, marburg.channel) == ("IB", "KD-2022", "E-Mail")
    assert marburg.recipient == "poststelle@marburg.example"
    assert marburg.message_id == drafts["06534014_marburg.eml"]["Message-ID"]
    assert marburg.file == "06534014_marburg.pdf" and marburg.sha256 == hashlib.sha256(pdf).hexdigest()

    sheet = openpyxl.load_workbook(workspace.outputs / "letters" / "versand.xlsx")["Versand"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("AGS", "Kommune", "Empfänger", "Versandweg", "Datei", "versendet am")
    assert sheet.freeze_panes == "A2"
    by_key = {(r[0], r[3]): r for r in rows[1:]}
    assert by_key[("06534014", "E-Mail")][4] == "06534014_marburg.pdf" and by_key[("06534014", "E-Mail")][5]
    assert by_key[("06534009", "Post")][5] is None  # Fronhausen still needs its letter by post
    angelburg = by_key[("06534002", "Post")]  # post only: a postal address, nothing sent
    assert angelburg[2].endswith("35719 Angelburg") and angelburg[5] is None
    assert ("06534002", "E-Mail") not in by_key
    assert by_key[("06534020", "E-Mail")][5] is None  # no draft, not sent

    result = runner.invoke(cli, base + ["--yes"])  # a rerun sends nothing twice
    assert result.exit_code == 0, result.output
    assert "0 gesendet, 3 übersprungen" in result.stdout and "übersprungen (gesendet am" in result.stdout
    assert len(smtp_server.messages) == 3


def test_ledger_outlives_outputs_and_resend_sends_again(workspace, smtp_server):
    folder = workspace.outputs / "letters" / "mail"
    write_letter_drafts(workspace)
    send_drafts(workspace.root, folder, settings(smtp_server), really=True, resend=False)
    assert len(smtp_server.messages) == 3

    shutil.rmtree(workspace.outputs)
    write_letter_drafts(workspace, pages=("Seite 1", "neu erzeugt"))
    report = send_drafts(workspace.root, folder, settings(smtp_server), really=True, resend=False)
    assert [o.status for o in report.outcomes] == [SKIPPED] * 3
    assert len(smtp_server.messages) == 3

    report = send_drafts(workspace.root, folder, settings(smtp_server), really=True, resend=True)
    assert [o.status for o in report.outcomes] == [SENT_NOW] * 3
    assert len(smtp_server.messages) == 6
    with Ledger.open(workspace.root) as ledger:
        assert len(ledger.events("sent")) == 6


def test_refused_recipient_is_reported_and_the_rest_sent(workspace, smtp_server):
    folder = workspace.outputs / "letters" / "mail"
    write_letter_drafts(workspace)
    smtp_server.refuse.add("poststelle@fronhausen.example")
    report = send_drafts(workspace.root, folder, settings(smtp_server), really=True, resend=False)
    (failed,) = report.having(FAILED)
    assert failed.ags == "06534009" and "550" in failed.reason and "Postfach unbekannt" in failed.reason
    assert len(report.having(SENT_NOW)) == 2 and len(smtp_server.messages) == 2
    with Ledger.open(workspace.root) as ledger:
        assert not ledger.was_sent("06534009", "IB")

    smtp_server.refuse.clear()  # the next run sends exactly the one that failed
    report = send_drafts(workspace.root, folder, settings(smtp_server), really=True, resend=False)
    assert [o.ags for o in report.having(SENT_NOW)] == ["06534009"]
    assert len(smtp_server.messages) == 3


def test_refused_recipient_fails_the_command_with_a_german_message(workspace, smtp_server):
    write_letter_drafts(workspace)
    smtp_server.refuse.add("poststelle@fronhausen.example")
    result = CliRunner().invoke(cli, ["-w", str(workspace.root), "send", "--host", "127.0.0.1", "--port",
                                      str(smtp_server.port), "--no-starttls", "--yes"])
    assert result.exit_code == 5  # ExitCode.dispatch_failed
    assert "1 E-Mail(s) nicht gesendet" in result.stderr and "06534009_fronhausen.eml" in result.stderr
    assert (workspace.outputs / "letters" / "versand.xlsx").is_file()


def test_unreachable_server_is_a_clear_error(workspace):
    write_letter_drafts(workspace, ["06534014"])
    with pytest.raises(DispatchError, match="Keine Verbindung zum Mailserver 127.0.0.1"):
        send_drafts(workspace.root, workspace.outputs / "letters" / "mail",
                    SmtpSettings("127.0.0.1", free_port(), starttls=False), really=True, resend=False)
    with Ledger.open(workspace.root) as ledger:
        assert ledger.events() == []


def test_server_without_starttls_is_refused_unless_asked(workspace, smtp_server):
    write_letter_drafts(workspace, ["06534014"])
    with pytest.raises(DispatchError, match="kein STARTTLS"):
        send_drafts(workspace.root, workspace.outputs / "letters" / "mail",
                    SmtpSettings("127.0.0.1", smtp_server.port), really=True, resend=False)
    assert smtp_server.messages == []


def test_password_comes_only_from_the_environment(workspace, smtp_server, monkeypatch):
    monkeypatch.delenv("KDIGITAL_SMTP_PASSWORD", raising=False)
    write_letter_drafts(workspace, ["06534014"])
    with pytest.raises(DispatchError, match="KDIGITAL_SMTP_PASSWORD"):
        send_drafts(workspace.root, workspace.outputs / "letters" / "mail",
                    SmtpSettings.from_environment("127.0.0.1", smtp_server.port, False, "versand"),
                    really=True, resend=False)
    monkeypatch.setenv("KDIGITAL_SMTP_PASSWORD", "geheim")
    secret = SmtpSettings.from_environment("127.0.0.1", 25, True, "versand")
    assert secret.password == "geheim" and "geheim" not in repr(secret)
    result = CliRunner().invoke(cli, ["send", "--help"])
    assert "--password" not in result.stdout


def test_drafts_the_roster_contradicts_stop_everything(workspace, smtp_server):
    write_letter_drafts(workspace)
    row = roster_row(workspace, "06534014")
    edit_sheet(workspace.roster, "Kommunen", {(row, "E-Mail"): "buergermeister@marburg.example"})
    inputs = load_inputs(workspace)
    with pytest.raises(ValidationError, match="E-Mail-Adresse weicht vom Entwurf 06534014_marburg.eml ab"):
        send_drafts(workspace.root, workspace.outputs / "letters" / "mail", settings(smtp_server),
                    really=True, resend=False, roster=inputs.roster)
    assert smtp_server.messages == []


def test_foreign_eml_in_the_folder_stops_everything(workspace, smtp_server):
    folder = workspace.outputs / "letters" / "mail"
    write_letter_drafts(workspace)
    (folder / "notiz.eml").write_bytes(b"To: someone@example.org\r\nSubject: hi\r\n\r\nhi\r\n")
    with pytest.raises(ValidationError, match="notiz.eml.*X-Kdigital-Kennung"):
        send_drafts(workspace.root, folder, settings(smtp_server), really=True, resend=False)
    assert smtp_server.messages == []


def test_send_help_is_german_and_light():
    result = CliRunner().invoke(cli, ["send", "--help"])
    assert result.exit_code == 0
    assert "Aufruf:" in result.stdout and "Beispiel:" in result.stdout and "Diese Hilfe anzeigen" in result.stdout
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from kdigital.cli import cli\n"
        "for args in (['--help'], ['send', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
        "heavy = ('docxtpl', 'docx', 'openpyxl', 'pypdf', 'babel', 'lxml', 'jinja2', 'smtplib', 'sqlite3')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
