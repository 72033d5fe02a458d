"""The ``kdigital send`` command: the e-mail drafts out over SMTP, recorded in the ledger.

Registered on the ``kdigital`` group when ``kdigital.cli`` imports this module.
Only click and the CLI module are imported at the top, so ``kdigital --help``
stays fast; the dispatch stage is imported inside the command.
"""

from __future__ import annotations

from pathlib import Path

import click

from kdigital.cli import _progress, _report_errors, _State, cli

_STATUS = {"sent": "gesendet", "planned": "würde gesendet", "skipped": "übersprungen", "failed": "FEHLER"}


@cli.command()
@click.option("--host", envvar="KDIGITAL_SMTP_HOST", metavar="SERVER",
              help="Mailserver (SMTP); auch aus KDIGITAL_SMTP_HOST. Für --yes nötig.")
@click.option("--port", type=click.IntRange(1, 65535), default=587, show_default=True,
              help="Port des Mailservers.")
@click.option("--starttls/--no-starttls", default=True, show_default=True,
              help="Verbindung mit STARTTLS verschlüsseln; --no-starttls nur im internen Netz.")
@click.option("--user", envvar="KDIGITAL_SMTP_USER", metavar="NAME",
              help="Benutzer für die Anmeldung; auch aus KDIGITAL_SMTP_USER. Das Passwort kommt nur aus "
                   "der Umgebungsvariablen KDIGITAL_SMTP_PASSWORD.")
@click.option("--yes", "really", is_flag=True,
              help="Wirklich senden. Ohne --yes ein Probelauf: zeigt nur, was gesendet würde.")
@click.option("--resend", is_flag=True,
              help="Auch erneut senden, was laut Kampagnenprotokoll schon gesendet wurde.")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Ordner mit den E-Mail-Entwürfen (Vorgabe: outputs/letters/mail).")
@click.option("-s", "--silent", is_flag=True, help="Keinen Fortschrittsbalken zeigen.")
@click.pass_obj
@_report_errors
def send(state: _State, host: str | None, port: int, starttls: bool, user: str | None, really: bool,
         resend: bool, folder: Path | None, silent: bool) -> None:
    """E-Mail-Entwürfe an die Kommunen senden (SMTP).

    Sendet die .eml-Entwürfe aus outputs/letters/mail (von „letters --pdf“)
    an die Adressen aus dem Verzeichnis der Kommunen. Ohne --yes ist es ein
    Probelauf, der keine Verbindung aufbaut. Jede gesendete E-Mail wird im
    Kampagnenprotokoll ledger.sqlite vermerkt; was dort als gesendet steht,
    wird nicht noch einmal gesendet (außer mit --resend), auch wenn outputs/
    gelöscht und neu erzeugt wurde. Danach steht die Versandliste in
    outputs/letters/versand.xlsx.

    Beispiel:

        kdigital send --host mail.example.org --user versand

        kdigital send --host mail.example.org --user versand --yes
    """
    from kdigital import dispatch
    from kdigital.inputs import load_inputs
    from kdigital.ledger import SENT, Ledger
    from kdigital.letters import FOLDER, KIND

    ws = state.workspace()
    folder = folder.resolve() if folder else ws.outputs / FOLDER / "mail"
    if really and not host:
        raise click.UsageError("Zum Senden (--yes) den Mailserver mit --host angeben.")
    inputs = load_inputs(ws)
    settings = dispatch.SmtpSettings.from_environment(host or "", port, starttls, user)
    report = dispatch.send_drafts(ws.root, folder, settings, really=really, resend=resend,
                                  roster=inputs.roster, roster_source=ws.roster.name,
                                  progress=_progress(silent))
    if not report.outcomes:
        click.echo(f"Keine E-Mail-Entwürfe in {folder}.")
        return
    _table(report, {m.ags: f"{m.kind} {m.name}" for m in inputs.roster}, dispatch.TIMEZONE)
    counts = {status: len(report.having(status)) for status in _STATUS}
    if not really:
        click.echo(f"Probelauf – nichts gesendet: {counts['planned']} würden gesendet, "
                   f"{counts['skipped']} übersprungen (schon gesendet). Zum Senden --yes angeben.")
        return
    click.echo(f"{counts['sent']} gesendet, {counts['skipped']} übersprungen (schon gesendet), "
               f"{counts['failed']} fehlgeschlagen.")
    with Ledger.open(ws.root) as ledger:
        events = ledger.events(SENT, kind=KIND, campaign=inputs.campaign.campaign_id)
    target = ws.outputs / FOLDER / "versand.xlsx"
    dispatch.write_dispatch_list(target, dispatch.dispatch_rows(inputs.roster, events, KIND))
    click.echo(f"Versandliste: {target.relative_to(ws.root) if target.is_relative_to(ws.root) else target}")
    failed = report.having("failed")
    if failed:
        details = "\n".join(f"  - {o.draft.name} ({o.recipient}): {o.reason}" for o in failed)
        raise dispatch.DispatchError(f"{len(failed)} E-Mail(s) nicht gesendet:\n{details}")


def _table(report, names: dict[str, str], tz) -> None:
    rows = [("AGS", "Kommune", "Empfänger", "Status")]
    for o in report.outcomes:
        status = _STATUS[o.status]
        if o.status == "skipped" and o.when:
            status += f" (gesendet am {o.when.astimezone(tz).strftime('%d.%m.%Y %H:%M')})"
        elif o.reason:
            status += f": {o.reason}"
        rows.append((o.ags, names.get(o.ags, ""), o.recipient, status))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
