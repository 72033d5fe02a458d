"""The interest-request letters (Interessensbekundung): one per municipality.

Stage: validated inputs -> contexts -> rendered .docx in ``outputs/letters``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from kdigital import addressing, formatting, qr
from kdigital.contexts import campaign_context, document_properties, municipality_context
from kdigital.batch import Progress
from kdigital.campaign import Campaign
from kdigital.costs import ScenarioRate, letter_rates
from kdigital.errors import ValidationError, warn_some
from kdigital.inputs import load_inputs, select
from kdigital.roster import Municipality
from kdigital.workspace import Workspace

log = logging.getLogger(__name__)

TEMPLATE = "interessensbekundung.docx"
KIND = "IB"  # document kind in the identifier KD-2022-IB-<AGS>
FOLDER = "letters"
TITLE = "Interessensbekundung Kompetenzcenter kommunal digital"
PAGES = 3  # two pages of letter and the reply form


@dataclass(frozen=True)
class LetterRun:
    """What ``make_letters`` wrote, and which PDFs failed (file name -> reason)."""

    folder: Path
    documents: list[Path]
    pdfs: list[Path]
    pdf_failures: dict[str, str]
    drafts: list[Path] = field(default_factory=list)  # e-mail drafts, with --pdf
    print_file: Path | None = None  # the duplex print file of the letters sent by post, with --pdf
    removed: list[Path] = field(default_factory=list)  # out-of-date files of earlier runs


def cost_context(all_members: ScenarioRate, comparison: ScenarioRate) -> dict[str, str]:
    """The ``kosten`` part: the two rates the letter quotes, rounded half up to cents."""
    return {
        "satz_alle": formatting.money(all_members.rate),
        "satz_vergleich": formatting.money(comparison.rate),
        "anzahl_alle": str(all_members.members),
        "anzahl_vergleich": str(comparison.members),
        "netto_jahreskosten": formatting.money(all_members.net_cost),
    }


class LetterJob:
    """Turns a municipality into (file name, context); shared parts are built once."""

    def __init__(self, campaign: Campaign, rates: tuple[ScenarioRate, ScenarioRate]):
        self.campaign = campaign
        self.shared = {"kampagne": campaign_context(campaign), "kosten": cost_context(*rates)}

    def __call__(self, m: Municipality) -> tuple[str, dict[str, Any], dict[str, str]]:
        context = dict(self.shared)
        context.update(municipality_context(m))
        identifier = context["kennung"] = self.campaign.identifier(KIND, m.ags)
        context["qr"] = qr.image(qr.Code(identifier, page=PAGES))
        return self.filename(m), context, document_properties(TITLE, identifier, m, "Interessensbekundung",
                                                                  self.campaign.district_name)

    @staticmethod
    def filename(m: Municipality) -> str:
        return f"{addressing.file_stem(m)}.docx"


def example_campaign() -> Campaign:
    """A campaign of example data, for checking templates without inputs."""
    return Campaign(
        "KD-2022", dt.date(2022, 3, 25), dt.date(2022, 4, 8), "TOP 4", "Bürgermeisterdienstversammlung",
        dt.date(2022, 3, 23), "Fachbereich", "Fachdienst", "Ansprechpartner", "E 007", "06421 405-0", "",
        "06421 405-0", "a@example.org", "b@example.org", "Unterzeichner", "Funktion", "c@example.org",
        "Betreff", dt.date(2024, 12, 31), "Quelle",
    )


def example_municipality() -> Municipality:
    """A municipality of example data, for checking templates without inputs."""
    return Municipality("06534009", "Fronhausen", "Gemeinde", "Bürgermeisterin", "", "Claudia", "Schnabel",
                        "Rathausstraße 1", "35112", "Fronhausen", "a@example.org", "E-Mail und Post", 4108,
                        True, True, False, None, None, 2)


def example_context() -> dict[str, Any]:
    """A complete letter context built from example data, for checking templates without inputs."""
    rate = ScenarioRate("alle", 1, 4108, Decimal(5000), Decimal(5000) / 4108)
    return LetterJob(example_campaign(), (rate, rate))(example_municipality())[1]


def make_letters(
    ws: Workspace,
    *,
    only: Sequence[str] | None = None,
    pdf: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> LetterRun:
    """Validate everything, then render the letters (and PDFs) into ``outputs/letters`` atomically.

    A PDF that fails to convert or to pass its check is reported in
    ``LetterRun.pdf_failures``; the other documents are still published.
    """
    from kdigital.batch import render_batch
    from kdigital.ledger import record_generated
    from kdigital.output import Staging, prune
    from kdigital.pdf import convert_and_check
    from kdigital.render import DocumentTemplate

    progress = progress or Progress()
    inputs = load_inputs(ws)
    selected = select(inputs.roster, only, ws.roster.name)
    template = DocumentTemplate(ws.template(TEMPLATE))
    job = LetterJob(inputs.campaign, letter_rates(inputs.cost_model, inputs.roster))
    template.require_placeholders(job(selected[0])[1])
    warn_about_addresses(selected)
    folder = ws.outputs / FOLDER
    names = [job.filename(m) for m in selected]
    with Staging(folder) as staging:
        progress.start("Anschreiben", len(selected))
        try:
            hashes = render_batch(template, selected, job, staging.path, workers=workers, progress=progress.advance)
        finally:
            progress.finish()
        pdfs: list[str] = []
        drafts: list[str] = []
        failures: dict[str, str] = {}
        if pdf:
            expected = {job.filename(m): (inputs.campaign.identifier(KIND, m.ags), PAGES) for m in selected}
            pdfs, failures = convert_and_check(staging.path, expected, progress, workers)
            drafts = prepare_drafts(staging.path, ws, selected, set(pdfs), inputs.campaign)
        published = staging.publish(names + pdfs + drafts)
    # What this run replaced goes: files of renamed municipalities, and PDFs and drafts
    # of letters rewritten without --pdf (they no longer match their letter).
    removed = prune(folder, published, None if not only else {m.ags for m in selected},
                    subfolders=("", MAIL_FOLDER))
    outdated = _outdated_letters(folder, template, job, inputs.roster, selected) if only else set()
    had_print_file = (folder / PRINT_FILE).is_file()
    print_file = refresh_print_file(folder, inputs.roster, exclude=outdated)
    if had_print_file and print_file is None:
        removed.append(folder / PRINT_FILE)  # no current Post letter PDF left to print
    n, k = len(names), len(names) + len(pdfs)
    by_stem = {addressing.file_stem(m): m.ags for m in selected}
    record_generated(ws.root, inputs.campaign.campaign_id, KIND,
                     [(by_stem[p.stem], p) for p in published[:k]], hashes)
    return LetterRun(folder, published[:n], published[n:k], failures, published[k:], print_file, removed)


def warn_about_addresses(selected: Sequence[Municipality]) -> None:
    """Warn (the first few, then a count) where an address block will not fit the address field."""
    warn_some(log, [f"{addressing.designation(m)} (AGS {m.ags}, Zeile {m.row}): {problem}"
                    for m in selected if (problem := addressing.address_problem(m))],
              "Anschriften, die nicht ins Anschriftfeld passen")


MAIL_FOLDER = "mail"
PRINT_FILE = "Serienbrief-Post.pdf"


def prepare_drafts(folder: Path, ws: Workspace, selected: Sequence[Municipality], pdfs: set[str],
                   campaign: Campaign) -> list[str]:
    """E-mail drafts for the letters whose PDF is in ``folder``; their names relative to it.

    One draft (``mail/<AGS>_<slug>.eml``) for every municipality whose Versand
    includes E-Mail, with the letter PDF and, where generated, the cost sheet PDF
    attached.
    """
    from kdigital.dispatch import mail_item, write_drafts

    ready = [m for m in sorted(selected, key=lambda m: m.ags) if f"{addressing.file_stem(m)}.pdf" in pdfs]
    items = []
    for m in ready:
        if m.by_email:
            attachments = [folder / f"{addressing.file_stem(m)}.pdf"]
            cost_sheet = ws.outputs / "costs" / f"{addressing.file_stem(m)}.pdf"
            if cost_sheet.is_file():
                attachments.append(cost_sheet)
            items.append(mail_item(m, KIND, attachments))
    if not items:
        return []
    return [f"{MAIL_FOLDER}/{p.name}" for p in write_drafts(folder / MAIL_FOLDER, items, campaign)]


def refresh_drafts(ws: Workspace, roster: Sequence[Municipality], campaign: Campaign,
                   ags: set[str] | None = None) -> list[Path]:
    """Rewrite the existing e-mail drafts (of ``ags``; None: all) with the current attachments.

    A draft carries the letter PDF and the cost sheet PDF as they were when it was
    written; after ``costs`` ran again it would send an outdated cost sheet (or one
    that was just removed). Drafts are deterministic, so an unchanged one is
    rewritten byte for byte. Returns the drafts rewritten.
    """
    folder = ws.outputs / FOLDER
    drafts = folder / MAIL_FOLDER
    if not drafts.is_dir():
        return []
    present = {p.name for p in drafts.glob("*.eml")}
    selected = [m for m in roster if (ags is None or m.ags in ags) and f"{addressing.file_stem(m)}.eml" in present
                and m.by_email and (folder / f"{addressing.file_stem(m)}.pdf").is_file()]
    if not selected:
        return []
    pdfs = {f"{addressing.file_stem(m)}.pdf" for m in selected}
    try:
        names = prepare_drafts(folder, ws, selected, pdfs, campaign)
    except ValidationError as exc:
        # They cannot be rewritten (the roster changed): outdated, they must not be sent either.
        for m in selected:
            (drafts / f"{addressing.file_stem(m)}.eml").unlink(missing_ok=True)
        log.warning("E-Mail-Entwürfe entfernt, weil sie nicht neu geschrieben werden können (%s); "
                    "mit „kdigital letters --pdf“ neu erzeugen", "; ".join(str(f) for f in exc.findings))
        return []
    return [folder / name for name in names]


def _outdated_letters(folder: Path, template, job: LetterJob, roster: Sequence[Municipality],
                      selected: Sequence[Municipality]) -> set[str]:
    """AGS of Post letters left from earlier runs that the current inputs would write differently.

    After ``--only`` the print file also takes the other municipalities' letters as
    they are; one written before the roster changed (say, still marked "nur per
    E-Mail") must not go to print. Rendering is deterministic, so a letter is
    current exactly when rendering it again gives the same bytes.
    """
    chosen = {m.ags for m in selected}
    outdated = set()
    for m in roster:
        stem = addressing.file_stem(m)
        if m.ags in chosen or not m.by_post or not (folder / f"{stem}.pdf").is_file():
            continue
        name, context, properties = job(m)
        existing = folder / name
        if not existing.is_file() or existing.read_bytes() != template.render(context, properties):
            outdated.add(m.ags)
    warn_some(log, [f"Anschreiben {ags} ist veraltet (Verzeichnis geändert) und bleibt aus dem Serienbrief – "
                    f"mit „kdigital letters --pdf --only {ags}“ neu erzeugen" for ags in sorted(outdated)],
              "veraltete Anschreiben")
    return outdated


def refresh_print_file(folder: Path, roster: Sequence[Municipality], exclude: set[str] = frozenset()) -> Path | None:
    """Rebuild the duplex print file from every current letter PDF of a Post recipient; its path.

    It always covers all letters in ``folder`` sent by post, in AGS order, also
    after a run for a few municipalities (``--only``), except those in ``exclude``
    (outdated); without any it is removed.
    """
    from kdigital.printbundle import build_print_bundle

    target = folder / PRINT_FILE
    post = [(f"{m.ags} {addressing.designation(m)}", folder / f"{addressing.file_stem(m)}.pdf")
            for m in sorted(roster, key=lambda m: m.ags) if m.by_post and m.ags not in exclude]
    post = [(title, path) for title, path in post if path.is_file()]
    if not post:
        target.unlink(missing_ok=True)
        return None
    build_print_bundle(post, target)
    return target
