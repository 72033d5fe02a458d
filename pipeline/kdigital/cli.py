"""The ``kdigital`` command line (German messages and help for the district's staff).

Commands parse options, call one pipeline function and report. Heavy libraries
(docxtpl, openpyxl, pypdf, Babel) are imported inside the commands, so that
``kdigital --help`` stays fast. kdigital's errors are turned into messages in
exactly one place, ``_report_errors``; Click's usage errors in ``_Group.main``,
worded in German by ``kdigital.cli_german``.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import click

from kdigital import cli_german
from kdigital.errors import ExitCode, KdigitalError, ValidationError

log = logging.getLogger("kdigital")

# Click's own texts (help headings, usage errors, parameter checks) in German;
# before any command is declared, since click.Path names its kind on creation.
cli_german.install()


class _GermanErrors:
    """Usage errors shown in German (see kdigital.cli_german)."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            # Click's parser raises some errors (an option without its value) without
            # a context, which would leave out the usage line and the help hint.
            if exc.ctx is None:
                exc.ctx, exc.cmd = ctx, ctx.command
            raise


class _Command(_GermanErrors, click.Command):
    def __init__(self, *args, options_metavar="[OPTIONEN]", **kwargs):
        super().__init__(*args, options_metavar=options_metavar, **kwargs)
        cli_german.name_option_values(self.params)


class _Group(_GermanErrors, click.Group):
    command_class = _Command

    def __init__(self, *args, options_metavar="[OPTIONEN]", subcommand_metavar="BEFEHL [ARGUMENTE]...", **kwargs):
        super().__init__(*args, options_metavar=options_metavar, subcommand_metavar=subcommand_metavar, **kwargs)
        cli_german.name_option_values(self.params)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Run the CLI like Click does, but show Click's errors in German (exit code 2 for usage errors).

        Click's standalone mode would print them with its English frame ("Error: ",
        "Try ... for help."), so Click runs non-standalone and the errors are shown
        here. Non-standalone, Click returns the exit code of ``ctx.exit(code)`` (or
        a command's return value: kdigital's commands return nothing).
        """
        if not standalone_mode:
            return super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                                **extra)
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                              **extra)
        except click.ClickException as exc:
            cli_german.show_error(exc)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo(cli_german.gettext("Aborted!"), err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


class _State:
    def __init__(self, workspace: Path, verbose: bool):
        self.workspace_root = workspace
        self.verbose = verbose

    def workspace(self):
        from kdigital.workspace import Workspace

        return Workspace(self.workspace_root).require()


def _report_errors(func):
    """Turn KdigitalError into a German message on stderr and its exit code; -v adds the traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        state = ctx.find_object(_State)
        try:
            return func(*args, **kwargs)
        except KdigitalError as exc:
            if state and state.verbose:
                import traceback

                traceback.print_exc()
            click.echo(f"Fehler: {exc}", err=True)
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            click.echo("Abgebrochen – nichts veröffentlicht.", err=True)
            ctx.exit(int(ExitCode.interrupted))

    return wrapper


class _WarningHandler(logging.Handler):
    def emit(self, record):
        prefix = "Warnung: " if record.levelno >= logging.WARNING else ""
        click.echo(prefix + record.getMessage(), err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-w", "--workspace", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              help="Arbeitsbereich mit inputs/, templates/ und outputs/ (Vorgabe: aktueller Ordner).")
@click.option("-v", "--verbose", is_flag=True, help="Ausführliche Meldungen, bei Fehlern mit Traceback.")
@click.version_option(package_name="kdigital", message="kdigital %(version)s", help="Version anzeigen.")
@click.pass_context
def cli(ctx: click.Context, workspace: Path, verbose: bool) -> None:
    """Schriftgut für das Kompetenzcenter kommunal digital aus Excel und Word.

    Liest inputs/roster.xlsx und inputs/cost_model.xlsx, füllt die Word-Vorlagen
    in templates/ und schreibt nach outputs/.

    Beispiel:

        kdigital -w kampagne-2022 letters
    """
    handler = _WarningHandler()
    root = logging.getLogger("kdigital")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False
    ctx.obj = _State(workspace.resolve(), verbose)


@cli.command()
@click.argument("directory", metavar="ORDNER", type=click.Path(file_okay=False, path_type=Path))
@_report_errors
def init(directory: Path) -> None:
    """Neuen Arbeitsbereich für eine Kampagne anlegen.

    Kopiert die mitgelieferten Arbeitsmappen (inputs/) und Word-Vorlagen
    (templates/) nach ORDNER; vorhandene Dateien werden nie überschrieben.

    Beispiel:

        kdigital init kampagne-2023
    """
    from kdigital.workspace import init_workspace

    ws = init_workspace(directory.resolve())
    click.echo(f"Arbeitsbereich angelegt: {ws.root}")
    click.echo(f"  Eingaben:  {ws.inputs}")
    click.echo(f"  Vorlagen:  {ws.templates}")
    click.echo(f"Weiter mit: kdigital -w {directory} check")


@cli.command()
@click.pass_obj
@_report_errors
def check(state: _State) -> None:
    """Arbeitsmappen und Vorlagen prüfen, ohne etwas zu schreiben.

    Meldet alle Fehler auf einmal: Fehler im Verzeichnis der Kommunen, im
    Blatt Kampagne und im Kostenmodell (mit Arbeitsmappe, Blatt, Zeile, Spalte
    und Wert), Syntaxfehler in Vorlagen und Platzhalter, die die Daten nicht
    liefern (z. B. ein Tippfehler wie {{ kommune.nmae }}).

    Beispiel:

        kdigital check
    """
    from kdigital.check import check_workspace

    ws = state.workspace()
    report = check_workspace(ws)
    for line in report.checked:
        click.echo(f"geprüft: {line}")
    if report.findings:
        raise ValidationError(report.findings, f"{len(report.findings)} Fehler gefunden")
    click.echo("Keine Fehler gefunden.")


def _progress(silent: bool):
    """A progress bar on stderr, hidden when silent or when stderr is not a terminal."""
    from kdigital.batch import Progress

    class Bar(Progress):
        bar = None

        def start(self, label: str, total: int) -> None:
            if not silent and sys.stderr.isatty():
                self.bar = click.progressbar(length=total, label=label, file=sys.stderr)
                self.bar.__enter__()

        def advance(self, n: int) -> None:
            if self.bar is not None:
                self.bar.update(n)

        def finish(self) -> None:
            if self.bar is not None:
                self.bar.__exit__(None, None, None)
                self.bar = None

    return Bar()


def _document_options(func):
    """The options every document command shares: --only, --pdf, --jobs, --silent."""
    for option in reversed([
        click.option("--only", "only", multiple=True, metavar="AGS",
                     help="Nur für diese Kommune(n) (AGS, mehrfach angebbar)."),
        click.option("--pdf", is_flag=True, help="Zusätzlich PDF/A-Dateien mit LibreOffice erzeugen."),
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                     help="Anzahl paralleler Prozesse (Vorgabe: alle Kerne bei großen Mengen)."),
        click.option("-s", "--silent", is_flag=True, help="Keinen Fortschrittsbalken zeigen."),
    ]):
        func = option(func)
    return func


def _raise_pdf_failures(failures: dict[str, str]) -> None:
    """Report PDFs that failed, by file, as a ConversionError (exit code 4)."""
    if failures:
        from kdigital.errors import ConversionError

        details = "\n".join(f"  - {name}: {reason}" for name, reason in sorted(failures.items()))
        raise ConversionError(f"{len(failures)} PDF-Datei(en) nicht erzeugt:\n{details}")


def _summary(rows: list[tuple[str, int, Path]], root: Path) -> None:
    width = max(len(r[0]) for r in rows)
    click.echo(f"{'Dokumente':<{width}}  {'Anzahl':>6}  Ordner")
    for label, count, folder in rows:
        try:
            shown = folder.relative_to(root)
        except ValueError:
            shown = folder
        click.echo(f"{label:<{width}}  {count:>6}  {shown}")


@cli.command()
@_document_options
@click.pass_obj
@_report_errors
def letters(state: _State, only: tuple[str, ...], pdf: bool, jobs: int | None, silent: bool) -> None:
    """Anschreiben (Interessensbekundung) für jede Kommune erzeugen.

    Schreibt outputs/letters/<AGS>_<name>.docx (mit --pdf auch .pdf):
    Anschreiben an die Bürgermeisterin oder den Bürgermeister mit
    Rückantwortformular. Erst wird alles geprüft; bei Fehlern wird nichts
    geschrieben.

    Beispiel:

        kdigital letters --only 06534014 --only 06534009 --pdf
    """
    from kdigital.letters import make_letters

    ws = state.workspace()
    run = make_letters(ws, only=only or None, pdf=pdf, workers=jobs, progress=_progress(silent))
    rows = [("Anschreiben (DOCX)", len(run.documents), run.folder)]
    if pdf:
        rows.append(("Anschreiben (PDF)", len(run.pdfs), run.folder))
        rows.append(("E-Mail-Entwürfe (EML)", len(run.drafts), run.folder / "mail"))
        if run.print_file:
            rows.append((f"Serienbrief Post ({run.print_file.name})", 1, run.folder))
    if run.removed:
        rows.append(("Veraltete Dateien entfernt", len(run.removed), run.folder))
    _summary(rows, ws.root)
    _raise_pdf_failures(run.pdf_failures)


@cli.command()
@_document_options
@click.pass_obj
@_report_errors
def costs(state: _State, only: tuple[str, ...], pdf: bool, jobs: int | None, silent: bool) -> None:
    """Kostenblätter je Kommune und die Kostenübersicht erzeugen.

    Rechnet aus inputs/cost_model.xlsx und den Einwohnerzahlen des
    Verzeichnisses die Szenarien „alle“, die benannten Szenarien und
    „Interesse“ und schreibt outputs/costs/<AGS>_<name>.docx (mit --pdf auch
    .pdf) sowie outputs/costs/kostenuebersicht.xlsx.

    Beispiel:

        kdigital costs --only 06534014
    """
    from kdigital.costsheets import make_costs, summary_rows

    ws = state.workspace()
    run = make_costs(ws, only=only or None, pdf=pdf, workers=jobs, progress=_progress(silent))
    table = [("Szenario", "Kommunen", "Einwohner", "Netto-Jahreskosten", "Satz je Einw.")] + summary_rows(run.scenarios, run.answers)
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    for row in table:
        click.echo("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
    click.echo()
    rows = [("Kostenblätter (DOCX)", len(run.documents), run.folder), ("Kostenübersicht (XLSX)", 1, run.folder)]
    if pdf:
        rows.append(("Kostenblätter (PDF)", len(run.pdfs), run.folder))
    if run.removed:
        rows.append(("Veraltete Dateien entfernt", len(run.removed), run.folder))
    _summary(rows, ws.root)
    _raise_pdf_failures(run.pdf_failures)


@cli.command()
@click.option("--pdf", is_flag=True, help="Zusätzlich PDF/A-Dateien mit LibreOffice erzeugen.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Anzahl paralleler Prozesse (Vorgabe: alle Kerne bei großen Mengen).")
@click.option("-s", "--silent", is_flag=True, help="Keinen Fortschrittsbalken zeigen.")
@click.pass_obj
@_report_errors
def agreement(state: _State, pdf: bool, jobs: int | None, silent: bool) -> None:
    """Öffentlich-rechtliche Vereinbarung mit allen Beteiligten erzeugen.

    Beteiligte sind die Kommunen mit „ja“ in der Spalte Interesse. Schreibt
    outputs/agreement/vereinbarung_<Version>.docx mit Kostenaufteilung
    (Anlage 1) und je Partei eine Unterschriftenseite unter
    outputs/agreement/unterschriften/. Version und Fingerprint ergeben sich
    aus dem Inhalt: gleiche Eingaben, gleicher Fingerprint.

    Beispiel:

        kdigital agreement --pdf
    """
    from kdigital import formatting
    from kdigital.agreement import make_agreement

    ws = state.workspace()
    run = make_agreement(ws, pdf=pdf, workers=jobs, progress=_progress(silent))
    click.echo(f"Beteiligte ({len(run.participants)}):")
    for m in run.participants:
        click.echo(f"  {m.ags}  {m.kind} {m.name}  ({formatting.integer(m.population)} Einwohner/innen)")
    click.echo(f"Netto-Jahreskosten: {formatting.money(run.net_cost)}")
    click.echo(f"Version: {run.version}")
    click.echo(f"Fingerprint: {run.fingerprint}")
    click.echo()
    rows = [("Vereinbarung (DOCX)", 1, run.folder),
            ("Unterschriftenseiten (DOCX)", len(run.signature_pages), run.document.parent / "unterschriften")]
    if pdf:
        rows.append(("PDF-Dateien", len(run.pdfs), run.folder))
    _summary(rows, ws.root)
    _raise_pdf_failures(run.pdf_failures)


@cli.command()
@click.argument("files", nargs=-1, required=True, metavar="DATEIEN...",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Anzahl paralleler LibreOffice-Prozesse (Vorgabe: bis zu 2).")
@click.option("-s", "--silent", is_flag=True, help="Keinen Fortschrittsbalken zeigen.")
@_report_errors
def pdf(files: tuple[Path, ...], jobs: int | None, silent: bool) -> None:
    """Vorhandene Word-Dateien (.docx) in PDF/A umwandeln.

    Schreibt jede PDF neben ihre .docx und prüft sie (lässt sich öffnen,
    enthält die Kennung, falls kdigital sie in die Dokumenteigenschaften
    geschrieben hat). Nicht umwandelbare Dateien werden einzeln gemeldet.

    Beispiel:

        kdigital pdf outputs/letters/06534014_marburg.docx
    """
    from kdigital.pdf import convert_files

    good, failures = convert_files([f.resolve() for f in files], _progress(silent), jobs)
    for path in good:
        click.echo(f"geschrieben: {path}")
    _raise_pdf_failures(failures)


def main() -> None:
    """Entry point of the console script."""
    cli(prog_name="kdigital")


# Commands defined in their own modules register themselves on the group.
import kdigital.cli_archive  # noqa: E402,F401
import kdigital.cli_dispatch  # noqa: E402,F401
import kdigital.cli_status  # noqa: E402,F401
