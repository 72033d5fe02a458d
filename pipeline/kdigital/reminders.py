"""Reminder letters (Erinnerung): one per municipality that let the deadline pass without an answer.

Stage: validated inputs + ledger -> status rows (who is overdue on ``today``) ->
the letter's contexts plus the reminder's dates -> rendered .docx in
``outputs/reminders``, published atomically -> the reminders of earlier runs
this run did not write again removed (``output.prune``) -> one ``generated``
ledger event (kind ``ER``) per reminder.

The reminder's reply form carries the letter's identifier (``<campaign>-IB-<AGS>``):
it is the same form, so a returned one is matched like any other reply form.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from kdigital import formatting, letters, qr
from kdigital.batch import Progress
from kdigital.campaign import FIELDS as CAMPAIGN_FIELDS, SHEET as CAMPAIGN_SHEET, Campaign
from kdigital.contexts import document_properties
from kdigital.costs import ScenarioRate, letter_rates
from kdigital.errors import Finding, TemplateError, ValidationError
from kdigital.letters import LetterJob
from kdigital.roster import Municipality
from kdigital.workspace import Workspace

TEMPLATE = "erinnerung.docx"
KIND = "ER"  # ledger kind of the reminder itself; its reply form keeps the letter's kind (IB)
FOLDER = "reminders"
TITLE = "Erinnerung Interessensbekundung Kompetenzcenter kommunal digital"
PAGES = 2  # one page of reminder, then the reply form alone on the last page
DEADLINE_KEY = CAMPAIGN_FIELDS["reminder_deadline"][0]  # "Erinnerungsfrist"


@dataclass(frozen=True)
class ReminderRun:
    """What ``make_reminders`` wrote: the reminders, their PDFs, failed PDFs (name -> reason), what it removed."""

    folder: Path
    recipients: list[Municipality]  # the overdue municipalities a reminder was written for
    documents: list[Path]
    pdfs: list[Path]
    pdf_failures: dict[str, str]
    today: dt.date
    deadline: dt.date  # the campaign's Rückmeldefrist
    new_deadline: dt.date | None  # the Erinnerungsfrist the reminders name
    removed: list[Path] = field(default_factory=list)  # out-of-date reminders of earlier runs


def reminder_context(campaign: Campaign, today: dt.date) -> dict[str, str]:
    """The ``erinnerung`` part of a context: original and new deadline and the reminder's date."""
    return {
        "frist_alt": formatting.date(campaign.deadline),
        "frist_neu": formatting.date(campaign.reminder_deadline),
        "datum": formatting.date(today),
    }


class ReminderJob(LetterJob):
    """The letter's context plus ``erinnerung``; the QR code names the reply form's page here."""

    def __init__(self, campaign: Campaign, rates, today: dt.date):
        super().__init__(campaign, rates)
        self.shared["erinnerung"] = reminder_context(campaign, today)

    def __call__(self, m: Municipality) -> tuple[str, dict[str, Any], dict[str, str]]:
        name, context, _ = super().__call__(m)
        identifier = context["kennung"]
        context["qr"] = qr.image(qr.Code(identifier, page=PAGES))
        return name, context, document_properties(TITLE, identifier, m, "Erinnerung", self.campaign.district_name)


def campaign_findings(campaign: Campaign, today: dt.date, source: str) -> list[Finding]:
    """What keeps the campaign sheet from naming a new deadline after ``today`` and the old one."""
    findings = []
    if campaign.reminder_deadline is None:
        findings.append(Finding(source, f"Schlüssel „{DEADLINE_KEY}“ fehlt oder ist leer – Erinnerungen nennen "
                                        "eine neue Frist; bitte als Datum eintragen (z. B. 22.04.2022)",
                                sheet=CAMPAIGN_SHEET))
    elif campaign.reminder_deadline <= today:
        findings.append(Finding(source, f"„{DEADLINE_KEY}“ ({formatting.date(campaign.reminder_deadline)}) liegt "
                                        f"nicht nach dem Datum der Erinnerung ({formatting.date(today)}) – "
                                        "bitte eine neue Frist eintragen", sheet=CAMPAIGN_SHEET))
    elif campaign.reminder_deadline <= campaign.deadline:
        findings.append(Finding(source, f"„{DEADLINE_KEY}“ ({formatting.date(campaign.reminder_deadline)}) liegt "
                                        f"nicht nach der Rückmeldefrist ({formatting.date(campaign.deadline)})",
                                sheet=CAMPAIGN_SHEET))
    return findings


def example_context() -> dict[str, Any]:
    """A complete reminder context built from example data, for checking templates without inputs."""
    campaign = replace(letters.example_campaign(), reminder_deadline=dt.date(2022, 4, 22))
    rate = ScenarioRate("alle", 1, 4108, Decimal(5000), Decimal(5000) / 4108)
    return ReminderJob(campaign, (rate, rate), dt.date(2022, 4, 11))(letters.example_municipality())[1]


def make_reminders(
    ws: Workspace,
    *,
    today: dt.date | None = None,
    only: Sequence[str] | None = None,
    pdf: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> ReminderRun:
    """Write a reminder for every overdue municipality (of ``only``, if given) into ``outputs/reminders``.

    Overdue on ``today`` (default: the current date) as ``status.build_rows``
    decides. Validates inputs, campaign and template first; writes nothing when
    nobody is overdue. Reminders (and their PDFs) of earlier runs that this run
    did not write again are removed – of every municipality, or with ``only`` of
    the selected ones: a municipality that has answered since must not be
    reminded, and a PDF beside a rewritten .docx would be out of date. Each
    published reminder gets a ``generated`` ledger event (kind ``ER``) with its
    path below the workspace and its SHA-256.
    """
    from kdigital import status
    from kdigital.batch import render_batch
    from kdigital.inputs import load_inputs, select
    from kdigital.output import Staging, prune
    from kdigital.pdf import convert_and_check
    from kdigital.render import DocumentTemplate

    today = today or dt.date.today()
    progress = progress or Progress()
    inputs = load_inputs(ws)
    campaign = inputs.campaign
    selected = select(inputs.roster, only, ws.roster.name)
    findings = campaign_findings(campaign, today, ws.roster.name)
    template = None
    template_path = ws.template(TEMPLATE)
    if not template_path.is_file():
        findings.append(Finding(TEMPLATE, f"Vorlage nicht gefunden: {template_path}. Arbeitsbereiche, die vor den "
                                          "Erinnerungen angelegt wurden, haben sie noch nicht: aus templates/ des "
                                          "kdigital-Repositorys kopieren."))
    else:
        try:
            template = DocumentTemplate(template_path)
        except TemplateError as exc:
            findings += exc.findings
    job = None
    if not findings:
        job = ReminderJob(campaign, letter_rates(inputs.cost_model, inputs.roster), today)
        findings += template.unknown_placeholders(job(inputs.roster[0])[1])
    if findings:
        raise ValidationError(findings, f"{len(findings)} Fehler – keine Erinnerungen geschrieben")

    rows = status.build_rows(selected, status.read_events(ws, campaign.campaign_id), campaign.deadline, today)
    overdue_ags = {r.ags for r in rows if r.overdue}
    recipients = [m for m in selected if m.ags in overdue_ags]
    folder = ws.outputs / FOLDER
    scope = None if not only else {m.ags for m in selected}
    if not recipients:
        removed = prune(folder, [], scope)
        return ReminderRun(folder, [], [], [], {}, today, campaign.deadline, campaign.reminder_deadline, removed)

    names = [job.filename(m) for m in recipients]
    with Staging(folder) as staging:
        progress.start("Erinnerungen", len(recipients))
        try:
            render_batch(template, recipients, job, staging.path, workers=workers, progress=progress.advance)
        finally:
            progress.finish()
        pdfs: list[str] = []
        failures: dict[str, str] = {}
        if pdf:
            expected = {job.filename(m): (campaign.identifier(letters.KIND, m.ags), PAGES) for m in recipients}
            pdfs, failures = convert_and_check(staging.path, expected, progress, workers)
        published = staging.publish(names + pdfs)
    # What this run replaced goes: reminders to municipalities no longer overdue (they answered),
    # and PDFs of reminders rewritten without --pdf (they carry an older date).
    removed = prune(folder, published, scope)
    documents, pdf_paths = published[:len(names)], published[len(names):]
    _record(ws, campaign, today, recipients, documents, {p.stem: p for p in pdf_paths})
    return ReminderRun(folder, recipients, documents, pdf_paths, failures, today, campaign.deadline,
                       campaign.reminder_deadline, removed)


def _record(ws: Workspace, campaign: Campaign, today: dt.date, recipients: Sequence[Municipality],
            documents: Sequence[Path], pdfs: dict[str, Path]) -> None:
    """One ``generated`` event per published reminder, with the PDF beside it where there is one, in one commit.

    Files are stored relative to the workspace, as ``ledger.record_generated`` stores
    those of the letters, cost sheets and agreement.
    """
    from kdigital.ledger import GENERATED, Ledger

    with Ledger.open(ws.root) as ledger, ledger.transaction():
        for m, path in zip(recipients, documents):
            detail: dict[str, Any] = {
                "kennung": campaign.identifier(letters.KIND, m.ags),
                "datum": today.isoformat(),
                "frist_alt": campaign.deadline.isoformat(),
                "frist_neu": campaign.reminder_deadline.isoformat(),
            }
            pdf = pdfs.get(path.stem)
            if pdf is not None:
                detail["pdf"] = {"file": _stored(pdf, ws.root), "sha256": _sha256(pdf)}
            ledger.record(GENERATED, ags=m.ags, kind=KIND, campaign=campaign.campaign_id,
                          file=_stored(path, ws.root), sha256=_sha256(path), detail=detail)


def _stored(path: Path, root: Path) -> str:
    # The same form as ledger.record_generated: relative to the workspace when inside it.
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
