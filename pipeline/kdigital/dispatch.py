"""Dispatch by e-mail: drafts to review, sending them over SMTP, and the dispatch list.

Three steps, each safe to repeat:

1. ``write_drafts`` writes one RFC 5322 message per municipality
   (``<AGS>_<slug>.eml``) with the letter as PDF attachment and ``X-Unsent: 1``,
   so that Outlook opens it as a draft staff can check or send by hand. The
   same inputs give byte-identical files (fixed Date, Message-ID and MIME
   boundary derived from the content).
2. ``send_drafts`` sends those files over SMTP. Without ``really`` it is a
   dry run that connects to nothing. Every message sent is recorded in the
   campaign ledger (``ledger.sqlite``) and a document the ledger knows as sent
   is skipped unless ``resend``: nothing goes out twice, even after
   ``outputs/`` was cleared and the drafts regenerated.
3. ``write_dispatch_list`` exports who got what, when, through which channel,
   to ``versand.xlsx``.

Each draft carries the header ``X-Kdigital-Kennung`` (the document identifier,
e.g. ``KD-2022-IB-06534014``); sending reads campaign, document kind and AGS
from it, never from the file name.
"""

from __future__ import annotations

import dataclasses

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import io
import mimetypes
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Sequence
from zoneinfo import ZoneInfo

from kdigital import addressing
from kdigital.batch import Progress
from kdigital.campaign import Campaign
from kdigital.errors import ExitCode, Finding, InputError, KdigitalError, ValidationError
from kdigital.ledger import SENT, Event, Ledger
from kdigital.output import Staging, write_atomic
from kdigital.roster import Municipality, is_email

CHANNEL = "E-Mail"
DEFAULT_SUBJECT = "Interessensbekundung Kompetenzcenter kommunal digital"
ENV_PASSWORD = "KDIGITAL_SMTP_PASSWORD"
IDENTIFIER_HEADER = "X-Kdigital-Kennung"
TIMEZONE = ZoneInfo("Europe/Berlin")
SMTP_TIMEOUT = 60.0  # seconds per network operation; a large attachment takes a while

# SendOutcome.status
SENT_NOW = "sent"
PLANNED = "planned"  # dry run: would be sent
SKIPPED = "skipped"  # the ledger says it was sent before
FAILED = "failed"


class DispatchError(KdigitalError):
    """Mail could not be sent at all: no connection, login refused, drafts missing."""

    exit_code = ExitCode.dispatch_failed


# --- drafts -------------------------------------------------------------------


@dataclass(frozen=True)
class MailItem:
    """One e-mail to write: to whom, how to greet, what to attach (the first names the draft)."""

    ags: str
    kind: str  # document kind, e.g. "IB"
    designation: str  # "Universitätsstadt Marburg"
    recipient: str  # e-mail address
    salutation: str  # "Sehr geehrter Herr Oberbürgermeister Dr. Spies,"
    attachments: tuple[Path, ...]


def mail_item(m: Municipality, kind: str, attachments: Sequence[Path]) -> MailItem:
    """The MailItem for a municipality of the roster and its documents."""
    return MailItem(m.ags, kind, addressing.designation(m), m.email, addressing.salutation(m),
                    tuple(Path(a) for a in attachments))


def write_drafts(folder: Path, items: Sequence[MailItem], campaign: Campaign) -> list[Path]:
    """Write ``folder/<stem of first attachment>.eml`` for every item; the paths, in item order.

    Everything is checked first (addresses, attachments present, names unique);
    problems raise one ValidationError and nothing is written. The drafts are
    staged and published by rename, replacing older drafts of the same name.
    """
    findings = _check_items(items)
    if findings:
        raise ValidationError(findings, f"{len(findings)} Fehler in den E-Mail-Entwürfen – nichts geschrieben")
    names = [f"{item.attachments[0].stem}.eml" for item in items]
    with Staging(folder) as staging:
        for name, item in zip(names, items):
            (staging.path / name).write_bytes(draft_bytes(item, campaign))
        return staging.publish(names)


def draft_bytes(item: MailItem, campaign: Campaign) -> bytes:
    """The .eml of one item: deterministic, CRLF line ends, ``X-Unsent: 1``."""
    attachments = [(name, path.read_bytes()) for name, path in zip(attachment_names(item.attachments),
                                                                    item.attachments)]
    digest = hashlib.sha256()
    for part in (campaign.campaign_id, item.kind, item.ags):
        digest.update(part.encode() + b"\0")
    for name, data in attachments:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    token = digest.hexdigest()

    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = Address(f"{campaign.district_name} – {campaign.unit}", addr_spec=campaign.mailbox)
    msg["To"] = item.recipient
    msg["Subject"] = campaign.mail_subject or DEFAULT_SUBJECT
    sent = dt.datetime.combine(campaign.letter_date, dt.time(9, 0), tzinfo=TIMEZONE)
    msg["Date"] = email.utils.format_datetime(sent)
    domain = campaign.mailbox.rpartition("@")[2]
    # short enough to stay on one line: some clients mishandle a folded Message-ID
    msg["Message-ID"] = f"<{item.ags}.{item.kind}.{token[:20]}@{domain}>"
    msg["X-Unsent"] = "1"
    msg[IDENTIFIER_HEADER] = campaign.identifier(item.kind, item.ags)
    # quoted-printable: 7-bit safe for every server, and it can never contain the "=_" boundary
    msg.set_content(mail_body(item, campaign), charset="utf-8", cte="quoted-printable")
    for name, data in attachments:
        maintype, subtype = (mimetypes.guess_type(name)[0] or "application/octet-stream").split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    msg.set_boundary(f"=_kdigital_{token[24:56]}")
    return msg.as_bytes()


# How an attachment is named when its file name is already taken by the letter's.
_FOLDER_LABELS = {"costs": "kostenblatt", "agreement": "vereinbarung"}


def attachment_names(paths: Sequence[Path]) -> list[str]:
    """File names for the attachments: their own, made unique by the document kind where they clash.

    The letter and the cost sheet of a municipality share their file name
    (``<AGS>_<slug>.pdf``) in different folders; the recipient must be able to
    save both: the second becomes ``<AGS>_<slug>_kostenblatt.pdf``.
    """
    names: list[str] = []
    for path in paths:
        name = path.name
        if name in names:
            label = _FOLDER_LABELS.get(path.parent.name, path.parent.name)
            name = f"{path.stem}_{label}{path.suffix}"
        names.append(name)
    return names


def mail_body(item: MailItem, campaign: Campaign) -> str:
    """The short plain-text body: salutation, what is attached, the deadline, the signature."""
    deadline = campaign.deadline.strftime("%d.%m.%Y")
    lines = [
        item.salutation,
        "",
        "anbei erhalten Sie unser Schreiben zum Kompetenzcenter kommunal digital mit der Bitte "
        f"um eine Interessensbekundung für die {item.designation}"
        + (" und das Kostenblatt Ihrer Kommune." if len(item.attachments) > 1 else "."),
        "",
        "Das Rückantwortformular finden Sie auf der letzten Seite des Schreibens. Bitte senden Sie es "
        f"ausgefüllt bis zum {deadline} an {campaign.mailbox} zurück.",
        "",
        "Für Fragen stehen wir Ihnen gern zur Verfügung.",
        "",
        "Mit freundlichen Grüßen",
        "",
        campaign.signatory,
        campaign.signatory_role,
        campaign.district_name,
        campaign.unit,
        f"Telefon {campaign.phone}",
    ]
    return "\n".join(lines) + "\n"


def _check_items(items: Sequence[MailItem]) -> list[Finding]:
    findings: list[Finding] = []
    seen: dict[str, str] = {}
    for item in items:
        source = f"E-Mail an {item.designation} (AGS {item.ags})"
        if not is_email(item.recipient):
            findings.append(Finding(source, "E-Mail-Adresse fehlt oder ist ungültig; Spalte „E-Mail“ im "
                                            "Verzeichnis der Kommunen prüfen", value=item.recipient))
        if not item.attachments:
            findings.append(Finding(source, "kein Anhang angegeben"))
            continue
        for path in item.attachments:
            if not path.is_file():
                findings.append(Finding(source, f"Anhang fehlt: {path}"))
        name = f"{item.attachments[0].stem}.eml"
        if name in seen:
            findings.append(Finding(source, f"Entwurf {name} würde den für AGS {seen[name]} überschreiben"))
        seen.setdefault(name, item.ags)
    return findings


# --- reading drafts back --------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A draft file as ``send_drafts`` sees it."""

    path: Path
    campaign: str
    kind: str
    ags: str
    recipient: str
    message_id: str
    attachments: tuple[tuple[str, str], ...]  # (file name, SHA-256)


def read_drafts(folder: Path) -> list[Draft]:
    """The ``*.eml`` drafts of ``folder`` by file name; ValidationError for files kdigital did not write."""
    if not folder.is_dir():  # an input problem (exit 1), not the mail server's
        raise InputError(
            f"Kein Ordner mit E-Mail-Entwürfen: {folder}. Erst „kdigital letters --pdf“ ausführen "
            "oder mit --folder den Ordner angeben."
        )
    drafts, findings = [], []
    for path in sorted(folder.glob("*.eml")):
        msg = _parse(path.read_bytes())
        identifier = str(msg.get(IDENTIFIER_HEADER, "")).strip()
        parts = identifier.rsplit("-", 2)
        recipient = _single_address(msg)
        message_id = str(msg.get("Message-ID", "")).strip()
        problems = []
        if len(parts) != 3 or not all(parts):
            problems.append(f"Kopfzeile {IDENTIFIER_HEADER} fehlt – nicht von kdigital erzeugt")
        if recipient is None:
            problems.append("Kopfzeile To muss genau eine gültige E-Mail-Adresse enthalten")
        if not message_id:
            problems.append("Kopfzeile Message-ID fehlt")
        if problems:
            findings += [Finding(str(path), p) for p in problems]
            continue
        attachments = tuple((part.get_filename() or "", hashlib.sha256(part.get_content()).hexdigest())
                            for part in msg.iter_attachments())
        drafts.append(Draft(path, parts[0], parts[1], parts[2], recipient, message_id, attachments))
    if findings:
        raise ValidationError(findings, f"{len(findings)} Fehler in den E-Mail-Entwürfen – nichts gesendet. "
                                        "Fremde Dateien aus dem Ordner entfernen oder Entwürfe neu erzeugen")
    return drafts


def check_drafts(drafts: Sequence[Draft], roster: Sequence[Municipality], source: str) -> list[Finding]:
    """Findings for drafts the roster contradicts (unknown AGS, no e-mail dispatch, other address).

    A draft written before the roster was corrected would otherwise go to the
    old address; ``source`` names the roster workbook in the findings.
    """
    by_ags = {m.ags: m for m in roster}
    findings = []
    for d in drafts:
        m = by_ags.get(d.ags)
        if m is None:
            findings.append(Finding(str(d.path), f"AGS {d.ags} steht nicht im Verzeichnis der Kommunen ({source})"))
        elif not m.by_email:
            findings.append(Finding(source, f"Versand ist „{m.channel}“, aber es gibt den Entwurf {d.path.name}",
                                    sheet="Kommunen", row=m.row, column="Versand"))
        elif m.email.casefold() != d.recipient.casefold():
            findings.append(Finding(source, f"E-Mail-Adresse weicht vom Entwurf {d.path.name} ab "
                                            f"({d.recipient}); Entwürfe neu erzeugen",
                                    sheet="Kommunen", row=m.row, column="E-Mail", value=m.email))
    return findings


def _duplicate_drafts(drafts: Sequence[Draft]) -> list[Finding]:
    """Two drafts of the same document for one municipality (e.g. after a rename): one is out of date."""
    first: dict[tuple[str, str, str], Draft] = {}
    findings = []
    for d in drafts:
        key = (d.campaign, d.kind, d.ags)
        if key in first:
            findings.append(Finding(str(d.path), f"zweiter Entwurf desselben Schreibens für AGS {d.ags} neben "
                                                 f"{first[key].path.name}; den veralteten löschen oder die "
                                                 "Anschreiben mit --pdf neu erzeugen"))
        first.setdefault(key, d)
    return findings


def _parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.SMTP)


def _single_address(msg: EmailMessage) -> str | None:
    try:
        addresses = msg["To"].addresses if msg["To"] is not None else ()
    except (AttributeError, ValueError):
        return None
    if len(addresses) != 1 or not is_email(addresses[0].addr_spec):
        return None
    return addresses[0].addr_spec


# --- sending --------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail server. The password never comes from an option, only the environment."""

    host: str
    port: int = 587
    starttls: bool = True
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, host: str, port: int = 587, starttls: bool = True,
                         user: str | None = None) -> "SmtpSettings":
        """Settings with the password taken from ``KDIGITAL_SMTP_PASSWORD`` (None when unset)."""
        return cls(host, port, starttls, user or None, os.environ.get(ENV_PASSWORD) or None)


@dataclass(frozen=True)
class SendOutcome:
    """What happened to one draft. ``when``: sent now, or (skipped) when it was sent before."""

    draft: Path
    ags: str
    kind: str
    recipient: str
    message_id: str
    status: str  # SENT_NOW, PLANNED, SKIPPED or FAILED
    reason: str = ""
    when: dt.datetime | None = None


@dataclass(frozen=True)
class SendReport:
    """The outcome of every draft, in file-name order."""

    really: bool
    outcomes: tuple[SendOutcome, ...]

    def having(self, status: str) -> list[SendOutcome]:
        """The outcomes with ``status``."""
        return [o for o in self.outcomes if o.status == status]


def send_drafts(
    root: Path,
    folder: Path,
    settings: SmtpSettings,
    *,
    really: bool,
    resend: bool,
    roster: Sequence[Municipality] | None = None,
    roster_source: str = "roster.xlsx",
    progress: Progress | None = None,
) -> SendReport:
    """Send the drafts of ``folder``; record each in the ledger at ``root``.

    Without ``really`` nothing connects and nothing is written (not even a new
    ledger): the report lists what would be sent (PLANNED). Documents the
    ledger knows as sent are SKIPPED unless ``resend``. With ``roster``, drafts
    it contradicts (see ``check_drafts``) stop everything before sending.
    A message the server refuses is FAILED with the server's answer; the others
    are still sent. Raises DispatchError when the server cannot be reached or
    refuses the login, and after an interrupted connection the rest are FAILED.
    """
    drafts = read_drafts(folder)
    findings = _duplicate_drafts(drafts)
    if roster is not None:
        findings += check_drafts(drafts, roster, roster_source)
    if findings:
        raise ValidationError(findings, f"{len(findings)} Fehler in den Entwürfen (passen nicht zum Verzeichnis oder doppelt) – nichts gesendet")
    if not really and not Ledger.exists(root):
        return SendReport(False, tuple(_outcome(d, PLANNED) for d in drafts))

    with Ledger.open(root) as ledger:
        outcomes: dict[Path, SendOutcome] = {}
        todo = []
        for d in drafts:
            before = ledger.events(SENT, ags=d.ags, kind=d.kind, campaign=d.campaign)
            if before and not resend:
                # shown with the address it really went to, which may differ from a newer draft's
                outcomes[d.path] = dataclasses.replace(_outcome(d, SKIPPED, when=before[-1].time),
                                                       recipient=before[-1].recipient or d.recipient)
            else:
                todo.append(d)
        if not really:
            outcomes.update((d.path, _outcome(d, PLANNED)) for d in todo)
        elif todo:
            outcomes.update(_send(ledger, todo, settings, progress or Progress()))
    return SendReport(really, tuple(outcomes[d.path] for d in drafts))


def _send(ledger: Ledger, drafts: list[Draft], settings: SmtpSettings,
          progress: Progress) -> dict[Path, SendOutcome]:
    outcomes: dict[Path, SendOutcome] = {}
    smtp = _connect(settings)
    progress.start("E-Mails", len(drafts))
    try:
        for index, d in enumerate(drafts):
            msg = _parse(d.path.read_bytes())
            del msg["X-Unsent"]
            # The draft's Date is the letter date; the message carries when it really left.
            msg.replace_header("Date", email.utils.format_datetime(dt.datetime.now(TIMEZONE)))
            try:
                smtp.send_message(msg, to_addrs=[d.recipient])
            except smtplib.SMTPRecipientsRefused as exc:
                answers = "; ".join(f"{addr}: {_answer(code, text)}" for addr, (code, text) in exc.recipients.items())
                outcomes[d.path] = _outcome(d, FAILED, reason=f"Empfänger abgelehnt ({answers})")
            except smtplib.SMTPResponseException as exc:  # sender or data refused
                outcomes[d.path] = _outcome(d, FAILED, reason=f"vom Server abgelehnt ({_answer(exc.smtp_code, exc.smtp_error)})")
            except (smtplib.SMTPException, OSError) as exc:
                reason = f"Verbindung zum Mailserver unterbrochen ({exc or type(exc).__name__}); nicht gesendet"
                for rest in drafts[index:]:
                    outcomes[rest.path] = _outcome(rest, FAILED, reason=reason)
                break
            else:
                event = ledger.record(
                    SENT, ags=d.ags, kind=d.kind, campaign=d.campaign, channel=CHANNEL,
                    file=d.attachments[0][0] if d.attachments else d.path.name,
                    sha256=d.attachments[0][1] if d.attachments else None,
                    message_id=d.message_id, recipient=d.recipient,
                    detail={"attachments": [{"file": n, "sha256": h} for n, h in d.attachments],
                            "draft": d.path.name, "server": f"{settings.host}:{settings.port}"},
                )
                outcomes[d.path] = _outcome(d, SENT_NOW, when=event.time)
            progress.advance(1)
    finally:
        progress.finish()
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return outcomes


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    """A connected (STARTTLS, logged-in) SMTP client, or a DispatchError saying what to fix."""
    where = f"{settings.host}:{settings.port}"
    if settings.user and settings.password is None:
        raise DispatchError(f"Kein Passwort für {settings.user}@{where}: die Umgebungsvariable {ENV_PASSWORD} "
                            "setzen (nie als Option). Es wurde nichts gesendet.")
    try:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT)
    except (OSError, smtplib.SMTPException) as exc:
        raise DispatchError(f"Keine Verbindung zum Mailserver {where} ({exc or type(exc).__name__}). "
                            "Server und Port prüfen (--host, --port). Es wurde nichts gesendet.") from exc
    try:
        smtp.ehlo()
        if settings.starttls:
            if not smtp.has_extn("starttls"):
                raise DispatchError(f"Der Mailserver {where} bietet kein STARTTLS an. Anderen Port wählen "
                                    "(meist 587) oder nur im internen Netz --no-starttls. Es wurde nichts gesendet.")
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.user:
            smtp.login(settings.user, settings.password)
    except smtplib.SMTPAuthenticationError as exc:
        smtp.close()
        raise DispatchError(f"Anmeldung als {settings.user} an {where} abgelehnt "
                            f"({_answer(exc.smtp_code, exc.smtp_error)}). Benutzer (--user) und "
                            f"{ENV_PASSWORD} prüfen. Es wurde nichts gesendet.") from exc
    except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError is an OSError
        smtp.close()
        raise DispatchError(f"Mailserver {where} lehnt die Verbindung ab ({exc or type(exc).__name__}). "
                            "Es wurde nichts gesendet.") from exc
    except BaseException:
        smtp.close()
        raise
    return smtp


def _answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


def _outcome(d: Draft, status: str, *, reason: str = "", when: dt.datetime | None = None) -> SendOutcome:
    return SendOutcome(d.path, d.ags, d.kind, d.recipient, d.message_id, status, reason, when)


# --- the dispatch list ------------------------------------------------------------


@dataclass(frozen=True)
class DispatchRow:
    """One line of versand.xlsx: a document of one municipality through one channel."""

    ags: str
    municipality: str
    recipient: str
    channel: str
    file: str
    sent_at: dt.datetime | None  # None: not sent (yet)


def dispatch_rows(roster: Sequence[Municipality], events: Sequence[Event], kind: str) -> list[DispatchRow]:
    """Rows for ``versand.xlsx`` from the roster and the ledger's ``sent`` events of document ``kind``.

    Per municipality one row per channel the roster asks for (E-Mail, Post),
    with the latest matching event, or empty when not sent yet; events through
    another channel, or for an AGS no longer in the roster, get rows too.
    """
    latest: dict[tuple[str, str], Event] = {}
    for e in events:
        if e.event == SENT and e.kind == kind:
            latest[(e.ags, e.channel or "")] = e  # events come oldest first
    rows = []
    for m in roster:
        channels = [c for c, wanted in ((CHANNEL, m.by_email), ("Post", m.by_post)) if wanted]
        channels += sorted({c for (ags, c) in latest if ags == m.ags and c not in channels})
        for channel in channels:
            e = latest.pop((m.ags, channel), None)
            default = m.email if channel == CHANNEL else f"{m.street}, {m.postcode} {m.town}"
            if e is None:
                rows.append(DispatchRow(m.ags, addressing.designation(m), default, channel, "", None))
            else:
                rows.append(DispatchRow(m.ags, addressing.designation(m), e.recipient or default, channel,
                                        e.file or "", e.time))
    for (ags, channel), e in sorted(latest.items()):
        rows.append(DispatchRow(ags, "(nicht im Verzeichnis)", e.recipient or "", channel, e.file or "", e.time))
    return rows


_LIST_COLUMNS = (("AGS", 11), ("Kommune", 32), ("Empfänger", 36), ("Versandweg", 12), ("Datei", 34),
                 ("versendet am", 17))


def write_dispatch_list(target: Path, rows: Sequence[DispatchRow]) -> None:
    """Write the rows as ``target`` (versand.xlsx), header frozen and filterable; atomically."""
    from kdigital.workbook import finish_table, table_workbook  # openpyxl: slow to import, only for the list

    wb, ws = table_workbook("Versand", _LIST_COLUMNS)
    for row in rows:
        local = row.sent_at.astimezone(TIMEZONE).replace(tzinfo=None) if row.sent_at else None
        ws.append([row.ags, row.municipality, row.recipient, row.channel, row.file, local])
        if local is not None:
            ws.cell(ws.max_row, len(_LIST_COLUMNS)).number_format = "DD.MM.YYYY HH:MM"
    finish_table(ws, len(_LIST_COLUMNS))
    buffer = io.BytesIO()
    wb.save(buffer)
    write_atomic(target, buffer.getvalue())
