"""The ``kdigital status`` and ``kdigital reminders`` commands: where the campaign stands, and reminders.

Registered on the ``kdigital`` group when ``kdigital.cli`` imports this module.
Only click and the CLI module are imported at the top, so ``kdigital --help``
stays fast; the stages are imported inside the commands.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from kdigital.cli import _document_options, _progress, _raise_pdf_failures, _report_errors, _State, _summary, cli


class _DateType(click.ParamType):
    """A date as 11.04.2022 or 2022-04-11."""

    name = "DATUM"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.date):
            return value
        from kdigital.workbook import parse_date

        parsed = parse_date(value)
        if parsed is None:
            self.fail(f"„{value}“ ist kein Datum (erwartet z. B. 11.04.2022 oder 2022-04-11).", param, ctx)
        return parsed


def _stichtag(text: str):
    return click.option("--stichtag", "today", type=_DateType(), default=None, metavar="DATUM",
                        help=f"{text} (Vorgabe: heute), z. B. 11.04.2022. Die Rückmeldefrist ist abgelaufen, "
                             "wenn sie vor diesem Tag liegt.")


def _shown(path: Path, root: Path) -> Path:
    return path.relative_to(root) if path.is_relative_to(root) else path


@cli.command()
@_stichtag("Datum, zu dem der Stand gilt")
@click.option("--xlsx", "xlsx", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="DATEI",
              help="Den Stand zusätzlich als Excel-Arbeitsmappe schreiben.")
@click.option("--html", "html", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="DATEI",
              help="Den Stand zusätzlich als HTML-Seite mit Fortschrittsdiagramm schreiben (eine Datei, "
                   "ohne externe Inhalte).")
@click.pass_obj
@_report_errors
def status(state: _State, today: dt.date | None, xlsx: Path | None, html: Path | None) -> None:
    """Stand der Rückmeldungen je Kommune anzeigen.

    Zeigt je Kommune (AGS, Name): Antwort laut Verzeichnis (ja/nein/offen),
    ob das Rückantwortformular und die Unterschriftenseite der Vereinbarung
    laut Kampagnenprotokoll eingegangen sind, und ob sie überfällig ist:
    Rückmeldefrist abgelaufen, keine Antwort im Verzeichnis (auch per E-Mail
    oder Telefon eingetragen) und kein Rückantwortformular eingegangen.
    Die Unterschriftenseite wird nur von Kommunen mit Interesse „ja“ und vom
    Landkreis (eigene Zeile am Ende) erwartet, sonst steht „–“. Es zählt nur
    eine Seite der aktuellen Fassung (zuletzt mit „kdigital agreement“
    erzeugt); eine Seite einer älteren Fassung steht als „ja (ältere
    Fassung)“, zählt nicht als eingegangen und ist neu zu unterschreiben.
    Eine Seite ohne lesbare Fassung (z. B. nur über den Dateinamen erkannt)
    zählt als aktuell; die Arbeitsmappe vermerkt sie als „nicht geprüft“.
    Es zählt das Eingangsdatum der Rückläufe: Was nach dem Stichtag
    eingegangen ist, bleibt unberücksichtigt.
    Ein Bericht: Exit-Status 0, was immer er zeigt. Legt kein
    Kampagnenprotokoll an.

    Beispiel:

        kdigital status --stichtag 11.04.2022 --xlsx stand.xlsx --html stand.html
    """
    from kdigital import status_views as views
    from kdigital.status import load_status

    ws = state.workspace()
    report = load_status(ws, today)
    for line in views.text_lines(report):
        click.echo(line)
    if xlsx:
        views.write_xlsx(report, xlsx.resolve())
        click.echo(f"Arbeitsmappe: {_shown(xlsx.resolve(), ws.root)}")
    if html:
        views.write_html(report, html.resolve())
        click.echo(f"HTML-Seite: {_shown(html.resolve(), ws.root)}")


@cli.command()
@_stichtag("Datum der Erinnerung und Stichtag für „überfällig“")
@_document_options
@click.pass_obj
@_report_errors
def reminders(state: _State, today: dt.date | None, only: tuple[str, ...], pdf: bool, jobs: int | None,
              silent: bool) -> None:
    """Erinnerungsschreiben an die überfälligen Kommunen erzeugen.

    Schreibt für jede Kommune, die bis zur Rückmeldefrist nicht geantwortet
    hat (siehe „kdigital status“), outputs/reminders/<AGS>_<name>.docx (mit
    --pdf auch .pdf): Erinnerung mit der alten Frist und der neuen aus dem
    Blatt Kampagne (Schlüssel „Erinnerungsfrist“) und einem neuen
    Rückantwortformular mit QR-Code. Jede Erinnerung wird im
    Kampagnenprotokoll vermerkt. Ist niemand überfällig, wird nichts
    geschrieben. Erinnerungen früherer Läufe, die dieser Lauf nicht neu
    schreibt (die Kommune hat inzwischen geantwortet, oder ein PDF neben
    einer ohne --pdf neu geschriebenen Erinnerung), werden entfernt; mit
    --only nur die der gewählten Kommunen.

    Beispiel:

        kdigital reminders --stichtag 11.04.2022 --pdf
    """
    from kdigital import formatting
    from kdigital.reminders import make_reminders

    ws = state.workspace()
    run = make_reminders(ws, today=today, only=only or None, pdf=pdf, workers=jobs, progress=_progress(silent))
    if not run.recipients:
        state_text = "abgelaufen" if run.today > run.deadline else "läuft noch"
        click.echo(f"Keine Kommune überfällig (Rückmeldefrist {formatting.date(run.deadline)}, {state_text} am "
                   f"Stichtag {formatting.date(run.today)}) – keine Erinnerungen geschrieben.")
        if run.removed:
            click.echo()
            _summary([("Veraltete Dateien entfernt", len(run.removed), run.folder)], ws.root)
        return
    click.echo(f"Erinnerungen an {len(run.recipients)} überfällige Kommune(n), neue Frist "
               f"{formatting.date(run.new_deadline)}:")
    for m in run.recipients:
        click.echo(f"  {m.ags}  {m.kind} {m.name}")
    click.echo()
    rows = [("Erinnerungen (DOCX)", len(run.documents), run.folder)]
    if pdf:
        rows.append(("Erinnerungen (PDF)", len(run.pdfs), run.folder))
    if run.removed:
        rows.append(("Veraltete Dateien entfernt", len(run.removed), run.folder))
    _summary(rows, ws.root)
    _raise_pdf_failures(run.pdf_failures)
