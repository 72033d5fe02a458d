"""Where the campaign stands: answers, returned forms and who is overdue, per municipality.

``build_rows`` is the pure part: roster + ledger events + a date -> one ``StatusRow``
per municipality. Around it: ``load_status`` reads the roster and the ledger
(a workspace without a ledger has nothing returned yet; the report never creates
one), and three ways to show the result: a text table (``text_lines``), a
workbook for the office (``write_xlsx``) and a self-contained HTML page with a
progress chart (``render_html`` / ``write_html``).

Overdue means: the deadline (``Rückmeldefrist``) is before the report date, the
roster records no answer (neither ``Interesse`` nor an ``Eingang`` date – an answer
by e-mail or telephone entered there counts) and no reply form was returned.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from kdigital import addressing, formatting
from kdigital.campaign import Campaign
from kdigital.ledger import GENERATED, RETURNED, Event
from kdigital.roster import Municipality
from kdigital.workspace import Workspace

REPLY_KIND = "IB"  # the reply form travels with the interest request letter
AGREEMENT_KIND = "VB"  # a signature page of the agreement
REMINDER_KIND = "ER"  # a reminder letter (kdigital.reminders.KIND)
YES, NO, OPEN = "ja", "nein", "offen"
_ANSWERS = {True: YES, False: NO, None: OPEN}


@dataclass(frozen=True)
class StatusRow:
    """The state of one municipality on the report date."""

    ags: str
    name: str  # 'Gemeinde Fronhausen'
    answer: str  # ja / nein / offen, from the roster's Interesse
    reply_returned: bool  # a reply form (IB) is in the ledger as returned
    agreement_returned: bool  # an agreement signature page (VB) is in the ledger as returned
    overdue: bool
    received: dt.date | None = None  # the roster's Eingang
    reply_returned_at: dt.datetime | None = None  # first return, UTC
    matched_by: str = ""  # how that return was recognised: QR code, file name, text
    agreement_returned_at: dt.datetime | None = None
    reminded: dt.date | None = None  # date of the last reminder written (ledger, kind ER)


@dataclass(frozen=True)
class Totals:
    """Counts over all rows."""

    municipalities: int
    yes: int
    no: int
    open: int
    overdue: int
    replies: int
    agreements: int


@dataclass(frozen=True)
class StatusReport:
    """The rows and what they were computed against."""

    campaign_id: str
    deadline: dt.date
    today: dt.date
    rows: list[StatusRow]

    @property
    def deadline_passed(self) -> bool:
        return self.today > self.deadline

    @property
    def totals(self) -> Totals:
        rows = self.rows
        return Totals(len(rows), sum(r.answer == YES for r in rows), sum(r.answer == NO for r in rows),
                      sum(r.answer == OPEN for r in rows), sum(r.overdue for r in rows),
                      sum(r.reply_returned for r in rows), sum(r.agreement_returned for r in rows))


def build_rows(roster: Sequence[Municipality], events: Iterable[Event], deadline: dt.date,
               today: dt.date) -> list[StatusRow]:
    """One row per municipality, in roster order, from its answer and the ledger's events.

    ``events`` may hold anything; only ``returned`` events of kind IB and VB and
    ``generated`` events of kind ER count. Events for AGS not in the roster are ignored.
    """
    first_return: dict[tuple[str, str], Event] = {}
    reminded: dict[str, dt.date] = {}
    for e in sorted(events, key=lambda e: (e.time, e.id)):
        if e.event == RETURNED and e.kind in (REPLY_KIND, AGREEMENT_KIND):
            first_return.setdefault((e.ags, e.kind), e)
        elif e.event == GENERATED and e.kind == REMINDER_KIND:
            reminded[e.ags] = _reminder_date(e)
    rows = []
    for m in roster:
        reply = first_return.get((m.ags, REPLY_KIND))
        agreement = first_return.get((m.ags, AGREEMENT_KIND))
        answered = m.interest is not None or m.received is not None
        rows.append(StatusRow(
            ags=m.ags,
            name=addressing.designation(m),
            answer=_ANSWERS[m.interest],
            reply_returned=reply is not None,
            agreement_returned=agreement is not None,
            overdue=today > deadline and not answered and reply is None,
            received=m.received,
            reply_returned_at=reply.time if reply else None,
            matched_by=_matched_by(reply),
            agreement_returned_at=agreement.time if agreement else None,
            reminded=reminded.get(m.ags),
        ))
    return rows


def _reminder_date(e: Event) -> dt.date:
    # The reminder's own date (its Stichtag) is in the detail; the event time is when it was written.
    try:
        return dt.date.fromisoformat(str(e.detail["datum"]))
    except (KeyError, ValueError):
        return e.time.astimezone(_timezone()).date()


_MATCHED_BY = {"qr": "QR-Code", "filename": "Dateiname", "file_name": "Dateiname", "name": "Dateiname",
               "text": "Text"}


def _matched_by(e: Event | None) -> str:
    if e is None:
        return ""
    raw = str(e.detail.get("matched_by") or "")
    return _MATCHED_BY.get(raw.casefold(), raw)


def _timezone():
    from kdigital.dispatch import TIMEZONE

    return TIMEZONE


def _local(when: dt.datetime | None) -> dt.datetime | None:
    return when.astimezone(_timezone()).replace(tzinfo=None) if when else None


# -- reading ---------------------------------------------------------------------------


def read_events(ws: Workspace, campaign_id: str) -> list[Event]:
    """The ledger's returned and reminder events of this campaign; none when there is no ledger yet.

    Events without a campaign count too: the ledger belongs to the workspace, and
    the workspace to one campaign.
    """
    from kdigital.ledger import Ledger

    if not Ledger.exists(ws.root):  # a report must not create the ledger
        return []
    with Ledger.open(ws.root) as ledger:
        events = ledger.events(RETURNED) + ledger.events(GENERATED, kind=REMINDER_KIND)
    return [e for e in events if e.campaign in (None, campaign_id)]


def read_roster_and_campaign(ws: Workspace) -> tuple[list[Municipality], Campaign]:
    """Roster and campaign from ``roster.xlsx`` (the cost model is not needed for a report)."""
    from kdigital.campaign import read_campaign
    from kdigital.errors import ValidationError
    from kdigital.roster import read_roster
    from kdigital.workbook import open_workbook

    wb = open_workbook(ws.roster)
    try:
        roster, findings = read_roster(wb, ws.roster.name)
        campaign, campaign_findings = read_campaign(wb, ws.roster.name)
    finally:
        wb.close()
    findings += campaign_findings
    if findings:
        raise ValidationError(findings, f"{len(findings)} Fehler im Verzeichnis der Kommunen – kein Bericht")
    return roster, campaign


def load_status(ws: Workspace, today: dt.date | None = None) -> StatusReport:
    """The status of every municipality of the workspace on ``today`` (default: the current date)."""
    today = today or dt.date.today()
    roster, campaign = read_roster_and_campaign(ws)
    rows = build_rows(roster, read_events(ws, campaign.campaign_id), campaign.deadline, today)
    return StatusReport(campaign.campaign_id, campaign.deadline, today, rows)


# -- text --------------------------------------------------------------------------------

TEXT_COLUMNS = ("AGS", "Kommune", "Antwort", "Rückantwort", "Vereinbarung", "überfällig")


def _yes_no(flag: bool) -> str:
    return YES if flag else NO


def text_lines(report: StatusReport) -> list[str]:
    """The report as a compact table with totals, for the terminal."""
    table = [TEXT_COLUMNS] + [(r.ags, r.name, r.answer, _yes_no(r.reply_returned), _yes_no(r.agreement_returned),
                               "ÜBERFÄLLIG" if r.overdue else "") for r in report.rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(TEXT_COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    return lines + [""] + summary_lines(report)


def summary_lines(report: StatusReport) -> list[str]:
    """The totals in words: answers, returns, overdue, against which deadline and date."""
    t = report.totals
    state = "abgelaufen" if report.deadline_passed else "läuft noch"
    return [
        f"{t.municipalities} Kommunen: {t.yes} ja, {t.no} nein, {t.open} offen",
        f"Rückantwortformulare eingegangen: {t.replies}, Unterschriftenseiten der Vereinbarung: {t.agreements}",
        f"Rückmeldefrist {formatting.date(report.deadline)} ({state} am Stichtag {formatting.date(report.today)}): "
        f"{t.overdue} überfällig",
    ]


# -- workbook ----------------------------------------------------------------------------

XLSX_COLUMNS = (  # header, width
    ("AGS", 11), ("Kommune", 30), ("Antwort", 9), ("Eingang laut Verzeichnis", 14),
    ("Rückantwort eingegangen", 14), ("Rückantwort am", 17), ("erkannt über", 13),
    ("Unterschriftenseite Vereinbarung", 16), ("Unterschriftenseite am", 17), ("überfällig", 11),
    ("Erinnerung vom", 14),
)


def xlsx_bytes(report: StatusReport) -> bytes:
    """The report as a workbook: sheet ``Status`` (one row per municipality) and ``Übersicht``."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "Status"
    ws.append([name for name, _ in XLSX_COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, (_, width) in enumerate(XLSX_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    formats = {4: "DD.MM.YYYY", 6: "DD.MM.YYYY HH:MM", 9: "DD.MM.YYYY HH:MM", 11: "DD.MM.YYYY"}
    overdue_fill = PatternFill("solid", fgColor="FDE0C5")
    for r in report.rows:
        ws.append([r.ags, r.name, r.answer, r.received, _yes_no(r.reply_returned), _local(r.reply_returned_at),
                   r.matched_by or None, _yes_no(r.agreement_returned), _local(r.agreement_returned_at),
                   _yes_no(r.overdue), r.reminded])
        for column, number_format in formats.items():
            ws.cell(ws.max_row, column).number_format = number_format
        if r.overdue:
            for cell in ws[ws.max_row]:
                cell.fill = overdue_fill
    ws.freeze_panes = "C2"  # header and AGS/name stay in view
    ws.auto_filter.ref = f"A1:{get_column_letter(len(XLSX_COLUMNS))}{ws.max_row}"

    t = report.totals
    summary = wb.create_sheet("Übersicht")
    for key, value in (("Kampagne", report.campaign_id), ("Rückmeldefrist", report.deadline),
                       ("Stichtag", report.today), ("Kommunen", t.municipalities), ("Antwort ja", t.yes),
                       ("Antwort nein", t.no), ("Antwort offen", t.open), ("überfällig", t.overdue),
                       ("Rückantwortformulare eingegangen", t.replies),
                       ("Unterschriftenseiten Vereinbarung eingegangen", t.agreements)):
        summary.append([key, value])
        if isinstance(value, dt.date):
            summary.cell(summary.max_row, 2).number_format = "DD.MM.YYYY"
    summary.column_dimensions["A"].width = 44
    summary.column_dimensions["B"].width = 14
    for cell in summary["A"]:
        cell.font = Font(bold=True)
    wb.properties.creator = "kdigital"
    wb.properties.title = f"Rücklauf {report.campaign_id}, Stand {formatting.date(report.today)}"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def write_xlsx(report: StatusReport, path: Path) -> None:
    """Write ``xlsx_bytes`` to ``path`` atomically."""
    from kdigital.output import write_atomic

    write_atomic(path, xlsx_bytes(report))


# -- HTML --------------------------------------------------------------------------------

# Colours of the chart and the table marks; the legend names each.
COLOURS = {"ja": "#2e7d32", "nein": "#c62828", "offen": "#9e9e9e", "überfällig": "#ef6c00",
           "eingegangen": "#1565c0", "ausstehend": "#d7dbe0", "Seite eingegangen": "#6a1b9a"}

_CSS = """
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; margin: 2rem; color: #1a1a1a; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
p.stand { margin: 0 0 1.2rem; color: #444; }
figure { margin: 0 0 1.5rem; }
figcaption { font-size: .9rem; color: #444; margin-top: .3rem; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: left; }
thead th { background: #f0f2f4; position: sticky; top: 0; }
tfoot td { font-weight: bold; border-top: 2px solid #999; }
tr.overdue td { background: #fde0c5; }
td.ja { color: #2e7d32; font-weight: bold; }
td.nein { color: #c62828; font-weight: bold; }
td.offen { color: #666; }
"""


def _svg_chart(report: StatusReport) -> str:
    """An inline SVG: stacked bars for answers, reply forms and agreement pages, on one scale."""
    t = report.totals
    n = max(t.municipalities, 1)
    open_in_time = t.open - t.overdue
    expected_pages = max(t.yes - t.agreements, 0)
    bars = [
        ("Antworten", [("ja", t.yes), ("nein", t.no), ("offen", open_in_time), ("überfällig", t.overdue)]),
        ("Rückantwortformulare", [("eingegangen", t.replies), ("ausstehend", t.municipalities - t.replies)]),
        ("Vereinbarung (Seiten)", [("Seite eingegangen", t.agreements), ("ausstehend", expected_pages)]),
    ]
    label_w, bar_w, bar_h, gap, top = 190, 520, 30, 16, 8
    height = top + len(bars) * (bar_h + gap) + 30
    out = [f'<svg id="fortschritt" xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 20}" '
           f'height="{height}" role="img" aria-labelledby="fortschritt-titel">',
           f'<title id="fortschritt-titel">Rücklauf {html.escape(report.campaign_id)}: {t.yes} ja, {t.no} nein, '
           f'{t.open} offen, {t.replies} Rückantworten, {t.agreements} Unterschriftenseiten</title>']
    for i, (label, segments) in enumerate(bars):
        y = top + i * (bar_h + gap)
        out.append(f'<text x="0" y="{y + bar_h * 0.68:.1f}" font-size="14">{html.escape(label)}</text>')
        out.append(f'<rect class="spur" x="{label_w}" y="{y}" width="{bar_w}" height="{bar_h}" fill="#f4f5f6"/>')
        x = float(label_w)
        for key, count in segments:
            if count <= 0:
                continue
            w = bar_w * count / n
            out.append(f'<rect class="segment" data-key="{html.escape(key)}" data-count="{count}" x="{x:.2f}" '
                       f'y="{y}" width="{w:.2f}" height="{bar_h}" fill="{COLOURS[key]}">'
                       f'<title>{html.escape(label)}: {count} {html.escape(key)}</title></rect>')
            if w >= 22:
                ink = "#1a1a1a" if key == "ausstehend" else "#ffffff"
                out.append(f'<text x="{x + w / 2:.2f}" y="{y + bar_h * 0.68:.1f}" font-size="13" '
                           f'text-anchor="middle" fill="{ink}">{count}</text>')
            x += w
    y = top + len(bars) * (bar_h + gap) + 6
    x = 0.0
    for key in COLOURS:
        out.append(f'<rect x="{x:.0f}" y="{y}" width="12" height="12" fill="{COLOURS[key]}"/>')
        out.append(f'<text x="{x + 16:.0f}" y="{y + 11}" font-size="12">{html.escape(key)}</text>')
        x += 22 + 7.2 * len(key)
    out.append("</svg>")
    return "\n".join(out)


def _cell(value: str, css: str = "") -> str:
    attr = f' class="{css}"' if css else ""
    return f"<td{attr}>{html.escape(value)}</td>"


def _when(value: dt.datetime | None) -> str:
    local = _local(value)
    return local.strftime("%d.%m.%Y %H:%M") if local else ""


def render_html(report: StatusReport) -> str:
    """The report as one self-contained HTML page: inline CSS, inline SVG chart, no external resources."""
    t = report.totals
    title = f"Rücklauf {report.campaign_id} – Stand {formatting.date(report.today)}"
    state = "abgelaufen" if report.deadline_passed else "läuft noch"
    head = ("<tr><th>AGS</th><th>Kommune</th><th>Antwort</th><th>Eingang</th><th>Rückantwort</th>"
            "<th>erkannt über</th><th>Vereinbarung</th><th>überfällig</th><th>Erinnerung</th></tr>")
    body = []
    for r in report.rows:
        css = ' class="overdue"' if r.overdue else ""
        reply = _when(r.reply_returned_at) if r.reply_returned else NO
        agreement = _when(r.agreement_returned_at) if r.agreement_returned else NO
        body.append(
            f'<tr data-ags="{r.ags}"{css}>' + _cell(r.ags) + _cell(r.name) + _cell(r.answer, r.answer)
            + _cell(formatting.date(r.received) if r.received else "") + _cell(reply) + _cell(r.matched_by)
            + _cell(agreement) + _cell(_yes_no(r.overdue)) + _cell(formatting.date(r.reminded) if r.reminded else "")
            + "</tr>")
    foot = (f"<tr><td colspan=\"2\">{t.municipalities} Kommunen</td><td>{t.yes} ja, {t.no} nein, {t.open} offen</td>"
            f"<td></td><td>{t.replies}</td><td></td><td>{t.agreements}</td><td>{t.overdue}</td><td></td></tr>")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="de">',
        "<head>",
        '<meta charset="utf-8">',
        # Self-contained by rule: the browser may load nothing beyond this file.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="generator" content="kdigital">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>Rücklauf Interessensbekundung {html.escape(report.campaign_id)}</h1>",
        f'<p class="stand">Stichtag {formatting.date(report.today)} · Rückmeldefrist '
        f"{formatting.date(report.deadline)} ({state}) · {t.overdue} überfällig</p>",
        "<figure>",
        _svg_chart(report),
        f"<figcaption>{t.municipalities} Kommunen: {t.yes} ja, {t.no} nein, {t.open} offen; "
        f"{t.replies} Rückantwortformulare und {t.agreements} Unterschriftenseiten eingegangen.</figcaption>",
        "</figure>",
        '<table id="status">',
        f"<thead>{head}</thead>",
        "<tbody>",
        *body,
        "</tbody>",
        f"<tfoot>{foot}</tfoot>",
        "</table>",
        "</body>",
        "</html>",
        "",
    ])


def write_html(report: StatusReport, path: Path) -> None:
    """Write ``render_html`` to ``path`` atomically (UTF-8)."""
    from kdigital.output import write_atomic

    write_atomic(path, render_html(report).encode("utf-8"))
