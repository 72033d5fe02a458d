"""The commands ``kdigital archive``, ``intake`` and ``verify`` (registered on ``kdigital.cli.cli``).

Only click and light kdigital modules are imported here; the archive stage
(pypdf, pikepdf, img2pdf, pypdfium2, zxing-cpp) is imported inside the
commands, so that ``kdigital --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from kdigital.cli import _progress, _report_errors, _State, cli
from kdigital.errors import ExitCode

# Exit statuses of these commands (see kdigital.errors.ExitCode).
EXIT_REJECTED = ExitCode.files_rejected
EXIT_MISMATCH = ExitCode.verification_failed

_KIND_HEADINGS = {"IB": "Rückantwort (IB)", "KB": "Kostenblatt (KB)", "VB": "Vereinbarung (VB)"}


def _returns_options(command):
    """The options ``archive`` and ``intake`` share: the returns folder and the progress bar."""
    command = _report_errors(command)
    command = click.pass_obj(command)
    command = click.option("-s", "--silent", is_flag=True, help="Keinen Fortschrittsbalken zeigen.")(command)
    return click.option("--returns", "returns", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Ordner mit den Rückläufen, mit Unterordnern (Vorgabe: inputs/returns).")(command)


@cli.command()
@_returns_options
def archive(state: _State, returns: Path | None, silent: bool) -> None:
    """Eingegangene Rückläufe prüfen und in einem Archivband ablegen.

    Liest jede Datei in inputs/returns (PDF, Scans als JPEG/PNG/TIFF, E-Mails
    als .eml mit ihren Anhängen) und ordnet sie über die QR-Codes auf ihren
    Seiten einer Kommune und Dokumentart zu; ein Scan mit Formularen mehrerer
    Kommunen wird dabei je Formular getrennt; ein mitgescannter ganzer Brief
    bleibt beim Formular, dessen QR-Code ihn als Seiten davor ausweist. Ohne
    lesbaren QR-Code zählt die aufgedruckte Kennung (z. B.
    KD-2022-IB-06534014) im Dateinamen oder im Text oder die AGS im
    Dateinamen; die Dokumentart dazu aus Dateiname oder Text (Rückantwort,
    Vereinbarung, Unterschrift), sonst – solange keine Vereinbarung erzeugt
    ist – als Rückantwort angenommen und vermerkt. Die Tabelle am Ende zeigt
    je Kommune, was bisher eingegangen ist: „eingegangen“ für Rückläufe
    dieses Laufs, „früher (Band …)“ für Rückläufe, die laut
    Kampagnenprotokoll schon in einem früheren Band archiviert sind; „–“, wo
    nichts erwartet wird (Vereinbarung nur von Kommunen mit Interesse „ja“
    und vom Landkreis). Eine Unterschriftsseite einer älteren Fassung
    der Vereinbarung wird aufgenommen und gemeldet. Jede Datei wird vor dem
    Zusammenführen geprüft; abgelehnte Dateien werden mit Grund gemeldet und
    bleiben, wo sie sind. Jede aufgenommene Datei wird im Kampagnenprotokoll
    (ledger.sqlite) als eingegangen und archiviert vermerkt.

    Schreibt outputs/archive/<Kampagne>_<Datum>_<n>.pdf (Deckblatt,
    Verzeichnis, Lesezeichen je Kommune), daneben <Band>.manifest.json und
    .csv (Herkunft und SHA-256 jeder Datei) und <Band>/originals/ mit jeder
    Datei unverändert. Digital signierte PDFs werden nicht umgeschrieben: der
    Band enthält eine Hinweisseite und das Original als Anhang. Ein früherer
    Band wird nie überschrieben.

    Rückgabewert: 0 alles aufgenommen, 6 Dateien abgelehnt (der Band der
    übrigen ist geschrieben), 1 Eingaben fehlerhaft, 3 QR-Leser fehlt.

    Beispiel:

        kdigital archive --returns ~/Postfach/Rueckläufe
    """
    from kdigital.archive import make_archive

    ws = state.workspace()
    run = make_archive(ws, returns=returns, progress=_progress(silent))
    if run.volume is not None:
        signed = sum(1 for p in run.placements if p.document.signature)
        duplicates = sum(1 for p in run.placements if p.duplicate)
        click.echo(f"Band:     {_relative(run.volume, ws.root)} ({run.pages} Seiten, {len(run.placements)} Dokumente, "
                   f"{signed} digital signiert, {duplicates} Duplikate)")
        click.echo(f"Manifest: {_relative(run.manifest, ws.root)} (und .csv)")
    else:
        click.echo("Kein Band geschrieben: keine Datei wurde angenommen.")
    click.echo()
    _status_table(run)
    if run.flagged:
        click.echo()
        click.echo(f"Bitte prüfen ({len(run.flagged)}) – aufgenommen, aber auffällig:")
        for placement in run.flagged:
            d = placement.document
            for flag in d.flags:
                click.echo(f"  {d.party.ags} {d.party.name}, {_KIND_HEADINGS[d.kind]} ({d.where}): {flag}")
    _rejected(run.rejected, "; der Band der übrigen ist geschrieben" if run.volume is not None else "")


def _rejected(rejected, kept: str) -> None:
    """List the rejected files and leave with EXIT_REJECTED when there are any."""
    if not rejected:
        return
    click.echo()
    click.echo(f"Abgelehnt ({len(rejected)}) – die Dateien liegen unverändert im Eingangsordner:")
    for rejection in rejected:
        click.echo(f"  {rejection}")
    click.echo(f"Fehler: {len(rejected)} Datei(en) abgelehnt (Gründe oben){kept}.", err=True)
    click.get_current_context().exit(int(EXIT_REJECTED))


@cli.command()
@_returns_options
def intake(state: _State, returns: Path | None, silent: bool) -> None:
    """Eingegangene Rückläufe nur zuordnen, ohne etwas zu schreiben.

    Prüft jede Datei in inputs/returns genau wie „kdigital archive“ (QR-Codes
    auf den Seiten, sonst Kennung im Dateinamen oder Text) und zeigt je Datei
    und je darin erkanntem Dokument: Kommune, Dokumentart, woran erkannt,
    Seiten, Hinweise – oder warum die Datei abgelehnt würde. Schreibt nichts,
    weder Band noch Kampagnenprotokoll.

    Rückgabewert: 0 alles zuzuordnen, 6 mindestens eine Datei würde
    abgelehnt, 1 Eingaben fehlerhaft, 3 QR-Leser fehlt.

    Beispiel:

        kdigital intake --returns ~/Postfach/Rueckläufe
    """
    from kdigital.archive import classify_returns

    ws = state.workspace()
    result, _, _ = classify_returns(ws, returns=returns, progress=_progress(silent))
    entries: dict[str, list[tuple[int, str]]] = {}
    for d in result.documents:
        line = "  ".join([_span(d.page_range), f"{d.party.ags} {d.party.name}", _KIND_HEADINGS[d.kind],
                          f"erkannt: {d.matched_by}"])
        line += "".join(f"\n      Bitte prüfen: {flag}" for flag in d.flags)
        entries.setdefault(_source(d), []).append((d.page_range[0], line))
    for r in result.rejected:
        span = f"{_span(r.source_range)}  " if r.source_range else ""
        entries.setdefault(_source(r), []).append((r.source_range[0] if r.source_range else 0,
                                                   f"{span}abgelehnt: {r.reason}"))
    for source in sorted(entries):
        click.echo(source)
        for _, line in sorted(entries[source], key=lambda e: e[0]):
            click.echo(f"  {line}")
    click.echo()
    click.echo(f"{len(result.documents)} Dokument(e) zuzuordnen, {len(result.rejected)} abgelehnt – nichts "
               "geschrieben.")
    if result.rejected:
        click.echo(f"Fehler: {len(result.rejected)} Datei(en) würden abgelehnt (Gründe oben).", err=True)
        click.get_current_context().exit(int(EXIT_REJECTED))


def _source(item) -> str:
    return item.shown + (f", Anhang „{item.part}“" if item.part else "")


def _span(pages: tuple[int, int]) -> str:
    return f"Seite {pages[0]}" if pages[0] == pages[1] else f"Seiten {pages[0]}–{pages[1]}"


def _status_table(run) -> None:
    from kdigital.archive import AGREEMENT_KIND, tally

    heads = ["AGS", "Partei"] + [_KIND_HEADINGS[k] for k in run.kinds]
    rows = [[s.party.ags, s.party.name] + [s.cell(kind) for kind in run.kinds] for s in run.status]
    rows.append(["", "eingegangen"] + [tally(run.status, kind) for kind in run.kinds])
    widths = [max(len(r[i]) for r in [heads] + rows) for i in range(len(heads))]
    for row in [heads] + rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if any(s.earlier for s in run.status):
        click.echo("eingegangen: in diesem Lauf; früher: laut Kampagnenprotokoll schon in einem früheren Band "
                   "archiviert (Summen zählen beides)")
    if AGREEMENT_KIND in run.kinds:
        click.echo("– nicht erwartet: die Vereinbarung unterschreiben nur Kommunen mit Interesse „ja“ und der "
                   "Landkreis")


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


@cli.command()
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@_report_errors
def verify(manifest: Path) -> None:
    """Prüfsummen eines Archivbands nachrechnen.

    Liest MANIFEST (<Band>.manifest.json) und berechnet den SHA-256 des
    Bandes, jeder Kopie in <Band>/originals/ und jeder Quelldatei, die noch im
    Eingangsordner liegt, neu. Meldet jede Abweichung und jede fehlende
    Archivdatei.

    Rückgabewert: 0 wenn alles stimmt, 7 bei einer Abweichung oder fehlenden
    Archivdatei, 1 wenn MANIFEST kein Manifest ist.

    Beispiel:

        kdigital verify outputs/archive/KD-2022_2022-04-11_1.manifest.json
    """
    from kdigital.manifest import verify_manifest

    result = verify_manifest(manifest.resolve())
    width = max(len(c.status) for c in result.checks)
    for check in result.checks:
        line = f"{check.status:<{width}}  {check.what:<6}  {check.path}"
        if check.actual is not None and not check.ok:
            line += f" (erwartet {check.expected[:16]}…, gefunden {check.actual[:16]}…)"
        click.echo(line)
    counted = [c for c in result.checks if c.actual is not None or c.required]
    if result.ok:
        click.echo(f"Alle {len(counted)} Prüfsummen stimmen.")
        return
    click.echo(f"Fehler: {len(result.failures)} von {len(counted)} Prüfungen fehlgeschlagen – "
               "der Band oder seine Originale sind nicht mehr unverändert.", err=True)
    click.get_current_context().exit(int(EXIT_MISMATCH))
