"""How ``kdigital status`` shows a StatusReport: a text table, a workbook for the office, an HTML page.

The data comes from ``kdigital.status`` (``load_status``); nothing here reads the
ledger or the roster. The HTML page is self-contained (inline CSS and an SVG
progress chart, no external resources), so it can be mailed or put on a share.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from pathlib import Path

from kdigital import formatting
from kdigital.status import NOT_EXPECTED, NO, OLDER_VERSION, YES, StatusReport, StatusRow

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


def _agreement_name(report: StatusReport) -> str:
    """'der Vereinbarung', with the current version when one was generated: 'der Vereinbarung (Fassung 1a2b3c4d)'."""
    return "der Vereinbarung" + (f" (Fassung {report.agreement_version})" if report.agreement_version else "")


def summary_lines(report: StatusReport) -> list[str]:
    """The totals in words: answers, returns, overdue, against which deadline and date."""
    t = report.totals
    state = "abgelaufen" if report.deadline_passed else "läuft noch"
    return [
        f"{t.municipalities} Kommunen: {t.yes} ja, {t.no} nein, {t.open} offen",
        f"Rückantwortformulare eingegangen: {t.replies}, Unterschriftenseiten {_agreement_name(report)}: "
        f"{report.agreements_text()}",
        f"Rückmeldefrist {formatting.date(report.deadline)} ({state} am Stichtag {formatting.date(report.today)}): "
        f"{t.overdue} überfällig",
    ]


# -- workbook ----------------------------------------------------------------------------

XLSX_COLUMNS = (  # header, width
    ("AGS", 11), ("Kommune", 30), ("Antwort", 9), ("Eingang laut Verzeichnis", 14),
    ("Rückantwort eingegangen", 14), ("Rückantwort am", 14), ("erkannt über", 13),
    ("Unterschriftenseite Vereinbarung", 20), ("Unterschriftenseite am", 14), ("überfällig", 11),
    ("Erinnerung vom", 14), ("Fassung der Unterschriftenseite", 16),
)
UNVERIFIED_VERSION = "nicht geprüft"  # a page counted as current, its version on record nowhere


def _page_version(r: StatusRow) -> str | None:
    """The version of the signature page shown, 'nicht geprüft' when a counted page has none on record."""
    if not r.agreement_any:
        return None
    return r.agreement_version or (UNVERIFIED_VERSION if r.agreement_unverified else None)


def xlsx_bytes(report: StatusReport) -> bytes:
    """The report as a workbook: sheet ``Status`` (one row per municipality) and ``Übersicht``."""
    from openpyxl.styles import Font, PatternFill

    from kdigital.workbook import finish_table, table_workbook

    wb, ws = table_workbook("Status", XLSX_COLUMNS, wrap_header=True)
    formats = {4: "DD.MM.YYYY", 6: "DD.MM.YYYY", 9: "DD.MM.YYYY", 11: "DD.MM.YYYY"}
    overdue_fill = PatternFill("solid", fgColor="FDE0C5")
    for r in report.all_rows:
        ws.append([r.ags, r.name, r.answer, r.received, _reply(r), r.reply_received, r.matched_by or None,
                   r.agreement, r.agreement_received, NOT_EXPECTED if r.district else _yes_no(r.overdue),
                   r.reminded, _page_version(r)])
        for column, number_format in formats.items():
            ws.cell(ws.max_row, column).number_format = number_format
        if r.overdue:
            for cell in ws[ws.max_row]:
                cell.fill = overdue_fill
    finish_table(ws, len(XLSX_COLUMNS), freeze="C2")  # header and AGS/name stay in view

    t = report.totals
    summary = wb.create_sheet("Übersicht")
    for key, value in (("Kampagne", report.campaign_id), ("Rückmeldefrist", report.deadline),
                       ("Stichtag", report.today), ("Kommunen", t.municipalities), ("Antwort ja", t.yes),
                       ("Antwort nein", t.no), ("Antwort offen", t.open), ("überfällig", t.overdue),
                       ("Rückantwortformulare eingegangen", t.replies),
                       ("Fassung der Vereinbarung", report.agreement_version),
                       ("Unterschriftenseiten Vereinbarung eingegangen", t.agreements),
                       ("Unterschriftenseiten Vereinbarung erwartet", t.agreements_expected),
                       ("Unterschriftenseiten nur ältere Fassung (neu zu unterschreiben)", t.agreements_older),
                       ("Unterschriftenseiten Vereinbarung ohne „ja“", t.agreements_unexpected),
                       ("Unterschriftenseiten erwartet von", f"{t.yes} Kommunen mit „ja“"
                                                            + (" und dem Landkreis" if t.district else ""))):
        summary.append([key, value])
        if isinstance(value, dt.date):
            summary.cell(summary.max_row, 2).number_format = "DD.MM.YYYY"
    summary.column_dimensions["A"].width = 58
    summary.column_dimensions["B"].width = 14
    for cell in summary["A"]:
        cell.font = Font(bold=True)
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
           OLDER_VERSION: "#f9a825", "Seite ohne „ja“": "#b39ddb"}

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
    that said ja and the district), returned for the current version, returned only
    for an older one (still to sign) or outstanding, and any returned anyway.
    """
    t = report.totals
    open_in_time = t.open - t.overdue
    bars = [
        ("Antworten", [("ja", t.yes), ("nein", t.no), ("offen", open_in_time), ("überfällig", t.overdue)]),
        ("Rückantwortformulare", [("eingegangen", t.replies), ("ausstehend", t.municipalities - t.replies)]),
        (f"Vereinbarung ({t.agreements_expected} erwartet)",
         [("Seite eingegangen", t.agreements), (OLDER_VERSION, t.agreements_older),
          ("ausstehend", t.agreements_expected - t.agreements - t.agreements_older),
          ("Seite ohne „ja“", t.agreements_unexpected)]),
    ]
    n = max([sum(count for _, count in segments) for _, segments in bars] + [1])
    label_w, bar_w, bar_h, gap, top = 190, 520, 30, 16, 8
    width = label_w + bar_w + 20
    legend, x, y = [], 0.0, 0  # the legend wraps to a new line where it would leave the picture
    for key in COLOURS:
        step = 22 + 7.2 * len(key)
        if x and x + step - 10 > width:
            x, y = 0.0, y + 18
        legend.append((key, x, y))
        x += step
    height = top + len(bars) * (bar_h + gap) + 30 + y
    out = [f'<svg id="fortschritt" xmlns="http://www.w3.org/2000/svg" width="{width}" '
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
    base = top + len(bars) * (bar_h + gap) + 6
    for key, x, y in legend:
        out.append(f'<rect x="{x:.0f}" y="{base + y}" width="12" height="12" fill="{COLOURS[key]}"/>')
        out.append(f'<text x="{x + 16:.0f}" y="{base + y + 11}" font-size="12">{html.escape(key)}</text>')
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
    if not r.agreement_any:
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
            f"<td></td><td>{t.replies}</td><td></td><td>{t.agreements} von {t.agreements_expected}"
            + (f", {t.agreements_older} {OLDER_VERSION}" if t.agreements_older else "") + "</td>"
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
        f"{t.replies} Rückantwortformulare eingegangen; Unterschriftenseiten {html.escape(_agreement_name(report))}: "
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
