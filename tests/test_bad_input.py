"""Bad input: every problem of the workbooks and templates is reported at once, in German, with its place.

Each test edits copies of the shipped workbooks (real .xlsx, written and read back by
openpyxl) and checks the findings of ``kdigital.inputs.collect`` or the messages of the
command line: workbook, sheet, row, column and value named, exit status 1, no traceback
and nothing written below ``outputs/``.
"""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
from click.testing import CliRunner, Result
from conftest import edit_sheet, files_under, roster_row, set_setting
from lxml import etree

from kdigital.cli import cli
from kdigital.errors import Finding
from kdigital.inputs import collect
from kdigital.letters import TEMPLATE
from kdigital.roster import REQUIRED_VALUES
from kdigital.workspace import Workspace

MARBURG = "06534014"  # Versand "E-Mail", Oberbürgermeister, Dr.
ROSTER = "roster.xlsx"
COSTS = "cost_model.xlsx"
AMOUNT = "Betrag je Einheit (EUR/Jahr)"
SOURCE_NOTE = "Quelle / Annahme"


# -- builders and helpers ---------------------------------------------------------------


def invoke(ws: Workspace, *args: str) -> Result:
    """Run ``kdigital -w <ws> <args>`` in-process."""
    return CliRunner().invoke(cli, ["-w", str(ws.root), *args])


def assert_rejected(result: Result, ws: Workspace, *fragments: str) -> None:
    """Exit 1, each fragment on stderr, no traceback, and ``outputs/`` without any entry."""
    assert result.exit_code == 1, (result.output, result.exception)
    # A non-kdigital exception would be caught by CliRunner (and be a traceback for the user).
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Fehler: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} fehlt in:\n{result.stderr}"
    # Nothing written, not even a hidden staging folder.
    assert sorted(os.listdir(ws.outputs)) == []


def find(findings: list[Finding], **expected: Any) -> Finding:
    """The one finding whose attributes equal ``expected`` (``message`` matches as a fragment)."""
    fragment = expected.pop("message", "")
    hits = [f for f in findings
            if fragment in f.message and all(getattr(f, k) == v for k, v in expected.items())]
    assert len(hits) == 1, f"erwartet genau einen Befund {fragment!r} {expected}, gefunden:\n" + "\n".join(map(str, findings))
    return hits[0]


def rejected_findings(ws: Workspace) -> list[Finding]:
    """The findings of ``collect``, which must have refused the inputs."""
    inputs, findings = collect(ws)
    assert inputs is None
    assert findings
    return findings


def accepted(ws: Workspace):
    """The inputs of ``collect``, which must have found nothing."""
    inputs, findings = collect(ws)
    assert findings == [], "\n".join(map(str, findings))
    return inputs


def marburg(ws: Workspace, **cells: Any) -> int:
    """Set cells of Marburg's roster row (``Straße`` via ``Strasse``) and return the row."""
    row = roster_row(ws, MARBURG)
    edit_sheet(ws.roster, "Kommunen", {(row, column.replace("Strasse", "Straße").replace("_", " ")): value
                                 for column, value in cells.items()})
    return row


def rename_header(path: Path, sheet: str, old: str, new: str) -> None:
    """Rename a header cell in row 1 of ``sheet``."""
    wb = openpyxl.load_workbook(path)
    for cell in wb[sheet][1]:
        if cell.value == old:
            cell.value = new
    wb.save(path)


def rename_sheet(path: Path, old: str, new: str) -> None:
    wb = openpyxl.load_workbook(path)
    wb[old].title = new
    wb.save(path)


def setting_row(path: Path, sheet: str, key: str) -> int:
    """The Excel row of ``key`` in a key/value sheet."""
    wb = openpyxl.load_workbook(path, read_only=True)
    for number, (value,) in enumerate(wb[sheet].iter_rows(min_row=2, max_col=1, values_only=True), start=2):
        if value == key:
            return number
    raise KeyError(key)


def delete_setting(path: Path, sheet: str, key: str) -> None:
    """Remove the row of ``key`` from a key/value sheet."""
    row = setting_row(path, sheet, key)
    wb = openpyxl.load_workbook(path)
    wb[sheet].delete_rows(row)
    wb.save(path)


def where(source: str, sheet: str, row: int, column: str) -> str:
    """A finding's location as the command line prints it."""
    return f"{source}, Blatt „{sheet}“, Zeile {row}, Spalte „{column}“"


def input_bytes(ws: Workspace) -> dict[str, bytes]:
    return {**files_under(ws.inputs), **{f"templates/{k}": v for k, v in files_under(ws.templates).items()}}


# -- roster: one bad cell -------------------------------------------------------------------

BAD_CELLS = [
    # (column, value, fragment of the message, value in the finding)
    ("AGS", "0653401", "muss aus genau 8 Ziffern bestehen", "0653401"),
    ("AGS", "065340141", "muss aus genau 8 Ziffern bestehen", "065340141"),
    ("AGS", "0653401X", "muss aus genau 8 Ziffern bestehen", "0653401X"),
    ("AGS", 6534014.5, "muss aus genau 8 Ziffern bestehen", 6534014.5),
    ("AGS", -6534014, "muss aus genau 8 Ziffern bestehen", -6534014),
    ("AGS", "٠٦٥٣٤٠١٤", "muss aus genau 8 Ziffern bestehen", "٠٦٥٣٤٠١٤"),  # Arabic-Indic digits
    ("PLZ", "3503", "muss aus genau 5 Ziffern bestehen", "3503"),
    ("Einwohner", 0, "muss eine positive ganze Zahl sein", 0),
    ("Einwohner", -73544, "muss eine positive ganze Zahl sein", -73544),
    ("Einwohner", 12345.5, "muss eine positive ganze Zahl sein", 12345.5),
    ("Einwohner", "12,5", "muss eine positive ganze Zahl sein", "12,5"),
    ("Einwohner", "1.5", "muss eine positive ganze Zahl sein", "1.5"),
    ("Einwohner", "viele", "muss eine positive ganze Zahl sein", "viele"),
    ("Einwohner", "Infinity", "muss eine positive ganze Zahl sein", "Infinity"),
    ("Einwohner", "NaN", "muss eine positive ganze Zahl sein", "NaN"),
    ("Art", "Dorf", "unbekannter Wert; erlaubt: Stadt, Gemeinde, Universitätsstadt", "Dorf"),
    ("Amt", "Landrat", "unbekannter Wert; erlaubt: Bürgermeister, Bürgermeisterin, Oberbürgermeister", "Landrat"),
    ("Versand", "Fax", "unbekannter Wert; erlaubt: E-Mail, Post, E-Mail und Post", "Fax"),
    ("IKZ GDI", "vielleicht", "unbekannter Wert; erlaubt: ja oder nein", "vielleicht"),
    ("IKZ OZG", "1", "unbekannter Wert; erlaubt: ja oder nein", "1"),
    ("Interesse", "jein", "unbekannter Wert; erlaubt: ja, nein oder leer", "jein"),
    ("E-Mail", "poststelle(at)marburg.example", "ist keine gültige E-Mail-Adresse", "poststelle(at)marburg.example"),
    ("E-Mail", "poststelle@marburg", "ist keine gültige E-Mail-Adresse", "poststelle@marburg"),
    ("E-Mail", "a@marburg.example, b@marburg.example", "ist keine gültige E-Mail-Adresse",
     "a@marburg.example, b@marburg.example"),
    ("Eingang", "gestern", "ist kein Datum", "gestern"),
    ("Eingang", "31.02.2022", "ist kein Datum", "31.02.2022"),
]


@pytest.mark.parametrize("column, value, message, shown", BAD_CELLS, ids=lambda v: repr(v)[:30])
def test_bad_roster_cell_is_a_finding_with_its_place(workspace, column, value, message, shown):
    row = marburg(workspace, **{column.replace(" ", "_"): value})
    finding = find(rejected_findings(workspace), source=ROSTER, sheet="Kommunen", row=row, column=column,
                   message=message)
    assert finding.value == shown


@pytest.mark.parametrize("column, value, message, shown", [BAD_CELLS[0], BAD_CELLS[7], BAD_CELLS[17], BAD_CELLS[21]],
                         ids=["AGS", "Einwohner", "Versand", "E-Mail"])
def test_bad_roster_cell_on_the_command_line(workspace, column, value, message, shown):
    row = marburg(workspace, **{column.replace(" ", "_"): value})
    result = invoke(workspace, "letters")
    assert_rejected(result, workspace, "nichts geschrieben",
                    f"{where(ROSTER, 'Kommunen', row, column)}: {message}", f"(Wert: {shown!r})")


@pytest.mark.parametrize("column", REQUIRED_VALUES)
def test_empty_required_cell(workspace, column):
    row = marburg(workspace, **{column.replace(" ", "_"): None})
    find(rejected_findings(workspace), source=ROSTER, sheet="Kommunen", row=row, column=column,
         message="Pflichtfeld ist leer")


@pytest.mark.parametrize("column", ["Name", "Nachname"])
def test_blank_name_counts_as_empty(workspace, column):
    row = marburg(workspace, **{column: "   "})
    result = invoke(workspace, "letters")
    assert_rejected(result, workspace, f"{where(ROSTER, 'Kommunen', row, column)}: Pflichtfeld ist leer")


@pytest.mark.parametrize("channel", ["E-Mail", "E-Mail und Post"])
def test_email_missing_where_sent_by_email(workspace, channel):
    row = marburg(workspace, **{"E-Mail": None, "Versand": channel})
    find(rejected_findings(workspace), source=ROSTER, sheet="Kommunen", row=row, column="E-Mail",
         message=f"fehlt, obwohl Versand „{channel}“ ist")


def test_duplicate_ags_names_both_rows(workspace):
    first, second = roster_row(workspace, "06534001"), roster_row(workspace, "06534002")
    edit_sheet(workspace.roster, "Kommunen", {(second, "AGS"): "06534001"})
    finding = find(rejected_findings(workspace), source=ROSTER, sheet="Kommunen", row=second, column="AGS",
                   message=f"AGS doppelt (schon in Zeile {first})")
    assert finding.value == "06534001"


def test_duplicate_ags_as_number_is_still_a_duplicate(workspace):
    first, second = roster_row(workspace, "06534001"), roster_row(workspace, "06534002")
    edit_sheet(workspace.roster, "Kommunen", {(second, "AGS"): 6534001})
    find(rejected_findings(workspace), row=second, column="AGS", message=f"schon in Zeile {first}")


def test_duplicate_ags_reported_together_with_other_errors_of_the_row(workspace):
    # Regression: a duplicate in a row that had another problem was not reported.
    first, second = roster_row(workspace, "06534001"), roster_row(workspace, "06534002")
    edit_sheet(workspace.roster, "Kommunen", {(first, "Amt"): "Landrat", (second, "AGS"): "06534001",
                                              (second, "Einwohner"): "viele"})
    findings = rejected_findings(workspace)
    find(findings, row=first, column="Amt", value="Landrat")
    find(findings, row=second, column="Einwohner", value="viele")
    find(findings, row=second, column="AGS", message=f"AGS doppelt (schon in Zeile {first})")


# -- roster: structure -----------------------------------------------------------------------


def test_missing_roster_sheet(workspace):
    rename_sheet(workspace.roster, "Kommunen", "Gemeinden")
    find(rejected_findings(workspace), source=ROSTER, message="Blatt „Kommunen“ fehlt (vorhanden: Gemeinden")
    assert_rejected(invoke(workspace, "letters"), workspace, f"{ROSTER}: Blatt „Kommunen“ fehlt")


def test_missing_required_column_and_cells_still_checked(workspace):
    rename_header(workspace.roster, "Kommunen", "Einwohner", "EW")
    row = marburg(workspace, Amt="Landrat")
    findings = rejected_findings(workspace)
    find(findings, source=ROSTER, sheet="Kommunen", row=1, column="Einwohner", message="Pflichtspalte „Einwohner“ fehlt")
    find(findings, row=row, column="Amt", value="Landrat")
    assert_rejected(invoke(workspace, "letters"), workspace,
                    f"{where(ROSTER, 'Kommunen', 1, 'Einwohner')}: Pflichtspalte „Einwohner“ fehlt in der Kopfzeile")


def test_roster_without_municipalities(workspace):
    wb = openpyxl.load_workbook(workspace.roster)
    wb["Kommunen"].delete_rows(2, 100)
    wb.save(workspace.roster)
    find(rejected_findings(workspace), source=ROSTER, sheet="Kommunen", message="enthält keine Kommunen")


# -- roster: what is accepted --------------------------------------------------------------


@pytest.mark.parametrize("value", [6534014, 6534014.0, " 06534014 "])
def test_ags_stored_as_number_is_padded(workspace, value):
    marburg(workspace, AGS=value)
    assert MARBURG in {m.ags for m in accepted(workspace).roster}


def test_ags_as_number_writes_the_padded_file_name(workspace):
    marburg(workspace, AGS=6534014)
    result = invoke(workspace, "letters", "--only", "6534014")
    assert result.exit_code == 0, result.output
    assert list(files_under(workspace.outputs)) == [f"letters/{MARBURG}_marburg.docx"]


@pytest.mark.parametrize("value", [12345, 12345.0, "12345", "12.345", "12345.0", " 12345 ", "12 345"])
def test_population_variants(workspace, value):
    marburg(workspace, Einwohner=value)
    m = next(m for m in accepted(workspace).roster if m.ags == MARBURG)
    assert m.population == 12345


@pytest.mark.parametrize("value, channel", [
    ("e-mail und post", "E-Mail und Post"), ("Post und E-Mail", "E-Mail und Post"), ("EMAIL", "E-Mail"),
    (" post ", "Post"), ("E-Mail", "E-Mail"),
])
def test_channel_variants(workspace, value, channel):
    marburg(workspace, Versand=value)
    m = next(m for m in accepted(workspace).roster if m.ags == MARBURG)
    assert m.channel == channel


def test_yes_no_date_and_post_only_variants(workspace):
    marburg(workspace, IKZ_GDI="JA", IKZ_OZG=" Nein ", Interesse="Ja", Eingang="08.04.2022")
    other = roster_row(workspace, "06534002")  # Versand Post: no e-mail needed
    edit_sheet(workspace.roster, "Kommunen", {(other, "E-Mail"): None, (other, "Eingang"): dt.datetime(2022, 4, 8),
                                        (other, "Interesse"): "nein"})
    roster = {m.ags: m for m in accepted(workspace).roster}
    m, o = roster[MARBURG], roster["06534002"]
    assert (m.ikz_gdi, m.ikz_ozg, m.interest, m.received) == (True, False, True, dt.date(2022, 4, 8))
    assert (o.email, o.interest, o.received) == ("", False, dt.date(2022, 4, 8))


# -- Kampagne sheet ----------------------------------------------------------------------------


@pytest.mark.parametrize("key, value", [("Rückmeldefrist", "bald"), ("Briefdatum", "32.03.2022"),
                                        ("Einwohner Stichtag", "Ende 2024")])
def test_campaign_date_that_is_no_date(workspace, key, value):
    set_setting(workspace.roster, "Kampagne", key, value)
    row = setting_row(workspace.roster, "Kampagne", key)
    find(rejected_findings(workspace), source=ROSTER, sheet="Kampagne", row=row, column="Wert", value=value,
         message=f"„{key}“ ist kein Datum")
    assert_rejected(invoke(workspace, "letters"), workspace,
                    f"{where(ROSTER, 'Kampagne', row, 'Wert')}: „{key}“ ist kein Datum", f"(Wert: {value!r})")


def test_campaign_missing_key(workspace):
    delete_setting(workspace.roster, "Kampagne", "Bezug TOP")
    find(rejected_findings(workspace), source=ROSTER, sheet="Kampagne", message="Schlüssel „Bezug TOP“ fehlt")


def test_campaign_empty_value(workspace):
    set_setting(workspace.roster, "Kampagne", "Unterzeichner/in", None)
    row = setting_row(workspace.roster, "Kampagne", "Unterzeichner/in")
    find(rejected_findings(workspace), sheet="Kampagne", row=row, column="Wert",
         message="Wert für „Unterzeichner/in“ fehlt")


def test_campaign_bad_email(workspace):
    set_setting(workspace.roster, "Kampagne", "Funktionspostfach", "kein Postfach")
    find(rejected_findings(workspace), sheet="Kampagne", column="Wert", value="kein Postfach",
         message="„Funktionspostfach“ ist keine gültige E-Mail-Adresse")


def test_campaign_sheet_missing(workspace):
    rename_sheet(workspace.roster, "Kampagne", "Einstellungen")
    find(rejected_findings(workspace), source=ROSTER, message="Blatt „Kampagne“ fehlt")


@pytest.mark.parametrize("deadline", [dt.datetime(2022, 3, 25), dt.datetime(2022, 3, 1)], ids=["same-day", "before"])
def test_deadline_not_after_letter_date_is_a_warning(workspace, deadline):
    set_setting(workspace.roster, "Kampagne", "Rückmeldefrist", deadline)
    result = invoke(workspace, "letters", "--only", MARBURG)
    assert result.exit_code == 0, result.output
    assert "Warnung: Die Rückmeldefrist" in result.stderr
    assert "nicht nach dem Briefdatum (25.03.2022)" in result.stderr
    assert list(files_under(workspace.outputs)) == [f"letters/{MARBURG}_marburg.docx"]


# -- cost model ----------------------------------------------------------------------------------


@pytest.mark.parametrize("row, column, value, message", [
    (2, "Kategorie", "Reisekosten", "unbekannter Wert; erlaubt: Personal, Sachkosten, Einnahme"),
    (3, AMOUNT, -84000, "muss ein Betrag ≥ 0 sein"),
    (3, AMOUNT, "viel", "muss ein Betrag ≥ 0 sein"),
    (3, AMOUNT, "NaN", "muss ein Betrag ≥ 0 sein"),
    (3, AMOUNT, "Infinity", "muss ein Betrag ≥ 0 sein"),
    (3, AMOUNT, "84.5", "muss ein Betrag ≥ 0 sein"),  # a dot that groups no thousands: ambiguous
    (3, AMOUNT, "1.2345,00", "muss ein Betrag ≥ 0 sein"),
    (4, "Menge", -1, "muss eine Zahl ≥ 0 sein"),
    (5, "Berücksichtigen", "vielleicht", "unbekannter Wert; erlaubt: ja, nein"),
], ids=lambda v: repr(v)[:20])
def test_bad_cost_cell(workspace, row, column, value, message):
    edit_sheet(workspace.cost_model, "Kosten", {(row, column): value})
    find(rejected_findings(workspace), source=COSTS, sheet="Kosten", row=row, column=column, value=value,
         message=message)
    assert_rejected(invoke(workspace, "letters"), workspace,
                    f"{where(COSTS, 'Kosten', row, column)}: {message}", f"(Wert: {value!r})")


def test_cost_without_source_note(workspace):
    edit_sheet(workspace.cost_model, "Kosten", {(4, SOURCE_NOTE): None})
    find(rejected_findings(workspace), source=COSTS, sheet="Kosten", row=4, column=SOURCE_NOTE,
         message="braucht eine Quelle oder den Vermerk „Annahme“")


def test_cost_sheet_without_source_column(workspace):
    rename_header(workspace.cost_model, "Kosten", SOURCE_NOTE, "Bemerkung")
    find(rejected_findings(workspace), source=COSTS, sheet="Kosten", row=1, column=SOURCE_NOTE,
         message="Pflichtspalte")


def test_scenario_ags_not_in_roster(workspace):
    edit_sheet(workspace.cost_model, "Szenarien", {(5, "AGS"): "06539999"})
    finding = find(rejected_findings(workspace), source=COSTS, sheet="Szenarien", column="AGS", value="06539999",
                   message="steht nicht im Verzeichnis der Kommunen")
    assert finding.row == 5
    assert_rejected(invoke(workspace, "letters"), workspace,
                    f"{where(COSTS, 'Szenarien', 5, 'AGS')}: AGS 06539999 aus Szenario „15 Kommunen")


def test_scenario_ags_not_in_roster_is_reported_beside_every_other_error(workspace):
    edit_sheet(workspace.cost_model, "Szenarien", {(5, "AGS"): "06539999"})
    edit_sheet(workspace.cost_model, "Kosten", {(3, AMOUNT): -1})
    row = marburg(workspace, Einwohner="viele")
    findings = rejected_findings(workspace)
    find(findings, source=COSTS, sheet="Szenarien", row=5, column="AGS", value="06539999",
         message="steht nicht im Verzeichnis der Kommunen")
    find(findings, source=COSTS, sheet="Kosten", row=3, column=AMOUNT, value=-1)
    find(findings, sheet="Kommunen", row=row, column="Einwohner", value="viele")
    # Marburg's row has an error, but its AGS is known: it is no "unknown AGS" in a scenario
    assert not [f for f in findings if MARBURG in f.message and "Verzeichnis" in f.message]


@pytest.mark.parametrize("text, amount", [("84.000", 84000), ("84.000,50", "84000.50"), ("1.234.567", 1234567),
                                          ("84000", 84000), ("84,5", "84.5"), ("84 000 €", 84000)])
def test_amounts_typed_as_german_text_are_read_the_german_way(workspace, text, amount):
    from decimal import Decimal

    edit_sheet(workspace.cost_model, "Kosten", {(3, AMOUNT): text})
    model = accepted(workspace).cost_model
    item = next(i for i in model.items if i.row == 3)
    assert item.unit_amount == Decimal(str(amount))


def test_scenario_ags_malformed(workspace):
    edit_sheet(workspace.cost_model, "Szenarien", {(6, "AGS"): "123"})
    find(rejected_findings(workspace), source=COSTS, sheet="Szenarien", row=6, column="AGS", value="123",
         message="muss aus genau 8 Ziffern bestehen")


def test_reserved_scenario_name(workspace):
    edit_sheet(workspace.cost_model, "Szenarien", {(7, "Szenario"): "Alle"})
    find(rejected_findings(workspace), source=COSTS, sheet="Szenarien", row=7, column="Szenario", value="Alle",
         message="„Alle“ ist reserviert")


@pytest.mark.parametrize("value", [15, 10.5, "12,5"])
def test_fte_outside_zero_to_ten(workspace, value):
    edit_sheet(workspace.cost_model, "Kosten", {(2, "Menge"): value})
    find(rejected_findings(workspace), source=COSTS, sheet="Kosten", row=2, column="Menge",
         message="Stellenanteil (VZÄ) muss zwischen 0 und 10 liegen")


def test_named_scenario_without_members(workspace):
    wb = openpyxl.load_workbook(workspace.cost_model)
    wb["Szenarien"].append(["Leeres Szenario", None, None])
    row = wb["Szenarien"].max_row
    wb.save(workspace.cost_model)
    find(rejected_findings(workspace), source=COSTS, sheet="Szenarien", row=row, column="AGS",
         message="Szenario „Leeres Szenario“ hat keine Mitglieder")


@pytest.mark.parametrize("column, value, message", [
    ("IKZ", "Breitband", "unbekannte IKZ"),
    ("Berechnung", "monatlich", "erlaubt: je Einwohner, pauschal"),
    ("Betrag (EUR/Jahr)", -1, "muss ein Betrag ≥ 0 sein"),
    ("Betrag (EUR/Jahr)", "viel", "muss ein Betrag ≥ 0 sein"),
    ("Quelle / Annahme", None, "Quelle oder den Vermerk"),
])
def test_bad_ikz_contribution(workspace, column, value, message):
    edit_sheet(workspace.cost_model, "IKZ-Beiträge", {(3, column): value})
    find(rejected_findings(workspace), source=COSTS, sheet="IKZ-Beiträge", row=3, column=column, message=message)


def test_comparison_scenario_that_does_not_exist(workspace):
    set_setting(workspace.cost_model, "Parameter", "Vergleichsszenario im Brief", "12 Kommunen")
    find(rejected_findings(workspace), source=COSTS, sheet="Parameter", row=2, column="Wert", value="12 Kommunen",
         message="nennt kein Szenario aus dem Blatt „Szenarien“ (vorhanden: 15 Kommunen (IKZ Cybersicherheit))")


# -- all at once ------------------------------------------------------------------------------------


def break_everything(ws: Workspace) -> list[str]:
    """Put errors into different rows of both workbooks; the lines the CLI must print."""
    rows = {ags: roster_row(ws, ags) for ags in ("06534002", "06534004", "06534006", "06534009")}
    edit_sheet(ws.roster, "Kommunen", {
        (rows["06534002"], "AGS"): "6534002",
        (rows["06534004"], "Einwohner"): "viele",
        (rows["06534006"], "Amt"): "Landrat",
        (rows["06534009"], "E-Mail"): "kein-at-zeichen.example",
    })
    set_setting(ws.roster, "Kampagne", "Rückmeldefrist", "bald")
    edit_sheet(ws.cost_model, "Kosten", {(2, "Kategorie"): "Reisekosten", (3, AMOUNT): -1})
    set_setting(ws.cost_model, "Parameter", "Vergleichsszenario im Brief", "12 Kommunen")
    deadline = setting_row(ws.roster, "Kampagne", "Rückmeldefrist")
    return [
        f"{where(ROSTER, 'Kommunen', rows['06534002'], 'AGS')}: muss aus genau 8 Ziffern bestehen (Wert: '6534002')",
        f"{where(ROSTER, 'Kommunen', rows['06534004'], 'Einwohner')}: muss eine positive ganze Zahl sein (Wert: 'viele')",
        f"{where(ROSTER, 'Kommunen', rows['06534006'], 'Amt')}: unbekannter Wert",
        f"{where(ROSTER, 'Kommunen', rows['06534009'], 'E-Mail')}: ist keine gültige E-Mail-Adresse "
        f"(Wert: 'kein-at-zeichen.example')",
        f"{where(ROSTER, 'Kampagne', deadline, 'Wert')}: „Rückmeldefrist“ ist kein Datum (erwartet z. B. 08.04.2022) "
        f"(Wert: 'bald')",
        f"{where(COSTS, 'Kosten', 2, 'Kategorie')}: unbekannter Wert; erlaubt: Personal, Sachkosten, Einnahme, Förderung "
        f"(Wert: 'Reisekosten')",
        f"{where(COSTS, 'Kosten', 3, AMOUNT)}: muss ein Betrag ≥ 0 sein (Wert: -1)",
        f"{where(COSTS, 'Parameter', 2, 'Wert')}: „Vergleichsszenario im Brief“ nennt kein Szenario",
    ]


def finding_lines(stderr: str) -> list[str]:
    return [line[4:] for line in stderr.splitlines() if line.startswith("  - ")]


def test_all_errors_of_both_workbooks_in_one_run(workspace):
    expected = break_everything(workspace)
    before = input_bytes(workspace)
    result = invoke(workspace, "letters")
    assert_rejected(result, workspace, f"Fehler: {len(expected)} Fehler in den Arbeitsmappen – nichts geschrieben:")
    lines = finding_lines(result.stderr)
    assert len(lines) == len(expected), result.stderr
    for line in expected:
        assert any(actual.startswith(line) for actual in lines), f"{line!r} fehlt in:\n{result.stderr}"
    assert input_bytes(workspace) == before  # inputs are never modified


def test_check_reports_the_same_findings(workspace):
    expected = break_everything(workspace)
    letters = invoke(workspace, "letters")
    check = invoke(workspace, "check")
    assert_rejected(check, workspace, f"Fehler: {len(expected)} Fehler gefunden:")
    assert finding_lines(check.stderr) == finding_lines(letters.stderr)
    assert "geprüft: interessensbekundung.docx" in check.stdout


def test_check_on_a_good_workspace(workspace):
    result = invoke(workspace, "check")
    assert result.exit_code == 0, result.output
    assert "Keine Fehler gefunden." in result.stdout
    assert result.stderr == ""
    assert files_under(workspace.outputs) == {}


def test_failed_run_keeps_earlier_letters(workspace):
    assert invoke(workspace, "letters", "--only", MARBURG).exit_code == 0
    before = files_under(workspace.outputs)
    marburg(workspace, Einwohner="viele")
    result = invoke(workspace, "letters", "--only", MARBURG)
    assert result.exit_code == 1
    assert "Spalte „Einwohner“" in result.stderr
    assert files_under(workspace.outputs) == before
    assert sorted(str(p.relative_to(workspace.outputs)) for p in workspace.outputs.rglob("*")) == [
        "letters", f"letters/{MARBURG}_marburg.docx"]  # no staging folder left behind


def test_only_with_unknown_ags(workspace):
    assert_rejected(invoke(workspace, "letters", "--only", "06539999"), workspace,
                    "AGS 06539999 (aus --only) steht nicht im Verzeichnis der Kommunen")


# -- missing or damaged files --------------------------------------------------------------------


def _random(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:3000])


def _not_a_spreadsheet(path: Path) -> None:
    # A valid ZIP, but no workbook inside.
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hallo.txt", "kein Excel")


def _broken_sheet(path: Path) -> None:
    # A real .xlsx whose first sheet's XML is garbage.
    data = path.read_bytes()
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, b"<<< kaputt" if name == "xl/worksheets/sheet1.xml" else content)
    assert path.read_bytes() != data


DAMAGES = [_random, _empty, _truncated, _not_a_spreadsheet, _broken_sheet]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("name", [ROSTER, COSTS])
def test_damaged_workbook(workspace, name, damage):
    damage(workspace.inputs / name)
    result = invoke(workspace, "letters")
    assert_rejected(result, workspace, f"Arbeitsmappe {name}")
    assert "lässt sich nicht lesen" in result.stderr or "ist beschädigt" in result.stderr


def test_damaged_workbook_message_is_german(workspace):
    _random(workspace.roster)
    result = invoke(workspace, "letters")
    assert_rejected(result, workspace, f"Arbeitsmappe {ROSTER} lässt sich nicht lesen: keine gültige Excel-Datei (.xlsx)",
                    str(workspace.roster))
    assert "zip file" not in result.stderr


@pytest.mark.parametrize("name", [ROSTER, COSTS])
def test_missing_workbook(workspace, name):
    (workspace.inputs / name).unlink()
    assert_rejected(invoke(workspace, "letters"), workspace,
                    f"Arbeitsmappe nicht gefunden: {workspace.inputs / name}")
    assert_rejected(invoke(workspace, "check"), workspace, f"Arbeitsmappe nicht gefunden: {workspace.inputs / name}")


def test_missing_inputs_folder(tmp_path):
    ws = Workspace(tmp_path / "leer")
    (ws.root).mkdir()
    result = invoke(ws, "letters")
    assert result.exit_code == 1
    assert "kein kdigital-Arbeitsbereich: der Ordner „inputs“ fehlt" in result.stderr
    assert "Traceback" not in result.output
    assert list(ws.root.iterdir()) == []


@pytest.mark.parametrize("damage", [_random, _empty, _not_a_spreadsheet], ids=lambda f: f.__name__.strip("_"))
def test_damaged_template(workspace, damage):
    damage(workspace.template(TEMPLATE))
    assert_rejected(invoke(workspace, "letters"), workspace,
                    f"Vorlage {TEMPLATE} ist beschädigt", "keine gültige Word-Datei (.docx)")
    assert_rejected(invoke(workspace, "check"), workspace, f"{TEMPLATE}: keine gültige Word-Datei (.docx)")


def test_missing_template(workspace):
    workspace.template(TEMPLATE).unlink()
    assert_rejected(invoke(workspace, "letters"), workspace, f"Vorlage {TEMPLATE} fehlt", "Vorlage nicht gefunden")
    assert_rejected(invoke(workspace, "check"), workspace, f"{TEMPLATE}: Vorlage fehlt in {workspace.templates}")


# -- escaping ---------------------------------------------------------------------------------------

NAME = 'Müller & Söhne <Hof> "Alt"'
STREET = "Weg „Am Bach“ & <B> 'ß' Nr. 1"
LAST_NAME = "Groß & Kleinöß"


def document_texts(path: Path) -> list[str]:
    """Text of every paragraph and table cell of a .docx, headers and footers included."""
    document = docx.Document(str(path))
    texts = [p.text for p in document.paragraphs]
    texts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    for section in document.sections:
        for part in (section.header, section.footer):
            texts += [p.text for p in part.paragraphs]
    return texts


def test_special_characters_render_and_the_document_stays_valid(workspace):
    marburg(workspace, Name=NAME, Strasse=STREET, Nachname=LAST_NAME)
    result = invoke(workspace, "letters", "--only", MARBURG)
    assert result.exit_code == 0, result.output
    written = files_under(workspace.outputs)
    assert list(written) == [f"letters/{MARBURG}_mueller-soehne-hof-alt.docx"]
    path = workspace.outputs / next(iter(written))

    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        for member in archive.namelist():
            if member.endswith((".xml", ".rels")):
                etree.fromstring(archive.read(member))  # raises on invalid XML

    texts = document_texts(path)
    text = "\n".join(texts)
    assert f"Sehr geehrter Herr Oberbürgermeister Dr. {LAST_NAME}," in texts
    assert f"Magistrat der Universitätsstadt {NAME}\n" in text
    assert f"\nDr. Thomas {LAST_NAME}\n{STREET}\n35037 Marburg" in text
    assert f"Universitätsstadt {NAME}\n{STREET}\n35037 Marburg" in text
    # Nothing shows up escaped twice or as markup.
    assert "&amp;" not in text and "&lt;" not in text and "&#34;" not in text


def test_a_missing_cost_workbook_does_not_hide_the_roster_errors(workspace):
    workspace.cost_model.unlink()
    row = marburg(workspace, Einwohner="viele")
    findings = rejected_findings(workspace)
    find(findings, source=COSTS, message="Arbeitsmappe nicht gefunden")
    find(findings, sheet="Kommunen", row=row, column="Einwohner", value="viele")
    result = invoke(workspace, "check")
    assert result.exit_code == 1
    assert "Arbeitsmappe nicht gefunden" in result.output and "Einwohner" in result.output


def test_a_name_that_repeats_the_kind_is_warned_about(workspace):
    row = marburg(workspace, Name="Marburg, Universitätsstadt")
    result = invoke(workspace, "check")
    assert result.exit_code == 0, result.output
    assert (f"Zeile {row}, Spalte „Name“: „Marburg, Universitätsstadt“ enthält die Art „Universitätsstadt“"
            in result.stderr)
