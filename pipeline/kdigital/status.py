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

A return counts from its date received (``kdigital archive`` records it in the
ledger; for returns archived before it did, it is read from the volume's
manifest), not from when the archive ran: a report on a date (``--stichtag``)
leaves out what was received after it. A return with no date received on
record (entered by other means) counts, shown with the date of its event. A signature page of the agreement is
expected from the municipalities that said ja and from the district (its row
follows the municipalities'); from the others it is shown only when it came
anyway. One whose code shows an older version of the agreement is marked.
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
from kdigital.identifiers import DISTRICT_NAME, district_ags
from kdigital.ledger import ARCHIVED, GENERATED, RETURNED, Event
from kdigital.roster import Municipality
from kdigital.workspace import Workspace

REPLY_KIND = "IB"  # the reply form travels with the interest request letter
AGREEMENT_KIND = "VB"  # a signature page of the agreement
REMINDER_KIND = "ER"  # a reminder letter (kdigital.reminders.KIND)
YES, NO, OPEN = "ja", "nein", "offen"
_ANSWERS = {True: YES, False: NO, None: OPEN}


NOT_EXPECTED = "–"
OLDER_VERSION = "ältere Fassung"  # the start of intake's flag "ältere Fassung unterschrieben (…)"


@dataclass(frozen=True)
class StatusRow:
    """The state of one municipality (or of the district, ``district``) on the report date."""

    ags: str
    name: str  # 'Gemeinde Fronhausen'
    answer: str  # ja / nein / offen, from the roster's Interesse ('–' for the district)
    reply_returned: bool  # a reply form (IB) is in the ledger as returned
    agreement_returned: bool  # an agreement signature page (VB) is in the ledger as returned
    overdue: bool
    received: dt.date | None = None  # the roster's Eingang
    reply_received: dt.date | None = None  # date received of the first reply form returned
    matched_by: str = ""  # how that return was recognised: QR code, file name, text
    agreement_received: dt.date | None = None  # date received of the signature page shown
    reminded: dt.date | None = None  # date of the last reminder written (ledger, kind ER)
    agreement_expected: bool = False  # a participant (Interesse ja) or the district
    agreement_older: bool = False  # only signature pages of an older version of the agreement came back
    district: bool = False

    @property
    def agreement(self) -> str:
        """The signature page in words: ja, ja (ältere Fassung), nein (expected, missing) or – (not expected)."""
        if self.agreement_returned:
            return f"{YES} ({OLDER_VERSION})" if self.agreement_older else YES
        return NO if self.agreement_expected else NOT_EXPECTED


@dataclass(frozen=True)
class Totals:
    """Counts over all rows; ``agreements`` counts the expected signature pages returned."""

    municipalities: int
    yes: int
    no: int
    open: int
    overdue: int
    replies: int
    agreements: int
    agreements_expected: int = 0  # the municipalities that said ja, and the district
    agreements_unexpected: int = 0  # returned anyway by a municipality that did not say ja
    district: bool = False  # the district is one of the expected


@dataclass(frozen=True)
class StatusReport:
    """The rows and what they were computed against; ``district`` is the district's row (signature page only)."""

    campaign_id: str
    deadline: dt.date
    today: dt.date
    rows: list[StatusRow]
    district: StatusRow | None = None

    @property
    def deadline_passed(self) -> bool:
        return self.today > self.deadline

    @property
    def all_rows(self) -> list[StatusRow]:
        """The municipalities' rows, then the district's."""
        return self.rows + ([self.district] if self.district else [])

    @property
    def totals(self) -> Totals:
        rows = self.rows
        parties = self.all_rows
        return Totals(len(rows), sum(r.answer == YES for r in rows), sum(r.answer == NO for r in rows),
                      sum(r.answer == OPEN for r in rows), sum(r.overdue for r in rows),
                      sum(r.reply_returned for r in rows),
                      sum(r.agreement_returned and r.agreement_expected for r in parties),
                      sum(r.agreement_expected for r in parties),
                      sum(r.agreement_returned and not r.agreement_expected for r in parties),
                      self.district is not None)

    def agreements_text(self) -> str:
        """'2 von 4 erwartet (3 Kommunen mit „ja“ und der Landkreis)', and any that came unexpected."""
        t = self.totals
        who = f"{t.yes} Kommunen mit „ja“" + (" und der Landkreis" if t.district else "")
        text = f"{t.agreements} von {t.agreements_expected} erwartet ({who})"
        if t.agreements_unexpected:
            text += f", dazu {t.agreements_unexpected} ohne „ja“"
        return text


@dataclass(frozen=True)
class _Returns:
    """The returns that count on the report date: the first reply form and the signature page to show."""

    reply: dict[str, Event]
    agreement: dict[str, Event]


def recorded_received(e: Event) -> dt.date | None:
    """The date received recorded with a return (``kdigital archive``, or its manifest); None when none is."""
    try:
        return dt.date.fromisoformat(str(e.detail["received"]))
    except (KeyError, ValueError):
        return None


def received_on(e: Event) -> dt.date:
    """The date a returned document was received: as recorded with it, else the day of the event."""
    return recorded_received(e) or e.time.astimezone(_timezone()).date()


def _received_by(e: Event, today: dt.date) -> bool:
    # Without a recorded date received a return counts: the event's own time (when it was
    # archived or entered) says only that it came in before then.
    recorded = recorded_received(e)
    return recorded is None or recorded <= today


def _is_older(e: Event) -> bool:
    return any(str(flag).startswith(OLDER_VERSION) for flag in e.detail.get("flags") or ())


def _returns(events: Iterable[Event], today: dt.date) -> tuple[_Returns, dict[str, dt.date]]:
    """(the returns received by ``today``, AGS -> date of the last reminder)."""
    reply: dict[str, Event] = {}
    agreement: dict[str, Event] = {}
    reminded: dict[str, dt.date] = {}
    returned = []
    for e in sorted(events, key=lambda e: (e.time, e.id)):
        if e.event == RETURNED and e.kind in (REPLY_KIND, AGREEMENT_KIND) and _received_by(e, today):
            returned.append(e)
        elif e.event == GENERATED and e.kind == REMINDER_KIND:
            reminded[e.ags] = _reminder_date(e)
    for e in sorted(returned, key=lambda e: (received_on(e), e.time, e.id)):
        if e.kind == REPLY_KIND:
            reply.setdefault(e.ags, e)
        elif e.ags not in agreement or (_is_older(agreement[e.ags]) and not _is_older(e)):
            agreement[e.ags] = e  # the first of the current version, else the first one
    return _Returns(reply, agreement), reminded


def build_rows(roster: Sequence[Municipality], events: Iterable[Event], deadline: dt.date,
               today: dt.date) -> list[StatusRow]:
    """One row per municipality, in roster order, from its answer and the ledger's events.

    ``events`` may hold anything; only ``returned`` events of kind IB and VB
    received by ``today`` and ``generated`` events of kind ER count. Events for
    AGS not in the roster are ignored.
    """
    returns, reminded = _returns(events, today)
    rows = []
    for m in roster:
        reply = returns.reply.get(m.ags)
        agreement = returns.agreement.get(m.ags)
        answered = m.interest is not None or m.received is not None
        rows.append(StatusRow(
            ags=m.ags,
            name=addressing.designation(m),
            answer=_ANSWERS[m.interest],
            reply_returned=reply is not None,
            agreement_returned=agreement is not None,
            overdue=today > deadline and not answered and reply is None,
            received=m.received,
            reply_received=received_on(reply) if reply else None,
            matched_by=_matched_by(reply),
            agreement_received=received_on(agreement) if agreement else None,
            reminded=reminded.get(m.ags),
            agreement_expected=m.interest is True,
            agreement_older=agreement is not None and _is_older(agreement),
        ))
    return rows


def district_row(ags: str, events: Iterable[Event], today: dt.date) -> StatusRow:
    """The district's row: it signs the agreement and answers nothing else."""
    returns, _ = _returns(events, today)
    agreement = returns.agreement.get(ags)
    return StatusRow(ags=ags, name=DISTRICT_NAME, answer=NOT_EXPECTED, reply_returned=False,
                     agreement_returned=agreement is not None, overdue=False,
                     agreement_received=received_on(agreement) if agreement else None,
                     matched_by="", agreement_expected=True,
                     agreement_older=agreement is not None and _is_older(agreement), district=True)


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
        archived = ledger.events(ARCHIVED)
    events = [e for e in events if e.campaign in (None, campaign_id)]
    return _with_received_dates(ws, events, archived)


def _with_received_dates(ws: Workspace, events: list[Event], archived: list[Event]) -> list[Event]:
    """``events`` with the date received of returns recorded before the ledger held it, from the manifests.

    A ``returned`` event and the ``archived`` event of the same run share its time;
    the latter names the volume, whose manifest records the date received of each
    source. Where neither has it, the day of archiving stands in (``received_on``).
    """
    import json
    from dataclasses import replace

    volumes = {(e.ags, e.kind, e.time): e.detail.get("volume") for e in archived}
    manifests: dict[str, list[dict]] = {}
    result = []
    for e in events:
        volume = volumes.get((e.ags, e.kind, e.time)) if e.event == RETURNED and "received" not in e.detail else None
        if volume:
            if volume not in manifests:
                path = ws.outputs / "archive" / f"{Path(volume).stem}.manifest.json"
                try:
                    manifests[volume] = json.loads(path.read_text(encoding="utf-8")).get("sources", [])
                except (OSError, ValueError, AttributeError):
                    manifests[volume] = []
            pages = e.detail.get("pages")
            for source in manifests[volume]:
                if (source.get("path"), source.get("ags"), source.get("kind"), source.get("part")) == (
                        e.file, e.ags, e.kind, e.detail.get("attachment")) and (
                        pages is None or source.get("source_range") == pages) and source.get("received"):
                    e = replace(e, detail={**e.detail, "received": source["received"]})
                    break
        result.append(e)
    return result


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
    events = read_events(ws, campaign.campaign_id)
    rows = build_rows(roster, events, campaign.deadline, today)
    district = district_ags([m.ags for m in roster], getattr(campaign, "district_key", "") or "")
    if district in {m.ags for m in roster}:
        district = None  # a roster that names the district as a municipality: it has its row already
    return StatusReport(campaign.campaign_id, campaign.deadline, today, rows,
                        district_row(district, events, today) if district else None)


# -- text --------------------------------------------------------------------------------

TEXT_COLUMNS = ("AGS", "Kommune", "Antwort", "Rückantwort", "Vereinbarung", "überfällig")


def _yes_no(flag: bool) -> str:
    return YES if flag else NO


def _reply(r: StatusRow) -> str:
    return NOT_EXPECTED if r.district else _yes_no(r.reply_returned)


def text_lines(report: StatusReport) -> list[str]:
    """The report as a compact table with totals, for the terminal."""
    table = [TEXT_COLUMNS] + [(r.ags, r.name, r.answer, _reply(r), r.agreement, "ÜBERFÄLLIG" if r.overdue else "")
                              for r in report.all_rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(TEXT_COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    return lines + [""] + summary_lines(report)


def summary_lines(report: StatusReport) -> list[str]:
    """The totals in words: answers, returns, overdue, against which deadline and date."""
    t = report.totals
    state = "abgelaufen" if report.deadline_passed else "läuft noch"
    return [
        f"{t.municipalities} Kommunen: {t.yes} ja, {t.no} nein, {t.open} offen",
        f"Rückantwortformulare eingegangen: {t.replies}, Unterschriftenseiten der Vereinbarung: "
        f"{report.agreements_text()}",
        f"Rückmeldefrist {formatting.date(report.deadline)} ({state} am Stichtag {formatting.date(report.today)}): "
        f"{t.overdue} überfällig",
    ]


# -- workbook ----------------------------------------------------------------------------

XLSX_COLUMNS = (  # header, width
    ("AGS", 11), ("Kommune", 30), ("Antwort", 9), ("Eingang laut Verzeichnis", 14),
    ("Rückantwort eingegangen", 14), ("Rückantwort am", 14), ("erkannt über", 13),
    ("Unterschriftenseite Vereinbarung", 20), ("Unterschriftenseite am", 14), ("überfällig", 11),
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
    formats = {4: "DD.MM.YYYY", 6: "DD.MM.YYYY", 9: "DD.MM.YYYY", 11: "DD.MM.YYYY"}
    overdue_fill = PatternFill("solid", fgColor="FDE0C5")
    for r in report.all_rows:
        ws.append([r.ags, r.name, r.answer, r.received, _reply(r), r.reply_received, r.matched_by or None,
                   r.agreement, r.agreement_received, NOT_EXPECTED if r.district else _yes_no(r.overdue),
                   r.reminded])
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
                       ("Unterschriftenseiten Vereinbarung eingegangen", t.agreements),
                       ("Unterschriftenseiten Vereinbarung erwartet", t.agreements_expected),
                       ("Unterschriftenseiten Vereinbarung ohne „ja“", t.agreements_unexpected),
                       ("Unterschriftenseiten erwartet von", f"{t.yes} Kommunen mit „ja“"
                                                            + (" und dem Landkreis" if t.district else ""))):
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
           "eingegangen": "#1565c0", "ausstehend": "#d7dbe0", "Seite eingegangen": "#6a1b9a",
           "Seite ohne „ja“": "#b39ddb"}

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
tr.district td { font-style: italic; }
td.ja { color: #2e7d32; font-weight: bold; }
td.nein { color: #c62828; font-weight: bold; }
td.offen { color: #666; }
"""


def _svg_chart(report: StatusReport) -> str:
    """An inline SVG: stacked bars for answers, reply forms and agreement pages, on one scale.

    The agreement bar counts as the tables do: the pages expected (the municipalities
    that said ja and the district), returned or outstanding, and any returned anyway.
    """
    t = report.totals
    open_in_time = t.open - t.overdue
    bars = [
        ("Antworten", [("ja", t.yes), ("nein", t.no), ("offen", open_in_time), ("überfällig", t.overdue)]),
        ("Rückantwortformulare", [("eingegangen", t.replies), ("ausstehend", t.municipalities - t.replies)]),
        (f"Vereinbarung ({t.agreements_expected} erwartet)",
         [("Seite eingegangen", t.agreements), ("ausstehend", t.agreements_expected - t.agreements),
          ("Seite ohne „ja“", t.agreements_unexpected)]),
    ]
    n = max([sum(count for _, count in segments) for _, segments in bars] + [1])
    label_w, bar_w, bar_h, gap, top = 190, 520, 30, 16, 8
    height = top + len(bars) * (bar_h + gap) + 30
    out = [f'<svg id="fortschritt" xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 20}" '
           f'height="{height}" role="img" aria-labelledby="fortschritt-titel">',
           f'<title id="fortschritt-titel">Rücklauf {html.escape(report.campaign_id)}: {t.yes} ja, {t.no} nein, '
           f'{t.open} offen, {t.replies} Rückantworten, Unterschriftenseiten '
           f'{html.escape(report.agreements_text())}</title>']
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


def _reply_cell(r: StatusRow) -> str:
    if r.district:
        return NOT_EXPECTED
    return formatting.date(r.reply_received) if r.reply_returned and r.reply_received else _yes_no(r.reply_returned)


def _agreement_cell(r: StatusRow) -> str:
    if not r.agreement_returned:
        return r.agreement
    when = formatting.date(r.agreement_received) if r.agreement_received else YES
    return f"{when} ({OLDER_VERSION})" if r.agreement_older else when


def render_html(report: StatusReport) -> str:
    """The report as one self-contained HTML page: inline CSS, inline SVG chart, no external resources."""
    t = report.totals
    title = f"Rücklauf {report.campaign_id} – Stand {formatting.date(report.today)}"
    state = "abgelaufen" if report.deadline_passed else "läuft noch"
    head = ("<tr><th>AGS</th><th>Kommune</th><th>Antwort</th><th>Eingang</th><th>Rückantwort</th>"
            "<th>erkannt über</th><th>Vereinbarung</th><th>überfällig</th><th>Erinnerung</th></tr>")
    body = []
    for r in report.all_rows:
        css = ' class="overdue"' if r.overdue else ' class="district"' if r.district else ""
        body.append(
            f'<tr data-ags="{r.ags}"{css}>' + _cell(r.ags) + _cell(r.name)
            + _cell(r.answer, "" if r.district else r.answer)
            + _cell(formatting.date(r.received) if r.received else "") + _cell(_reply_cell(r)) + _cell(r.matched_by)
            + _cell(_agreement_cell(r)) + _cell(NOT_EXPECTED if r.district else _yes_no(r.overdue))
            + _cell(formatting.date(r.reminded) if r.reminded else "") + "</tr>")
    foot = (f"<tr><td colspan=\"2\">{t.municipalities} Kommunen</td><td>{t.yes} ja, {t.no} nein, {t.open} offen</td>"
            f"<td></td><td>{t.replies}</td><td></td><td>{t.agreements} von {t.agreements_expected}</td>"
            f"<td>{t.overdue}</td><td></td></tr>")
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
        f"{t.replies} Rückantwortformulare eingegangen; Unterschriftenseiten der Vereinbarung: "
        f"{html.escape(report.agreements_text())}.</figcaption>",
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
